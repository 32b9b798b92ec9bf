"""The Rasa model in child processes: the NLU on its own cores, beside the bot.

Parsing is Python-heavy (Rasa's graph, scikit-learn, SciPy) and holds the GIL, so in
the bot's own process it competes with everything else the bot does for each update
(Telegram, dialogue, Redis, encryption, rendering). In a child process it runs beside
them: on two cores the whole update path handles more updates a second (README,
"Performance"). The bot's process then never imports TensorFlow.

Each child loads the model with `RasaLocalNLU`, says it is ready, and answers batches of
texts with batches of readings over a pipe; the parent keeps the micro-batching and the
cache (`BatchingNLU`), each child being one lane of it (`NLU_WORKERS` children, one
shared queue). If a child dies or stops answering within the timeout, its batch goes to
another child, or fails as `NLUUnavailable` when none is left (the bot answers politely
and keeps serving buttons and crises), and a new child starts at once: recovery needs no
bot restart.
The child logs through the same anonymising configuration as the bot.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from bot import heap
from bot.nlu import NLUUnavailable, Understanding
from bot.nlu.batching import BatchingNLU
from sini import logging as logs
from sini.logging import get_logger

log = get_logger(__name__)

READY = "ready"
# Set before TensorFlow and NumPy load in the child (they read them once).
WORKER_THREADS = ("TF_INTRA_OP_PARALLELISM_THREADS",)


@dataclass(frozen=True)
class WorkerFailure:
    """What the child sends back when a batch raised: the exception's type name only."""

    error_type: str


def serve(connection: Connection, model_path: str, log_level: str, log_format: str) -> None:
    """The child's main loop: load, say READY, then answer batches until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for the parent; it stops us
    # One compute thread: the other core belongs to the bot's process and Redis (or to a
    # second worker). With two TensorFlow threads the worker competed with them and did
    # worse in the bench (bench/pipeline.py).
    for variable in WORKER_THREADS:
        os.environ.setdefault(variable, "1")
    logs.configure(log_level, log_format)
    from bot.nlu.rasa_local import RasaLocalNLU

    nlu = RasaLocalNLU.load(Path(model_path), cache_size=0)
    heap.settle()  # Rasa and TensorFlow's objects: a full GC pass would stall batches
    connection.send(READY)
    while True:
        try:
            texts = connection.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        try:
            connection.send(nlu.parse_many_sync(texts))
        except Exception as error:  # a model failure must not kill the worker
            log.error("nlu.worker_batch_failed", error_type=type(error).__name__)
            connection.send(WorkerFailure(type(error).__name__))


class WorkerProcess:
    """One child process serving the model: a lane of `RasaWorkerNLU`."""

    def __init__(self, model_path: Path, timeout: float, log_level: str, log_format: str) -> None:
        self._model_path = model_path
        self._timeout = timeout
        self._log_settings = (log_level, log_format)
        self._context = multiprocessing.get_context("spawn")  # never fork TensorFlow
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._ready = False
        self.starts = 0  # how many children were started (tests, metrics of restarts)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def spawn(self) -> None:
        """Start a child (not waiting for its model: see `wait_ready`)."""
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=serve,
            args=(child, str(self._model_path), *self._log_settings),
            name="sini-nlu",
            daemon=True,
        )
        process.start()
        child.close()  # only the child holds its end: its death closes the pipe
        self._process, self._connection, self._ready = process, parent, False
        self.starts += 1
        log.info("nlu.worker_started", starts=self.starts)

    def wait_ready(self, wait: float) -> bool:
        """Whether the child's model answers, waiting up to `wait` seconds for it (blocking:
        at start-up, or after a restart). Never call it while a batch runs."""
        if self._ready:
            return True
        if self._connection is None:
            return False
        try:
            if not self._connection.poll(wait):
                return False
            self._ready = self._connection.recv() == READY
        except (EOFError, OSError):  # the child died while loading
            self.stop()
            return False
        log.info("nlu.worker_ready", ready=self._ready)
        return self._ready

    def run_batch(self, texts: list[str]) -> list[Understanding]:
        """Runs on the lane's thread, one batch at a time (the pipe is never shared)."""
        if self._process is None or not self._process.is_alive():
            self._restart()
        if not self.wait_ready(0):
            raise NLUUnavailable("worker starting")
        assert self._connection is not None
        try:
            self._connection.send(texts)
            if not self._connection.poll(self._timeout):
                raise TimeoutError("worker did not answer")
            answer = self._connection.recv()
        except (EOFError, OSError, TimeoutError) as error:
            log.error("nlu.worker_lost", error_type=type(error).__name__)
            self._restart()
            raise NLUUnavailable(type(error).__name__) from error
        if isinstance(answer, WorkerFailure):
            raise NLUUnavailable(answer.error_type)
        readings: list[Understanding] = answer
        return readings

    def _restart(self) -> None:
        """A new child right away: it loads while the bot answers without it."""
        self.stop()
        self.spawn()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.kill()
            self._process.join(timeout=5)
        self._process, self._connection, self._ready = None, None, False


class RasaWorkerNLU(BatchingNLU):
    """Parses in `len(workers)` child processes running the Rasa model, fed from one
    queue (see the module docstring and `bot.nlu.batching`)."""

    def __init__(self, workers: Sequence[WorkerProcess], cache_size: int = 4096) -> None:
        super().__init__([worker.run_batch for worker in workers], cache_size)
        self.workers = tuple(workers)

    @classmethod
    def start(
        cls,
        model_path: Path,
        timeout: float,
        log_level: str,
        log_format: str,
        *,
        count: int = 1,
        wait: float,
        cache_size: int = 4096,
    ) -> RasaWorkerNLU:
        """Start `count` children, their models loading side by side, and wait up to
        `wait` seconds for them (blocking)."""
        workers = [WorkerProcess(model_path, timeout, log_level, log_format) for _ in range(count)]
        for worker in workers:
            worker.spawn()
        for worker in workers:
            worker.wait_ready(wait)
        return cls(workers, cache_size)

    async def close(self) -> None:
        await super().close()
        for worker in self.workers:
            worker.stop()
