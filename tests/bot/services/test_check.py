"""`helpline services check`: what a deployment must look at in its directory — invalid
entries with file:line, missing phones, stale checks, and the regional coverage."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from bot.services import load_services
from bot.services.check import COVERED_KINDS, coverage, coverage_markdown, problems
from sini.regions import Region
from sini.settings import Settings
from tests.bot.services import BAMAKO, GAO, make_service
from tests.bot.services.test_directory import SERVICES_FILE, VALID, write_directory

TODAY = date(2026, 12, 4)


def test_every_region_is_covered_locally_or_by_the_nearest_elsewhere() -> None:
    table = coverage(load_services(SERVICES_FILE))
    assert set(table) == set(Region)
    for region, cells in table.items():
        for kind in COVERED_KINDS:
            cell = cells[kind]
            assert cell.local or (cell.nearest is not None and cell.km), (region, kind)


def test_coverage_counts_local_services_or_names_the_nearest_town() -> None:
    services = [
        make_service("clinique", Region.BAMAKO, *BAMAKO, kinds=("treatment",)),
        make_service("foyer", Region.GAO, *GAO, kinds=("shelter",)),
    ]
    table = coverage(services)
    assert table[Region.BAMAKO]["treatment"].local == 1
    assert table[Region.GAO]["treatment"].markdown() == "→ Bamako 949 km"
    assert table[Region.BAMAKO]["legal_aid"].markdown() == "—"
    markdown = coverage_markdown(services).splitlines()
    assert markdown[0] == "| region | " + " | ".join(COVERED_KINDS) + " |"
    assert markdown[2].startswith("| Bamako | 1 |")
    assert len(markdown) == 2 + len(Region)


def test_problems_name_missing_phones_stale_checks_and_gaps() -> None:
    fresh = replace(
        make_service("frais", Region.BAMAKO, *BAMAKO),
        phones=("80 00 11 15",),
        verified=True,
        verified_on=date(2026, 11, 23),
    )
    stale = replace(fresh, id="ancien", verified_on=date(2024, 1, 2))
    silent = make_service("sans-numero", Region.GAO, *GAO, kinds=("shelter",))
    found = problems([fresh, stale, silent], TODAY)
    assert "ancien: verified_on 2024-01-02 is 1067 days old" in found
    assert "sans-numero: no phone number (reached through how_to_reach)" in found
    assert "sans-numero: never verified" in found
    assert not any(line.startswith("frais:") for line in found)
    assert "Bamako: no local service for victim_assistance, legal_aid, shelter, psychosocial" in (
        found
    )


@pytest.mark.usefixtures("settings")
def test_the_command_prints_the_checks_and_the_coverage_table(
    capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    assert main(["services", "check", str(SERVICES_FILE)]) == 0
    out = capsys.readouterr().out
    assert "things to check" in out
    assert "| Bamako | 1 |" in out
    assert main(["services", "check", "--coverage-only", str(SERVICES_FILE)]) == 0
    assert capsys.readouterr().out.startswith("| region |")


@pytest.mark.usefixtures("settings")
def test_an_invalid_directory_fails_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = write_directory(tmp_path, {**VALID, "kind": "rehab"})
    assert main(["services", "check", str(path)]) == 1
    assert f"{path}:2: centre-test.kind: Invalid enum value 'rehab'" in capsys.readouterr().err
