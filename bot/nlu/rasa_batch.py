"""Rasa 3.6.21's NLU components, made to predict a whole batch of messages at once.

Rasa's graph hands every component a list of messages, but at prediction time the
components we use loop over it one message at a time: DIET runs a forward pass per
message, each CountVectorsFeaturizer calls scikit-learn twice per message, and gathering
a message's sparse features (`Message.get_sparse_features`, called by DIET and by the
logistic regression) deep-copies them and goes through `scipy.sparse.hstack`, which
profiling showed to cost far more than the TensorFlow forward pass. Once batched, the
fixed cost of a batch was mostly DIET's CRF decoding (a Keras RNN and two `tf.scan`
loops inside the graph) and dask's scheduling of the graph; `crf_decode` and
`run_graph` replace those. Then the featurizers' scikit-learn analysis of every token,
twice per message, and SciPy's validation of the half-dozen matrices each message gets
were the largest costs left; `TokenRows` and `coo` replace those.

The replacements below compute exactly the same arrays — same values, dtypes and index
order, so the same readings (tested on the whole held-out split) — with one call per
batch instead of one per message; only DIET's entity confidences, which the bot does not
use, may differ from Rasa's in the last float32 digit. They mirror Rasa 3.6.21's own
code and fall back to Rasa's code for any case they do not cover. They are installed on
a loaded model only (`enable_batched_prediction`), and only when Rasa, TensorFlow, SciPy
and scikit-learn are at the versions they were verified against (`bot.nlu.rasa_versions`);
training runs Rasa unchanged.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse

from bot.nlu.rasa_versions import FastPath, FastPathOff, FastPathOn, fast_path
from sini.logging import get_logger

log = get_logger(__name__)

Process = Callable[[Any, list[Any]], list[Any]]
Array = np.ndarray[Any, Any]


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
    return Features(
        coo(data, row, col, shape), features[0].type, features[0].attribute, featurizers
    )


def _coo(matrix: Any) -> Any:
    """`matrix` as COO, without building a new object when it already is one."""
    return matrix if matrix.format == "coo" else scipy.sparse.coo_matrix(matrix)


def _rasa_combine(message_class: Any) -> Callable[[list[Any], list[str]], Any]:
    """Rasa's own `_combine_features`, kept for the cases the fast one does not cover."""
    original: Callable[[list[Any], list[str]], Any] = getattr(
        message_class, "_rasa_combine_features", message_class._combine_features
    )
    return original


def sparse_features_once(message: Any, attribute: str, featurizers: Any = None) -> Any:
    """`Message.get_sparse_features`, combined once per message and set of features.

    DIET and the logistic regression both ask for a message's combined sparse features,
    and nothing between them adds any; the answer is kept on the message, keyed by the
    number of features it has, so a featurizer adding one later gets a fresh answer.
    Callers only read the matrices (Rasa's DIET and logistic regression do).
    """
    key = (attribute, tuple(featurizers or ()), len(message.features))
    known: dict[Any, Any] = message.__dict__.setdefault("_sini_sparse_features", {})
    if key not in known:
        known[key] = type(message)._rasa_get_sparse_features(message, attribute, featurizers)
    return known[key]


def install_fast_feature_combining() -> None:
    """Make every `Message` combine sparse features with `combine_features`, once per
    message (`sparse_features_once`); idempotent."""
    from rasa.shared.nlu.training_data.message import Message

    if not hasattr(Message, "_rasa_combine_features"):
        Message._rasa_combine_features = staticmethod(Message._combine_features)
        Message._combine_features = staticmethod(combine_features)
        Message._rasa_get_sparse_features = Message.get_sparse_features
        Message.get_sparse_features = sparse_features_once


# ------------------------------------------------------------------ featurizers


def batched_count_vectors_process(component: Any, messages: list[Any]) -> list[Any]:
    """CountVectorsFeaturizer.process with each distinct token analysed once.

    Rasa transforms a message's tokens (its sequence features, a row per token) and then
    their join (its sentence features, one row) with scikit-learn, which walks every
    character n-gram of every token in Python — twice per message. A CountVectorizer
    treats each document on its own, so a token's row depends on the token alone, and
    the join's row is the sum of its tokens' rows whenever splitting the join gives the
    tokens back (no token holds whitespace: the word and char_wb analysers then see the
    same words). `TokenRows` keeps each token's row; the rest is array arithmetic.
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
        features = token_rows(vectorizer).features(
            [tokens[index] for index in present],
            with_sentence=attribute in DENSE_FEATURIZABLE_ATTRIBUTES,
        )
        for index, (sequence, sentence) in zip(present, features, strict=True):
            component.add_features_to_message(sequence, sentence, attribute, messages[index])
    return messages


TOKEN_ROWS_KEPT = 16384  # distinct tokens remembered per vectorizer: bounds the memory


class TokenRows:
    """A fitted CountVectorizer's row for every token it has been asked about.

    Rows are kept as Rasa's per-message code leaves them after `sort_indices()`: column
    indices ascending (int32), counts int64. The vocabulary of a helpline is small and
    repetitive, so nearly every token of a batch is known; unknown ones are transformed
    together in one scikit-learn call. The oldest rows are dropped past `kept` tokens, so
    a flood of random words costs time, never unbounded memory.
    """

    def __init__(self, vectorizer: Any, kept: int = TOKEN_ROWS_KEPT) -> None:
        self.vectorizer = vectorizer
        self.width = len(vectorizer.vocabulary_)
        self.kept = max(kept, 1)
        self._rows: dict[str, tuple[Array, Array]] = {}

    def rows(self, tokens: list[str]) -> list[tuple[Array, Array]]:
        """(columns, counts) of each token, transforming the ones not seen yet."""
        known = self._rows
        unknown = list(dict.fromkeys(t for t in tokens if t not in known))
        fresh: dict[str, tuple[Array, Array]] = {}
        if unknown:
            matrix = self.vectorizer.transform(unknown)
            matrix.sort_indices()
            for row, token in enumerate(unknown):
                first, last = matrix.indptr[row], matrix.indptr[row + 1]
                fresh[token] = (
                    matrix.indices[first:last].astype(np.int32),
                    matrix.data[first:last].astype(np.int64),
                )
        found = [fresh[t] if t in fresh else known[t] for t in tokens]
        for token, value in fresh.items():
            if len(known) >= self.kept:
                del known[next(iter(known))]
            known[token] = value
        return found

    def features(self, messages: list[list[str]], with_sentence: bool) -> list[tuple[Any, Any]]:
        """Each message's (sequence, sentence) COO matrices, as Rasa's `process` makes them
        (`transform`, `sort_indices()`, `tocoo()`); the sentence is None without
        `with_sentence`, as in Rasa."""
        rows = self.rows([token for tokens in messages for token in tokens])
        lengths = np.fromiter((len(cols) for cols, _ in rows), dtype=np.int64, count=len(rows))
        columns = np.concatenate([cols for cols, _ in rows]) if rows else _EMPTY_INT32
        counts = np.concatenate([data for _, data in rows]) if rows else _EMPTY_INT64
        token_of_entry = np.repeat(np.arange(len(rows), dtype=np.int32), lengths)
        entry_start = np.concatenate(([0], np.cumsum(lengths)))
        token_start = np.concatenate(([0], np.cumsum([len(tokens) for tokens in messages])))
        message_start = entry_start[token_start]
        sentences = (
            self._sentences(messages, columns, counts, message_start)
            if with_sentence
            else [None] * len(messages)
        )
        return [
            (
                coo(
                    counts[message_start[index] : message_start[index + 1]],
                    token_of_entry[message_start[index] : message_start[index + 1]]
                    - np.int32(token_start[index]),
                    columns[message_start[index] : message_start[index + 1]],
                    (len(tokens), self.width),
                ),
                sentences[index],
            )
            for index, tokens in enumerate(messages)
        ]

    def _sentences(
        self, messages: list[list[str]], columns: Array, counts: Array, message_start: Array
    ) -> list[Any]:
        """Each message's sentence row: its tokens' rows added up, in one pass for the batch
        (sorting on message then column, then adding runs of equal keys); transformed the
        way Rasa does for the rare message whose tokens hold whitespace, where the sum and
        the join's analysis could differ."""
        message_of_entry = np.repeat(
            np.arange(len(messages), dtype=np.int64), np.diff(message_start)
        )
        keys = message_of_entry * self.width + columns
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        starts = (
            np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if len(keys) else keys
        )
        summed = np.add.reduceat(counts[order], starts) if len(keys) else _EMPTY_INT64
        message_of_sum = keys[starts] // self.width
        sum_columns = (keys[starts] % self.width).astype(np.int32)
        bounds = np.searchsorted(message_of_sum, np.arange(len(messages) + 1))
        sentences: list[Any] = []
        for index, tokens in enumerate(messages):
            first, last = bounds[index], bounds[index + 1]
            if " ".join(tokens).split() == tokens:
                sentences.append(
                    coo(
                        summed[first:last],
                        np.zeros(last - first, dtype=np.int32),
                        sum_columns[first:last],
                        (1, self.width),
                    )
                )
            else:
                matrix = self.vectorizer.transform([" ".join(tokens)])
                matrix.sort_indices()
                sentences.append(matrix.tocoo())
        return sentences


_EMPTY_INT32 = np.zeros(0, dtype=np.int32)
_EMPTY_INT64 = np.zeros(0, dtype=np.int64)
_TOKEN_ROWS: weakref.WeakKeyDictionary[Any, TokenRows] = weakref.WeakKeyDictionary()


def token_rows(vectorizer: Any) -> TokenRows:
    """The one `TokenRows` of a fitted vectorizer (several attributes may share one)."""
    rows = _TOKEN_ROWS.get(vectorizer)
    if rows is None:
        rows = _TOKEN_ROWS[vectorizer] = TokenRows(vectorizer)
    return rows


def forget_token_rows() -> None:
    """Drop every remembered token row (benchmarks: the cost of an unseen vocabulary)."""
    _TOKEN_ROWS.clear()


def coo(data: Array, row: Array, col: Array, shape: tuple[int, int]) -> Any:
    """`scipy.sparse.coo_matrix((data, (row, col)), shape=shape)` for arrays already of
    the right kinds (row and col int32 within the shape), without its validation.

    The constructor checks every index against the shape and every dtype again, and
    Rasa's featurizers make half a dozen matrices per message whose arrays are right by
    construction. An empty matrix of the shape is built once through the constructor and
    copied; `row`, `col` and `data` are public, settable attributes of a COO matrix.
    """
    template = _COO_TEMPLATES.get(shape)
    if template is None:
        template = scipy.sparse.coo_matrix(shape, dtype=data.dtype)
        if len(_COO_TEMPLATES) < COO_TEMPLATES_KEPT:  # (messages, vocabulary) sizes
            _COO_TEMPLATES[shape] = template
    matrix = copy.copy(template)
    matrix.row, matrix.col, matrix.data = row, col, data
    matrix.has_canonical_format = False
    return matrix


COO_TEMPLATES_KEPT = 4096
_COO_TEMPLATES: dict[tuple[int, int], Any] = {}


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

    if component.model is None or not messages:
        return DIETClassifier.process(component, messages)  # type: ignore[no-any-return]
    model_data = component._create_model_data(messages, training=False)
    if model_data.is_empty():
        return DIETClassifier.process(component, messages)  # type: ignore[no-any-return]
    if _entities_only(component):
        outputs = diet_entity_outputs(component.model, model_data, len(messages))
    else:
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


def _entities_only(component: Any) -> bool:
    """Whether DIET is configured the way `diet_entity_outputs` covers: entity types only
    (no intents, roles or groups) and no diagnostic data asked for."""
    from rasa.nlu.classifiers.diet_classifier import (
        ENTITY_RECOGNITION,
        INTENT_CLASSIFICATION,
    )
    from rasa.shared.nlu.constants import ENTITY_ATTRIBUTE_TYPE

    specs = [spec for spec in component._entity_tag_specs if spec.num_tags > 0]
    return bool(
        component.component_config[ENTITY_RECOGNITION]
        and not component.component_config[INTENT_CLASSIFICATION]
        and [spec.tag_name for spec in specs] == [ENTITY_ATTRIBUTE_TYPE]
        and not component._execution_context.should_add_diagnostic_data
    )


def diet_entity_outputs(model: Any, model_data: Any, size: int) -> dict[str, Any]:
    """DIET's entity predictions for a batch: TensorFlow up to the logits, the CRF in NumPy.

    Rasa decodes the CRF inside the TensorFlow graph with a Keras RNN and two `tf.scan`
    loops, whose per-step overhead was most of a batch's fixed cost. The graph here stops
    at the logits — the same layers, weights and inputs as Rasa's `batch_predict`, so the
    same values — and `crf_decode` finishes.
    """
    import rasa.utils.train_utils
    import tensorflow as tf
    from rasa.shared.nlu.constants import ENTITY_ATTRIBUTE_TYPE, TEXT
    from rasa.utils.tensorflow.constants import SENTENCE, SEQUENCE

    generator, _ = rasa.utils.train_utils.create_data_generators(
        model_data=model_data, batch_sizes=size, epochs=1, shuffle=False
    )
    batch_in = generator[0][0]
    decoder = getattr(model, "_sini_entity_decoder", None)
    if decoder is None:

        def logits(batch: Any) -> tuple[Any, Any]:
            data = model.batch_to_model_data_format(batch, model.predict_data_signature)
            lengths = model._get_sequence_feature_lengths(data, TEXT)
            transformed = model._tf_layers[f"sequence_layer.{model.text_name}"](
                (data[TEXT][SEQUENCE], data[TEXT][SENTENCE], lengths), training=False
            )[0]
            return model._tf_layers[f"embed.{ENTITY_ATTRIBUTE_TYPE}.logits"](transformed), lengths

        # The traced graph itself, called on flat tensors (`_call_flat`): the `tf.function`
        # wrapper's argument matching and the concrete function's input canonicalisation
        # were a large part of the call, and the inputs are already the traced signature's
        # flat tensors. The method is private: it is called only at the TensorFlow version
        # of `bot.nlu.rasa_versions`. The loaded weights never change, so the CRF's
        # transitions are read out once with it.
        signature = model._dynamic_signature(batch_in)
        decoder = (
            tf.function(logits, input_signature=signature).get_concrete_function(*signature),
            model._tf_layers[f"crf.{ENTITY_ATTRIBUTE_TYPE}"].transition_params.numpy(),
        )
        model._sini_entity_decoder = decoder
    logits_fn, transitions = decoder
    flat = [tf.convert_to_tensor(array) for array in batch_in]
    potentials, lengths = logits_fn._call_flat(flat, logits_fn.captured_inputs)
    ids, scores = crf_decode(potentials.numpy(), transitions, lengths.numpy())
    return {f"e_{ENTITY_ATTRIBUTE_TYPE}_ids": ids, f"e_{ENTITY_ATTRIBUTE_TYPE}_scores": scores}


def crf_decode(potentials: Array, transitions: Array, lengths: Array) -> tuple[Array, Array]:
    """Rasa 3.6's `CRF.call` (rasa/utils/tensorflow/crf.py `crf_decode`, then the mask).

    Viterbi over each sequence's first `length` steps: the tags are the same integers as
    Rasa's (the sums are the same float32 additions, argmax takes the first maximum); the
    confidences are softmax maxima, equal to Rasa's within a float32 rounding. Rasa's
    backward pass of the confidences reuses the previous *confidence*, truncated to an
    integer, as the tag index of the next step (so mostly tag 0); that is reproduced, as
    it is what Rasa reports. Padding positions are 0, as in Rasa's output.
    """
    batch, width, tags_count = potentials.shape
    lengths = np.asarray(lengths, dtype=np.int64).reshape(batch)
    tags = np.zeros((batch, width), dtype=np.int32)
    scores = np.zeros((batch, width), dtype=np.float32)
    longest = int(lengths.max()) if batch else 0
    if longest == 0:
        return tags, scores
    steps = max(longest - 1, 1)
    backpointers = np.zeros((batch, steps, tags_count), dtype=np.int64)
    step_scores = np.zeros((batch, steps, tags_count), dtype=np.float32)
    state = potentials[:, 0, :]
    for step in range(1, longest):
        transition_scores = state[:, :, np.newaxis] + transitions[np.newaxis]
        backpointers[:, step - 1] = transition_scores.argmax(axis=1)
        step_scores[:, step - 1] = _softmax_max(transition_scores, axis=1)
        moved = potentials[:, step, :] + transition_scores.max(axis=1)
        state = np.where((lengths > step)[:, np.newaxis], moved, state)
    rows = np.flatnonzero(lengths > 0)
    last = lengths[rows] - 1
    tag = state[rows].argmax(axis=1)
    tags[rows, last] = tag
    scores[rows, last] = _softmax_max(state[rows], axis=1)
    score_index = tag.copy()
    for step in range(longest - 1, 0, -1):
        live = lengths[rows] > step
        at = rows[live]
        tag[live] = backpointers[at, step - 1, tag[live]]
        value = step_scores[at, step - 1, score_index[live]]
        tags[at, step - 1] = tag[live]
        scores[at, step - 1] = value
        score_index[live] = value.astype(np.int64)
    return tags, scores


def _softmax_max(values: Array, axis: int) -> Array:
    """max(softmax(values)) along `axis`, in float32 like TensorFlow's."""
    shifted = np.exp(values - values.max(axis=axis, keepdims=True))
    return (shifted / shifted.sum(axis=axis, keepdims=True)).max(axis=axis)  # type: ignore[no-any-return]


# ------------------------------------------------------------------ running the graph


def run_graph(runner: Any, inputs: dict[str, Any], target: str) -> Any:
    """What `DaskGraphRunner.run(inputs, [target])[target]` returns, node after node.

    Rasa hands the graph to dask's synchronous scheduler, whose per-run cost this
    dozen-node chain does not need, and first formats the inputs (the messages) into a
    DEBUG f-string whatever the log level. The graph is a chain; calling each node with
    its parents' `(name, output)` pairs in dependency order is exactly what dask does.
    """
    schema = runner._graph_schema
    order = _node_order(runner, target)
    results: dict[str, Any] = {name: (name, value) for name, value in inputs.items()}
    for name in order:
        needs = schema.nodes[name].needs.values()
        results[name] = runner._instantiated_nodes[name](*(results.get(n, n) for n in needs))
    return results[target][1]


def _node_order(runner: Any, target: str) -> list[str]:
    """The nodes `target` depends on (itself included), parents first; cached per runner."""
    cache: dict[str, list[str]] = runner.__dict__.setdefault("_sini_node_order", {})
    if target not in cache:
        nodes = runner._graph_schema.nodes
        order: list[str] = []

        def visit(name: str) -> None:
            if name in nodes and name not in order:
                for parent in nodes[name].needs.values():
                    visit(parent)
                order.append(name)

        visit(target)
        cache[target] = order
    return cache[target]


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


def enable_batched_prediction(processor: Any) -> FastPath:
    """Make a loaded model's graph predict whole batches, if Rasa's stack is at the versions
    verified (`bot.nlu.rasa_versions`); otherwise leave Rasa's code and say which package
    turned the fast path off."""
    path = fast_path()
    match path:
        case FastPathOff(package=package, verified=verified, installed=installed):
            log.warning(
                "nlu.fast_path_off", package=package, verified=verified, installed=installed
            )
        case FastPathOn():
            _install_batched_processes(processor)
    return path


def _install_batched_processes(processor: Any) -> None:
    install_fast_feature_combining()
    replacements = _batched_processes()
    for node in processor.graph_runner._instantiated_nodes.values():
        replacement = replacements.get(node._component_class)
        if replacement is not None:
            node._fn = replacement


def disable_batched_prediction(processor: Any) -> None:
    """Put Rasa's own per-message code back (to compare against it: tests, benchmarks)."""
    from rasa.shared.nlu.training_data.message import Message

    for node in processor.graph_runner._instantiated_nodes.values():
        node._fn = getattr(node._component_class, node._fn_name)
    if hasattr(Message, "_rasa_combine_features"):
        Message._combine_features = staticmethod(Message._rasa_combine_features)
        Message.get_sparse_features = Message._rasa_get_sparse_features
        del Message._rasa_combine_features, Message._rasa_get_sparse_features
