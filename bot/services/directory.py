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
from typing import Any

from bot.yamlfile import LINE_KEY, ContentError, line_of, load_yaml
from sini.regions import Coordinates, Region, by_label, of_place
from sini.textmatch import fold

KINDS: tuple[str, ...] = (
    "treatment",
    "victim_assistance",
    "legal_aid",
    "shelter",
    "emergency",
    "psychosocial",
)
"""Service kinds; the same six values as the NLU's `service_kind` entity."""

NATIONAL = "national"
"""What the file's `region:` says for services reachable from anywhere (toll-free lines):
listed after local ones."""

PRECISIONS: tuple[str, ...] = ("exact", "district", "town")
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

FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "short_name",
    "enforcement",
    "kind",
    "region",
    "town",
    "address",
    "coordinates",
    "coordinates_precision",
    "phones",
    "how_to_reach",
    "hours",
    "languages",
    "cost",
    "source",
    "verified",
    "verified_on",
)
"""An entry's fields, in the order the services file writes them (and its CSV columns)."""

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


class _Entry:
    """One raw mapping from the file, with helpers that raise ContentError on bad fields."""

    def __init__(self, data: Mapping[str, Any], path: Path, label: str) -> None:
        self.data = data
        self.path = path
        self.label = label
        self.line = line_of(data)

    def fail(self, field: str, problem: str, line: int | None = None) -> ContentError:
        return ContentError(self.path, line or self.line, f"{self.label}.{field}", problem)

    def text(self, field: str, required: bool) -> str | None:
        value = self.data.get(field)
        if value is None:
            if required:
                raise self.fail(field, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "must be a non-empty string (or null)")
        return " ".join(value.split())

    def required(self, field: str) -> str:
        value = self.text(field, required=True)
        assert value is not None  # text() raised otherwise
        return value

    def free_text(self, field: str, required: bool = False) -> str | None:
        value = self.text(field, required)
        if value is not None and NUMBER_IN_TEXT.search(value):
            raise self.fail(field, "contains a phone number: put numbers in `phones`, sourced")
        return value

    def strings(self, field: str) -> list[str]:
        value = self.data.get(field)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(field, "must be a list of quoted strings")
        return [item.strip() for item in value]


def _kinds(entry: _Entry) -> tuple[str, ...]:
    raw = entry.data.get("kind")
    values = raw if isinstance(raw, list) else [raw]
    if raw is None or not values:
        raise entry.fail("kind", f"is required: one of {', '.join(KINDS)} (or a list)")
    for value in values:
        if value not in KINDS:
            raise entry.fail("kind", f"unknown kind {value!r}: use {', '.join(KINDS)}")
    if len(set(values)) != len(values):
        raise entry.fail("kind", "lists the same kind twice")
    return tuple(values)


def _region(entry: _Entry) -> Region | None:
    """The entry's region by its French name; None for a national line."""
    written = entry.required("region")
    if written == NATIONAL:
        return None
    region = by_label(written)
    if region is not None:
        return region
    hint = of_place(written)
    suggestion = f" (write {hint.label!r})" if hint and fold(hint.label) == fold(written) else ""
    raise entry.fail(
        "region", f"unknown region {written!r}{suggestion}: a region of Mali or {NATIONAL!r}"
    )


def _number(entry: _Entry, field: str, value: Any, bounds: tuple[float, float]) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise entry.fail(f"coordinates.{field}", "must be a number (decimal degrees)")
    low, high = bounds
    if not low <= value <= high:
        raise entry.fail(
            f"coordinates.{field}",
            f"{value} is outside Mali ({low} to {high}); swapped lat/lon or a lost minus sign?",
            line_of(entry.data.get("coordinates")),
        )
    return float(value)


def _coordinates(entry: _Entry, region: Region | None) -> tuple[Coordinates | None, str | None]:
    raw = entry.data.get("coordinates")
    precision = entry.data.get("coordinates_precision")
    if region is None:
        if raw is not None:
            raise entry.fail("coordinates", f"a {NATIONAL!r} service has no position: use null")
        return None, None
    if raw is None:
        raise entry.fail("coordinates", "is required: {lat, lon} (the town centre will do)")
    if not isinstance(raw, dict) or {k for k in raw if k != LINE_KEY} != {"lat", "lon"}:
        raise entry.fail("coordinates", "must be a mapping {lat: …, lon: …}")
    coordinates = Coordinates(
        lat=_number(entry, "lat", raw["lat"], LAT_RANGE),
        lon=_number(entry, "lon", raw["lon"], LON_RANGE),
    )
    if precision not in PRECISIONS:
        raise entry.fail(
            "coordinates_precision", f"{precision!r} is not one of {', '.join(PRECISIONS)}"
        )
    return coordinates, str(precision)


def _phones(entry: _Entry) -> tuple[str, ...]:
    raw = entry.data.get("phones")
    if raw is not None and (
        not isinstance(raw, list) or any(not isinstance(item, str) for item in raw)
    ):
        raise entry.fail(
            "phones", 'must be a list of quoted strings, e.g. ["80 00 11 15"] (or [] / null)'
        )
    phones = entry.strings("phones")
    for phone in phones:
        digits = phone.removeprefix("+223 ").replace(" ", "")
        international = phone.startswith("+223 ")
        sane = PHONE_SHAPE.match(phone) and (
            len(digits) == 8 or (not international and len(digits) in SHORT_CODE_DIGITS)
        )
        if not sane:
            raise entry.fail(
                "phones",
                f"{phone!r} is not a Malian number (8 digits, optionally after +223, "
                "or a short code of 2 to 5 digits; digits and single spaces only)",
            )
    if len(set(phones)) != len(phones):
        raise entry.fail("phones", "lists the same number twice")
    return tuple(phones)


def _verification(entry: _Entry) -> tuple[bool, date | None]:
    verified = entry.data.get("verified")
    if not isinstance(verified, bool):
        raise entry.fail("verified", "must be true or false")
    raw = entry.data.get("verified_on")
    verified_on: date | None
    if raw is None:
        verified_on = None
    elif isinstance(raw, date):
        verified_on = raw
    else:
        try:
            verified_on = date.fromisoformat(str(raw))
        except ValueError:
            raise entry.fail("verified_on", f"{raw!r} is not a date (YYYY-MM-DD)") from None
    if verified and verified_on is None:
        raise entry.fail("verified_on", "is required when verified is true: when was it checked?")
    if verified_on is not None and verified_on > date.today():
        raise entry.fail("verified_on", f"{verified_on} is in the future")
    return verified, verified_on


def _parse_service(entry: _Entry) -> Service:
    service_id = entry.data.get("id")
    if not isinstance(service_id, str) or not ID_PATTERN.match(service_id):
        raise entry.fail("id", f"{service_id!r} must be a slug like 'chu-point-g-psychiatrie'")
    if len(service_id) > MAX_ID_LENGTH:
        raise entry.fail("id", f"is longer than {MAX_ID_LENGTH} characters")
    entry.label = service_id
    unknown = sorted(str(k) for k in entry.data if k != LINE_KEY and k not in FIELDS)
    if unknown:
        raise entry.fail(unknown[0], f"unknown field (known: {', '.join(sorted(FIELDS))})")
    name = entry.required("name")
    kinds = _kinds(entry)
    region = _region(entry)
    town = entry.text("town", required=region is not None)
    if town is not None and region is not None:
        town_region = of_place(town)
        if town_region is not None and town_region is not region:
            raise entry.fail(
                "region", f"{town} is in the region {town_region.label!r}, not {region.label!r}"
            )
    coordinates, precision = _coordinates(entry, region)
    phones = _phones(entry)
    how_to_reach = entry.free_text("how_to_reach", required=not phones)
    languages = entry.strings("languages")
    for language in languages:
        if not LANGUAGE_PATTERN.match(language):
            raise entry.fail("languages", f"{language!r} is not a language code like fr, bm")
    source = entry.required("source")
    verified, verified_on = _verification(entry)
    enforcement = entry.data.get("enforcement", OPTIONAL["enforcement"])
    if not isinstance(enforcement, bool):
        raise entry.fail("enforcement", "must be true or false (police and judicial bodies)")
    return Service(
        id=service_id,
        name=name,
        kinds=kinds,
        region=region,
        town=town,
        address=entry.free_text("address"),
        coordinates=coordinates,
        coordinates_precision=precision,
        phones=phones,
        how_to_reach=how_to_reach,
        hours=entry.free_text("hours"),
        languages=tuple(languages),
        cost=entry.free_text("cost"),
        source=source,
        verified=verified,
        verified_on=verified_on,
        enforcement=enforcement,
        short_name=entry.free_text("short_name"),
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
            service = _parse_service(_Entry(data, path, label))
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
