"""NLU figures, side by side in one run: Sini's Rasa pipeline vs a plain baseline.

Both are trained on `nlu/data/` and scored on the held-out `nlu/tests/`: intent macro-F1
(overall and per language) and single-message parse latency (p50/p99). The baseline is
a TF-IDF of character n-grams with logistic regression (scikit-learn, installed with
Rasa). Also prints model load time and the crisis safety net's cost.

Usage: `make bench` (or `.venv/bin/python bench/nlu.py`).
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bot.nlu.evaluation import Example, load_examples, macro_f1
from bot.nlu.rasa_local import RasaLocalNLU
from bot.nlu.safety import detect_crisis
from bot.nlu.training import train
from sini import logging as logs
from sini.settings import Settings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def scores(examples: list[Example], predicted: list[str]) -> str:
    labels = sorted({e.intent for e in examples})
    overall = macro_f1([e.intent for e in examples], predicted, labels)
    per_language = []
    for language in sorted({e.language for e in examples}):
        pairs = [
            (e.intent, p)
            for e, p in zip(examples, predicted, strict=True)
            if e.language == language
        ]
        truth, guess = zip(*pairs, strict=True)
        per_language.append(f"{language} {macro_f1(list(truth), list(guess), labels):.3f}")
    return f"macro-F1 {overall:.3f} ({', '.join(per_language)})"


def latency(label: str, predict: Callable[[str], object], texts: list[str]) -> str:
    for text in texts[:20]:
        predict(text)
    timings = []
    for text in texts:
        started = time.perf_counter()
        predict(text)
        timings.append((time.perf_counter() - started) * 1000)
    return (
        f"{label}: p50 {statistics.median(timings):.2f} ms, p99 {percentile(timings, 0.99):.2f} ms"
    )


def baseline(nlu_project: Path) -> Callable[[str], str]:
    from rasa.shared.nlu.training_data.loading import load_data
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    data = load_data(str(nlu_project / "data")).intent_examples
    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        LogisticRegression(C=10.0, max_iter=3000),
    )
    model.fit([m.get("text") for m in data], [m.get("intent") for m in data])
    return lambda text: str(model.predict([text])[0])


def main() -> None:
    logs.configure("WARNING")  # figures on stdout, nothing else
    settings = Settings.from_env()
    examples = load_examples(settings.nlu_project / "tests")
    texts = [e.text for e in examples]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}"
    )
    print(f"held-out split: {len(examples)} messages")

    started = time.perf_counter()
    model = train(settings.nlu_project, settings.model_dir)
    trained = time.perf_counter() - started
    started = time.perf_counter()
    nlu = RasaLocalNLU.load(model)
    loaded = time.perf_counter() - started
    print(f"rasa model: {model.name} (train/check {trained:.1f} s, load {loaded:.1f} s)")
    rasa_predicted = [nlu.parse_sync(t).top_intent for t in texts]
    print(f"  rasa pipeline  {scores(examples, rasa_predicted)}")

    started = time.perf_counter()
    predict_baseline = baseline(settings.nlu_project)
    print(
        f"  tfidf+logreg   {scores(examples, [predict_baseline(t) for t in texts])}"
        f"   (trained in {time.perf_counter() - started:.1f} s)"
    )

    print(latency("  rasa parse, direct", nlu.parse_sync, texts))

    async def through_loop() -> None:
        loop_timings = []
        for text in texts:
            started = time.perf_counter()
            await nlu.parse(text)
            loop_timings.append((time.perf_counter() - started) * 1000)
        print(
            f"  rasa parse, event loop + worker thread: p50 {statistics.median(loop_timings):.2f} ms, "
            f"p99 {percentile(loop_timings, 0.99):.2f} ms"
        )

    asyncio.run(through_loop())
    print(latency("  tfidf+logreg", predict_baseline, texts))
    print(latency("  crisis safety net", detect_crisis, texts))


if __name__ == "__main__":
    main()
