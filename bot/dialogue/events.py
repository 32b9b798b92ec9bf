"""What a user can do, independent of Telegram: the engine's input vocabulary."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextEvent:
    """A free-text message."""

    text: str


@dataclass(frozen=True)
class ButtonEvent:
    """An inline button was pressed; `action` is its callback data, which may be forged."""

    action: str


@dataclass(frozen=True)
class CommandEvent:
    """A /command, with what followed it (a deep-link payload for /start)."""

    name: str
    argument: str = ""


@dataclass(frozen=True)
class LocationEvent:
    """A shared location."""

    latitude: float
    longitude: float


@dataclass(frozen=True)
class UnsupportedEvent:
    """Anything Sini cannot read: stickers, polls, contacts, edits of old messages…"""

    kind: str


Event = TextEvent | ButtonEvent | CommandEvent | LocationEvent | UnsupportedEvent
