"""Several NLU workers behind one NLU: more of the machine's cores for parsing.

One worker parses one batch at a time on one core; while it runs, new messages wait for
the next batch. With two workers, batches run side by side on two cores: more updates a
second and shorter queues (README, "Performance"), for one more model in memory (≈ 0.5 GB
private; TensorFlow's library pages are shared). Messages are dealt to the workers in
turn; a worker that cannot answer (dead, restarting) hands its message to the next, so
one restarting worker costs capacity, not answers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

from bot.nlu import NLU, NLUUnavailable, Understanding
from bot.nlu.batching import ReadingCache
from bot.nlu.worker import RasaWorkerNLU


class NLUPool:
    """Round-robin over `members`, each tried in turn until one answers; the cache of
    frequent readings is the pool's, so a repeated text is parsed once, not per member."""

    def __init__(self, members: Sequence[NLU], cache_size: int = 0) -> None:
        if not members:
            raise ValueError("an NLU pool needs at least one member")
        self.members = tuple(members)
        self._turn = itertools.cycle(range(len(self.members)))
        self._cache = ReadingCache(cache_size)

    async def parse(self, text: str) -> Understanding:
        return await self._cache.read(text, self._any_member)

    async def _any_member(self, text: str) -> Understanding:
        first = next(self._turn)
        error = NLUUnavailable("no member")
        for offset in range(len(self.members)):
            member = self.members[(first + offset) % len(self.members)]
            try:
                return await member.parse(text)
            except NLUUnavailable as unavailable:
                error = unavailable
        raise error

    async def ready(self) -> bool:
        """Ready when every member is: a pool short of a worker is not at full strength."""
        return all([await member.ready() for member in self.members])

    async def close(self) -> None:
        for member in self.members:
            await member.close()


def start_workers(
    count: int,
    model_path: Path,
    timeout: float,
    log_level: str,
    log_format: str,
    *,
    wait: float,
    cache_size: int,
) -> NLUPool:
    """`count` workers loading their models side by side (blocking until they answer)."""
    workers = [
        RasaWorkerNLU(model_path, timeout, log_level, log_format, cache_size=0)
        for _ in range(count)
    ]
    for worker in workers:
        worker.spawn()
    for worker in workers:
        worker.wait_ready(wait)
    return NLUPool(workers, cache_size)
