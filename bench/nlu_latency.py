"""Print NLU figures: model load time and parse latency on the held-out test messages.

Usage: .venv/bin/python bench/nlu_latency.py   (or `make bench`)
"""

from __future__ import annotations

import asyncio
import platform
import statistics
import time
from pathlib import Path

from bot.config import Settings
from bot.nlu.rasa_local import RasaLocalNLU
from bot.nlu.safety import detect_crisis
from bot.nlu.training import train


def held_out_texts(nlu_project: Path) -> list[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(nlu_project / "tests"))
    return [example.get("text") for example in data.training_examples]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    settings = Settings.from_env()
    model = train(settings.nlu_project, settings.model_dir)
    started = time.perf_counter()
    nlu = RasaLocalNLU.load(model)
    load_seconds = time.perf_counter() - started
    texts = held_out_texts(settings.nlu_project)

    async def parse_all() -> list[float]:
        for text in texts[:20]:  # warm-up
            await nlu.parse(text)
        timings = []
        for text in texts:
            t0 = time.perf_counter()
            await nlu.parse(text)
            timings.append((time.perf_counter() - t0) * 1000)
        return timings

    timings = asyncio.run(parse_all())
    t0 = time.perf_counter()
    for text in texts:
        detect_crisis(text)
    safety_us = (time.perf_counter() - t0) / len(texts) * 1e6
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, python {platform.python_version()}"
    )
    print(f"model load: {load_seconds:.1f} s   ({model.name})")
    print(f"parse (in-process, via event loop + worker thread), {len(texts)} held-out messages:")
    print(
        f"  p50 {statistics.median(timings):.1f} ms   p90 {percentile(timings, 0.9):.1f} ms   "
        f"p99 {percentile(timings, 0.99):.1f} ms   mean {statistics.mean(timings):.1f} ms"
    )
    print(f"crisis safety net: {safety_us:.0f} µs per message")


if __name__ == "__main__":
    main()
