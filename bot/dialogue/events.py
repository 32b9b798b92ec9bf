"""What a user can do, independent of Telegram: the engine's input vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field


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
class AttachmentEvent:
    """A photo, voice note, video or document. Only a reference is carried (Telegram's
    file_id): the file is downloaded, stripped and sealed at submission, never before."""

    kind: str
    file_ref: str = field(repr=False)
    size: int | None = None
    mime_type: str | None = None


@dataclass(frozen=True)
class UnsupportedEvent:
    """Anything Sini cannot read: stickers, polls, contacts, edits of old messages…"""

    kind: str


Event = TextEvent | ButtonEvent | CommandEvent | LocationEvent | AttachmentEvent | UnsupportedEvent
