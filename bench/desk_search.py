"""Searching 10,000 tips in the dashboard's memory (`staff.search.SearchIndex`): the first
search (every tip opened with the desk keyring), a search once caught up, one after 100
new tips, and the memory the opened text takes.

The tips are those of `bench/desk_queue.py` (same seed, same texts), filled the same way.

Usage: `PYTHONPATH=. .venv/bin/python bench/desk_search.py` (prints the figures).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

from redis.asyncio import Redis

from bench.desk_queue import TIPS, fill, p95, rss_mib
from sini.redis_server import LocalRedis
from sini.regions import Region
from staff.search import SearchIndex
from tips.crypto import MINIMUM_FOR_TESTS
from tips.intake import Intake
from tips.keys import unwrap_desk_keyring
from tips.model import Category, Draft

ROUNDS = 30


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder, LocalRedis(Path(folder)) as server:
        redis: Redis[bytes] = Redis.from_url(server.url)
        started = time.perf_counter()
        await fill(redis)
        print(f"{TIPS} tips stored in {time.perf_counter() - started:.0f} s")
        keyring = await unwrap_desk_keyring(redis, "admin", "admin password")
        index = SearchIndex()
        print(f"RSS before the first search: {rss_mib():.0f} MiB")
        tracemalloc.start()
        started = time.perf_counter()
        await index.catch_up(redis, keyring)
        found = index.matching("texte signalement")
        first = (time.perf_counter() - started) * 1000
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"first search (opens {len(index)} tips): {first:.0f} ms, {len(found)} found")
        print(f"opened text held: {held / 1024 / 1024:.1f} MiB; RSS now {rss_mib():.0f} MiB")
        times = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            await index.catch_up(redis, keyring)
            index.matching("signalement texte")
            times.append((time.perf_counter() - started) * 1000)
        print(f"caught-up search: p50 {statistics.median(times):.0f} ms, p95 {p95(times):.0f} ms")
        intake = Intake(redis, b"b" * 32, kdf_limits=MINIMUM_FOR_TESTS)
        draft = Draft().with_category(Category.OTHER).with_region(Region.GAO).add_text("nouveau")
        for _ in range(100):
            await intake.submit(draft.to_content(), keyring.public_key, datetime.now(timezone.utc))
        started = time.perf_counter()
        await index.catch_up(redis, keyring)
        print(f"search after 100 new tips: {(time.perf_counter() - started) * 1000:.0f} ms")
        await redis.close()


if __name__ == "__main__":
    asyncio.run(main())
