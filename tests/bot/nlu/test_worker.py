"""The NLU worker processes: same readings as the model in the bot's process, batches,
and recovery by itself when a child dies or wedges — without restarting the bot."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.nlu import NLUUnavailable
from bot.nlu.evaluation import load_examples
from bot.nlu.rasa_local import RasaLocalNLU
from bot.nlu.worker import RasaWorkerNLU
from sini.settings import PROJECT_ROOT

START_WAIT = 180.0


@pytest.fixture(scope="module")
def nlu(model_path: Path) -> Iterator[RasaWorkerNLU]:
    nlu = RasaWorkerNLU.start(model_path, 2.0, "WARNING", "json", wait=START_WAIT, cache_size=0)
    assert nlu.workers[0].wait_ready(0), "the worker loads its model before start() returns"
    yield nlu
    asyncio.run(nlu.close())


async def test_the_worker_reads_every_held_out_message_like_the_in_process_model(
    nlu: RasaWorkerNLU, rasa_nlu: RasaLocalNLU
) -> None:
    texts = [e.text for e in load_examples(PROJECT_ROOT / "nlu" / "tests")]
    theirs = await asyncio.gather(*(nlu.parse(text) for text in texts))
    ours = [
        r for i in range(0, len(texts), 64) for r in rasa_nlu.parse_many_sync(texts[i : i + 64])
    ]
    assert theirs == ours
    assert nlu._batcher.batches < len(texts) / 4, "concurrent requests travel in batches"


async def test_a_killed_worker_is_replaced_and_the_nlu_comes_back(nlu: RasaWorkerNLU) -> None:
    worker = nlu.workers[0]
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)
    with pytest.raises(NLUUnavailable):  # the bot answers "not understood right now"
        await nlu.parse("c'est quoi le tramadol")
    with pytest.raises(NLUUnavailable, match="starting"):  # while the new one loads
        await nlu.parse("c'est quoi le cannabis")
    assert not await nlu.ready(), "readiness probes see it too"
    assert await asyncio.to_thread(worker.wait_ready, START_WAIT)
    assert await nlu.ready()
    reading = await nlu.parse("c koi le yamba stp")
    assert (reading.intent, reading.entity("drug")) == ("drug_info", "cannabis")
    assert worker.starts == 2


async def test_a_wedged_worker_times_out_and_is_replaced(nlu: RasaWorkerNLU) -> None:
    worker = nlu.workers[0]
    stuck = worker.pid
    assert stuck is not None
    os.kill(stuck, signal.SIGSTOP)
    with pytest.raises(NLUUnavailable, match="TimeoutError"):
        await nlu.parse("je veux arrêter le tramadol")
    assert worker.pid != stuck, "the wedged child was killed and a new one started"
    assert await asyncio.to_thread(worker.wait_ready, START_WAIT)
    assert (await nlu.parse("je veux arrêter le tramadol")).top_intent == "quit_help"


async def test_two_workers_keep_answering_while_one_is_killed(model_path: Path) -> None:
    nlu = RasaWorkerNLU.start(
        model_path, 2.0, "WARNING", "json", count=2, wait=START_WAIT, cache_size=0
    )
    try:
        assert await nlu.ready()
        first = nlu.workers[0].pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        texts = [f"c'est quoi le tramadol {n}" for n in range(12)]
        readings = await asyncio.gather(*(nlu.parse(text) for text in texts))
        assert {r.intent for r in readings} == {"drug_info"}, "no message lost"
    finally:
        await nlu.close()
