"""What a deployment should look at in its service directory: entries without a phone,
checks grown old, and regions without a service of each kind (with the nearest one
elsewhere that the bot will offer instead).

Pure: `helpline services check` (bot/services/commands.py) prints these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.services.directory import KINDS, Service
from bot.services.ranking import in_region_ranked, nearest_elsewhere, offers_exactly
from sini.regions import Region

COVERED_KINDS: tuple[str, ...] = tuple(kind for kind in KINDS if kind != "emergency")
"""The kinds a person asks for by region; emergency lines are national and always shown."""

MAX_AGE_DAYS = 365
"""A `verified_on` older than this is stale: numbers and services change."""


@dataclass(frozen=True)
class Cell:
    """One region and kind: how many services of exactly that kind are there, and if
    none, the nearest one elsewhere (what the bot offers instead) and its distance."""

    local: int
    nearest: Service | None = None
    km: float | None = None

    def markdown(self) -> str:
        if self.local:
            return str(self.local)
        if self.nearest is None or self.km is None:
            return "—"
        return f"→ {self.nearest.town} {self.km:.0f} km"


def coverage(services: Sequence[Service]) -> dict[Region, dict[str, Cell]]:
    """For every region (Bamako first, then by name) and covered kind, its `Cell`."""
    table: dict[Region, dict[str, Cell]] = {}
    for region in sorted(Region, key=lambda r: (r is not Region.BAMAKO, r.label)):
        row: dict[str, Cell] = {}
        for kind in COVERED_KINDS:
            here = [s for s in in_region_ranked(services, region, kind) if offers_exactly(s, kind)]
            if here:
                row[kind] = Cell(len(here))
                continue
            elsewhere = nearest_elsewhere(services, region, kind, limit=1)
            row[kind] = Cell(0, elsewhere[0].service, elsewhere[0].km) if elsewhere else Cell(0)
        table[region] = row
    return table


def coverage_markdown(services: Sequence[Service]) -> str:
    """The coverage table as Markdown (for the README): a count of local services, or
    "→ town km" for the nearest one elsewhere."""
    header = "| region | " + " | ".join(COVERED_KINDS) + " |"
    rule = "|---|" + "---|" * len(COVERED_KINDS)
    rows = [
        f"| {region.label} | " + " | ".join(cells[kind].markdown() for kind in COVERED_KINDS) + " |"
        for region, cells in coverage(services).items()
    ]
    return "\n".join([header, rule, *rows])


def problems(
    services: Sequence[Service], today: date, max_age_days: int = MAX_AGE_DAYS
) -> list[str]:
    """What to fix or check, one line each: entries without a phone, stale or missing
    checks, and (region, kind) pairs without a local service."""
    found = []
    for service in services:
        if not service.phones:
            found.append(f"{service.id}: no phone number (reached through how_to_reach)")
        if service.verified_on is None:
            found.append(f"{service.id}: never verified")
        elif (today - service.verified_on).days > max_age_days:
            age = (today - service.verified_on).days
            found.append(f"{service.id}: verified_on {service.verified_on} is {age} days old")
    for region, cells in coverage(services).items():
        missing = [kind for kind in COVERED_KINDS if not cells[kind].local]
        if missing:
            found.append(f"{region.label}: no local service for {', '.join(missing)}")
    return found
