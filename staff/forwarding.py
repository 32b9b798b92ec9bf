"""Where tips are forwarded: the organisations admins list, and the one spelling of each.

The organisation a tip went to is kept in clear for the statistics, so one organisation
must be one name: staff pick from the list, and a name typed under "autre" is tidied
(trimmed, one space between words) and, when it matches a listed name without regard to
case, replaced by the listed spelling ("ocs", "OCS " and "OCS" are the OCS).

The list is one JSON array in Redis; until an admin first changes it, it is `DEFAULTS`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from sini.transactions import Writes, transaction
from tips.model import MAX_FORWARDED_TO_CHARS

TARGETS_KEY = "sini:staff:forward-targets"
DEFAULTS: tuple[str, ...] = (
    "OCS",
    "Police nationale",
    "Gendarmerie nationale",
    "CNCLCTPA",
    "Brigade des mineurs",
    "Protection civile",
    "ONG",
)


class TargetNameInvalid(ValueError):
    """An organisation name that is empty or longer than a stored one may be."""


def tidy(name: str) -> str:
    """`name` trimmed, with one space between words."""
    return " ".join(name.split())


def spelling(name: str, known: Iterable[str]) -> str:
    """The listed spelling of `name` when it matches one without regard to case, else
    `name` tidied."""
    tidied = tidy(name)
    wanted = tidied.casefold()
    return next((k for k in known if k.casefold() == wanted), tidied)


def tally(counts: Iterable[tuple[str, int]], known: Iterable[str]) -> list[tuple[str, int]]:
    """Counts per organisation with the spellings of one organisation added up (tips
    forwarded before the list existed may be spelled several ways), most first."""
    listed = list(known)
    totals: Counter[str] = Counter()
    seen: dict[str, str] = {}  # case-folded → the first spelling met, for unlisted names
    for name, count in counts:
        named = spelling(name, listed)
        totals[seen.setdefault(named.casefold(), named)] += count
    return totals.most_common()


class ForwardTargets:
    """The admins' list of organisations, in the order they are offered."""

    def __init__(self, redis: Redis[bytes]) -> None:
        self.redis = redis

    async def list(self) -> list[str]:
        return _decode(await self.redis.get(TARGETS_KEY))

    async def add(self, name: str) -> str:
        """Add `name` (tidied) unless it is already listed; the listed spelling."""
        tidied = tidy(name)
        if not tidied or len(tidied) > MAX_FORWARDED_TO_CHARS:
            raise TargetNameInvalid(name)

        async def step(pipe: Pipeline[bytes]) -> tuple[str, Writes | None]:
            current = _decode(await pipe.get(TARGETS_KEY))
            listed = spelling(tidied, current)
            if listed in current:
                return listed, None
            return tidied, _store([*current, tidied])

        return await transaction(self.redis, [TARGETS_KEY], step)

    async def remove(self, name: str) -> None:
        """Stop offering `name`; tips already forwarded there keep it."""

        async def step(pipe: Pipeline[bytes]) -> tuple[None, Writes | None]:
            current = _decode(await pipe.get(TARGETS_KEY))
            kept = [t for t in current if t != name]
            return None, _store(kept) if kept != current else None

        await transaction(self.redis, [TARGETS_KEY], step)


def _decode(raw: bytes | None) -> list[str]:
    if raw is None:
        return list(DEFAULTS)
    return [str(name) for name in json.loads(raw)]


def _store(names: list[str]) -> Writes:
    def writes(pipe: Pipeline[bytes]) -> None:
        pipe.set(TARGETS_KEY, json.dumps(names, ensure_ascii=False))

    return writes
