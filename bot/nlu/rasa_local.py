"""A Rasa 3.6 model loaded in this process, parsed in adaptive micro-batches.

Rasa's `Agent.parse_message` is a coroutine that computes synchronously, blocking the
event loop, and logs the message text at DEBUG. We run the processor's graph in a worker
thread: the event loop stays free and nothing logs the text. The graph runs node by node
(`run_graph`) with the batched components when the fast path is on, through Rasa's own
runner when it is off (`bot.nlu.rasa_versions`): the same readings either way.
The NLU worker process (`bot.nlu.worker`) runs this same class on its own core.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from bot.nlu import NLUUnavailable, Understanding, from_rasa_parse
from bot.nlu.batching import BatchingNLU
from bot.nlu.rasa_batch import enable_batched_prediction, run_graph
from bot.nlu.rasa_versions import FastPath, FastPathOff, FastPathOn
from sini import logging as logs
from sini.logging import get_logger

log = get_logger(__name__)


def prepare_rasa_environment() -> None:
    """Settings Rasa reads from the environment; must run before Rasa is imported."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_INTER_OP_PARALLELISM_THREADS", "1")
    os.environ.setdefault("TF_INTRA_OP_PARALLELISM_THREADS", "2")
    os.environ.setdefault("MPLBACKEND", "Agg")


class RasaLocalNLU(BatchingNLU):
    """In-process Rasa NLU, one lane: one thread runs the batches. TensorFlow inference is
    not re-entrant-safe for our use, and parallel parses would only fight over the same
    cores (and the GIL)."""

    def __init__(self, agent: Any, fast_path: FastPath, cache_size: int = 4096) -> None:
        super().__init__([self.parse_many_sync], cache_size)
        self._agent = agent
        self.fast_path = fast_path

    @classmethod
    def load(cls, model_path: Path, cache_size: int = 4096) -> RasaLocalNLU:
        """Load a trained model archive, ready to answer (blocking).

        To give DIET weights of the right shapes, Rasa trains it for one step on one
        example before loading the trained weights over them; with TensorFlow's graph
        mode that step first traces Keras's whole training function (CRF included),
        which was most of a cold start. The step runs eagerly instead — the loaded
        weights are the same — and the prediction graph, the one that serves users, is
        traced once here by a warm-up parse rather than on a user's message.
        """
        prepare_rasa_environment()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Rasa's import-time deprecation noise
            import tensorflow as tf
            from rasa.core.agent import Agent
            from rasa.utils.tensorflow.environment import setup_tf_environment

        try:
            setup_tf_environment()
        except RuntimeError:  # TensorFlow already initialised (e.g. trained in this process)
            log.info("nlu.tf_already_configured")
        log.info("nlu.loading", model=model_path.name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tf.config.run_functions_eagerly(True)
            try:
                agent = Agent.load(str(model_path))
            finally:
                tf.config.run_functions_eagerly(False)
        logs.reapply()
        nlu = cls(agent, enable_batched_prediction(agent.processor), cache_size)
        nlu.parse_sync("warm-up")
        log.info("nlu.loaded", model=model_path.name)
        return nlu

    def parse_sync(self, text: str) -> Understanding:
        """Parse one message without touching an event loop (tools, evaluation)."""
        return self.parse_many_sync([text])[0]

    def parse_many_sync(self, texts: list[str]) -> list[Understanding]:
        """Parse several messages in one graph run, each component handling the whole batch."""
        from rasa.core.channels.channel import UserMessage
        from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
        from rasa.shared.core.trackers import DialogueStateTracker

        processor = self._agent.processor
        if processor is None:
            raise NLUUnavailable("model not loaded")
        target = processor.model_metadata.nlu_target
        inputs = {
            PLACEHOLDER_MESSAGE: [UserMessage(text, sender_id="nlu") for text in texts],
            PLACEHOLDER_TRACKER: DialogueStateTracker.from_events("nlu", []),
        }
        match self.fast_path:
            case FastPathOn():
                messages = run_graph(processor.graph_runner, inputs, target)
            case FastPathOff():
                messages = processor.graph_runner.run(inputs=inputs, targets=[target])[target]
        return [
            from_rasa_parse(
                {
                    "text": "",
                    "intent": {},
                    "entities": [],
                    **message.as_dict(only_output_properties=True),
                }
            )
            for message in messages
        ]
