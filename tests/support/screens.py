"""What a phone shows of a catalog message: all of it, or its first screen
(`bot.dialogue.screens` pages anything longer than `PHONE_TEXT_LIMIT`)."""

from __future__ import annotations

from bot.content import Catalog
from bot.dialogue.cards import split_for_phone


def first_screen(catalog: Catalog, message_id: str, locale: str = "fr") -> str:
    return screens(catalog, message_id, locale)[0]


def screens(catalog: Catalog, message_id: str, locale: str = "fr") -> list[str]:
    """Every screen of a message read whole (a notice, a crisis's first aid)."""
    return split_for_phone(catalog.render(message_id, locale).text)
