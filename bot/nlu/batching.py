"""Adaptive micro-batching of NLU requests for the in-process Rasa model.

Rasa's DIET classifier predicts one message at a time: a forward pass for one message
costs about as much as for dozens. Concurrent parse requests (from many chats) are
therefore gathered — for at most `max_wait` seconds when the model is idle, or for as
long as the previous batch is still running — and parsed in one graph run in which DIET
predicts the whole batch at once. A lone message waits only `max_wait`; under load the
batches grow by themselves. Results are identical to one-at-a-time parsing (tested on the
whole held-out split).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np

from bot.logs import get_logger
from bot.nlu import NLUUnavailable, Understanding

log = get_logger(__name__)

RunBatch = Callable[[list[str]], list[Understanding]]


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
    """DIETClassifier.process, with one forward pass for all `messages`.

    Mirrors Rasa 3.6.21's own `process` (pinned), which calls `_predict` per message.
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


def enable_batched_diet(processor: Any) -> int:
    """Make the loaded graph's DIET nodes predict whole batches; returns how many."""
    from rasa.nlu.classifiers.diet_classifier import DIETClassifier

    patched = 0
    for node in processor.graph_runner._instantiated_nodes.values():
        if node._component_class is DIETClassifier:
            node._fn = batched_diet_process
            patched += 1
    return patched


class MicroBatcher:
    """Gathers concurrent requests into batches run one at a time in `executor`."""

    def __init__(
        self,
        run_batch: RunBatch,
        executor: Executor,
        max_batch: int = 64,
        max_wait: float = 0.002,
    ) -> None:
        self._run_batch = run_batch
        self._executor = executor
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._pending: list[tuple[str, asyncio.Future[Understanding]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False
        self.batches = 0  # for tests and benchmarks

    async def parse(self, text: str) -> Understanding:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Understanding] = loop.create_future()
        self._pending.append((text, future))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif self._timer is None and not self._busy:
            self._timer = loop.call_later(self.max_wait, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._busy or not self._pending:
            return
        batch = self._pending[: self.max_batch]
        self._pending = self._pending[self.max_batch :]
        self._busy = True
        asyncio.get_running_loop().create_task(self._run(batch))

    async def _run(self, batch: Sequence[tuple[str, asyncio.Future[Understanding]]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            readings = await loop.run_in_executor(
                self._executor, self._run_batch, [text for text, _ in batch]
            )
            for (_, future), reading in zip(batch, readings, strict=True):
                if not future.done():
                    future.set_result(reading)
        except Exception as error:  # any model failure: every waiter hears "unavailable"
            log.error("nlu.batch_failed", error_type=type(error).__name__, size=len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(NLUUnavailable(type(error).__name__))
        finally:
            self.batches += 1
            self._busy = False
            if self._pending:
                self._flush()  # what arrived during this batch goes now, without waiting
