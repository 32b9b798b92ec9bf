"""When counsellors answer: opening hours per weekday, in Mali's time (Africa/Bamako).

Written in COUNSEL_HOURS as space-separated `DAYS=HH:MM-HH:MM` items, days being `mon` to
`sun` or a range of them: `mon-fri=08:00-18:00 sat=09:00-13:00`. A day not named is
closed; `24:00` ends a day.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import msgspec

MALI = ZoneInfo("Africa/Bamako")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ITEM = re.compile(
    r"(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?=(?P<start>\d\d:\d\d)-(?P<end>\d\d:\d\d)"
)
Minute = Annotated[int, msgspec.Meta(ge=0, le=24 * 60)]
Weekday = Annotated[int, msgspec.Meta(ge=0, le=6)]


class Opening(msgspec.Struct, frozen=True):
    """Open on `weekday` (0: Monday) from minute `start` to minute `end` of the day."""

    weekday: Weekday
    start: Minute
    end: Minute


class OpeningHours(msgspec.Struct, frozen=True):
    openings: tuple[Opening, ...]

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(MALI)
        minute = local.hour * 60 + local.minute
        return any(
            o.weekday == local.weekday() and o.start <= minute < o.end for o in self.openings
        )


ALWAYS = OpeningHours(tuple(Opening(day, 0, 24 * 60) for day in range(7)))


def parse_hours(text: str) -> OpeningHours:
    """The hours COUNSEL_HOURS writes; ValueError for anything else."""
    openings = []
    for item in text.split():
        found = _ITEM.fullmatch(item.lower())
        if found is None or found["first"] not in DAYS or (found["last"] or "mon") not in DAYS:
            raise ValueError(f"not DAYS=HH:MM-HH:MM: {item}")
        first = DAYS.index(found["first"])
        last = DAYS.index(found["last"]) if found["last"] else first
        start, end = _minute(found["start"]), _minute(found["end"])
        if last < first or end <= start:
            raise ValueError(f"an empty range: {item}")
        openings += [Opening(day, start, end) for day in range(first, last + 1)]
    return OpeningHours(tuple(openings))


def _minute(text: str) -> int:
    hours, minutes = int(text[:2]), int(text[3:])
    if minutes > 59 or hours * 60 + minutes > 24 * 60:
        raise ValueError(f"not a time of day: {text}")
    return hours * 60 + minutes
