"""What the engine answers, independent of Telegram: adapters only draw it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.content import Button
from bot.dialogue.effects import Effect
from bot.dialogue.state import ChatState
from sini.counselling.store import Queued


@dataclass(frozen=True)
class Key:
    """A key of the reply keyboard under the input field."""

    label: str
    request_location: bool = False


@dataclass(frozen=True)
class Reply:
    """One message to send: text, inline buttons, and optionally a new reply keyboard.

    `protect` asks Telegram to forbid forwarding and saving (used for everything in the
    report flow, and for receipts above all). `place`: the place in the counselling queue
    this message shows; the adapter tells the store the sent message's id, so that the
    message is edited when the place changes (`sini.counselling.store.moved_places`)."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    keyboard: tuple[tuple[Key, ...], ...] | None = None
    protect: bool = False
    place: Queued | None = None


@dataclass(frozen=True)
class Turn:
    """The engine's answer: replies to send, the state to store, and the anonymous topic
    to count (an intent or action name; never text).

    `effect` is storage work for the assistant to do before answering (see effects.py);
    `forget_message` asks the adapter to delete the user's message (a passphrase);
    `quiz` reports ("started" | "completed", quiz id, score) for the anonymous counters."""

    replies: tuple[Reply, ...]
    state: ChatState
    topic: str | None = None
    effect: Effect | None = None
    forget_message: bool = False
    quiz: tuple[str, str, int] | None = None
