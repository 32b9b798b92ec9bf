"""The crisis net: every free-text message gets one of three outcomes.

- CRISIS: emergency numbers in the first message, then first aid for the kind of danger;
- CHECK_IN: unsure, so one short message gives the emergency line and asks "are you in
  danger now?" — even unanswered, it has given the number;
- NONE: the ordinary answer; when the message asks about danger in general ("signs of an
  overdose"), with the emergency line as a one-line footer.

Three signals are combined, each deterministic and each named in the decision's reason
(logged as an event field, never the text): the patterns of `bot.nlu.safety`, the
dedicated classifier of `bot.nlu.crisis_classifier`, and the NLU's `crisis` intent. It is
tuned for recall: a silent miss is the failure that must not happen; a check-in on an
ordinary message costs one tap.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.nlu import CRISIS_INTENT, FALLBACK_INTENT, Understanding
from bot.nlu.crisis_classifier import CrisisClassifier
from bot.nlu.safety import Crisis, scan

# Readings that, when the NLU is confident, settle an unsure classifier: "hey anybody
# there?", "r u a bot", "ɔn-ɔn, a tɛ ten" are not a person in danger.
SMALL_TALK = frozenset(
    {"greet", "goodbye", "thanks", "affirm", "deny", "bot_challenge", "menu", "change_language"}
)


class Verdict(str, Enum):
    CRISIS = "crisis"
    CHECK_IN = "check_in"
    NONE = "none"


class Reason(str, Enum):
    """Which signal decided (for logs and metrics)."""

    PATTERN = "pattern"
    PATTERN_QUESTION = "pattern_question"
    CLASSIFIER = "classifier"
    NLU = "nlu"
    DANGER_WORD = "danger_word"
    INFORMATIONAL = "informational"
    SMALL_TALK = "small_talk"
    CONFIDENT_READING = "confident_reading"
    NOTHING = "nothing"


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    reason: Reason
    kind: Crisis | None = None
    footer: bool = False  # NONE on a question about danger: the emergency line below it

    @property
    def is_crisis(self) -> bool:
        return self.verdict is Verdict.CRISIS


NOTHING = Assessment(Verdict.NONE, Reason.NOTHING)


@dataclass(frozen=True)
class Thresholds:
    """Probabilities above which a signal decides. Chosen on the development set
    (`nlu/dev/`: no silent miss, fewest check-ins) with the corpus's cross-validation in
    view (`bench/crisis.py`), never on the blind set."""

    classifier_sure: float = 0.85
    classifier_unsure: float = 0.3
    nlu_sure: float = 0.8
    nlu_unsure: float = 0.4
    small_talk: float = 0.7
    confident_reading: float = 0.9


class CrisisNet:
    def __init__(self, classifier: CrisisClassifier, thresholds: Thresholds = Thresholds()):
        self.classifier = classifier
        self.thresholds = thresholds

    def screen(self, text: str) -> Assessment | None:
        """The patterns alone, before the NLU is asked: acute danger described as
        happening is answered at once, without waiting for the model."""
        signals = scan(text)
        if signals.acute is not None and not signals.informational:
            return Assessment(Verdict.CRISIS, Reason.PATTERN, signals.acute)
        return None

    def assess(self, text: str, reading: Understanding | None = None) -> Assessment:
        """All signals: the patterns, the classifier, and the NLU's reading when there is
        one (None: not asked, or down)."""
        signals = scan(text)
        danger = self.classifier.danger(text)
        nlu = _intent_confidence(reading, CRISIS_INTENT)
        limits = self.thresholds
        if signals.acute is not None:
            verdict = Verdict.CHECK_IN if signals.informational else Verdict.CRISIS
            reason = Reason.PATTERN_QUESTION if signals.informational else Reason.PATTERN
            return Assessment(verdict, reason, signals.acute)
        kind = signals.topical or danger.kind
        if not signals.informational:
            if danger.probability >= limits.classifier_sure:
                return Assessment(Verdict.CRISIS, Reason.CLASSIFIER, kind)
            if nlu >= limits.nlu_sure:
                return Assessment(Verdict.CRISIS, Reason.NLU, kind)
        if signals.topical is not None and signals.informational:
            return Assessment(Verdict.NONE, Reason.INFORMATIONAL, signals.topical, footer=True)
        if signals.topical is not None:
            return Assessment(Verdict.CHECK_IN, Reason.DANGER_WORD, kind)
        if _small_talk(reading, limits.small_talk):
            return Assessment(Verdict.NONE, Reason.SMALL_TALK)
        if _confident(reading, limits.confident_reading) and nlu < limits.nlu_unsure:
            return Assessment(Verdict.NONE, Reason.CONFIDENT_READING)
        if danger.probability >= limits.classifier_unsure:
            return Assessment(Verdict.CHECK_IN, Reason.CLASSIFIER, kind)
        if nlu >= limits.nlu_unsure:
            return Assessment(Verdict.CHECK_IN, Reason.NLU, kind)
        return NOTHING


def _intent_confidence(reading: Understanding | None, intent: str) -> float:
    if reading is None:
        return 0.0
    return next((p for name, p in reading.ranking if name == intent), 0.0)


def _small_talk(reading: Understanding | None, confidence: float) -> bool:
    return _confident(reading, confidence) and reading is not None and reading.intent in SMALL_TALK


def _confident(reading: Understanding | None, confidence: float) -> bool:
    """The NLU is sure of a topic that is not danger."""
    return (
        reading is not None
        and reading.intent not in (CRISIS_INTENT, FALLBACK_INTENT)
        and reading.confidence >= confidence
    )
