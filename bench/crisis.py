"""The crisis net on the crisis corpus, cross-validated: recall and check-in rates for a
grid of thresholds, and what the net costs per message beside the patterns alone.

The corpus is split in folds; the NLU's training messages are always in the training
part, so a threshold is judged on corpus messages the classifier did not see. The blind
set (`nlu/blind/`) is never read here.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

from bot.nlu.crisis import CrisisNet, Thresholds, Verdict
from bot.nlu.crisis_classifier import NONE, CrisisClassifier, load_corpus, load_nlu_examples
from bot.nlu.safety import scan

NLU_PROJECT = Path(__file__).resolve().parent.parent / "nlu"
CORPUS = NLU_PROJECT / "crisis"
FOLDS = 5


def folds(pairs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    shuffled = pairs[:]
    random.Random(7).shuffle(shuffled)  # noqa: S311 - a reproducible split, not a secret
    return [shuffled[i::FOLDS] for i in range(FOLDS)]


def main() -> None:
    pairs = load_corpus(CORPUS)
    ordinary = load_nlu_examples(NLU_PROJECT / "data")
    parts = folds(pairs)
    grid = [(sure, unsure) for sure in (0.8, 0.9) for unsure in (0.15, 0.2, 0.25, 0.3)]
    results = {key: [0, 0, 0, 0, 0, 0] for key in grid}  # miss, crisis n, take, chk, ord n
    for i, held_out in enumerate(parts):
        train = [p for j, part in enumerate(parts) if j != i for p in part] + ordinary
        classifier = CrisisClassifier(train)
        for sure, unsure in grid:
            net = CrisisNet(classifier, Thresholds(classifier_sure=sure, classifier_unsure=unsure))
            counts = results[(sure, unsure)]
            for text, label in held_out:
                verdict = net.assess(text).verdict
                if label == NONE:
                    counts[4] += 1
                    counts[2] += verdict is Verdict.CRISIS
                    counts[3] += verdict is Verdict.CHECK_IN
                else:
                    counts[1] += 1
                    counts[0] += verdict is Verdict.NONE
    print(f"crisis corpus: {len(pairs)} messages, {FOLDS}-fold cross-validation (no NLU signal)")
    print("sure  unsure  silent misses  takeovers  check-ins (ordinary)")
    for (sure, unsure), (miss, crises, take, check, others, _) in results.items():
        print(
            f"{sure:.2f}  {unsure:.2f}    {miss:>3}/{crises} {miss / crises:6.1%}"
            f"   {take / others:6.1%}   {check / others:6.1%}"
        )
    texts = [text for text, _ in pairs][:400]
    net = CrisisNet(CrisisClassifier(pairs + ordinary))
    systems = {"patterns alone": scan, "whole crisis net": net.assess}
    timings: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(7):  # interleaved, so both meet the same spells of a shared machine
        for name, call in systems.items():
            start = time.perf_counter()
            for text in texts:
                call(text)
            timings[name].append((time.perf_counter() - start) / len(texts) * 1000)
    for name, values in timings.items():
        print(
            f"{name:>24}: {statistics.median(values):.3f} ms per message "
            f"(median of 7, range {min(values):.3f}–{max(values):.3f})"
        )


if __name__ == "__main__":
    main()
