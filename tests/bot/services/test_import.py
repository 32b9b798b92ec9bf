"""`helpline services import FILE.csv`: a directory kept in a spreadsheet passes exactly the
rules of services.yml, every problem is reported at its CSV line, and nothing is written
unless every row is valid. `helpline services export` gives the spreadsheet to start from."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.services import load_services
from bot.services.csvfile import COLUMNS
from tests.bot.services.test_directory import SERVICES_FILE

pytestmark = pytest.mark.usefixtures("settings")

HEADER = (
    "id,name,kind,region,town,latitude,longitude,coordinates_precision,phones,"
    "how_to_reach,languages,source,verified,verified_on"
)
VALID_ROW = (
    "centre-test,Centre de test,treatment,Bamako,Bamako,12.6392,-8.0029,town,,"
    'Se présenter à l\'accueil.,fr;bm,"Exemple, https://example.org",false,'
)


def write_csv(tmp_path: Path, *rows: str, header: str = HEADER, encoding: str = "utf-8") -> Path:
    path = tmp_path / "services.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding=encoding)
    return path


def import_csv(path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and stderr of `helpline services import path -o out`."""
    code = main(["services", "import", str(path), "-o", str(out)])
    return code, capsys.readouterr().err


def test_a_valid_sheet_becomes_a_services_file_with_the_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, VALID_ROW)
    out = tmp_path / "services.yml"
    assert import_csv(path, out, capsys)[0] == 0
    (service,) = load_services(out)
    assert service.kinds == ("treatment",)
    assert service.languages == ("fr", "bm")
    assert service.coordinates is not None
    assert service.coordinates.lon == -8.0029
    assert service.verified is False
    assert service.enforcement is False
    text = out.read_text(encoding="utf-8")
    assert "NEVER invent a phone number" in text
    assert "DEPLOYMENT" not in text  # the seed's own paragraph is not true of this file


def test_a_row_with_an_unknown_kind_is_reported_with_its_csv_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, VALID_ROW.replace("treatment", "rehab"))
    code, err = import_csv(path, tmp_path / "out.yml", capsys)
    assert code == 1
    assert f"{path}:2: centre-test.kind: Invalid enum value 'rehab'" in err


def test_a_phone_number_typed_in_how_to_reach_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = VALID_ROW.replace("Se présenter à l'accueil.", "Appeler le 76 12 34 56.")
    code, err = import_csv(write_csv(tmp_path, row), tmp_path / "out.yml", capsys)
    assert code == 1
    assert "centre-test.how_to_reach: contains a phone number" in err


def test_every_bad_row_is_reported_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path,
        VALID_ROW.replace("centre-test", "premier"),
        VALID_ROW.replace("centre-test", "deuxieme").replace("Bamako,Bamako", "Atlantis,Bamako"),
        "",  # blank rows, as spreadsheets leave them, are skipped
        VALID_ROW.replace("centre-test", "troisieme").replace("12.6392", "48.8566"),
        VALID_ROW.replace("centre-test", "premier"),
    )
    out = tmp_path / "out.yml"
    code, err = import_csv(path, out, capsys)
    assert code == 1
    assert not out.exists()
    assert f"{path}:3: deuxieme.region: unknown region 'Atlantis'" in err
    assert f"{path}:5: troisieme.coordinates.lat: 48.8566 is outside Mali" in err
    assert f"{path}:6: premier.id: duplicate id (first defined on line 2)" in err
    assert "3 invalid rows" in err


def test_a_french_excel_file_with_semicolons_a_bom_and_french_numbers_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = (
        "id;name;kind;region;town;latitude;longitude;coordinates_precision;phones;"
        "how_to_reach;source;verified;verified_on;enforcement"
    )
    row = (
        'ocs-test;Office central des stupéfiants;"emergency;victim_assistance";Bamako;Bamako;'
        '12,6392;-8,0029;town;"80 00 11 15; 80 333";;Exemple;Oui;23/11/2026;OUI'
    )
    path = write_csv(tmp_path, row, header=header, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    out = tmp_path / "out.yml"
    assert import_csv(path, out, capsys)[0] == 0
    (service,) = load_services(out)
    assert service.kinds == ("emergency", "victim_assistance")
    assert service.phones == ("80 00 11 15", "80 333")
    assert service.coordinates is not None
    assert service.coordinates.lat == 12.6392
    assert service.verified
    assert str(service.verified_on) == "2026-11-23"
    assert service.enforcement


def test_a_sheet_not_saved_as_utf8_is_refused_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, VALID_ROW, encoding="cp1252")
    code, err = import_csv(path, tmp_path / "out.yml", capsys)
    assert code == 1
    assert f"{path}:2: encoding: not UTF-8" in err


def test_an_unknown_column_is_refused_at_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, VALID_ROW, header=HEADER.replace("phones", "telephone"))
    code, err = import_csv(path, tmp_path / "out.yml", capsys)
    assert code == 1
    assert f"{path}:1: telephone: unknown column" in err


def test_without_output_the_yaml_goes_to_stdout_and_the_summary_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["services", "import", str(write_csv(tmp_path, VALID_ROW))]) == 0
    out, err = capsys.readouterr()
    assert "services:\n\n  - id: centre-test\n" in out
    assert "1 services, " in err
    assert "| region |" in err


def test_export_then_import_gives_back_the_same_services(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet, out = tmp_path / "services.csv", tmp_path / "services.yml"
    assert main(["services", "export", str(SERVICES_FILE), "-o", str(sheet), "--excel"]) == 0
    assert sheet.read_text(encoding="utf-8-sig").split("\n", 1)[0] == ";".join(COLUMNS)
    assert import_csv(sheet, out, capsys)[0] == 0
    assert load_services(out) == load_services(SERVICES_FILE)
