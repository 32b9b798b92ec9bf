"""What a user can do, independent of Telegram: the engine's input vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.dialogue.actions import Action, UnknownAction, decode
from tips.model import AttachmentKind, AttachmentRef


@dataclass(frozen=True)
class TextEvent:
    """A free-text message."""

    text: str


@dataclass(frozen=True)
class ButtonEvent:
    """An inline button was pressed; `action` is its callback data, decoded by the adapter
    (`bot.dialogue.actions.decode`). Well-formed is not genuine: the data may be forged
    or the button stale, and the engine checks that the action still makes sense."""

    action: Action


@dataclass(frozen=True)
class ExpiredButtonEvent:
    """An inline button whose callback data cannot be read (an old version's, damaged or
    forged): answered with "this button is no longer valid"."""


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

    def ref(self) -> AttachmentRef | None:
        """The attachment to fetch later, or None for a kind a tip or a conversation does
        not take."""
        try:
            kind = AttachmentKind(self.kind)
        except ValueError:
            return None
        return AttachmentRef(kind, self.file_ref, self.size, self.mime_type)


@dataclass(frozen=True)
class UnsupportedEvent:
    """Anything Sini cannot read: stickers, polls, contacts, edits of old messages…"""

    kind: str


@dataclass(frozen=True)
class CounsellorEnded:
    """Not the user's doing: the counsellor `alias` ended the conversation `conversation`
    from the console (delivered through the outbox, `bot.adapters.counsellor_replies`)."""

    conversation: str
    alias: str


Event = (
    TextEvent
    | ButtonEvent
    | ExpiredButtonEvent
    | CommandEvent
    | LocationEvent
    | AttachmentEvent
    | UnsupportedEvent
    | CounsellorEnded
)


def button_event(data: str) -> ButtonEvent | ExpiredButtonEvent:
    """The event for a pressed button's callback data, read at the adapter's edge."""
    try:
        return ButtonEvent(decode(data))
    except UnknownAction:
        return ExpiredButtonEvent()
