"""Tips stored before references and the paging indexes get both, once, at dashboard
start: a second run changes nothing."""

from __future__ import annotations

from redis.asyncio import Redis

from tests.conftest import Keys
from tests.tips.conftest import SECRET, indexes, indexes_from_hashes, references
from tests.tips.test_indexes import submit_many
from tips.desk import Desk
from tips.intake import Intake
from tips.reindex import reindex


async def as_before_references(redis: Redis[bytes]) -> None:
    """Remove what this layout added, as a store written by the previous version."""
    async for key in redis.scan_iter(match="sini:tip:*"):
        if key.decode().count(":") == 2:
            await redis.hdel(key, "ref")
    for pattern in ("sini:tips:category:*", "sini:tips:region:*", "sini:tips:assignee:*"):
        async for key in redis.scan_iter(match=pattern):
            await redis.delete(key)
    await redis.delete("sini:tips:updated", "sini:tips:refs", "sini:tips:refcount:25")


async def snapshot(redis: Redis[bytes]) -> tuple[object, ...]:
    return await indexes(redis), await references(redis)


async def test_reindex_gives_references_and_indexes_once(
    redis: Redis[bytes], intake: Intake, desk: Desk, keys: Keys
) -> None:
    lookups = await submit_many(intake, keys, 15, seed=5)
    await desk.assign(lookups[0], "awa")
    await as_before_references(redis)
    assert (await desk.get(lookups[0])).reference is None

    assert await reindex(redis, SECRET) == 15
    assert await indexes(redis) == await indexes_from_hashes(redis)
    indexed, held = await references(redis)
    assert len(indexed) == len(held) == 15
    assert indexed == {ref: lookup for lookup, ref in held.items()}
    for lookup in lookups:
        record = await desk.get(lookup)
        assert record.reference is not None
        assert f"T-{record.created_hour.year % 100:02d}-" in str(record.reference)

    before = await snapshot(redis)
    assert await reindex(redis, SECRET) == 0
    assert await snapshot(redis) == before


async def test_reindex_keeps_references_already_given(
    redis: Redis[bytes], intake: Intake, desk: Desk, keys: Keys
) -> None:
    lookups = await submit_many(intake, keys, 4, seed=9)
    before = {lk: (await desk.get(lk)).reference for lk in lookups}
    assert await reindex(redis, SECRET) == 0
    assert {lk: (await desk.get(lk)).reference for lk in lookups} == before
