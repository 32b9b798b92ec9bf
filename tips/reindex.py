"""Bring tips stored before references and the category/region/assignee/updated indexes
up to the layout `tips.stored` describes: index every tip and give a reference to those
without one. Idempotent (a second run changes nothing); the dashboard runs it at start.

Each tip is settled by one script that first checks the tip still reads as it did
(status, assignee, last change), so a change made meanwhile is never indexed stale: the
tip is read again and settled on its new state.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from tips.model import Category, Status, hour_from_epoch, tip_region, validate_account
from tips.stored import (
    ALL_INDEX,
    REFERENCE_LUA,
    REFERENCES,
    UPDATED_INDEX,
    assignee_index,
    category_index,
    reference_counter,
    reference_secret,
    reference_year,
    region_index,
    status_index,
    tip_key,
)

_FIELDS = ("status", "category", "region", "assigned", "created", "updated")
_BATCH = 500
_ROUNDS = 8

# KEYS: tip, reference counter, references, updated index, indexes scored by creation…
# ARGV: lookup, reference year, reference secret, status, assignee ('' for none), created
# hour, updated hour. Returns -1 when the tip no longer reads so (changed, or gone), 1 when
# it was given a reference, 0 otherwise.
_SETTLE = (
    REFERENCE_LUA
    + """
local now = redis.call('HMGET', KEYS[1], 'status', 'assigned', 'updated', 'ref')
if now[1] ~= ARGV[4] or (now[2] or '') ~= ARGV[5] or now[3] ~= ARGV[7] then
  return -1
end
for i = 5, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[6], ARGV[1])
end
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
if now[4] then
  return 0
end
give_reference(KEYS[2], KEYS[3], KEYS[1], ARGV[1], ARGV[2], ARGV[3])
return 1
"""
)


@dataclass(frozen=True)
class _Read:
    """What indexing a tip depends on, as read."""

    lookup: str
    status: Status
    category: Category
    region: str
    assignee: str
    created: int
    updated: int

    @classmethod
    def parse(cls, lookup: str, row: list[bytes | None]) -> _Read | None:
        if any(row[i] is None for i in (0, 1, 2, 4, 5)):
            return None  # gone, or not a tip this code can read
        status, category, region, assigned, created, updated = ((v or b"").decode() for v in row)
        if assigned:
            validate_account(assigned)
        return cls(
            lookup, Status(status), Category(category), region, assigned, int(created), int(updated)
        )

    def keys(self) -> list[str]:
        year = reference_year(hour_from_epoch(self.created))
        keys = [tip_key(self.lookup), reference_counter(year), REFERENCES, UPDATED_INDEX]
        keys += [
            ALL_INDEX,
            status_index(self.status),
            category_index(self.category),
            region_index(tip_region(self.region)),
        ]
        return keys + ([assignee_index(self.assignee)] if self.assignee else [])

    def args(self, secret: str) -> list[str | int]:
        year = reference_year(hour_from_epoch(self.created))
        return [
            self.lookup,
            f"{year:02d}",
            secret,
            self.status.value,
            self.assignee,
            self.created,
            self.updated,
        ]


async def reindex(redis: Redis[bytes], secret: bytes) -> int:
    """Index every tip and give references where missing; how many references were given.

    `secret` is the installation secret (the reference permutation's key derives from it,
    as in `tips.intake.Intake`)."""
    settle = redis.register_script(_SETTLE)
    key = reference_secret(secret)
    pending = [m.decode() for m in await redis.zrange(ALL_INDEX, 0, -1)]
    given = 0
    for _ in range(_ROUNDS):
        changed: list[str] = []
        for start in range(0, len(pending), _BATCH):
            batch = pending[start : start + _BATCH]
            async with redis.pipeline(transaction=False) as pipe:
                for lookup in batch:
                    pipe.hmget(tip_key(lookup), _FIELDS)
                rows = await pipe.execute()
            reads = [r for lk, row in zip(batch, rows, strict=True) if (r := _Read.parse(lk, row))]
            async with redis.pipeline(transaction=False) as pipe:
                for read in reads:
                    await settle(keys=read.keys(), args=read.args(key), client=pipe)
                results = await pipe.execute()
            given += sum(1 for r in results if int(r) == 1)
            changed += [read.lookup for read, r in zip(reads, results, strict=True) if int(r) < 0]
        if not changed:
            break
        pending = changed
    return given
