"""Rasa 3.6.21's NLU components, made to predict a whole batch of messages at once.

Rasa's graph hands every component a list of messages, but at prediction time the
components we use loop over it one message at a time: DIET runs a forward pass per
message, each CountVectorsFeaturizer calls scikit-learn twice per message, and gathering
a message's sparse features (`Message.get_sparse_features`, called by DIET and by the
logistic regression) deep-copies them and goes through `scipy.sparse.hstack`, which
alone was half of the NLU's time. Profiled on a batch of 64 held-out messages, the
TensorFlow forward pass was under a tenth of it.

The replacements below compute exactly the same arrays — same values, dtypes and index
order, so the same readings (tested on the whole held-out split) — with one call per
batch instead of one per message. They mirror Rasa 3.6.21's own code (pinned in
pyproject.toml; Rasa Open Source is frozen at that version) and fall back to Rasa's code
for any case they do not cover. They are installed on a loaded model only
(`enable_batched_prediction`); training runs Rasa unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse

Process = Callable[[Any, list[Any]], list[Any]]


# ------------------------------------------------------------------ sparse features


def combine_features(features: list[Any], featurizers: list[str]) -> Any:
    """`Message._combine_features` without the per-message deep copy and `hstack`.

    Rasa joins a message's sparse feature blocks left to right with `scipy.sparse.hstack`
    (a COO matrix: the blocks' entries in order, columns shifted by the widths before
    them, data upcast to a common dtype, indices of `get_index_dtype(max(shape))`); this
    builds that very matrix with three `numpy.concatenate` calls.
    """
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message

    if len(features) < 2 or not all(f.is_sparse() for f in features):
        return _rasa_combine(Message)(features, featurizers)
    blocks = [_coo(f.features) for f in features]
    rows = blocks[0].shape[0]
    if rows == 0 or any(block.shape[0] != rows for block in blocks):
        return _rasa_combine(Message)(features, featurizers)
    offsets = np.cumsum([0] + [block.shape[1] for block in blocks])
    shape = (rows, int(offsets[-1]))
    index_dtype = scipy.sparse._sputils.get_index_dtype(maxval=max(shape))
    dtype = scipy.sparse._sputils.upcast(*(block.dtype for block in blocks))
    data = np.concatenate([block.data for block in blocks]).astype(dtype, copy=False)
    row = np.concatenate([block.row for block in blocks]).astype(index_dtype, copy=False)
    col = np.concatenate(
        [
            np.add(block.col, offset, dtype=index_dtype)
            for block, offset in zip(blocks, offsets[:-1], strict=True)
        ]
    )
    matrix = scipy.sparse.coo_matrix((data, (row, col)), shape=shape)
    return Features(matrix, features[0].type, features[0].attribute, featurizers)


def _coo(matrix: Any) -> Any:
    """`matrix` as COO, without building a new object when it already is one."""
    return matrix if matrix.format == "coo" else scipy.sparse.coo_matrix(matrix)


def _rasa_combine(message_class: Any) -> Callable[[list[Any], list[str]], Any]:
    """Rasa's own `_combine_features`, kept for the cases the fast one does not cover."""
    original: Callable[[list[Any], list[str]], Any] = getattr(
        message_class, "_rasa_combine_features", message_class._combine_features
    )
    return original


def install_fast_feature_combining() -> None:
    """Make every `Message` combine sparse features with `combine_features` (idempotent)."""
    from rasa.shared.nlu.training_data.message import Message

    if not hasattr(Message, "_rasa_combine_features"):
        Message._rasa_combine_features = staticmethod(Message._combine_features)
        Message._combine_features = staticmethod(combine_features)


# ------------------------------------------------------------------ featurizers


def batched_count_vectors_process(component: Any, messages: list[Any]) -> list[Any]:
    """CountVectorsFeaturizer.process with one scikit-learn call per attribute and kind.

    A CountVectorizer transforms each document on its own, so transforming every
    message's tokens in one call and slicing the rows back out gives each message the
    matrix Rasa's per-message call gives.
    """
    from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )

    if component.vectorizers is None:
        return CountVectorsFeaturizer.process(component, messages)  # type: ignore[no-any-return]
    for attribute in component._attributes:
        vectorizer = component.vectorizers.get(attribute)
        tokens = [
            component._get_processed_message_tokens_by_attribute(message, attribute)
            for message in messages
        ]
        present = [index for index, words in enumerate(tokens) if words]
        if vectorizer is None or not present:
            continue  # Rasa adds no features either
        sequences = _rows(
            vectorizer.transform([word for index in present for word in tokens[index]]),
            [len(tokens[index]) for index in present],
        )
        sentences: list[Any] = [None] * len(present)
        if attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
            sentences = _rows(
                vectorizer.transform([" ".join(tokens[index]) for index in present]),
                [1] * len(present),
            )
        for index, sequence, sentence in zip(present, sequences, sentences, strict=True):
            component.add_features_to_message(sequence, sentence, attribute, messages[index])
    return messages


def _rows(matrix: Any, heights: list[int]) -> list[Any]:
    """Cut a CSR matrix into consecutive blocks of `heights` rows, each as the COO matrix
    Rasa makes of its own per-message result (`sort_indices()` then `tocoo()`)."""
    matrix.sort_indices()
    whole = matrix.tocoo()  # row-major, so each block is one contiguous run
    blocks = []
    start = 0
    for height in heights:
        first, last = matrix.indptr[start], matrix.indptr[start + height]
        row = whole.row[first:last] - whole.row.dtype.type(start)
        blocks.append(
            scipy.sparse.coo_matrix(
                (whole.data[first:last], (row, whole.col[first:last])),
                shape=(height, matrix.shape[1]),
            )
        )
        start += height
    return blocks


# ------------------------------------------------------------------ classifiers


def batched_logistic_regression_process(component: Any, messages: list[Any]) -> list[Any]:
    """LogisticRegressionClassifier.process with the input matrix built in one go.

    Rasa stacks a CSR row per message (`hstack` with an empty dense part, then `vstack`);
    stacking every message's sentence features as one COO matrix and converting it gives
    the same canonical CSR matrix, hence the same probabilities.
    """
    from rasa.nlu.classifiers.logistic_regression_classifier import (
        LogisticRegressionClassifier,
    )
    from rasa.shared.nlu.constants import TEXT

    sentences = [message.get_sparse_features(attribute=TEXT)[1] for message in messages]
    dense = [message.get_dense_features(attribute=TEXT)[1] for message in messages]
    if not messages or any(s is None for s in sentences) or any(d is not None for d in dense):
        return LogisticRegressionClassifier.process(component, messages)  # type: ignore[no-any-return]
    blocks = [_coo(s.features) for s in sentences]
    if any(block.shape[0] != 1 for block in blocks):
        return LogisticRegressionClassifier.process(component, messages)  # type: ignore[no-any-return]
    width = blocks[0].shape[1]
    dtype = scipy.sparse._sputils.upcast(*(b.dtype for b in blocks), np.float64)
    data = np.concatenate([b.data for b in blocks]).astype(dtype, copy=False)
    row = np.concatenate([np.full(b.nnz, i, dtype=np.int32) for i, b in enumerate(blocks)])
    col = np.concatenate([b.col for b in blocks]).astype(np.int32, copy=False)
    matrix = scipy.sparse.coo_matrix((data, (row, col)), shape=(len(blocks), width)).tocsr()
    probabilities = component.clf.predict_proba(matrix)
    _set_intents(component, messages, probabilities)
    return messages


def _set_intents(component: Any, messages: list[Any], probabilities: Any) -> None:
    """The intent and ranking of each message, exactly as Rasa's `process` sets them."""
    from rasa.utils.tensorflow.constants import RANKING_LENGTH

    for message, row in zip(messages, probabilities, strict=True):
        ranking = sorted(
            (
                {"name": name, "confidence": value}
                for name, value in zip(component.clf.classes_, row, strict=True)
            ),
            key=lambda entry: -entry["confidence"],
        )
        message.set("intent", ranking[0], add_to_output=True)
        if component.config[RANKING_LENGTH] > 0:
            ranking = ranking[: component.config[RANKING_LENGTH]]
        message.set("intent_ranking", ranking, add_to_output=True)


def _row(outputs: dict[str, Any], index: int, size: int) -> dict[str, Any]:
    """The outputs of one message out of a batch's (arrays keep a batch axis of 1)."""
    row: dict[str, Any] = {}
    for key, value in outputs.items():
        if isinstance(value, np.ndarray) and value.shape[:1] == (size,):
            row[key] = value[index : index + 1]
        elif isinstance(value, dict):
            row[key] = _row(value, index, size)
        else:
            row[key] = value
    return row


def batched_diet_process(component: Any, messages: list[Any]) -> list[Any]:
    """DIETClassifier.process with one forward pass for all `messages`.

    Mirrors Rasa's own `process`, which calls `_predict` (a forward pass) per message.
    """
    from rasa.nlu.classifiers.diet_classifier import (
        ENTITY_RECOGNITION,
        INTENT_CLASSIFICATION,
        DIETClassifier,
    )
    from rasa.shared.nlu.constants import ENTITIES, INTENT

    if component.model is None or len(messages) < 2:
        return DIETClassifier.process(component, messages)  # type: ignore[no-any-return]
    model_data = component._create_model_data(messages, training=False)
    if model_data.is_empty():
        return DIETClassifier.process(component, messages)  # type: ignore[no-any-return]
    outputs = component.model.run_inference(model_data, batch_size=len(messages))
    for index, message in enumerate(messages):
        one = _row(outputs, index, len(messages))
        if component.component_config[INTENT_CLASSIFICATION]:
            label, ranking = component._predict_label(one)
            message.set(INTENT, label, add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        if component.component_config[ENTITY_RECOGNITION]:
            message.set(ENTITIES, component._predict_entities(one, message), add_to_output=True)
    return messages


# ------------------------------------------------------------------ installing


def _batched_processes() -> dict[type, Process]:
    from rasa.nlu.classifiers.diet_classifier import DIETClassifier
    from rasa.nlu.classifiers.logistic_regression_classifier import (
        LogisticRegressionClassifier,
    )
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )

    return {
        DIETClassifier: batched_diet_process,
        CountVectorsFeaturizer: batched_count_vectors_process,
        LogisticRegressionClassifier: batched_logistic_regression_process,
    }


def enable_batched_prediction(processor: Any) -> list[str]:
    """Make a loaded model's graph predict whole batches; returns the nodes changed."""
    install_fast_feature_combining()
    replacements = _batched_processes()
    changed = []
    for name, node in processor.graph_runner._instantiated_nodes.items():
        replacement = replacements.get(node._component_class)
        if replacement is not None:
            node._fn = replacement
            changed.append(name)
    return changed


def disable_batched_prediction(processor: Any) -> None:
    """Put Rasa's own per-message code back (to compare against it: tests, benchmarks)."""
    from rasa.shared.nlu.training_data.message import Message

    for node in processor.graph_runner._instantiated_nodes.values():
        node._fn = getattr(node._component_class, node._fn_name)
    if hasattr(Message, "_rasa_combine_features"):
        Message._combine_features = staticmethod(Message._rasa_combine_features)
        del Message._rasa_combine_features
