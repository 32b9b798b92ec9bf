"""The NLU worker process: same readings as the model in the bot's process, batches, and
recovery by itself when the child dies or wedges — without restarting the bot."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.nlu import NLUUnavailable
from bot.nlu.evaluation import load_examples
from bot.nlu.rasa_local import RasaLocalNLU
from bot.nlu.worker import RasaWorkerNLU

START_WAIT = 180.0


@pytest.fixture(scope="module")
def worker(model_path: Path) -> Iterator[RasaWorkerNLU]:
    nlu = RasaWorkerNLU.start(model_path, 2.0, "WARNING", "json", wait=START_WAIT, cache_size=0)
    assert nlu.wait_ready(0), "the worker loads its model before start() returns"
    yield nlu
    asyncio.run(nlu.close())


async def test_the_worker_reads_every_held_out_message_like_the_in_process_model(
    worker: RasaWorkerNLU, rasa_nlu: RasaLocalNLU
) -> None:
    texts = [e.text for e in load_examples(PROJECT_ROOT / "nlu" / "tests")]
    theirs = await asyncio.gather(*(worker.parse(text) for text in texts))
    ours = [
        r for i in range(0, len(texts), 64) for r in rasa_nlu.parse_many_sync(texts[i : i + 64])
    ]
    assert theirs == ours
    assert worker._batcher.batches < len(texts) / 4, "concurrent requests travel in batches"


async def test_a_killed_worker_is_replaced_and_the_nlu_comes_back(worker: RasaWorkerNLU) -> None:
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)
    with pytest.raises(NLUUnavailable):  # the bot answers "not understood right now"
        await worker.parse("c'est quoi le tramadol")
    with pytest.raises(NLUUnavailable, match="starting"):  # while the new one loads
        await worker.parse("c'est quoi le cannabis")
    assert not await worker.ready(), "readiness probes see it too"
    assert await asyncio.to_thread(worker.wait_ready, START_WAIT)
    assert await worker.ready()
    reading = await worker.parse("c koi le yamba stp")
    assert (reading.intent, reading.entity("drug")) == ("drug_info", "cannabis")
    assert worker.starts == 2


async def test_a_wedged_worker_times_out_and_is_replaced(worker: RasaWorkerNLU) -> None:
    stuck = worker.pid
    assert stuck is not None
    os.kill(stuck, signal.SIGSTOP)
    with pytest.raises(NLUUnavailable, match="TimeoutError"):
        await worker.parse("je veux arrêter le tramadol")
    assert worker.pid != stuck, "the wedged child was killed and a new one started"
    assert await asyncio.to_thread(worker.wait_ready, START_WAIT)
    assert (await worker.parse("je veux arrêter le tramadol")).top_intent == "quit_help"
