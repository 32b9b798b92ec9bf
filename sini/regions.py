"""Mali's regions: the one registry the bot, the tip store and the dashboard share.

The 19 regions of the 2023 administrative organisation (lois 2023-006/-007) and the
district of Bamako. Each `Region` has:

- its value, a stable key ("segou"): stored in clear with every tip and in the weekly
  statistics, so a key is never renamed;
- its `label`, the French name people read ("Ségou"): buttons, the dashboard, and the
  `region:` field of the service directory file;
- its `capital`'s approximate position, to measure distances from the region;
- its `places`: towns, Bamako communes and neighbourhoods with their spelling variants,
  so free text or the NLU's `place` entity finds the region ("Sévaré" → Mopti). Every
  value of the NLU's `place` entity (nlu/data/entities.yml) must be one of them: a test
  checks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from sini.textmatch import find_named, fold


class Region(str, Enum):
    """One of Mali's 19 regions or the Bamako district; its value is the stored key.

    `Region("segou")` finds a region by key (ValueError if none). Write `.value` where the
    key is wanted: `str()` and templates show "Region.SEGOU", not "segou".
    Declared in the order the dashboard lists them: the district, the eight regions older
    than 2023, then the eleven created in 2023.
    """

    BAMAKO = "bamako"
    KAYES = "kayes"
    KOULIKORO = "koulikoro"
    SIKASSO = "sikasso"
    SEGOU = "segou"
    MOPTI = "mopti"
    TOMBOUCTOU = "tombouctou"
    GAO = "gao"
    KIDAL = "kidal"
    TAOUDENIT = "taoudenit"
    MENAKA = "menaka"
    BOUGOUNI = "bougouni"
    DIOILA = "dioila"
    DOUENTZA = "douentza"
    KITA = "kita"
    NARA = "nara"
    NIORO = "nioro"
    SAN = "san"
    BANDIAGARA = "bandiagara"
    KOUTIALA = "koutiala"

    @property
    def label(self) -> str:
        """The French name, as people read and write it: "Ségou", "Nioro du Sahel"."""
        return _FACTS[self].label

    @property
    def capital(self) -> Coordinates:
        """Where the region's capital is, roughly: distances are measured from here."""
        return _FACTS[self].capital

    @property
    def places(self) -> tuple[str, ...]:
        """The towns, communes and neighbourhoods known to be in the region (spellings
        included), its label first."""
        return (self.label, *_FACTS[self].places)


@dataclass(frozen=True)
class Coordinates:
    """A WGS84 position in decimal degrees."""

    lat: float
    lon: float


@dataclass(frozen=True)
class _Facts:
    label: str
    capital: Coordinates
    places: tuple[str, ...]


# Capital coordinates of Bamako and the eight older regions: the ISO 3166-2 geo data of the
# `countries` project (countries/countries, lib/countries/data/subdivisions/ML.yaml); the
# eleven newer regions: approximate town centres (general knowledge, not from a cited
# source) — good enough to rank services by distance, not to navigate.
# Places follow the 2023 organisation: e.g. Diéma moved to Nioro du Sahel, Fana to Dioïla,
# Yorosso to Koutiala, Tominian to San, Bankass and Koro to Bandiagara, Boni and Hombori to
# Douentza.
_FACTS: Mapping[Region, _Facts] = {
    Region.BAMAKO: _Facts("Bamako", Coordinates(12.6392, -8.0029), (
        "Bko", "Bamakɔ", "Bamakô", "district de Bamako",
        "Commune I", "commune 1", "commune un",
        "Commune II", "commune 2", "commune deux",
        "Commune III", "commune 3", "commune trois",
        "Commune IV", "commune 4", "commune quatre",
        "Commune V", "commune 5", "commune cinq",
        "Commune VI", "commune 6", "commune six",
        "Faladié", "Faladiè", "Faladjè", "Magnambougou", "Niamakoro", "Sogoniko", "Yirimadio",
        "Sabalibougou", "Daoudabougou", "Kalaban Coura", "Kalabancoura", "Kalaban",
        "Banconi", "Bankoni", "Djélibougou", "Boulkassoumbougou", "Korofina", "Sikoroni",
        "Lafiabougou", "Hamdallaye", "Sébénikoro", "Sébénicoro", "Djicoroni Para",
        "Badalabougou", "Torokorobougou", "Missira", "Médina Coura", "Bagadadji",
        "Niaréla", "Quinzambougou", "Bozola", "Missabougou", "Sotuba", "Sogonafing",
        "Senou", "Sénou", "Point G", "Banankabougou",
    )),
    Region.KAYES: _Facts("Kayes", Coordinates(14.4368, -11.4453), (
        "Kayi", "Yélimané", "Bafoulabé", "Kéniéba", "Sadiola", "Diboli",
    )),
    Region.KOULIKORO: _Facts("Koulikoro", Coordinates(12.8611, -7.5583), (
        "Kulikoro", "Kati", "Kolokani", "Banamba", "Kangaba", "Siby",
        "Baguineda", "Kalaban Coro", "Kalabancoro", "Kourémalé",
    )),
    Region.SIKASSO: _Facts("Sikasso", Coordinates(11.3167, -5.6667), (
        "Sikaso", "Kadiolo", "Zégoua",
    )),
    Region.SEGOU: _Facts("Ségou", Coordinates(13.45, -6.2667), (
        "Segu", "Ségu", "Markala", "Niono", "Macina", "Bla", "Barouéli",
    )),
    Region.MOPTI: _Facts("Mopti", Coordinates(14.4958, -4.1986), (
        "Mɔpti", "Sévaré", "Severe", "Djenné", "Jenne", "Ténenkou", "Youwarou",
    )),
    Region.TOMBOUCTOU: _Facts("Tombouctou", Coordinates(16.7666, -3.0026), (
        "Timbuktu", "Timbouctou", "Tombouctu", "Tomboctou", "Tumutu",
        "Tumbutu", "Diré", "Goundam", "Niafunké", "Léré", "Gourma-Rharous", "Ber",
    )),
    Region.GAO: _Facts("Gao", Coordinates(16.2640, -0.0280), ("Ansongo", "Bourem")),
    Region.KIDAL: _Facts("Kidal", Coordinates(18.4389, 1.4083), (
        "Tessalit", "Abeïbara", "Anéfis",
    )),
    Region.TAOUDENIT: _Facts("Taoudénit", Coordinates(22.68, -3.98), ("Taoudéni", "Taoudenni")),
    Region.MENAKA: _Facts("Ménaka", Coordinates(15.92, 2.40), ("Andéramboukane",)),
    Region.BOUGOUNI: _Facts("Bougouni", Coordinates(11.42, -7.48), (
        "Bugunin", "Ouélessébougou", "Kolondiéba", "Yanfolila",
    )),
    Region.DIOILA: _Facts("Dioïla", Coordinates(12.48, -6.80), ("Jɔyila", "Fana")),
    Region.DOUENTZA: _Facts("Douentza", Coordinates(15.00, -2.95), ("Boni", "Hombori")),
    Region.KITA: _Facts("Kita", Coordinates(13.04, -9.49), ()),
    Region.NARA: _Facts("Nara", Coordinates(15.17, -7.29), ()),
    Region.NIORO: _Facts("Nioro du Sahel", Coordinates(15.23, -9.59), ("Nioro", "Diéma")),
    Region.SAN: _Facts("San", Coordinates(13.30, -4.90), ("Tominian",)),
    Region.BANDIAGARA: _Facts("Bandiagara", Coordinates(14.35, -3.61), ("Bankass", "Koro")),
    Region.KOUTIALA: _Facts("Koutiala", Coordinates(12.39, -5.46), ("Kucala", "Yorosso")),
}  # fmt: skip

_BY_LABEL: Mapping[str, Region] = {region.label: region for region in Region}


def _place_table() -> dict[str, Region]:
    """Every place's folded name → its region; a name in two regions is a data error."""
    table: dict[str, Region] = {}
    for region in Region:
        for place in region.places:
            key = fold(place)
            assert table.get(key, region) is region, f"{place!r} listed in two regions"
            table[key] = region
    return table


_BY_PLACE = _place_table()

# How people introduce a place ("région de Sikasso"); compared folded.
_PREFIXES = ("region de ", "region ", "cercle de ", "ville de ", "district de ")


def by_label(label: str) -> Region | None:
    """The region whose French name is exactly `label` ("Ségou"), or None: labels travel
    in button data and the directory file, where they are written, not typed by people."""
    return _BY_LABEL.get(label)


def of_place(name: str) -> Region | None:
    """The region a town, commune or neighbourhood belongs to, or None.

    Accent-, case- and hyphen-insensitive, and "région de …"/"ville de …" are understood.
    None means "not a place we know": ask, don't guess.
    """
    key = fold(name)
    if key in _BY_PLACE:
        return _BY_PLACE[key]
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return _BY_PLACE.get(key.removeprefix(prefix))
    return None


def in_text(text: str, longest: int = 4) -> Region | None:
    """The region of the first known place named anywhere in a sentence
    ("Médine, Commune II" → Bamako), trying longer word runs first."""
    return find_named(text, _BY_PLACE, longest)
