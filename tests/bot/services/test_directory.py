"""The service directory: the real file is valid and sourced, broken files say where and
why, and region/nearest queries answer what a person needs (the regions themselves and the
places in them: tests/sini/test_regions.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.content import ContentError
from bot.content.catalog import load_emergency
from bot.services import (
    KINDS,
    NATIONAL,
    Service,
    by_id,
    haversine_km,
    in_region,
    load_services,
    nearest,
)
from bot.services.directory import EARTH_RADIUS_KM, LAT_RANGE, LON_RANGE
from sini.regions import Region
from sini.settings import PROJECT_ROOT
from tests.bot.services import BAMAKO, SEVARE, small_directory

SERVICES_FILE = PROJECT_ROOT / "responses" / "services.yml"


@pytest.fixture(scope="module")
def services() -> list[Service]:
    return load_services(SERVICES_FILE)


# --- the real directory file ------------------------------------------------------------


def test_the_real_directory_loads_with_unique_ids(services: list[Service]) -> None:
    assert len(services) >= 10
    assert len(by_id(services)) == len(services)


def test_no_phone_number_without_a_public_source(services: list[Service]) -> None:
    for service in services:
        if service.phones:
            assert service.source.strip(), service.id
            assert "http" in service.source or "research" in service.source, service.id


def test_every_entry_without_a_phone_says_how_to_reach_it(services: list[Service]) -> None:
    for service in services:
        assert service.phones or service.how_to_reach, service.id


def test_verified_entries_say_when_they_were_checked(services: list[Service]) -> None:
    for service in services:
        if service.verified:
            assert service.verified_on is not None, service.id


def test_every_kind_used_is_known(services: list[Service]) -> None:
    used = {kind for service in services for kind in service.kinds}
    assert used <= set(KINDS)


def test_every_entry_is_located_unless_national(
    services: list[Service],
) -> None:
    for service in services:
        if service.is_national:
            assert service.coordinates is None, service.id
        else:
            assert service.coordinates is not None, service.id
            assert LAT_RANGE[0] <= service.coordinates.lat <= LAT_RANGE[1]
            assert LON_RANGE[0] <= service.coordinates.lon <= LON_RANGE[1]


def test_the_crisis_numbers_are_also_in_the_directory(services: list[Service]) -> None:
    """A number shown in a crisis answer is one the directory knows, with its source."""
    directory_numbers = {phone for service in services for phone in service.phones}
    crisis_lines = load_emergency(PROJECT_ROOT / "responses" / "emergency.yml", services)
    crisis_numbers = {number for line in crisis_lines for number in line.number.split(" · ")}
    assert crisis_numbers <= directory_numbers


def test_police_bodies_are_marked_as_enforcement(services: list[Service]) -> None:
    """The drug squad and the police lines are for reports and emergencies, never care."""
    marked = {service.id for service in services if service.enforcement}
    assert {"ocs-direction-bamako", "police-nationale-numeros-verts"} <= marked
    assert not any(service.enforcement for service in services if "treatment" in service.kinds)


def test_optional_fields_default_to_no_enforcement_and_the_full_name(tmp_path: Path) -> None:
    path, _ = write_directory(tmp_path, VALID, {**VALID, "id": "court", "short_name": "Court"})
    plain, short = load_services(path)
    assert not plain.enforcement
    assert plain.label == "Centre de test"
    assert short.label == "Court"


def test_samu_15_is_not_listed(services: list[Service]) -> None:
    """The only source for SAMU 15 was about Burkina Faso (research note)."""
    assert all("15" not in service.phones for service in services)


# --- broken files name file, line and field ---------------------------------------------

VALID: dict[str, Any] = {
    "id": "centre-test",
    "name": "Centre de test",
    "kind": "treatment",
    "region": "Bamako",
    "town": "Bamako",
    "address": None,
    "coordinates": {"lat": 12.6392, "lon": -8.0029},
    "coordinates_precision": "town",
    "phones": [],
    "how_to_reach": "Se présenter à l'accueil.",
    "hours": None,
    "languages": ["fr", "bm"],
    "cost": None,
    "source": "Exemple, https://example.org",
    "verified": False,
    "verified_on": None,
}


def write_directory(tmp_path: Path, *entries: dict[str, Any]) -> tuple[Path, list[str]]:
    path = tmp_path / "services.yml"
    text = yaml.safe_dump({"services": list(entries)}, sort_keys=False, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path, text.splitlines()


def line_number(lines: list[str], needle: str, after: int = 0) -> int:
    """1-based number of the first line containing `needle` after line `after`."""
    for number, line in enumerate(lines, start=1):
        if number > after and needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the file")


def broken(**changes: Any) -> dict[str, Any]:
    entry = {**VALID, **changes}
    return {key: value for key, value in entry.items() if value is not REMOVE}


REMOVE = object()


def test_a_valid_entry_loads(tmp_path: Path) -> None:
    path, _ = write_directory(tmp_path, VALID)
    (service,) = load_services(path)
    assert service.kinds == ("treatment",)
    assert service.languages == ("fr", "bm")
    assert service.coordinates is not None
    assert service.coordinates.lon == pytest.approx(-8.0029)


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"kind": "rehab"}, "kind", "Invalid enum value 'rehab'"),
        ({"kind": ["shelter", "hotel"]}, "kind", "Invalid enum value 'hotel'"),
        ({"kind": REMOVE}, "kind", "is required"),
        ({"region": "Atlantis"}, "region", "unknown region 'Atlantis'"),
        ({"region": "Segou", "town": "Ségou"}, "region", "write 'Ségou'"),
        ({"town": "Kati"}, "region", "Kati is in the region 'Koulikoro'"),
        ({"phones": ["80 00 11"]}, "phones", "is not a Malian number"),
        ({"phones": ["+33 1 23 45 67 89"]}, "phones", "is not a Malian number"),
        ({"phones": ["80-00-11-15"]}, "phones", "is not a Malian number"),
        ({"phones": [80001115]}, "phones", "quoted strings"),
        ({"phones": ["80 00 11 15", "80 00 11 15"]}, "phones", "twice"),
        ({"how_to_reach": "Appeler le 76 12 34 56."}, "how_to_reach", "contains a phone number"),
        ({"how_to_reach": None}, "how_to_reach", "is required"),
        ({"verified": True}, "verified_on", "is required when verified is true"),
        ({"verified": "yes"}, "verified", "true or false"),
        ({"verified_on": "hier"}, "verified_on", "a date (YYYY-MM-DD)"),
        ({"verified_on": date(2999, 1, 1)}, "verified_on", "in the future"),
        (
            {"coordinates_precision": "street"},
            "coordinates_precision",
            "Invalid enum value 'street'",
        ),
        ({"coordinates": None}, "coordinates", "is required"),
        ({"region": NATIONAL, "town": None}, "coordinates", "has no position"),
        ({"languages": ["français"]}, "languages", "language codes like fr, bm"),
        ({"phone": ["80 00 11 15"]}, "phone", "unknown field"),
        ({"id": "Centre Test"}, "id", "a slug like"),
        ({"source": ""}, "source", "non-empty"),
        ({"enforcement": "oui"}, "enforcement", "true or false"),
        ({"short_name": "Appeler le 76 12 34 56"}, "short_name", "contains a phone number"),
    ],
)
def test_a_broken_entry_names_file_line_and_field(
    tmp_path: Path, changes: dict[str, Any], field: str, problem: str
) -> None:
    good = {**VALID, "id": "premier"}
    entry = broken(**changes)
    path, lines = write_directory(tmp_path, good, entry)
    entry_line = line_number(lines, "- id:", after=line_number(lines, "- id: premier"))
    label = entry["id"] if field != "id" else "services[1]"
    with pytest.raises(ContentError) as caught:
        load_services(path)
    assert str(caught.value).startswith(f"{path}:{entry_line}: {label}.{field}: ")
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("coordinates", "field"),
    [
        ({"lat": 48.8566, "lon": 2.3522}, "coordinates.lat"),  # Paris
        ({"lat": -8.0029, "lon": 12.6392}, "coordinates.lat"),  # lat and lon swapped
        ({"lat": 12.6392, "lon": 8.0029}, "coordinates.lon"),  # lost minus sign: Nigeria
        ({"lat": "12.6", "lon": -8.0}, "coordinates.lat"),
    ],
)
def test_coordinates_outside_mali_point_at_the_coordinates_line(
    tmp_path: Path, coordinates: dict[str, Any], field: str
) -> None:
    path, lines = write_directory(tmp_path, broken(coordinates=coordinates))
    with pytest.raises(ContentError) as caught:
        load_services(path)
    message = str(caught.value)
    assert f"centre-test.{field}: " in message
    if "outside Mali" in message:
        assert message.startswith(f"{path}:{line_number(lines, 'lat:')}: ")


def test_a_duplicate_id_points_at_the_second_entry(tmp_path: Path) -> None:
    path, lines = write_directory(tmp_path, VALID, {**VALID, "name": "Doublon"})
    second = line_number(lines, "- id:", after=line_number(lines, "- id:"))
    with pytest.raises(ContentError, match=r"duplicate id \(first defined on line 2\)") as caught:
        load_services(path)
    assert str(caught.value).startswith(f"{path}:{second}: centre-test.id: ")


def test_a_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "services.yml"
    path.write_text("services:\n  - id: a\n    name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"services\.yml:\d+: yaml: "):
        load_services(path)


def test_a_file_without_a_services_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "services.yml"
    path.write_text("service:\n  - id: a\n", encoding="utf-8")
    with pytest.raises(ContentError, match="services: missing top-level list"):
        load_services(path)


# --- queries ------------------------------------------------------------------------------


def test_in_region_lists_local_services_then_the_national_lines() -> None:
    directory = small_directory()
    found = [s.id for s in in_region(directory, Region.BAMAKO)]
    assert found == ["hopital-bamako", "foyer-bamako", "ligne-nationale"]


def test_in_region_filters_by_kind_and_keeps_national_lines_of_that_kind() -> None:
    directory = small_directory()
    assert [s.id for s in in_region(directory, Region.BAMAKO, "victim_assistance")] == [
        "foyer-bamako",
        "ligne-nationale",
    ]
    assert in_region(directory, Region.BAMAKO, "legal_aid") == []


def test_a_region_without_local_services_still_gets_the_national_lines(
    services: list[Service],
) -> None:
    national = [s for s in services if s.is_national]
    assert national
    for region in Region:
        found = in_region(services, region)
        assert found[len(found) - len(national) :] == national, region
        assert all(s.region == region for s in found[: len(found) - len(national)]), region


def test_in_region_refuses_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown service kind"):
        in_region(small_directory(), Region.BAMAKO, "rehab")


def test_haversine_matches_known_distances() -> None:
    one_degree_on_the_equator = EARTH_RADIUS_KM * 3.141592653589793 / 180
    assert haversine_km(0, 0, 0, 1) == pytest.approx(one_degree_on_the_equator)
    assert haversine_km(*BAMAKO, *BAMAKO) == 0
    # Bamako–Mopti is about 460 km as the crow flies.
    assert 450 < haversine_km(*BAMAKO, 14.4958, -4.1986) < 470


def test_nearest_orders_by_distance_and_skips_national_lines() -> None:
    found = nearest(small_directory(), *SEVARE, limit=10)
    ids = [service.id for service, _ in found]
    assert ids[0] == "foyer-mopti"
    assert "ligne-nationale" not in ids
    distances = [distance for _, distance in found]
    assert distances == sorted(distances)
    assert distances[0] < 15


def test_nearest_filters_by_kind_and_limits() -> None:
    found = nearest(small_directory(), *BAMAKO, kind="shelter", limit=2)
    assert [service.id for service, _ in found] == ["foyer-bamako", "foyer-mopti"]
    with pytest.raises(ValueError, match="limit"):
        nearest(small_directory(), *BAMAKO, limit=0)


def test_nearest_breaks_ties_by_id(services: list[Service]) -> None:
    """Many entries share a town centre; the pure fallback must still be deterministic."""
    found = nearest(services, *BAMAKO, limit=len(services))
    keys = [(round(distance, 6), service.id) for service, distance in found]
    assert keys == sorted(keys)
