"""The staff queue with 10,000 tips: a page read from the Redis indexes (`staff.paging`)
versus reading every record and filtering in Python (`Desk.records` + `staff.queue.apply`,
the queue before the indexes), interleaved in one run, and the memory each takes.

Tips are submitted through `Intake.submit` (fast KDF limits) and moved through the desk
like a year of work: most closed or rejected, a few hundred open, a quarter assigned.

Usage: `.venv/bin/python bench/desk_queue.py` (prints the figures).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from redis.asyncio import Redis

from sini.redis_server import LocalRedis
from sini.regions import Region
from staff import paging, queue, retention
from tips.crypto import MINIMUM_FOR_TESTS
from tips.desk import Desk
from tips.intake import Intake
from tips.keys import init_desk_keys, unwrap_desk_keyring
from tips.model import Category, Draft, Status, When

TIPS = 10_000
ROUNDS = 30
ACCOUNTS = ("awa", "moussa", "fatou", "issa", "kadi")
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
NOW = START + timedelta(days=400)
SCENARIOS = {
    "first page (priority)": ({}, 1),
    "filtered page (new, Ségou, newest)": (
        {"status": "new", "region": "segou", "sort": "newest"},
        1,
    ),
    "deep page 150 (oldest)": ({"sort": "oldest"}, 150),
    "mine, page 2 (priority)": ({"mine": "1"}, 2),
}
PATHS = [
    ([Status.IN_REVIEW, Status.CLOSED], 60),
    ([Status.REJECTED], 25),
    ([Status.IN_REVIEW, Status.FORWARDED, Status.CLOSED], 9),
    ([], 2),
    ([Status.IN_REVIEW], 2),
    ([Status.IN_REVIEW, Status.FORWARDED], 2),
]


async def fill(redis: Redis[bytes]) -> None:
    await init_desk_keys(redis, "admin", "admin password", limits=MINIMUM_FOR_TESTS)
    public = (await unwrap_desk_keyring(redis, "admin", "admin password")).public_key
    intake = Intake(redis, b"b" * 32, kdf_limits=MINIMUM_FOR_TESTS, kdf_concurrency=4)
    desk = Desk(redis)
    draw = random.Random(19)  # noqa: S311 - a reproducible desk, not a secret
    regions = list(Region)

    async def one() -> None:
        draft = (
            Draft()
            .with_category(draw.choice(list(Category)))
            .with_region(draw.choice(regions))
            .with_when(When.THIS_WEEK)
            .add_text("texte du signalement " * draw.randrange(2, 40))
        )
        moment = START + timedelta(hours=draw.randrange(400 * 24))
        lookup = intake.lookup((await intake.submit(draft.to_content(), public, moment)).code)
        path = draw.choices([p for p, _ in PATHS], [w for _, w in PATHS])[0]
        later = moment + timedelta(days=draw.randrange(10))
        for status in path:
            forward = "OCS" if status is Status.FORWARDED else None
            await desk.set_status(
                lookup, status, "r", "awa", now=later, forwarded_to=forward, desk_public_key=public
            )
        if draw.random() < 0.25:
            await desk.assign(lookup, draw.choice(ACCOUNTS), now=later)

    for _ in range(TIPS // 100):
        await asyncio.gather(*(one() for _ in range(100)))


Page = Callable[[queue.QueueFilter, int], Awaitable[tuple[list[str], int]]]
"""A queue page's lookups and how many tips retention deletes within 72 h."""


def paged(desk: Desk) -> Page:
    """What the queue view reads now: the page, the counts, the retention warning."""

    async def page(wanted: queue.QueueFilter, number: int) -> tuple[list[str], int]:
        size = paging.PAGE_SIZE
        shown = await paging.queue_page(desk, wanted, "awa", NOW, (number - 1) * size, size)
        await desk.counts()
        expiring = await retention.expiring(desk, 90, 72, NOW)
        return [r.lookup for r in shown.records], expiring

    return page


def every_record(desk: Desk) -> Page:
    """What it read before: every record, filtered, sorted and counted in Python."""

    async def page(wanted: queue.QueueFilter, number: int) -> tuple[list[str], int]:
        size = paging.PAGE_SIZE
        records = await desk.records()
        expiring = sum(1 for r in records if retention.expires_soon(r, 90, 72, NOW))
        shown = queue.apply(records, wanted, "awa", NOW)[(number - 1) * size : number * size]
        return [r.lookup for r in shown], expiring

    return page


async def timed(page: Page, wanted: queue.QueueFilter, number: int) -> float:
    started = time.perf_counter()
    await page(wanted, number)
    return (time.perf_counter() - started) * 1000


async def peak_kib(page: Page, wanted: queue.QueueFilter, number: int) -> float:
    tracemalloc.start()
    await page(wanted, number)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder, LocalRedis(Path(folder)) as server:
        redis: Redis[bytes] = Redis.from_url(server.url)
        started = time.perf_counter()
        await fill(redis)
        print(f"{TIPS} tips stored in {time.perf_counter() - started:.0f} s")
        desk = Desk(redis)
        total, counts = await desk.counts()
        assert total == TIPS
        print(f"statuses: {', '.join(f'{s.value} {n}' for s, n in counts.items())}")
        ways = {"paged": paged(desk), "every record": every_record(desk)}
        print(f"RSS before the pages: {rss_mib():.0f} MiB")
        for params, number in SCENARIOS.values():  # the paged queue alone, as served now
            for _ in range(5):
                await ways["paged"](queue.QueueFilter.parse(params), number)
        print(f"RSS after paged pages only: {rss_mib():.0f} MiB")
        print(f"{'scenario':38} {'way':13} {'p50 ms':>8} {'p95 ms':>8} {'peak KiB':>9}")
        for name, (params, number) in SCENARIOS.items():
            wanted = queue.QueueFilter.parse(params)
            shown = [await page(wanted, number) for page in ways.values()]
            assert shown[0] == shown[1], f"{name}: the two ways disagree"
            times: dict[str, list[float]] = {way: [] for way in ways}
            for _ in range(ROUNDS):  # interleaved: both ways see the same machine state
                for way, page in ways.items():
                    times[way].append(await timed(page, wanted, number))
            for way, page in ways.items():
                print(
                    f"{name:38} {way:13} {statistics.median(times[way]):8.1f} "
                    f"{p95(times[way]):8.1f} {await peak_kib(page, wanted, number):9.0f}"
                )
        print(f"RSS after reading every record too: {rss_mib():.0f} MiB")
        await redis.close()


if __name__ == "__main__":
    asyncio.run(main())
