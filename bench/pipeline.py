"""Whole-update-path figures: NLU + dialogue + Redis + rendering, Telegram network excluded.

Starts its own redis-server, loads the real model, and feeds the held-out messages through
`Assistant.handle` from many simulated chats at several concurrency levels. Prints
throughput, p50/p99 latency, the bare parse time for comparison, cold start and RSS.

Usage: `.venv/bin/python bench/pipeline.py` (part of `make bench`).
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from bot import logs
from bot.assistant import Assistant
from bot.config import Settings
from bot.dialogue.events import TextEvent
from bot.nlu.evaluation import load_examples
from bot.nlu.rasa_local import RasaLocalNLU
from bot.nlu.training import train
from bot.redis_server import LocalRedis
from bot.runtime import build_assistant

MESSAGES = 600


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(assistant: Assistant, texts: list[str], concurrency: int) -> None:
    """MESSAGES updates from `concurrency` chats at once; each chat waits for its answer."""
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for index in range(MESSAGES):
        queue.put_nowait((index, texts[index % len(texts)]))

    async def chat(worker: int) -> None:
        while not queue.empty():
            index, text = queue.get_nowait()
            started = time.perf_counter()
            await assistant.handle(10_000 + worker * 1000 + index % 50, TextEvent(text), "fr")
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(chat(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - started
    print(
        f"whole update, {concurrency:>2} concurrent chats: {MESSAGES / elapsed:6.1f} updates/s, "
        f"p50 {statistics.median(latencies):6.1f} ms, p99 {percentile(latencies, 0.99):6.1f} ms"
    )


async def run(nlu: RasaLocalNLU, redis_url: str, texts: list[str]) -> None:
    settings = Settings.from_env()
    assistant = build_assistant(settings, nlu, redis_url)
    await assistant.start()
    bare = []
    for text in texts[:200]:
        started = time.perf_counter()
        await nlu.parse(text)
        bare.append((time.perf_counter() - started) * 1000)
    print(f"bare parse (one at a time): p50 {statistics.median(bare):.1f} ms")
    for concurrency in (1, 4, 16, 64):
        await measure(assistant, texts, concurrency)
    await assistant.close()


def main() -> None:
    logs.configure("WARNING")  # figures on stdout, nothing else
    os.environ["FLOOD_LIMIT"] = "1000000"  # the benchmark floods on purpose
    settings = Settings.from_env()
    texts = [e.text for e in load_examples(settings.nlu_project / "tests")]
    model = train(settings.nlu_project, settings.model_dir)
    started = time.perf_counter()
    nlu = RasaLocalNLU.load(model, cache_size=0)  # every update really parsed
    print(f"cold start (import + model load): {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as data, LocalRedis(Path(data)) as redis:
        asyncio.run(run(nlu, redis.url, texts))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {rss:.0f} MB")


if __name__ == "__main__":
    main()
