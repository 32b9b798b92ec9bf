"""The crisis classifier's fast reading is scikit-learn's, number for number."""

from __future__ import annotations

import numpy as np
import pytest

from bot.nlu.crisis_classifier import (
    DANGER,
    NONE,
    CrisisClassifier,
    load_corpus,
    load_nlu_examples,
)
from bot.nlu.safety import Crisis, words
from sini.settings import PROJECT_ROOT
from tests.conftest import crisis_net


@pytest.fixture(scope="module")
def classifier() -> CrisisClassifier:
    return crisis_net().classifier


def test_the_corpus_has_every_kind_and_as_many_ordinary_messages() -> None:
    pairs = load_corpus(PROJECT_ROOT / "nlu" / "crisis")
    labels = [label for _, label in pairs]
    assert {Crisis(label) for label in labels if label != NONE} == set(Crisis)
    assert labels.count(NONE) >= len(labels) / 2
    examples = load_nlu_examples(PROJECT_ROOT / "nlu" / "data")
    assert {label for _, label in examples} == {NONE, DANGER}
    assert all("](" not in text and "]{" not in text for text, _ in examples)


def test_the_fast_reading_equals_scikit_learns_on_the_whole_corpus(
    classifier: CrisisClassifier,
) -> None:
    texts = [text for text, _ in load_corpus(PROJECT_ROOT / "nlu" / "crisis")]
    texts += ["", "🙂", "x" * 3000, "ναι", "zzzz qqqq"]
    read = [words(text) for text in texts]
    matrix = classifier.vectorizer.transform(read)
    danger = classifier.danger_model.predict_proba(matrix)[:, 1]
    kinds = classifier.kind_model.predict(matrix)
    for i, text in enumerate(texts):
        index, weights = classifier.row(read[i])
        expected = matrix[i].toarray()[0]
        assert np.allclose(expected[index], weights)
        assert np.count_nonzero(expected) == len(index)
        found = classifier.danger(text)
        assert found.probability == pytest.approx(danger[i], abs=1e-9)
        assert found.kind is Crisis(kinds[i])
