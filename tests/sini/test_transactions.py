"""`sini.transactions.transaction`: a decision is applied only to the data it was made on."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from sini.transactions import Contended, Writes, transaction


async def test_a_step_runs_again_from_a_fresh_read_when_a_watched_key_moves(
    redis: Redis[bytes],
) -> None:
    await redis.set("balance", 10)
    seen: list[int] = []

    async def withdraw(pipe: Pipeline[bytes]) -> tuple[int, Writes]:
        balance = int(await pipe.get("balance") or 0)
        seen.append(balance)
        if len(seen) == 1:
            await redis.set("balance", 4)  # another connection spends meanwhile

        def writes(pipe: Pipeline[bytes]) -> None:
            pipe.set("balance", balance - 3)

        return balance - 3, writes

    assert await transaction(redis, ["balance"], withdraw) == 1
    assert seen == [10, 4]
    assert await redis.get("balance") == b"1"


async def test_a_step_that_decides_to_write_nothing_writes_nothing(redis: Redis[bytes]) -> None:
    async def look(pipe: Pipeline[bytes]) -> tuple[bool, Writes | None]:
        return bool(await pipe.exists("absent")), None

    assert await transaction(redis, ["absent"], look) is False
    assert await redis.dbsize() == 0


async def test_endless_interference_ends_in_the_callers_error_and_writes_nothing(
    redis: Redis[bytes],
) -> None:
    async def always_moved(pipe: Pipeline[bytes]) -> tuple[None, Writes]:
        await redis.incr("watched")  # another connection touches the watched key

        def writes(pipe: Pipeline[bytes]) -> None:
            pipe.set("written", 1)

        return None, writes

    with pytest.raises(Contended):
        await transaction(redis, ["watched"], always_moved, attempts=3)
    assert await redis.get("watched") == b"3"
    assert not await redis.exists("written")

    class Busy(Exception):
        pass

    with pytest.raises(Busy):
        await transaction(redis, ["watched"], always_moved, attempts=1, contended=Busy)
