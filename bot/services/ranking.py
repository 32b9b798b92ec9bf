"""Which services to offer the person asking, in which order, and how far they are.

Pure (no I/O): the dialogue engine asks here and only renders the answer.

Three rules, from what people in distress need first:

1. **Relevance before distance.** Each asked kind has tiers: for drug use, treatment then
   listening (`psychosocial`); for trafficking, victim assistance then shelters; for an
   emergency, the emergency lines. Services of no tier are not offered at all. Within
   reach (`NEAR_KM`), the first tier comes first, then distance; services beyond reach
   follow, in the same order — so a local shelter in Gao is never pushed below an office
   in Bamako 1,000 km away.
2. **Police is not care.** Enforcement bodies (the OCS, police, gendarmerie: `enforcement`
   in the directory) are offered only when an emergency line is asked for; a teenager
   looking for help with drugs is never pointed at the drug squad.
3. **No dead end.** A region without a service of the kind asked gets the nearest ones
   elsewhere, with their distance from the region's capital.

Distances are only as good as the coordinates: most entries are placed at their town's
centre (`coordinates_precision: town`), so a distance smaller than the precision's radius
means "in that town", never "0,0 km" (`shown_km`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.services.directory import KINDS, Service, haversine_km
from sini.regions import Region

TIERS: Mapping[str | None, tuple[frozenset[str], ...]] = {
    "treatment": (frozenset({"treatment"}), frozenset({"psychosocial"})),
    "psychosocial": (frozenset({"psychosocial"}), frozenset({"treatment"})),
    "victim_assistance": (frozenset({"victim_assistance"}), frozenset({"shelter"})),
    "shelter": (frozenset({"shelter"}), frozenset({"victim_assistance"})),
    "legal_aid": (frozenset({"legal_aid"}), frozenset({"victim_assistance"})),
    "emergency": (frozenset({"emergency"}),),
    # Any kind (a location shared without saying what for): care first, then help for
    # victims, then legal aid. Emergency lines close every answer anyway.
    None: (
        frozenset({"treatment"}),
        frozenset({"psychosocial"}),
        frozenset({"victim_assistance"}),
        frozenset({"shelter"}),
        frozenset({"legal_aid"}),
    ),
}
"""For each asked kind (None: any), the kinds offered, most relevant first."""

NEAR_KM = 50.0
"""Within this distance a service is "within reach": relevance decides the order there.
Beyond it, the person is told what to do locally too."""

PRECISION_RADIUS_KM: Mapping[str, float] = {"exact": 0.05, "district": 2.0, "town": 10.0}
"""Below these distances the coordinates cannot tell where the service is relative to the
person: the answer names the town instead of a number."""


@dataclass(frozen=True)
class Placed:
    """A service offered to someone, with its distance in km when one can be computed."""

    service: Service
    km: float | None = None


def _check(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown service kind {kind!r}; expected one of {KINDS}")


def tier(service: Service, kind: str | None) -> int | None:
    """How relevant `service` is to someone asking for `kind` (0 = exactly that), or None
    when it should not be offered (another kind, or the police when care is asked)."""
    _check(kind)
    if service.enforcement and kind != "emergency":
        return None
    for rank, kinds in enumerate(TIERS[kind]):
        if kinds & set(service.kinds):
            return rank
    return None


def offers_exactly(service: Service, kind: str | None) -> bool:
    """True if `service` is what was asked, not a substitute (for any kind: any care)."""
    rank = tier(service, kind)
    return rank == 0 or (kind is None and rank is not None)


def in_region_ranked(
    services: Sequence[Service], region: Region, kind: str | None
) -> list[Service]:
    """The region's own located services worth offering for `kind`, most relevant first
    (file order within a tier). National lines are not included: see `national_lines`."""
    scored = [
        (rank, index, service)
        for index, service in enumerate(services)
        if service.region is region and (rank := tier(service, kind)) is not None
    ]
    return [service for _, _, service in sorted(scored, key=lambda item: item[:2])]


def nearest_elsewhere(
    services: Sequence[Service], region: Region, kind: str | None, limit: int = 2
) -> list[Placed]:
    """The `limit` services of exactly `kind` outside `region` closest to its capital
    (verified ones first when the distances are close), with their distance from it: the
    answer when the region has none."""
    capital = region.capital
    scored = [
        Placed(service, haversine_km(capital.lat, capital.lon, *_position(service)))
        for service in services
        if service.region not in (region, None)
        and service.coordinates is not None
        and offers_exactly(service, kind)
    ]
    scored.sort(key=_elsewhere_order)
    return scored[:limit]


def _elsewhere_order(placed: Placed) -> tuple[float, str]:
    """Nearest first, but a verified service up to `NEAR_KM` farther comes before an
    unverified one: hundreds of kilometres away, a trip must not end at a door that may
    not open (the army's psychiatric unit in Kati, whose civilian access is unconfirmed,
    next to the CHU du Point G)."""
    assert placed.km is not None
    return (placed.km - (NEAR_KM if placed.service.verified else 0.0), placed.service.id)


def near(services: Sequence[Service], lat: float, lon: float, kind: str | None) -> list[Placed]:
    """Every located service worth offering for `kind` to someone at (lat, lon): within
    `NEAR_KM` by relevance then distance, then the farther ones in the same order."""
    scored = [
        (rank, index, Placed(service, haversine_km(lat, lon, *_position(service))))
        for index, service in enumerate(services)
        if service.coordinates is not None and (rank := tier(service, kind)) is not None
    ]

    def key(item: tuple[int, int, Placed]) -> tuple[bool, int, float, int]:
        rank, index, placed = item
        assert placed.km is not None
        return (placed.km > NEAR_KM, rank, placed.km, index)  # ties: file order

    return [placed for _, _, placed in sorted(scored, key=key)]


def national_lines(services: Sequence[Service], kind: str | None) -> list[Service]:
    """The lines reachable from anywhere that fit the need: victims' lines for victims,
    emergency lines for an emergency; none of the police lines when care is asked."""
    return [s for s in services if s.is_national and tier(s, kind) is not None]


def shown_km(service: Service, km: float | None) -> float | None:
    """The distance worth showing, or None when the coordinates are too coarse for it
    (a service placed at a town's centre is "in that town" for anyone in the town)."""
    if km is None or service.coordinates_precision is None:
        return None
    return km if km > PRECISION_RADIUS_KM[service.coordinates_precision] else None


def _position(service: Service) -> tuple[float, float]:
    assert service.coordinates is not None
    return service.coordinates.lat, service.coordinates.lon
