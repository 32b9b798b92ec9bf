"""Micro-batching over one or more lanes (the model in the bot's process, or NLU worker
processes): messages travel in batches, a slow or restarting worker holds no one up, and
no message is lost while some lane can still answer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable

import pytest

from bot.nlu import NLUUnavailable, Understanding
from bot.nlu.batching import BatchingNLU


class Lane:
    """A stand-in worker: answers with its own name, or is down, or raises a model error;
    `hold` pauses it (cleared = the worker is busy or pre-empted)."""

    def __init__(self, name: str, down: bool = False, error: Exception | None = None) -> None:
        self.name, self.down, self.error = name, down, error
        self.batches: list[list[str]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()

    def __call__(self, texts: list[str]) -> list[Understanding]:
        self.entered.set()
        assert self.hold.wait(timeout=30), "the test never released this lane"
        if self.down:
            raise NLUUnavailable("worker starting")
        if self.error is not None:
            raise self.error
        self.batches.append(texts)
        return [Understanding(self.name, 1.0) for _ in texts]


Build = Callable[..., BatchingNLU]


@pytest.fixture
async def build() -> AsyncIterator[Build]:
    made: list[BatchingNLU] = []

    def make(*lanes: Lane, cache_size: int = 0) -> BatchingNLU:
        made.append(BatchingNLU(lanes, cache_size))
        return made[-1]

    yield make
    for nlu in made:
        await nlu.close()


async def held(lane: Lane, nlu: BatchingNLU, text: str) -> asyncio.Task[Understanding]:
    """Send `text` and return once `lane` is busy with it (and holds it: `lane.hold`)."""
    lane.hold.clear()
    task = asyncio.create_task(nlu.parse(text))
    await asyncio.to_thread(lane.entered.wait, 30)
    return task


async def queued(nlu: BatchingNLU, texts: list[str]) -> list[asyncio.Task[Understanding]]:
    """Send `texts` at once; they are in the queue when this returns."""
    tasks = [asyncio.create_task(nlu.parse(text)) for text in texts]
    await asyncio.sleep(0)  # one turn of the loop: every task has queued its message
    return tasks


async def test_a_lone_message_travels_alone(build: Build) -> None:
    lane = Lane("a")
    reading = await build(lane).parse("salut")
    assert reading.intent == "a"
    assert lane.batches == [["salut"]]


async def arriving_while_busy(build: Build, count: int) -> list[list[str]]:
    """The batches one lane ran for "m0" and then `count` messages sent while it ran."""
    lane = Lane("a")
    nlu = build(lane)
    first = await held(lane, nlu, "m0")
    rest = await queued(nlu, [f"m{n}" for n in range(1, count + 1)])
    lane.hold.set()
    await asyncio.gather(first, *rest)
    return lane.batches


async def test_messages_arriving_while_the_model_is_busy_travel_together(build: Build) -> None:
    assert await arriving_while_busy(build, 10) == [["m0"], [f"m{n}" for n in range(1, 11)]]


async def test_a_batch_holds_at_most_64_messages(build: Build) -> None:
    batches = await arriving_while_busy(build, 150)
    assert [len(batch) for batch in batches] == [1, 64, 64, 22]


async def test_a_slow_worker_holds_no_one_up_while_another_is_free(build: Build) -> None:
    slow, free = Lane("slow"), Lane("free")
    nlu = build(slow, free)
    stuck = await held(slow, nlu, "m0")
    others = await asyncio.gather(*await queued(nlu, [f"m{n}" for n in range(1, 6)]))
    assert {r.intent for r in others} == {"free"}, "answered while the slow one still works"
    assert not stuck.done()
    slow.hold.set()
    assert (await stuck).intent == "slow"


async def test_a_worker_that_is_down_hands_its_messages_to_the_next(build: Build) -> None:
    down, up = Lane("a", down=True), Lane("b")
    nlu = build(down, up)
    readings = await asyncio.gather(*(nlu.parse(f"m{n}") for n in range(6)))
    assert {r.intent for r in readings} == {"b"}, "no message lost"
    assert not await nlu.ready(), "a pool short of a worker is not at full strength"


async def test_when_every_worker_is_down_the_bot_hears_unavailable(build: Build) -> None:
    nlu = build(Lane("a", down=True), Lane("b", down=True))
    with pytest.raises(NLUUnavailable, match="starting"):
        await nlu.parse("bonjour")
    assert not await nlu.ready()


async def test_a_model_error_reaches_the_bot_as_unavailable_not_as_a_crash(
    build: Build,
) -> None:
    lane = Lane("a", error=ValueError("bad shape"))
    nlu = build(lane)
    with pytest.raises(NLUUnavailable, match="ValueError"):
        await nlu.parse("bonjour")
    lane.error = None
    assert (await nlu.parse("bonjour")).intent == "a", "the next message is parsed again"


async def test_a_model_that_fails_is_not_ready(build: Build) -> None:
    assert not await build(Lane("a", error=ValueError("bad shape"))).ready()


async def test_a_repeated_text_is_parsed_once_whichever_worker_it_would_go_to(
    build: Build,
) -> None:
    a, b = Lane("a"), Lane("b")
    nlu = build(a, b, cache_size=16)
    readings = [await nlu.parse(text) for text in ("Salut", "salut ", "SALUT")]
    assert len({r.intent for r in readings}) == 1
    assert len(a.batches) + len(b.batches) == 1


async def test_every_worker_answering_is_ready(build: Build) -> None:
    assert await build(Lane("a"), Lane("b")).ready()
