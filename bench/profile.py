"""Where the time goes, on both sides of the NLU worker's pipe (pyinstrument).

- `bench/results/profile-bot.txt`: the bot's process handling free-text updates from
  64 chats at once, with the model in its worker process (the default set-up): Redis,
  encryption, the dialogue, rendering — and the wait for the NLU.
- `bench/results/profile-nlu.txt`: what the worker does for those updates — Rasa's graph
  on batches of 22 held-out messages (the batch size at ~500 updates/s), with the
  batched components of `bot.nlu.rasa_batch`.

Usage: `.venv/bin/python bench/profile.py` (part of `make bench`).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
import time
from pathlib import Path

from pipeline import RESULTS, held_out  # bench/pipeline.py: the same messages and folder
from pyinstrument import Profiler

from bot.dialogue.events import TextEvent
from bot.nlu.rasa_batch import forget_token_rows
from bot.nlu.rasa_local import RasaLocalNLU
from bot.nlu.training import train
from sini import logging as logs
from sini.redis_server import LocalRedis
from sini.settings import PROJECT_ROOT, Settings

UPDATES = 3000
CHATS = 64
BATCH = 22


async def bot_side(redis_url: str) -> Profiler:
    from bot.runtime import build_assistant, load_nlu

    settings = Settings.from_env()
    assistant = build_assistant(settings, load_nlu(settings), redis_url)
    messages = held_out()
    chats = itertools.count(1)
    queue: asyncio.Queue[str] = asyncio.Queue()

    async def sender() -> None:
        while not queue.empty():
            await assistant.handle(next(chats), TextEvent(queue.get_nowait()), "fr")

    async def burst() -> None:
        for index in range(UPDATES):
            queue.put_nowait(messages[index % len(messages)])
        await asyncio.gather(*(sender() for _ in range(CHATS)))

    await burst()  # warm-up: TensorFlow's first batches, Redis connections
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    await burst()
    profiler.stop()
    await assistant.close()
    return profiler


def nlu_side() -> Profiler:
    nlu = RasaLocalNLU.load(train(PROJECT_ROOT / "nlu", PROJECT_ROOT / "models"), cache_size=0)
    messages = held_out()
    batches = [messages[i : i + BATCH] for i in range(0, len(messages) - BATCH, BATCH)]
    for batch in batches:  # warm-up
        nlu.parse_many_sync(batch)
    known, new = cpu_per_message(nlu, batches, forget=False), cpu_per_message(nlu, batches)
    print(
        f"NLU CPU per message, batches of {BATCH}: {known:.2f} ms with every token's "
        f"featurizer row known, {new:.2f} ms with none (TokenRows forgotten before each batch)"
    )
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(3):
        for batch in batches:
            nlu.parse_many_sync(batch)
    profiler.stop()
    return profiler


def cpu_per_message(nlu: RasaLocalNLU, batches: list[list[str]], forget: bool = True) -> float:
    """Best of five passes, in CPU milliseconds per message; with `forget`, the featurizers
    meet every token of a batch for the first time (as with a vocabulary never seen)."""
    best = float("inf")
    for _ in range(5):
        spent = 0.0
        for batch in batches:
            if forget:
                forget_token_rows()
            started = time.process_time()
            nlu.parse_many_sync(batch)
            spent += time.process_time() - started
        best = min(best, spent * 1000 / sum(map(len, batches)))
    return best


def main() -> None:
    logs.configure("WARNING")
    os.environ["FLOOD_LIMIT"] = "100000000"
    os.environ["NLU_CACHE_SIZE"] = "0"
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data, LocalRedis(Path(data)) as redis:
        bot = asyncio.run(bot_side(redis.url))
    (RESULTS / "profile-bot.txt").write_text(bot.output_text(unicode=False, color=False))
    nlu = nlu_side()
    (RESULTS / "profile-nlu.txt").write_text(nlu.output_text(unicode=False, color=False))
    print("profiles: bench/results/profile-bot.txt, bench/results/profile-nlu.txt")


if __name__ == "__main__":
    main()
