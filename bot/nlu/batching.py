"""Adaptive micro-batching of NLU requests over one or more lanes, and a small cache.

Parsing a batch of messages costs far less per message than parsing them one by one
(see `bot.nlu.rasa_batch`). Concurrent parse requests (from many chats) are therefore
gathered — for at most `max_wait` seconds when a lane is idle, or for as long as every
lane is still running its previous batch — and parsed in one graph run. A lone message
waits only `max_wait`; under load the batches grow by themselves. Results are identical
to one-at-a-time parsing (tested on the whole held-out split).

A lane is one place batches run, one at a time, on its own thread: the model in this
process, or one NLU worker process. With several lanes (`NLU_WORKERS`), all of them
serve one queue: whichever lane is free next takes everything waiting. Dealing messages
to the workers in turn would instead leave a message queued behind a worker that is
slow (pre-empted, restarting) while another one sits idle, which is where most of the
tail latency came from. A lane that cannot answer (`NLUUnavailable`: its worker is
starting, or died) hands its batch to the lanes that have not tried it yet, so one
restarting worker costs capacity, not answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bot import metrics
from bot.nlu import READINESS_PROBE, NLUUnavailable, Understanding
from sini.logging import get_logger

log = get_logger(__name__)

RunBatch = Callable[[list[str]], list[Understanding]]
Parse = Callable[[str], Awaitable[Understanding]]


@dataclass
class _Request:
    text: str
    future: asyncio.Future[Understanding]
    tried: set[int] = field(default_factory=set)  # lanes that could not answer it


class MicroBatcher:
    """Gathers concurrent requests into batches; each lane runs one batch at a time on its
    own thread, and an idle lane takes the next batch from the one shared queue."""

    def __init__(
        self, lanes: Sequence[RunBatch], max_batch: int = 64, max_wait: float = 0.002
    ) -> None:
        if not lanes:
            raise ValueError("a micro-batcher needs at least one lane")
        self._lanes = tuple(lanes)
        self._threads = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"nlu-{n}")
            for n in range(len(lanes))
        ]
        self._turn = itertools.cycle(range(len(lanes)))
        self._idle = set(range(len(lanes)))
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._pending: list[_Request] = []
        self._timer: asyncio.TimerHandle | None = None
        self.batches = 0  # for tests and benchmarks

    async def parse(self, text: str) -> Understanding:
        loop = asyncio.get_running_loop()
        request = _Request(text, loop.create_future())
        self._pending.append(request)
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif self._timer is None and self._idle:
            self._timer = loop.call_later(self.max_wait, self._flush)
        return await request.future

    async def each_lane_answers(self) -> bool:
        """Whether every lane parses the probe, asked past the queue (readiness)."""
        try:
            await asyncio.gather(
                *(self._on_lane(lane, [READINESS_PROBE]) for lane in range(len(self._lanes)))
            )
        except NLUUnavailable:
            return False
        return True

    def close(self) -> None:
        for thread in self._threads:
            thread.shutdown(wait=False, cancel_futures=True)

    def _flush(self) -> None:
        """Give every idle lane a batch of what waits (none of which that lane failed)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for _ in range(len(self._lanes)):
            if not self._pending or not self._idle:
                return
            lane = next(self._turn)
            if lane not in self._idle:
                continue
            batch = [r for r in self._pending if lane not in r.tried][: self.max_batch]
            if not batch:
                continue
            taken = {id(r) for r in batch}
            self._pending = [r for r in self._pending if id(r) not in taken]
            self._idle.discard(lane)
            asyncio.get_running_loop().create_task(self._run(lane, batch))

    async def _on_lane(self, lane: int, texts: list[str]) -> list[Understanding]:
        """`texts` parsed on `lane`'s thread; any model failure arrives as `NLUUnavailable`."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._threads[lane], self._lanes[lane], texts)
        except NLUUnavailable:  # already says why (e.g. the worker is starting)
            raise
        except Exception as error:
            log.error("nlu.batch_failed", error_type=type(error).__name__, size=len(texts))
            raise NLUUnavailable(type(error).__name__) from error

    async def _run(self, lane: int, batch: list[_Request]) -> None:
        metrics.NLU_BATCH_SIZE.observe(len(batch))
        try:
            readings = await self._on_lane(lane, [r.text for r in batch])
            for request, reading in zip(batch, readings, strict=True):
                if not request.future.done():
                    request.future.set_result(reading)
        except NLUUnavailable as error:  # every waiter hears "unavailable", or another lane
            self._hand_on(lane, batch, error)
        finally:
            self.batches += 1
            self._idle.add(lane)
            self._flush()  # what arrived during this batch goes now, without waiting

    def _hand_on(self, lane: int, batch: list[_Request], error: NLUUnavailable) -> None:
        """Requeue (first in line) what other lanes may still answer; fail the rest."""
        retry = []
        for request in batch:
            request.tried.add(lane)
            if request.future.done():
                continue
            if len(request.tried) < len(self._lanes):
                retry.append(request)
            else:
                request.future.set_exception(error)
        self._pending[:0] = retry


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
    """An NLU whose parses run in micro-batches over `lanes`, behind a cache.

    Each lane (`run_batch`) does the work — a model in this process, or a request to one
    NLU worker process — on its own thread, one batch at a time, so the event loop never
    blocks and batches form while the previous ones run.
    """

    def __init__(self, lanes: Sequence[RunBatch], cache_size: int = 4096) -> None:
        self._batcher = MicroBatcher(lanes)
        self._cache = ReadingCache(cache_size)

    async def parse(self, text: str) -> Understanding:
        return await self._cache.read(text, self._batcher.parse)

    async def ready(self) -> bool:
        """Whether every lane parses the probe (past the queue and the cache, so a dead
        worker is noticed and restarted): a pool short of a worker is not at full
        strength."""
        return await self._batcher.each_lane_answers()

    async def close(self) -> None:
        self._batcher.close()
