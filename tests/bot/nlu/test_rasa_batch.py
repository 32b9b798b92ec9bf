"""Batched prediction gives exactly what Rasa's own per-message code gives.

Every check runs on the whole held-out split (fr, bm, en; SMS-style and code-switched),
against the same loaded model with Rasa's code put back (`disable_batched_prediction`).
The batched components are installed only at the versions of Rasa's stack they were
verified against; elsewhere Rasa's own code answers, with the same readings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from bot.nlu import Understanding, from_rasa_parse
from bot.nlu.evaluation import load_examples
from bot.nlu.rasa_batch import (
    TokenRows,
    batched_count_vectors_process,
    batched_diet_process,
    batched_logistic_regression_process,
    combine_features,
    coo,
    crf_decode,
    disable_batched_prediction,
    enable_batched_prediction,
    run_graph,
    sparse_features_once,
)
from bot.nlu.rasa_local import RasaLocalNLU
from bot.nlu.rasa_versions import VERIFIED, FastPathOff, FastPathOn
from sini.settings import PROJECT_ROOT
from tests.bot.nlu import installed_as

BATCH = 64


@pytest.fixture(scope="module")
def held_out() -> list[str]:
    return [e.text for e in load_examples(PROJECT_ROOT / "nlu" / "tests")]


@contextmanager
def rasa_as_shipped(nlu: RasaLocalNLU) -> Iterator[None]:
    processor = nlu._agent.processor
    disable_batched_prediction(processor)
    try:
        yield
    finally:
        enable_batched_prediction(processor)


def graph_inputs(texts: list[str]) -> dict[str, Any]:
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.shared.core.trackers import DialogueStateTracker

    return {
        PLACEHOLDER_MESSAGE: [UserMessage(text, sender_id="test") for text in texts],
        PLACEHOLDER_TRACKER: DialogueStateTracker.from_events("test", []),
    }


def rasa_run(nlu: RasaLocalNLU, texts: list[str], target: str) -> list[Any]:
    """The messages as they leave node `target` of the model's graph, run by Rasa's runner."""
    results = nlu._agent.processor.graph_runner.run(inputs=graph_inputs(texts), targets=[target])
    return list(results[target])


def node_named(nlu: RasaLocalNLU, class_name: str) -> str:
    nodes = nlu._agent.processor.graph_runner._instantiated_nodes
    return max(n for n, node in nodes.items() if node._component_class.__name__ == class_name)


def same_matrix(a: Any, b: Any) -> bool:
    """Equal arrays, dtypes, shape and storage order: the same floating-point sums later."""
    a, b = a.tocoo(), b.tocoo()
    return (
        a.shape == b.shape
        and a.dtype == b.dtype
        and a.row.dtype == b.row.dtype
        and np.array_equal(a.row, b.row)
        and np.array_equal(a.col, b.col)
        and np.array_equal(a.data, b.data)
    )


def batches(texts: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(texts), BATCH):
        yield texts[start : start + BATCH]


BATCHED = {
    "CountVectorsFeaturizer": batched_count_vectors_process,
    "DIETClassifier": batched_diet_process,
    "LogisticRegressionClassifier": batched_logistic_regression_process,
}
SCIPY_ELSEWHERE = "1.0.0"


@pytest.fixture
def scipy_elsewhere(rasa_nlu: RasaLocalNLU) -> Iterator[Any]:
    """The session's model with Rasa's own code back, where SciPy is at another version;
    batched again afterwards. Yields the model's processor."""
    processor = rasa_nlu._agent.processor
    disable_batched_prediction(processor)
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            installed_as(monkeypatch, "scipy", SCIPY_ELSEWHERE)
            yield processor
    finally:
        assert enable_batched_prediction(processor) == FastPathOn()


def test_at_the_verified_versions_the_batched_components_are_installed(
    rasa_nlu: RasaLocalNLU,
) -> None:
    from rasa.shared.nlu.training_data.message import Message

    nodes = rasa_nlu._agent.processor.graph_runner._instantiated_nodes.values()
    replaced = {n._component_class.__name__: n._fn for n in nodes if n._fn in BATCHED.values()}
    assert rasa_nlu.fast_path == FastPathOn()
    assert replaced == BATCHED
    assert Message._combine_features is combine_features
    assert Message.get_sparse_features is sparse_features_once


def test_at_another_version_rasas_code_stays_and_one_warning_says_which(
    scipy_elsewhere: Any,
) -> None:
    from rasa.shared.nlu.training_data.message import Message

    with capture_logs() as logs:
        fast_path = enable_batched_prediction(scipy_elsewhere)

    assert fast_path == FastPathOff("scipy", VERIFIED["scipy"], SCIPY_ELSEWHERE)
    assert logs == [
        {
            "event": "nlu.fast_path_off",
            "log_level": "warning",
            "package": "scipy",
            "verified": VERIFIED["scipy"],
            "installed": SCIPY_ELSEWHERE,
        }
    ]
    for node in scipy_elsewhere.graph_runner._instantiated_nodes.values():
        assert node._fn == getattr(node._component_class, node._fn_name)
    assert Message._combine_features is not combine_features
    assert Message.get_sparse_features is not sparse_features_once


def test_at_another_version_the_readings_are_rasas_own(
    rasa_nlu: RasaLocalNLU, scipy_elsewhere: Any, held_out: list[str]
) -> None:
    """Batches through Rasa's runner and per-message components read every held-out
    message as Rasa's agent does, one message at a time."""
    agent = rasa_nlu._agent
    nlu = RasaLocalNLU(agent, enable_batched_prediction(scipy_elsewhere), cache_size=0)
    try:
        ours = [r for t in batches(held_out) for r in nlu.parse_many_sync(t)]
    finally:
        asyncio.run(nlu.close())
    theirs = [from_rasa_parse(asyncio.run(agent.parse_message(text))) for text in held_out]
    for text, mine, rasa in zip(held_out, ours, theirs, strict=True):
        assert (mine.intent, mine.entities, mine.ranking) == (
            rasa.intent,
            rasa.entities,
            rasa.ranking,
        ), text


def test_featurized_messages_are_identical_to_rasas(
    rasa_nlu: RasaLocalNLU, held_out: list[str]
) -> None:
    from rasa.shared.nlu.constants import TEXT

    last_featurizer = node_named(rasa_nlu, "CountVectorsFeaturizer")
    for texts in batches(held_out):
        with rasa_as_shipped(rasa_nlu):
            theirs = rasa_run(rasa_nlu, texts, last_featurizer)
            their_combined = [m.get_sparse_features(TEXT) for m in theirs]
        ours = rasa_run(rasa_nlu, texts, last_featurizer)
        for text, mine, rasa, combined in zip(texts, ours, theirs, their_combined, strict=True):
            assert [(f.type, f.attribute, f.origin) for f in mine.features] == [
                (f.type, f.attribute, f.origin) for f in rasa.features
            ], text
            for a, b in zip(mine.features, rasa.features, strict=True):
                assert same_matrix(a.features, b.features), text
            for a, b in zip(mine.get_sparse_features(TEXT), combined, strict=True):
                assert a.origin == b.origin, text
                assert same_matrix(a.features, b.features), text


def test_batched_readings_are_identical_to_rasas_one_at_a_time(
    rasa_nlu: RasaLocalNLU, held_out: list[str]
) -> None:
    with rasa_as_shipped(rasa_nlu):
        theirs = [rasa_nlu.parse_sync(text) for text in held_out]
    ours: list[Understanding] = [r for t in batches(held_out) for r in rasa_nlu.parse_many_sync(t)]
    for text, mine, rasa in zip(held_out, ours, theirs, strict=True):
        assert (mine.intent, mine.entities) == (rasa.intent, rasa.entities), text
        # the logistic regression sees the very same matrix: equal to the last bit
        assert mine.ranking == rasa.ranking, text


def test_a_batch_with_odd_messages_still_matches(rasa_nlu: RasaLocalNLU) -> None:
    """Punctuation only, emoji only, one letter, a long message: no token may shift the
    rows of the messages after it."""
    texts = ["???", "😀😀", "a", "tramadol " * 300, "c koi le kush", "i ni ce", "!!! ...", "ok"]
    with rasa_as_shipped(rasa_nlu):
        theirs = [rasa_nlu.parse_sync(text) for text in texts]
    ours = rasa_nlu.parse_many_sync(texts)
    assert [(r.intent, r.entities, r.ranking) for r in ours] == [
        (r.intent, r.entities, r.ranking) for r in theirs
    ]


def test_running_the_graph_node_by_node_gives_what_rasas_runner_gives(
    rasa_nlu: RasaLocalNLU, held_out: list[str]
) -> None:
    processor = rasa_nlu._agent.processor
    target = processor.model_metadata.nlu_target
    texts = held_out[:BATCH]
    ours = run_graph(processor.graph_runner, graph_inputs(texts), target)
    theirs = rasa_run(rasa_nlu, texts, target)
    assert [m.as_dict(only_output_properties=True) for m in ours] == [
        m.as_dict(only_output_properties=True) for m in theirs
    ]


@pytest.mark.parametrize("seed", range(25))
def test_numpy_crf_decoding_gives_rasas_tags_and_confidences(seed: int) -> None:
    """Random potentials, transitions and lengths (one step included) through Rasa's own
    TensorFlow CRF layer and through `crf_decode`."""
    import tensorflow as tf
    from rasa.utils.tensorflow.layers import CRF

    rng = np.random.default_rng(seed)
    batch, width, tags = int(rng.integers(1, 10)), int(rng.integers(1, 14)), 17
    potentials = rng.normal(scale=3.0, size=(batch, width, tags)).astype(np.float32)
    lengths = rng.integers(1, width + 1, size=batch).astype(np.int64)
    layer = CRF(tags, reg_lambda=0.001, scale_loss=False)
    layer.build(tf.TensorShape([None, None, tags]))
    transitions = rng.normal(size=(tags, tags)).astype(np.float32)
    layer.transition_params.assign(transitions)

    their_ids, their_scores = layer(tf.constant(potentials), tf.constant(lengths))
    ids, scores = crf_decode(potentials, transitions, lengths)

    assert np.array_equal(ids, their_ids.numpy())
    np.testing.assert_allclose(scores, their_scores.numpy(), atol=1e-6)


# ------------------------------------------------------------------ token rows

TOKENS = st.lists(
    st.one_of(
        st.sampled_from(["tramadol", "kush", "dɛmɛ", "__NUMBER__", "c", "koi", "ɲɔgɔn", "aide"]),
        st.text(min_size=0, max_size=12),  # whitespace, empty, emoji, control characters
    ),
    min_size=1,
    max_size=12,
)


def fitted_vectorizers() -> list[Any]:
    """Vectorizers configured as Rasa configures ours (word, and char_wb 2-4 grams)."""
    from sklearn.feature_extraction.text import CountVectorizer

    corpus = ["tramadol bɛ mun kɛ", "c koi le kush", "j ai besoin d aide", "ɲɔgɔn dɛmɛ __NUMBER__"]
    return [
        CountVectorizer(token_pattern=r"(?u)\b\w+\b", lowercase=True).fit(corpus),
        CountVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True).fit(corpus),
    ]


def rasas_matrices(vectorizer: Any, tokens: list[str]) -> tuple[Any, Any]:
    """What Rasa's CountVectorsFeaturizer makes of one message's tokens."""
    sequence, sentence = vectorizer.transform(tokens), vectorizer.transform([" ".join(tokens)])
    sequence.sort_indices()
    sentence.sort_indices()
    return sequence.tocoo(), sentence.tocoo()


@settings(max_examples=150, deadline=None)
@given(messages=st.lists(TOKENS, min_size=1, max_size=6), kept=st.integers(1, 40))
def test_token_rows_give_the_matrices_rasas_featurizer_gives(
    messages: list[list[str]], kept: int
) -> None:
    """Whatever the tokens (repeated, unknown, holding whitespace) and however few rows
    are remembered, each message gets Rasa's sequence and sentence matrices."""
    for vectorizer in fitted_vectorizers():
        rows = TokenRows(vectorizer, kept=kept)
        for _ in range(2):  # the second pass answers from remembered rows
            features = rows.features(messages, with_sentence=True)
            for tokens, (sequence, sentence) in zip(messages, features, strict=True):
                their_sequence, their_sentence = rasas_matrices(vectorizer, tokens)
                assert same_matrix(sequence, their_sequence)
                assert same_matrix(sentence, their_sentence)
        assert len(rows._rows) <= kept


def test_a_matrix_made_without_validation_equals_scipys() -> None:
    row = np.array([0, 1, 1], dtype=np.int32)
    col = np.array([2, 0, 3], dtype=np.int32)
    data = np.array([1, 2, 1], dtype=np.int64)
    ours = coo(data, row, col, (2, 5))
    theirs = scipy.sparse.coo_matrix((data, (row, col)), shape=(2, 5))
    assert same_matrix(ours, theirs)
    assert not ours.has_canonical_format
    assert (ours.toarray() == theirs.toarray()).all()
    assert coo(data[:0], row[:0], col[:0], (2, 5)).nnz == 0
