"""Several NLU workers behind one NLU: shared work, and no lost answer when one is down."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from bot.nlu import NLUUnavailable, Understanding
from bot.nlu.pool import NLUPool, start_workers


class Member:
    """A stand-in worker that answers with its own name, or is down."""

    def __init__(self, name: str, down: bool = False) -> None:
        self.name, self.down, self.seen = name, down, 0

    async def parse(self, text: str) -> Understanding:
        self.seen += 1
        if self.down:
            raise NLUUnavailable("worker starting")
        return Understanding(self.name, 1.0)

    async def ready(self) -> bool:
        return not self.down

    async def close(self) -> None:
        return None


async def test_messages_are_dealt_to_the_workers_in_turn() -> None:
    pool = NLUPool([Member("a"), Member("b")])
    readings = [await pool.parse(f"message {n}") for n in range(4)]
    assert [r.intent for r in readings] == ["a", "b", "a", "b"]


async def test_a_repeated_text_is_parsed_once_whichever_worker_it_would_go_to() -> None:
    a, b = Member("a"), Member("b")
    pool = NLUPool([a, b], cache_size=16)
    readings = [await pool.parse(text) for text in ("Salut", "salut ", "SALUT")]
    assert len({r.intent for r in readings}) == 1
    assert a.seen + b.seen == 1


async def test_a_worker_that_is_down_hands_its_messages_to_the_next() -> None:
    down, up = Member("a", down=True), Member("b")
    pool = NLUPool([down, up])
    readings = [await pool.parse(f"message {n}") for n in range(4)]
    assert {r.intent for r in readings} == {"b"}
    assert not await pool.ready(), "a pool short of a worker is not at full strength"


async def test_when_every_worker_is_down_the_bot_hears_unavailable() -> None:
    pool = NLUPool([Member("a", down=True), Member("b", down=True)])
    with pytest.raises(NLUUnavailable):
        await pool.parse("bonjour")


async def test_two_real_workers_keep_answering_while_one_is_killed(model_path: Path) -> None:
    pool = start_workers(2, model_path, 2.0, "WARNING", "json", wait=180.0, cache_size=0)
    try:
        assert await pool.ready()
        first = pool.members[0]
        os.kill(first.pid, signal.SIGKILL)  # type: ignore[attr-defined]
        texts = [f"c'est quoi le tramadol {n}" for n in range(12)]
        readings = await asyncio.gather(*(pool.parse(text) for text in texts))
        assert {r.intent for r in readings} == {"drug_info"}, "no message lost"
    finally:
        await pool.close()
