"""Two replicas of the bot, each with its own outbound scheduler, sharing one sending budget
in a real Redis (bot/adapters/shared_budget.py): together they keep to one rate, a 429 that
one receives pauses the other, a crisis answer on one does not wait behind the other's
backlog, and a replica that loses Redis goes on alone and shares again when it is back.

Nothing here sleeps: a test waits only for the schedulers to finish what they were given."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from bot.adapters.sending import Priority, PriorityRateLimiter
from bot.adapters.shared_budget import BUCKET_KEY, SharedBudget
from sini.redis_server import LocalRedis
from tests.bot.adapters.test_sending import FakeTelegram, sender


@pytest.fixture
async def replicas(redis: Redis) -> AsyncIterator[Any]:
    made: list[PriorityRateLimiter] = []

    def make(**options: Any) -> PriorityRateLimiter:
        limiter = PriorityRateLimiter(**options)
        limiter.share(SharedBudget(redis))
        made.append(limiter)
        return limiter

    yield make
    for each in made:
        await each.shutdown()


def busiest_second(*telegrams: FakeTelegram) -> int:
    """The most messages the replicas sent together within any one second."""
    times = sorted(at for telegram in telegrams for _, _, at in telegram.calls)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


async def test_two_replicas_together_keep_to_one_rate(replicas: Any) -> None:
    first, second = replicas(max_rate=60), replicas(max_rate=60)
    to_first, to_second = FakeTelegram(), FakeTelegram()
    send_first, send_second = sender(first, to_first), sender(second, to_second)

    started = time.monotonic()
    await asyncio.gather(
        *(send_first(1000 + n, f"a {n}", Priority.FIRST) for n in range(90)),
        *(send_second(2000 + n, f"b {n}", Priority.FIRST) for n in range(90)),
    )

    assert len(to_first.calls) == len(to_second.calls) == 90
    # 180 messages at 60/s, both replicas' bursts included: about 3 s, not 1.5 s.
    assert time.monotonic() - started >= 2.5
    assert busiest_second(to_first, to_second) <= 60 + 2 * 6


async def test_a_429_received_by_one_replica_pauses_the_other(replicas: Any) -> None:
    first, second = replicas(max_rate=50), replicas(max_rate=50)
    to_first, to_second = FakeTelegram(), FakeTelegram()
    refused_at: list[float] = []

    def refuse(chat: int, label: str, attempt: int) -> float | None:
        if label == "a 10" and attempt == 1:
            refused_at.append(time.monotonic())
            return 1.0
        return None

    to_first.refuse = refuse
    send_first, send_second = sender(first, to_first), sender(second, to_second)
    await asyncio.gather(
        *(send_first(1000 + n, f"a {n}", Priority.FIRST) for n in range(40)),
        *(send_second(2000 + n, f"b {n}", Priority.FIRST) for n in range(40)),
    )

    [refusal] = refused_at
    during = [label for _, label, at in to_second.calls if refusal + 0.05 < at < refusal + 0.95]
    # At most what the other replica had already been granted (one burst) goes out.
    assert len(during) <= 5, during
    assert len(to_first.calls) == len(to_second.calls) == 40


async def test_a_crisis_answer_on_one_replica_does_not_wait_behind_the_others_backlog(
    replicas: Any,
) -> None:
    busy, calm = replicas(max_rate=30), replicas(max_rate=30)
    to_busy, to_calm = FakeTelegram(), FakeTelegram()
    send_busy, send_calm = sender(busy, to_busy), sender(calm, to_calm)
    backlog = [
        asyncio.ensure_future(send_busy(1000 + n, f"hello {n}", Priority.FIRST)) for n in range(90)
    ]
    while len(to_busy.calls) < 15:  # the busy replica is well into its backlog
        await asyncio.wait(backlog, return_when=asyncio.FIRST_COMPLETED, timeout=None)
        backlog = [answer for answer in backlog if not answer.done()]

    asked = time.monotonic()
    await send_calm(2000, "crisis", Priority.URGENT)

    assert time.monotonic() - asked < 0.25
    assert len(to_busy.calls) < 60  # the backlog was still there
    await asyncio.gather(*backlog)


async def test_a_replica_without_redis_goes_on_alone_and_shares_again_when_it_is_back(
    tmp_path: Path,
) -> None:
    server = LocalRedis(tmp_path / "redis").start()
    redis = Redis.from_url(server.url)
    limiter = PriorityRateLimiter(max_rate=100)
    limiter.share(SharedBudget(redis), alone_after_failure=0.2)
    telegram = FakeTelegram()
    send = sender(limiter, telegram)
    try:
        await asyncio.gather(*(send(1000 + n, f"before {n}", Priority.FIRST) for n in range(10)))
        assert await redis.exists(BUCKET_KEY)
        server.kill()

        with capture_logs() as logs:
            await asyncio.gather(*(send(2000 + n, f"alone {n}", Priority.FIRST) for n in range(30)))
        assert len(telegram.calls) == 40
        assert [e["event"] for e in logs].count("telegram.shared_budget_unavailable") == 1

        server.start()  # same port, same data: the old budget comes back from the AOF
        await redis.delete(BUCKET_KEY)
        n = 0
        with capture_logs() as logs:
            while not await redis.exists(BUCKET_KEY):  # the replica asks again by itself
                await send(3000 + n, f"back {n}", Priority.FIRST)
                n += 1
        assert n >= 1
        assert [e["event"] for e in logs] == ["telegram.shared_budget_back"]
    finally:
        await limiter.shutdown()
        await redis.close()
        server.stop()


async def test_a_broadcast_from_another_process_gives_way_to_live_replies(replicas: Any) -> None:
    """`helpline broadcast` shares the budget at the bulk class: it only takes what lies
    above the reserve, so a replica's live replies go first whenever both wait."""
    broadcaster, live = replicas(max_rate=30, broadcast_rate=1000), replicas(max_rate=30)
    to_broadcaster, to_live = FakeTelegram(), FakeTelegram()
    send_bulk, send_live = sender(broadcaster, to_broadcaster), sender(live, to_live)
    weekly = [
        asyncio.ensure_future(send_bulk(1000 + n, f"weekly {n}", Priority.BULK)) for n in range(120)
    ]
    while len(to_broadcaster.calls) < 15:  # the broadcast is well under way
        await asyncio.wait(weekly, return_when=asyncio.FIRST_COMPLETED, timeout=None)
        weekly = [send for send in weekly if not send.done()]

    asked = time.monotonic()
    await asyncio.gather(*(send_live(2000 + n, f"hello {n}", Priority.FIRST) for n in range(30)))
    answered = time.monotonic()

    meanwhile = [at for _, _, at in to_broadcaster.calls if asked + 0.1 < at < answered]
    assert len(meanwhile) <= 3, f"the broadcast took {len(meanwhile)} of the live replies' turns"
    await asyncio.gather(*weekly)
    assert len(to_broadcaster.calls) == 120
