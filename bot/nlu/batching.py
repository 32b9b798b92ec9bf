"""Adaptive micro-batching of NLU requests, and a small cache in front of it.

Parsing a batch of messages costs far less per message than parsing them one by one
(see `bot.nlu.rasa_batch`). Concurrent parse requests (from many chats) are therefore
gathered — for at most `max_wait` seconds when the model is idle, or for as long as the
previous batch is still running — and parsed in one graph run. A lone message waits
only `max_wait`; under load the batches grow by themselves. Results are identical to
one-at-a-time parsing (tested on the whole held-out split).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor

from bot import metrics
from bot.logs import get_logger
from bot.nlu import READINESS_PROBE, NLUUnavailable, Understanding

log = get_logger(__name__)

RunBatch = Callable[[list[str]], list[Understanding]]
Parse = Callable[[str], Awaitable[Understanding]]


class MicroBatcher:
    """Gathers concurrent requests into batches run one at a time in `executor`."""

    def __init__(
        self,
        run_batch: RunBatch,
        executor: Executor,
        max_batch: int = 64,
        max_wait: float = 0.002,
    ) -> None:
        self._run_batch = run_batch
        self._executor = executor
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._pending: list[tuple[str, asyncio.Future[Understanding]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False
        self.batches = 0  # for tests and benchmarks

    async def parse(self, text: str) -> Understanding:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Understanding] = loop.create_future()
        self._pending.append((text, future))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif self._timer is None and not self._busy:
            self._timer = loop.call_later(self.max_wait, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._busy or not self._pending:
            return
        batch = self._pending[: self.max_batch]
        self._pending = self._pending[self.max_batch :]
        self._busy = True
        asyncio.get_running_loop().create_task(self._run(batch))

    async def _run(self, batch: Sequence[tuple[str, asyncio.Future[Understanding]]]) -> None:
        loop = asyncio.get_running_loop()
        metrics.NLU_BATCH_SIZE.observe(len(batch))
        try:
            readings = await loop.run_in_executor(
                self._executor, self._run_batch, [text for text, _ in batch]
            )
            for (_, future), reading in zip(batch, readings, strict=True):
                if not future.done():
                    future.set_result(reading)
        except NLUUnavailable as error:  # already said why (e.g. the worker is starting)
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
        except Exception as error:  # any model failure: every waiter hears "unavailable"
            log.error("nlu.batch_failed", error_type=type(error).__name__, size=len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(NLUUnavailable(type(error).__name__))
        finally:
            self.batches += 1
            self._busy = False
            if self._pending:
                self._flush()  # what arrived during this batch goes now, without waiting


class ReadingCache:
    """Readings of frequent messages ("salut", "merci", "menu"): a small LRU keyed by a
    hash of the normalised text — never the text itself. Size 0 keeps nothing."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._readings: OrderedDict[bytes, Understanding] = OrderedDict()

    async def read(self, text: str, parse: Parse) -> Understanding:
        """The cached reading of `text`, or `parse(text)` remembered for next time."""
        key = hashlib.blake2b(" ".join(text.casefold().split()).encode(), digest_size=16).digest()
        reading = self._readings.get(key)
        if reading is not None:
            self._readings.move_to_end(key)
            return reading
        reading = await parse(text)
        if self._size:
            self._readings[key] = reading
            if len(self._readings) > self._size:
                self._readings.popitem(last=False)
        return reading


async def answers_probe(parse: Parse) -> bool:
    """Readiness: whether `parse` reads the probe phrase (give it a path past any cache)."""
    try:
        await parse(READINESS_PROBE)
    except NLUUnavailable:
        return False
    return True


class BatchingNLU:
    """An NLU whose parses run in micro-batches on one worker thread, behind a cache.

    `run_batch` does the work (a model in this process, or a request to the NLU worker
    process); one thread runs it, one batch at a time, so the event loop never blocks
    and batches form while the previous one runs.
    """

    def __init__(self, run_batch: RunBatch, cache_size: int = 4096) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu")
        self._batcher = MicroBatcher(run_batch, self._executor)
        self._cache = ReadingCache(cache_size)

    async def parse(self, text: str) -> Understanding:
        return await self._cache.read(text, self._batcher.parse)

    async def ready(self) -> bool:
        """Parse the probe past the cache, so a dead worker is noticed (and restarted)."""
        return await answers_probe(self._batcher.parse)

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
