"""Service directory domain: entries, validation, distances.

Pure code (no I/O besides reading the directory file) so the dialogue can answer "where
can I get help near me?" even when Redis is down.

Why so much validation: a wrong phone number or a service placed in the wrong region
sends someone in distress to the wrong place. Every entry is checked at load time and a
bad file stops start-up with its file, line and field, never a user's question.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

from bot.yamlfile import LINE_KEY, ContentError, Said, convert, line_of, load_yaml
from sini.regions import Coordinates, Region, by_label, of_place
from sini.textmatch import fold

Kind = Literal[
    "treatment", "victim_assistance", "legal_aid", "shelter", "emergency", "psychosocial"
]  # fmt: skip
KINDS: tuple[str, ...] = get_args(Kind)
"""Service kinds; the same six values as the NLU's `service_kind` entity."""

NATIONAL = "national"
"""What the file's `region:` says for services reachable from anywhere (toll-free lines):
listed after local ones."""

Precision = Literal["exact", "district", "town"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
"""How much `coordinates` can be trusted: the building, the neighbourhood, or only the town
centre (most entries: the source names a town, not a street)."""

# Rough bounding box of Mali. A coordinate outside it is a typo (swapped lat/lon, a
# missing minus sign on the longitude) and would put the service in another country.
LAT_RANGE = (10.0, 25.5)
LON_RANGE = (-12.5, 4.5)

# Mean Earth radius used by Redis GEO commands, so the pure and the Redis distances agree
# to the metre and tests can compare their orderings.
EARTH_RADIUS_KM = 6372.7976

# Ids travel in Telegram callback data (64 bytes with a prefix) and are Redis GEO members.
MAX_ID_LENGTH = 48
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}$")
# Malian numbers have 8 digits ("80 00 11 15"), optionally after +223; a few hotlines are
# short codes ("80 331"). Digits in groups separated by single spaces, nothing else.
PHONE_SHAPE = re.compile(r"^(?:\+223 )?\d+(?: \d+)*$")
SHORT_CODE_DIGITS = range(2, 6)
# A phone-number-looking run inside free text: numbers belong in `phones`, with a source.
NUMBER_IN_TEXT = re.compile(r"(?<!\d)\d{2}(?:[ .]?\d{2}){3}(?!\d)")


OPTIONAL: dict[str, Any] = {"short_name": None, "enforcement": False}
"""The fields an entry may leave out, and their value then."""


@dataclass(frozen=True)
class Service:
    """One directory entry, as written in the services file (see its header for the rules).

    `kinds` is the file's `kind` (one value or a list) as a tuple. National entries
    (toll-free lines) have no region and no coordinates.
    """

    id: str
    name: str
    kinds: tuple[str, ...]
    region: Region | None
    town: str | None
    address: str | None
    coordinates: Coordinates | None
    coordinates_precision: str | None
    phones: tuple[str, ...]
    how_to_reach: str | None
    hours: str | None
    languages: tuple[str, ...]
    cost: str | None
    source: str
    verified: bool
    verified_on: date | None
    enforcement: bool = False
    """A police or judicial body (the OCS, police, gendarmerie): the place to report or to
    call in an emergency, never offered as care (see `bot.services.ranking`)."""
    short_name: str | None = None
    """How a one-line list or a button names the service when `name` is long."""

    @property
    def label(self) -> str:
        """The name for lists and buttons: `short_name` if given, else `name`."""
        return self.short_name or self.name

    @property
    def is_national(self) -> bool:
        return self.region is None

    def offers(self, kind: str | None) -> bool:
        """True if `kind` is None (any kind) or one of this service's kinds."""
        return kind is None or kind in self.kinds


def by_id(services: Iterable[Service]) -> dict[str, Service]:
    """Services keyed by id, to turn the ids found by the Redis index back into entries."""
    return {service.id: service for service in services}


# --- loading and validation -------------------------------------------------------------


Slug = Annotated[str, Meta(pattern=ID_PATTERN.pattern, max_length=MAX_ID_LENGTH)]


class _Point(msgspec.Struct, forbid_unknown_fields=True):
    lat: float
    lon: float


class _Entry(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One entry of the services file as written, fields in file order: types and shapes
    here, the rules between fields (a region's town, coordinates inside Mali, phone
    numbers, a verification date) in `_Rules`."""

    id: Slug
    name: Said
    short_name: Said | None = None
    enforcement: bool = False
    kind: Kind | list[Kind]
    region: Said
    town: Said | None = None
    address: Said | None = None
    coordinates: _Point | None = None
    coordinates_precision: Precision | None = None
    phones: list[str] | None = None
    how_to_reach: Said | None = None
    hours: Said | None = None
    languages: list[Annotated[str, Meta(pattern=LANGUAGE_PATTERN.pattern)]] | None = None
    cost: Said | None = None
    source: Said
    verified: bool
    verified_on: date | None = None


FIELDS: tuple[str, ...] = _Entry.__struct_fields__
"""An entry's fields, in the order the services file writes them (and its CSV columns)."""

# What each field takes, said after msgspec's own words when an entry does not fit.
_HINTS = {
    "id": "a slug like 'chu-point-g-psychiatrie' (a-z, 0-9 and hyphens, at most "
    f"{MAX_ID_LENGTH} characters)",
    "kind": f"one of {', '.join(KINDS)}, or a list of them",
    "phones": 'a list of quoted strings, e.g. ["80 00 11 15"] (or [] / null)',
    "enforcement": "true or false (police and judicial bodies)",
    "verified": "true or false",
    "verified_on": "a date (YYYY-MM-DD)",
    "coordinates": "a mapping {lat: …, lon: …} (the town centre will do)",
    "coordinates.lat": "a number (decimal degrees)",
    "coordinates.lon": "a number (decimal degrees)",
    "coordinates_precision": f"one of {', '.join(PRECISIONS)}",
    "languages": "language codes like fr, bm",
    **{field: "a non-empty string (or null)" for field in (
        "name", "short_name", "region", "town", "address", "how_to_reach", "hours", "cost",
        "source",
    )},
}  # fmt: skip


@dataclass
class _Rules:
    """The checks between fields of one entry, each failing with its file, line and field."""

    entry: _Entry
    data: Mapping[str, Any]
    path: Path

    def fail(self, field: str, problem: str, line: int | None = None) -> ContentError:
        return ContentError(
            self.path, line or line_of(self.data), f"{self.entry.id}.{field}", problem
        )

    def free_text(self, field: str) -> str | None:
        """A text field, spaces tidied; never a phone number (numbers go in `phones`)."""
        value: str | None = getattr(self.entry, field)
        if value is None:
            return None
        if NUMBER_IN_TEXT.search(value):
            raise self.fail(field, "contains a phone number: put numbers in `phones`, sourced")
        return " ".join(value.split())

    def kinds(self) -> tuple[str, ...]:
        kinds = self.entry.kind if isinstance(self.entry.kind, list) else [self.entry.kind]
        if not kinds:
            raise self.fail("kind", f"is required: one of {', '.join(KINDS)} (or a list)")
        if len(set(kinds)) != len(kinds):
            raise self.fail("kind", "lists the same kind twice")
        return tuple(kinds)

    def region(self) -> Region | None:
        """The entry's region by its French name; None for a national line."""
        written = " ".join(self.entry.region.split())
        if written == NATIONAL:
            return None
        region = by_label(written)
        if region is not None:
            return region
        hint = of_place(written)
        suggestion = (
            f" (write {hint.label!r})" if hint and fold(hint.label) == fold(written) else ""
        )
        raise self.fail(
            "region", f"unknown region {written!r}{suggestion}: a region of Mali or {NATIONAL!r}"
        )

    def town(self, region: Region | None) -> str | None:
        town = self.free_text("town")
        if region is None:
            return town
        if town is None:
            raise self.fail("town", "is required")
        town_region = of_place(town)
        if town_region is not None and town_region is not region:
            raise self.fail(
                "region", f"{town} is in the region {town_region.label!r}, not {region.label!r}"
            )
        return town

    def coordinates(self, region: Region | None) -> tuple[Coordinates | None, str | None]:
        point, precision = self.entry.coordinates, self.entry.coordinates_precision
        if region is None:
            if point is not None:
                raise self.fail("coordinates", f"a {NATIONAL!r} service has no position: use null")
            return None, None
        if point is None:
            raise self.fail("coordinates", "is required: {lat, lon} (the town centre will do)")
        for field, value, (low, high) in (
            ("lat", point.lat, LAT_RANGE),
            ("lon", point.lon, LON_RANGE),
        ):
            if not low <= value <= high:
                raise self.fail(
                    f"coordinates.{field}",
                    f"{value} is outside Mali ({low} to {high}); swapped lat/lon or a lost minus sign?",
                    line_of(self.data.get("coordinates")),
                )
        if precision is None:
            raise self.fail("coordinates_precision", f"is required: one of {', '.join(PRECISIONS)}")
        return Coordinates(lat=point.lat, lon=point.lon), precision

    def phones(self) -> tuple[str, ...]:
        phones = [phone.strip() for phone in self.entry.phones or []]
        for phone in phones:
            digits = phone.removeprefix("+223 ").replace(" ", "")
            international = phone.startswith("+223 ")
            sane = PHONE_SHAPE.match(phone) and (
                len(digits) == 8 or (not international and len(digits) in SHORT_CODE_DIGITS)
            )
            if not sane:
                raise self.fail(
                    "phones",
                    f"{phone!r} is not a Malian number (8 digits, optionally after +223, "
                    "or a short code of 2 to 5 digits; digits and single spaces only)",
                )
        if len(set(phones)) != len(phones):
            raise self.fail("phones", "lists the same number twice")
        return tuple(phones)

    def verified_on(self) -> date | None:
        verified_on = self.entry.verified_on
        if self.entry.verified and verified_on is None:
            raise self.fail(
                "verified_on", "is required when verified is true: when was it checked?"
            )
        if verified_on is not None and verified_on > date.today():
            raise self.fail("verified_on", f"{verified_on} is in the future")
        return verified_on


def _service(data: Mapping[str, Any], path: Path, label: str) -> Service:
    """One entry of the file, checked: its shape by `_Entry`, then the rules between its
    fields, in the order an editor reads them."""
    raw_id = data.get("id")
    if isinstance(raw_id, str) and ID_PATTERN.match(raw_id) and len(raw_id) <= MAX_ID_LENGTH:
        label = raw_id  # errors name the entry by its id once it has a valid one
    entry = convert(path, data, _Entry, label, _HINTS)
    rules = _Rules(entry, data, path)
    kinds = rules.kinds()
    region = rules.region()
    town = rules.town(region)
    coordinates, precision = rules.coordinates(region)
    phones = rules.phones()
    how_to_reach = rules.free_text("how_to_reach")
    if how_to_reach is None and not phones:
        raise rules.fail("how_to_reach", "is required when there is no phone number")
    verified_on = rules.verified_on()
    return Service(
        id=entry.id,
        name=" ".join(entry.name.split()),
        kinds=kinds,
        region=region,
        town=town,
        address=rules.free_text("address"),
        coordinates=coordinates,
        coordinates_precision=precision,
        phones=phones,
        how_to_reach=how_to_reach,
        hours=rules.free_text("hours"),
        languages=tuple(entry.languages or ()),
        cost=rules.free_text("cost"),
        source=" ".join(entry.source.split()),
        verified=entry.verified,
        verified_on=verified_on,
        enforcement=entry.enforcement,
        short_name=rules.free_text("short_name"),
    )


def parse_entries(path: Path, entries: Sequence[Any]) -> tuple[list[Service], list[ContentError]]:
    """Validate raw entries (mappings carrying their `__line__`), in order: the valid
    services, and the first problem of each invalid entry (a later one may follow from it).

    An id already taken by an earlier valid entry is reported on the later one. The YAML
    loader and the CSV import (`bot.services.csvfile`) both go through here, so a file of
    either kind passes exactly the same rules.
    """
    services: list[Service] = []
    errors: list[ContentError] = []
    seen: dict[str, int | None] = {}
    for index, data in enumerate(entries):
        label = f"services[{index}]"
        try:
            if not isinstance(data, dict):
                raise ContentError(path, None, label, "must be a mapping")
            service = _service(data, path, label)
            if service.id in seen:
                raise ContentError(
                    path,
                    line_of(data),
                    f"{service.id}.id",
                    f"duplicate id (first defined on line {seen[service.id]})",
                )
        except ContentError as error:
            errors.append(error)
            continue
        seen[service.id] = line_of(data)
        services.append(service)
    return services, errors


def load_services(path: Path) -> list[Service]:
    """Read and validate the directory file (`services:` list), in file order.

    File order is display order within a region. The first invalid entry raises
    ContentError naming the file, the entry's line and the field.
    """
    document = load_yaml(path)
    if not isinstance(document, dict) or not isinstance(document.get("services"), list):
        raise ContentError(path, line_of(document), "services", "missing top-level list")
    extra = sorted(str(k) for k in document if k not in ("services", LINE_KEY))
    if extra:
        raise ContentError(path, line_of(document), extra[0], "unknown top-level key")
    services, errors = parse_entries(path, document["services"])
    if errors:
        raise errors[0]
    return services


def as_entry(service: Service) -> dict[str, Any]:
    """The mapping the services file holds for `service`, fields in file order: the inverse
    of validation (`parse_entries` gives the same service back). Optional fields at their
    default (`short_name`, `enforcement`) are left out, as the file does."""
    xy = service.coordinates
    entry: dict[str, Any] = {
        "id": service.id,
        "name": service.name,
        "short_name": service.short_name,
        "enforcement": service.enforcement,
        "kind": service.kinds[0] if len(service.kinds) == 1 else list(service.kinds),
        "region": service.region.label if service.region else NATIONAL,
        "town": service.town,
        "address": service.address,
        "coordinates": None if xy is None else {"lat": xy.lat, "lon": xy.lon},
        "coordinates_precision": service.coordinates_precision,
        "phones": list(service.phones),
        "how_to_reach": service.how_to_reach,
        "hours": service.hours,
        "languages": list(service.languages),
        "cost": service.cost,
        "source": service.source,
        "verified": service.verified,
        "verified_on": service.verified_on,
    }
    return {
        field: value
        for field, value in entry.items()
        if field not in OPTIONAL or value != OPTIONAL[field]
    }


# --- queries ----------------------------------------------------------------------------


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown service kind {kind!r}; expected one of {KINDS}")


def in_region(
    services: Sequence[Service], region: Region, kind: str | None = None
) -> list[Service]:
    """Services in `region`, then the national ones.

    National lines come last so a local service is offered first but the toll-free
    numbers are always there.
    """
    _check_kind(kind)
    local = [s for s in services if s.region is region and s.offers(kind)]
    national = [s for s in services if s.is_national and s.offers(kind)]
    return local + national


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km, with the Earth radius Redis GEO uses."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = math.radians(lat2 - lat1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def nearest(
    services: Iterable[Service],
    lat: float,
    lon: float,
    kind: str | None = None,
    limit: int = 3,
) -> list[tuple[Service, float]]:
    """The `limit` located services closest to (lat, lon), with their distance in km.

    Pure fallback for when Redis is unavailable, and the reference for the GEO index.
    National entries have no position and are never returned here. Ties are broken by
    id so the result is deterministic.
    """
    _check_kind(kind)
    if limit < 1:
        raise ValueError("limit must be at least 1")
    scored = [
        (service, haversine_km(lat, lon, service.coordinates.lat, service.coordinates.lon))
        for service in services
        if service.coordinates is not None and service.offers(kind)
    ]
    scored.sort(key=lambda pair: (pair[1], pair[0].id))
    return scored[:limit]
