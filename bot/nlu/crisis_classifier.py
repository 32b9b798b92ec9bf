"""A small classifier dedicated to danger, trained on the crisis corpus (`nlu/crisis/`).

It reads the text as the patterns do (normalised, idioms taken out). Character n-grams
within words (2–5) read SMS spelling, Bambara with or without its letters and
code-switching alike; logistic regressions over them give the probability that a message
describes danger now, and the likeliest kind. It is trained in a few seconds when the bot
starts, from the corpus (three writers, the three languages, as many look-alikes as
crises) and the NLU's training messages, and is deterministic (fixed solver, no sampling).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import NDArray
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
    """Danger or not, and which kind, for one message at a time; trained once per corpus.

    Two logistic regressions share one vectorizer: danger or not (every message), and
    which kind (crisis messages only), so the probability of danger is not inflated by
    there being five kinds of it and one kind of "none".

    Reading one message goes around scikit-learn's per-call machinery (input checks, a
    sparse matrix for one row), which costs far more than the arithmetic: the vectorizer's
    own analyzer, vocabulary and idf give the row, and the models' coefficients score it —
    the same numbers as `transform` and `predict_proba` (tested on the whole corpus)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        texts = [words(text) for text, _ in pairs]
        labels = [label for _, label in pairs]
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        features = self.vectorizer.fit_transform(texts)
        self.danger_model = LogisticRegression(C=4.0, max_iter=2000)
        self.danger_model.fit(features, [label != NONE for label in labels])
        crisis_rows = [i for i, label in enumerate(labels) if label not in (NONE, DANGER)]
        self.kind_model = LogisticRegression(C=4.0, max_iter=2000)
        self.kind_model.fit(features[crisis_rows], [labels[i] for i in crisis_rows])
        self._analyze = self.vectorizer.build_analyzer()
        self._vocabulary: dict[str, int] = self.vectorizer.vocabulary_
        self._idf: NDArray[np.float64] = self.vectorizer.idf_
        self._danger_coef: NDArray[np.float64] = self.danger_model.coef_[0]
        self._danger_intercept = float(self.danger_model.intercept_[0])
        self._kinds = [Crisis(str(label)) for label in self.kind_model.classes_]
        self._kind_coef: NDArray[np.float64] = self.kind_model.coef_
        self._kind_intercept: NDArray[np.float64] = self.kind_model.intercept_

    def row(self, read: str) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """The tf-idf row of already-read text: its column indices and l2-normed weights."""
        counts: dict[int, int] = {}
        for gram in self._analyze(read):
            column = self._vocabulary.get(gram)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        index = np.fromiter(counts, dtype=np.intp, count=len(counts))
        weights = np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
        weights = (weights + 1.0) * self._idf[index]
        norm = math.sqrt(float(weights @ weights))
        return index, weights / norm if norm else weights

    def danger(self, text: str) -> Danger:
        index, weights = self.row(words(text))
        score = float(weights @ self._danger_coef[index]) + self._danger_intercept
        kinds = self._kind_coef[:, index] @ weights + self._kind_intercept
        return Danger(1.0 / (1.0 + math.exp(-score)), self._kinds[int(np.argmax(kinds))])


@functools.lru_cache(maxsize=4)
def load_classifier(corpus: Path, nlu_data: Path) -> CrisisClassifier:
    """The classifier for the crisis corpus and the NLU's training data (trained once per
    process)."""
    return CrisisClassifier([*load_corpus(corpus), *load_nlu_examples(nlu_data)])
