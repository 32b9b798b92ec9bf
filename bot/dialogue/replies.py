"""What the engine answers, independent of Telegram: adapters only draw it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.content import Button


@dataclass(frozen=True)
class Key:
    """A key of the reply keyboard under the input field."""

    label: str
    request_location: bool = False


@dataclass(frozen=True)
class Reply:
    """One message to send: text, inline buttons, and optionally a new reply keyboard."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    keyboard: tuple[tuple[Key, ...], ...] | None = None
