"""Natural-language understanding behind one small interface.

The dialogue only needs an intent, its confidence, the runner-up intents and entities;
where they come from (a Rasa model loaded in this process, or a Rasa server over HTTP)
is chosen by configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

FALLBACK_INTENT = "nlu_fallback"
CRISIS_INTENT = "crisis"  # the NLU's own reading of danger, one signal of the crisis net
# What readiness probes parse: it proves the model answers, and it is no one's message.
READINESS_PROBE = "bonjour"


class NLUUnavailable(Exception):
    """The NLU could not answer (server down, timeout, model not loaded)."""


@dataclass(frozen=True)
class Entity:
    """An entity value after synonym mapping, e.g. drug=cannabis for "yamba"."""

    name: str
    value: str


@dataclass(frozen=True)
class Understanding:
    """What the NLU made of one message."""

    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...] = ()
    entities: tuple[Entity, ...] = ()

    @property
    def top_intent(self) -> str:
        """The classifier's best real intent, even when the fallback took over: what the
        model thinks, used for evaluation and for the clarifying menu."""
        return next((name for name, _ in self.ranking if name != FALLBACK_INTENT), self.intent)

    def entity(self, name: str) -> str | None:
        """The first value found for entity `name`, if any."""
        return next((e.value for e in self.entities if e.name == name), None)


class NLU(Protocol):
    """Anything that turns a text into an Understanding."""

    async def parse(self, text: str) -> Understanding:
        """Classify `text`; raise NLUUnavailable when it cannot."""
        ...  # pragma: no cover

    async def ready(self) -> bool:
        """Whether free text can be parsed right now (readiness probes): a real parse of
        a fixed phrase, never answered from a cache."""
        ...  # pragma: no cover

    async def close(self) -> None:
        """Release resources."""
        ...  # pragma: no cover


def from_rasa_parse(data: dict[str, Any]) -> Understanding:
    """Convert Rasa's parse dict (in-process or `/model/parse`) into an Understanding.

    DIET and the regex extractor may both report the same entity: keep one of each.
    """
    intent = data.get("intent") or {}
    ranking = tuple(
        (str(item["name"]), float(item.get("confidence", 0.0)))
        for item in data.get("intent_ranking") or []
        if item.get("name")
    )
    seen: set[tuple[str, str]] = set()
    entities = []
    for item in data.get("entities") or []:
        key = (str(item.get("entity")), str(item.get("value")))
        if key not in seen:
            seen.add(key)
            entities.append(Entity(*key))
    return Understanding(
        intent=str(intent.get("name") or FALLBACK_INTENT),
        confidence=float(intent.get("confidence") or 0.0),
        ranking=ranking,
        entities=tuple(entities),
    )
