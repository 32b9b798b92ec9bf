"""A small classifier dedicated to danger, trained on the crisis corpus (`nlu/crisis/`).

It reads the text as the patterns do (normalised, idioms taken out). Character n-grams
within words (2–5) read SMS spelling, Bambara with or without its
letters and code-switching alike; a logistic regression over them gives, for each
message, the probability of each crisis kind and of "none". It is trained in a second
when the bot starts, from a corpus written by several writers in the three languages
with as many look-alikes as crises, and is deterministic (fixed solver, no sampling).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, Extra

from bot.nlu.safety import Crisis, words

NONE = "none"
DANGER = "danger"  # a crisis of no stated kind: teaches danger, not which kind


class CorpusFile(BaseModel, extra=Extra.forbid):
    """One writer's file: messages per label (a crisis kind, or "none")."""

    overdose: list[str] = []
    self_harm: list[str] = []
    held: list[str] = []
    child: list[str] = []
    violence: list[str] = []
    none: list[str] = []


def load_corpus(directory: Path) -> list[tuple[str, str]]:
    """(text, label) for every message of every file of `directory`."""
    pairs: list[tuple[str, str]] = []
    for path in sorted(directory.glob("*.yml")):
        document = CorpusFile.parse_obj(yaml.safe_load(path.read_text("utf-8")) or {})
        for label, texts in document.dict().items():
            pairs.extend((str(text), label) for text in texts)
    return pairs


_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def load_nlu_examples(directory: Path) -> list[tuple[str, str]]:
    """The NLU's training messages as more of what ordinary looks like: every intent but
    `crisis` is "none"; `crisis` examples are danger of no stated kind (DANGER)."""
    pairs: list[tuple[str, str]] = []
    for path in sorted(directory.rglob("*.yml")):
        document = yaml.safe_load(path.read_text("utf-8")) or {}
        for block in document.get("nlu") or []:
            intent = block.get("intent")
            if not intent:
                continue
            label = DANGER if intent == "crisis" else NONE
            for line in str(block.get("examples") or "").splitlines():
                text = _ANNOTATION.sub(r"\1", line.strip().removeprefix("- ").strip())
                if text:
                    pairs.append((text, label))
    return pairs


@dataclass(frozen=True)
class Danger:
    """How likely a message describes danger, and which kind is likeliest."""

    probability: float
    kind: Crisis


class CrisisClassifier:
    """Trained once per corpus; `danger` costs a fraction of a millisecond.

    Two logistic regressions share one vectorizer: danger or not (every message), and
    which kind (crisis messages only), so the probability of danger is not inflated by
    there being five kinds of it and one kind of "none"."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        texts = [words(text) for text, _ in pairs]
        labels = [label for _, label in pairs]
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True
        )
        features = self._vectorizer.fit_transform(texts)
        self._danger = LogisticRegression(C=4.0, max_iter=2000)
        self._danger.fit(features, [label != NONE for label in labels])
        crisis_rows = [i for i, label in enumerate(labels) if label not in (NONE, DANGER)]
        self._kind = LogisticRegression(C=4.0, max_iter=2000)
        self._kind.fit(features[crisis_rows], [labels[i] for i in crisis_rows])

    def danger(self, text: str) -> Danger:
        features = self._vectorizer.transform([words(text)])
        probability = float(self._danger.predict_proba(features)[0][1])
        kind = str(self._kind.predict(features)[0])
        return Danger(probability, Crisis(kind))


@functools.lru_cache(maxsize=4)
def load_classifier(corpus: Path, nlu_data: Path) -> CrisisClassifier:
    """The classifier for the crisis corpus and the NLU's training data (trained once per
    process)."""
    return CrisisClassifier([*load_corpus(corpus), *load_nlu_examples(nlu_data)])
