"""What a copy of a Redis database shows: every key with every value, read by type.

The anonymity tests scan this for ids, names and texts that must never be stored. Values
are read with type-aware commands rather than DUMP, whose RDB encoding may compress long
strings (LZF) and so hide the very plaintext the tests look for.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from redis.asyncio import Redis

Row = tuple[bytes, bytes, float | None]


async def rows(redis: Redis) -> list[Row]:  # type: ignore[type-arg]
    """(key, value, score) for everything in the database."""
    found: list[Row] = []
    async for key in redis.scan_iter(count=1000):
        kind = await redis.type(key)
        if kind == b"none":
            continue  # expired between SCAN and TYPE (flood counters live 60 s)
        if kind == b"string":
            found.append((key, await redis.get(key) or b"", None))
        elif kind == b"hash":
            found += [(key, f + b"=" + v, None) for f, v in (await redis.hgetall(key)).items()]
        elif kind == b"zset":
            found += [(key, m, s) for m, s in await redis.zrange(key, 0, -1, withscores=True)]
        elif kind == b"list":
            found += [(key, item, None) for item in await redis.lrange(key, 0, -1)]
        elif kind == b"set":
            found += [(key, item, None) for item in await redis.smembers(key)]
        elif kind == b"stream":
            for entry_id, fields in await redis.xrange(key):
                found += [(key, entry_id + b" " + f + b"=" + v, None) for f, v in fields.items()]
        else:
            raise AssertionError(f"unexpected Redis type {kind!r} for {key!r}")
    return found


async def everything(redis: Redis) -> bytes:  # type: ignore[type-arg]
    """All keys and values as one byte string, for `secret not in everything(...)` checks."""
    return b"\n".join(key + b" " + value for key, value, _ in await rows(redis))


def everything_at(url: str) -> bytes:
    """`everything`, for a synchronous test, from the server at `url` (read in a thread of
    its own: a sync Playwright test already runs an event loop in this one)."""

    async def read() -> bytes:
        client: Redis = Redis.from_url(url)  # type: ignore[type-arg]
        try:
            return await everything(client)
        finally:
            await client.close()

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, read()).result()
