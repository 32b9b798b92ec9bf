"""Retention: closed and rejected tips are deleted after `days` without change (default 90,
as GlobaLeaks), and staff see which ones are about to go (72 h ahead).

Purging goes through `Desk.purge_closed`; what this module adds is keeping the purged
tips in the weekly statistics (`stats.archive`) and the warning.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from redis.asyncio import Redis

from staff import stats
from tips.desk import Desk, TipQuery
from tips.model import Status, TipRecord, floor_hour
from tips.stored import tip_key


def expires_at(record: TipRecord, days: int) -> datetime | None:
    """When retention will delete this tip (None while it is still being worked on)."""
    if not record.status.is_final:
        return None
    moment = record.updated_hour + timedelta(days=days)
    return max(moment, record.kept_until) if record.kept_until is not None else moment


def expires_soon(
    record: TipRecord, days: int, warning_hours: int, now: datetime
) -> datetime | None:
    """When retention will delete this tip, if that is within `warning_hours`."""
    moment = expires_at(record, days)
    return moment if moment is not None and moment <= now + timedelta(hours=warning_hours) else None


async def expiring(desk: Desk, days: int, warning_hours: int, now: datetime) -> int:
    """How many final tips retention will delete within `warning_hours`, from the index of
        the last change: every tip changed before the cutoff but the open ones (few, where the
        final ones are the archive), so no envelope is read and no large set is built. A tip
    an admin kept longer is still counted (its own page and card say until when)."""
    cutoff = now + timedelta(hours=warning_hours) - timedelta(days=days)
    opened = TipQuery(statuses=frozenset(s for s in Status if not s.is_final))
    return await desk.changed_until(TipQuery(), cutoff) - await desk.changed_until(opened, cutoff)


async def due(desk: Desk, days: int, now: datetime) -> list[TipRecord]:
    """The final tips a purge with this retention would delete now (`purge --dry-run`)."""
    cutoff = floor_hour(now) - timedelta(days=days)
    final = await desk.records(Status.CLOSED, Status.REJECTED)
    hour = floor_hour(now)
    return [
        r
        for r in final
        if r.updated_hour < cutoff and (r.kept_until is None or r.kept_until <= hour)
    ]


async def purge(desk: Desk, redis: Redis[bytes], days: int, now: datetime) -> int:
    """Delete final tips older than `days`; keep them in the statistics; return how many."""
    candidates = await due(desk, days, now)
    purged = await desk.purge_closed(days, now)
    if candidates:
        async with redis.pipeline(transaction=False) as pipe:
            for record in candidates:
                pipe.exists(tip_key(record.lookup))
            still_there = await pipe.execute()
        gone = [r for r, present in zip(candidates, still_there, strict=True) if not present]
        await stats.archive(redis, gone)
    return purged
