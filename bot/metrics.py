"""Every Prometheus metric of the bot, defined in one place, on a registry of its own.

Why a dedicated registry: the global one also collects whatever Rasa, TensorFlow or
another library registers there, and would make tests share state with them. Only what is
defined here is served at `/metrics` (see `bot/observability.py`).

Anonymity is the product, so a label value never comes from a user: each labelled metric
is set through a helper below that maps its value into a closed set (event class names,
outcomes, tip categories, storage operations) or, for error types, an exception class
name, and anything else becomes `other`. `label_allowed` states those sets; a test checks
every sample after a whole end-to-end tip against it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from bot.dialogue.events import Event
from bot.nlu import Understanding
from bot.nlu.crisis import Reason, Verdict
from tips.model import Category

# No `*_created` series: they would stamp, to the second, when a label first moved — e.g.
# when the first tip of a category arrived — finer than any scrape interval.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
OTHER = "other"

EVENT_KINDS = frozenset(kind.__name__ for kind in get_args(Event))
# answered: at least one reply sent; silent: nothing to send (a flood past its one
# warning); error: the handler raised (the user then gets the kind internal-error text).
UPDATE_OUTCOMES = frozenset({"answered", "silent", "error"})
TIP_CATEGORIES = frozenset(category.value for category in Category)
# Where the assistant found Redis down: starting up, loading or saving a chat's state,
# quiz counters, the tip store, the intake stream, the messages to erase.
REDIS_OPERATIONS = frozenset({"load", "save", "quiz", "tips", "intake", "erasable"})
# The outbound scheduler's classes (bot/adapters/sending.py: Priority, lower-cased).
SEND_CLASSES = frozenset({"urgent", "first", "rest", "bulk"})
_CLOSED_SETS = {
    "verdict": frozenset(verdict.value for verdict in Verdict),
    "reason": frozenset(reason.value for reason in Reason),
    "kind": EVENT_KINDS,
    "outcome": UPDATE_OUTCOMES,
    "category": TIP_CATEGORIES,
    "operation": REDIS_OPERATIONS,
    "priority": SEND_CLASSES,
}
# An exception class name (CamelCase, no spaces, bounded): never an error *message*.
_CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")

UPDATES = Counter(
    "sini_updates",
    "Telegram updates handled, by event kind and outcome.",
    ["kind", "outcome"],
    registry=REGISTRY,
)
UPDATE_SECONDS = Histogram(
    "sini_update_duration_seconds",
    "Whole update: NLU, dialogue, Redis and sending every reply.",
    ["kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0),
    registry=REGISTRY,
)
NLU_BATCH_SIZE = Histogram(
    "sini_nlu_batch_size",
    "Messages per graph run of the in-process NLU's micro-batcher.",
    buckets=(1, 2, 4, 8, 16, 32, 64),
    registry=REGISTRY,
)
NLU_CONFIDENCE = Histogram(
    "sini_nlu_confidence",
    "Confidence of the NLU's reading of each free-text message.",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    registry=REGISTRY,
)
NLU_UNAVAILABLE = Counter(
    "sini_nlu_unavailable",
    "Free-text messages the NLU could not read (Rasa server down, model failure).",
    registry=REGISTRY,
)
NLU_FALLBACK = Counter(
    "sini_nlu_fallback",
    "Readings below the confidence threshold: the user is offered likely topics instead.",
    registry=REGISTRY,
)
TIPS_SUBMITTED = Counter(
    "sini_tips_submitted",
    "Anonymous tips stored (acknowledged to the tipster), by category.",
    ["category"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "sini_errors",
    "Updates whose handler raised, by exception class name.",
    ["error_type"],
    registry=REGISTRY,
)
FLOOD_LIMITED = Counter(
    "sini_flood_limited",
    "Messages over a chat's flood limit (one warning, then silence).",
    registry=REGISTRY,
)
CRISIS_ASSESSED = Counter(
    "sini_crisis_assessed",
    "Free-text messages assessed by the crisis net, by verdict and deciding signal.",
    ["verdict", "reason"],
    registry=REGISTRY,
)
REDIS_UNAVAILABLE = Counter(
    "sini_redis_unavailable",
    "Times the assistant found Redis down and degraded, by operation.",
    ["operation"],
    registry=REGISTRY,
)
SEND_QUEUED = Gauge(
    "sini_send_queued",
    "Messages waiting in the outbound scheduler (or being retried), by class.",
    ["priority"],
    registry=REGISTRY,
)
SEND_OLDEST_WAIT = Gauge(
    "sini_send_oldest_wait_seconds",
    "How long the oldest message waiting in each class has waited (0 when none waits).",
    ["priority"],
    registry=REGISTRY,
)
SEND_RATE = Gauge(
    "sini_send_rate",
    "The overall rate live replies are sent at now (messages/s; adapts to 429s).",
    registry=REGISTRY,
)
SEND_WAIT_SECONDS = Histogram(
    "sini_send_wait_seconds",
    "Time from a message being handed to the scheduler to its first sending, by class "
    "(for class first: the time to the first reply once the answer is ready).",
    ["priority"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)
SEND_REFUSED = Counter(
    "sini_send_retry_after",
    "429 answers (flood control) from Telegram, by class; every one is retried.",
    ["priority"],
    registry=REGISTRY,
)
SEND_GIVEN_UP = Counter(
    "sini_send_given_up",
    "Broadcast messages given up after repeated 429s (the broadcast resumes later).",
    registry=REGISTRY,
)


def label_allowed(name: str, value: str) -> bool:
    """Whether `value` may appear under label `name`: a member of its closed set, an
    exception class name for `error_type`, or `other`."""
    if value == OTHER:
        return True
    if name == "error_type":
        return _CLASS_NAME.fullmatch(value) is not None
    return value in _CLOSED_SETS.get(name, frozenset())


def _closed(name: str, value: str) -> str:
    return value if label_allowed(name, value) else OTHER


def update_handled(kind: str, outcome: str, seconds: float) -> None:
    """One Telegram update done: `kind` is the event's class name."""
    UPDATES.labels(kind=_closed("kind", kind), outcome=_closed("outcome", outcome)).inc()
    UPDATE_SECONDS.labels(kind=_closed("kind", kind)).observe(seconds)


def understood(reading: Understanding, *, unsure: bool) -> None:
    """One NLU reading of a free-text message; `unsure`: the engine does not act on it
    and offers the clarifying menu instead (`Engine.is_unsure`)."""
    NLU_CONFIDENCE.observe(reading.confidence)
    if unsure:
        NLU_FALLBACK.inc()


def tip_submitted(category: str) -> None:
    TIPS_SUBMITTED.labels(category=_closed("category", category)).inc()


def error(exception: BaseException | None) -> None:
    """A handler error, counted by its class name (never its message)."""
    ERRORS.labels(error_type=_closed("error_type", type(exception).__name__)).inc()


def redis_unavailable(operation: str) -> None:
    REDIS_UNAVAILABLE.labels(operation=_closed("operation", operation)).inc()


def crisis_assessed(verdict: str, reason: str) -> None:
    CRISIS_ASSESSED.labels(
        verdict=_closed("verdict", verdict), reason=_closed("reason", reason)
    ).inc()


def send_waited(priority: str, seconds: float) -> None:
    SEND_WAIT_SECONDS.labels(priority=_closed("priority", priority)).observe(seconds)


def send_refused(priority: str) -> None:
    SEND_REFUSED.labels(priority=_closed("priority", priority)).inc()


def send_given_up() -> None:
    SEND_GIVEN_UP.inc()


def watch_sending(
    queued: Callable[[str], float],
    oldest_wait: Callable[[str], float],
    rate: Callable[[], float],
) -> None:
    """Read the scheduler's queues and rate at each scrape (see bot/adapters/sending.py)."""
    for priority in sorted(SEND_CLASSES):
        SEND_QUEUED.labels(priority=priority).set_function(partial(queued, priority))
        SEND_OLDEST_WAIT.labels(priority=priority).set_function(partial(oldest_wait, priority))
    SEND_RATE.set_function(rate)
