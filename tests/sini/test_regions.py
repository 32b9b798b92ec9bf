"""Mali's regions: one registry, stable stored keys, place names that find their region,
and every region reachable from the service directory, the tip model, the dashboard and
the NLU's `place` entity."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.dialogue.engine import REGION_ORDER
from bot.services import load_services
from bot.services.directory import LAT_RANGE, LON_RANGE
from sini import regions
from sini.regions import Region
from sini.settings import PROJECT_ROOT
from sini.textmatch import fold
from staff import labels
from staff.queue import QueueFilter
from tips.model import TIP_REGIONS, Category, Draft, TipContent, tip_region

ENTITIES_FILE = PROJECT_ROOT / "nlu" / "data" / "entities.yml"


# --- the registry ---------------------------------------------------------------------------


def test_mali_has_nineteen_regions_and_the_bamako_district() -> None:
    assert len(Region) == 20
    assert len({region.label for region in Region}) == 20
    assert Region.BAMAKO.label == "Bamako"
    assert Region.NIORO.label == "Nioro du Sahel"


def test_the_stored_keys_never_change() -> None:
    """Tips and weekly statistics keep these keys in Redis: renaming one orphans them."""
    assert [region.value for region in Region] == [
        "bamako", "kayes", "koulikoro", "sikasso", "segou", "mopti", "tombouctou", "gao",
        "kidal", "taoudenit", "menaka", "bougouni", "dioila", "douentza", "kita", "nara",
        "nioro", "san", "bandiagara", "koutiala",
    ]  # fmt: skip
    assert all(re.fullmatch(r"[a-z]+", region.value) for region in Region)


def test_every_capital_is_in_mali() -> None:
    for region in Region:
        assert LAT_RANGE[0] <= region.capital.lat <= LAT_RANGE[1], region
        assert LON_RANGE[0] <= region.capital.lon <= LON_RANGE[1], region


def test_lookups_by_key_and_by_label_are_exact() -> None:
    assert Region("segou") is Region.SEGOU
    assert regions.by_label("Ségou") is Region.SEGOU
    assert regions.by_label("segou") is None
    for not_a_key in ("Ségou", "abroad"):  # "abroad" is a tip region, not one of Mali's
        with pytest.raises(ValueError, match="is not a valid Region"):
            Region(not_a_key)


def test_every_place_finds_its_own_region() -> None:
    for region in Region:
        assert region.places[0] == region.label
        for place in region.places:
            assert regions.of_place(place) is region, place


@pytest.mark.parametrize(
    ("place", "region"),
    [
        ("Commune I", Region.BAMAKO),
        ("Commune IV", Region.BAMAKO),
        ("commune 6", Region.BAMAKO),
        ("commune cinq", Region.BAMAKO),
        ("Faladié", Region.BAMAKO),
        ("faladie", Region.BAMAKO),
        ("Medina-Coura", Region.BAMAKO),
        ("Point G", Region.BAMAKO),
        ("Bamakɔ", Region.BAMAKO),
        ("Kati", Region.KOULIKORO),
        ("KATI", Region.KOULIKORO),
        ("Kalaban Coro", Region.KOULIKORO),
        ("Segou", Region.SEGOU),
        ("segou", Region.SEGOU),
        ("Segu", Region.SEGOU),
        ("Tombouctou", Region.TOMBOUCTOU),
        ("Timbuktu", Region.TOMBOUCTOU),
        ("tombouctou", Region.TOMBOUCTOU),
        ("Tumutu", Region.TOMBOUCTOU),
        ("Gourma Rharous", Region.TOMBOUCTOU),
        ("Mɔpti", Region.MOPTI),
        ("Sevare", Region.MOPTI),
        ("Jɔyila", Region.DIOILA),
        ("Nioro", Region.NIORO),
        ("Diéma", Region.NIORO),
        ("Taoudeni", Region.TAOUDENIT),
        ("Menaka", Region.MENAKA),
        ("Yorosso", Region.KOUTIALA),
        ("Tominian", Region.SAN),
        ("Bankass", Region.BANDIAGARA),
        ("Hombori", Region.DOUENTZA),
        ("Ouelessebougou", Region.BOUGOUNI),
        ("région de Sikasso", Region.SIKASSO),
    ],
)
def test_a_place_is_found_however_it_is_typed(place: str, region: Region) -> None:
    assert regions.of_place(place) is region


@pytest.mark.parametrize("place", ["Paris", "", "   ", "Abidjan", "commune 7"])
def test_an_unknown_place_has_no_region(place: str) -> None:
    assert regions.of_place(place) is None


def test_a_place_named_in_a_sentence_finds_its_region() -> None:
    assert regions.in_text("c'est à Médine, Commune II, près du marché") is Region.BAMAKO
    assert regions.in_text("je suis a gourma rharous") is Region.TOMBOUCTOU
    assert regions.in_text("pas de lieu ici") is None


# --- every region is reachable from each user of the registry -------------------------------


def test_the_directory_file_names_every_region_by_its_label(tmp_path: Path) -> None:
    entries = [
        {
            "id": f"centre-{region.value}",
            "name": "Centre",
            "kind": "treatment",
            "region": region.label,
            "town": region.label,
            "coordinates": {"lat": region.capital.lat, "lon": region.capital.lon},
            "coordinates_precision": "town",
            "phones": [],
            "how_to_reach": "Se présenter à l'accueil.",
            "languages": [],
            "source": "Exemple, https://example.org",
            "verified": False,
        }
        for region in Region
    ]
    path = tmp_path / "services.yml"
    path.write_text(yaml.safe_dump({"services": entries}, allow_unicode=True), encoding="utf-8")
    assert [service.region for service in load_services(path)] == list(Region)


def test_the_bot_offers_every_region_to_pick() -> None:
    assert sorted(REGION_ORDER) == sorted(Region)
    assert REGION_ORDER[0] is Region.BAMAKO


@pytest.mark.parametrize("region", list(Region))
def test_a_tip_keeps_its_region_under_the_stored_key(region: Region) -> None:
    draft = Draft().with_category(Category.OTHER).with_region(region).add_text("x")
    stored = draft.to_content().to_json()
    assert f'"region":"{region.value}"'.encode() in stored
    assert TipContent.from_json(stored).region is region
    assert tip_region(region.value) is region


@pytest.mark.parametrize("region", list(Region))
def test_the_dashboard_filters_and_names_every_region(region: Region) -> None:
    assert region in TIP_REGIONS
    assert QueueFilter.parse({"region": region.value}).region is region
    assert labels.region(region.value) == region.label


# --- the NLU's place entity -------------------------------------------------------------------


def _examples(item: dict[str, Any]) -> list[str]:
    return [
        line.strip()[2:].strip()
        for line in str(item["examples"]).splitlines()
        if line.strip().startswith("- ")
    ]


def nlu_places() -> tuple[list[str], dict[str, list[str]]]:
    """The `place` lookup table, and the synonyms (canonical value → variants) of places."""
    items = yaml.safe_load(ENTITIES_FILE.read_text(encoding="utf-8"))["nlu"]
    lookup = [v for item in items if item.get("lookup") == "place" for v in _examples(item)]
    synonyms = {
        item["synonym"]: _examples(item)
        for item in items
        if "synonym" in item and item["synonym"] in lookup
    }
    return lookup, synonyms


def test_every_nlu_place_value_is_a_place_of_the_registry() -> None:
    """The engine maps the NLU's `place` entity through `regions.of_place`: a value it
    cannot map would answer "which region?" to someone who just said it."""
    lookup, synonyms = nlu_places()
    values = {*lookup, *synonyms, *(v for variants in synonyms.values() for v in variants)}
    assert len(values) > 100
    assert [value for value in sorted(values) if regions.of_place(value) is None] == []


def test_the_nlu_knows_every_region_by_its_label() -> None:
    """The lookup table lists every region, and a region's synonym group returns the
    registry's label ("Ségou", not "Segou")."""
    lookup, synonyms = nlu_places()
    assert [region for region in Region if region.label not in lookup] == []
    for canonical in synonyms:
        region = regions.of_place(canonical)
        assert region is not None, canonical
        if fold(canonical) == fold(region.label):
            assert canonical == region.label
