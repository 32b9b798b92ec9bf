"""Answers that fit a phone: no message longer than a screen, no more than six buttons.

A catalog message longer than a screen (`bot.dialogue.cards.PHONE_TEXT_LIMIT`) is shown a page at a time, each page ending
with "➡️ Suite (2/3)"; the message's own buttons come with its last page. A message with
more buttons than `MAX_BUTTONS` shows the first ones and "➕ Plus…", which shows the rest
under a short line. A health or legal message (one that has sources) also gets
"📚 Sources", which lists them.

Pages, further choices and sources are rendered again from the message id when their
button is pressed, so a button pressed days later shows the text as it is then; one whose
page or choice no longer exists gets None (the engine's "this button has expired").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.content import Button, Catalog
from bot.dialogue.actions import MoreChoices, Show, ShowPart, ShowSources, encode
from bot.dialogue.cards import split_for_phone
from bot.dialogue.replies import Reply

MAX_BUTTONS = 6
"""Buttons a message shows at most: more do not fit a phone screen without scrolling."""


Rows = tuple[tuple[Button, ...], ...]


class Screens:
    """Catalog messages cut to a phone's size, and what their paging buttons show."""

    def __init__(self, catalog: Catalog, showable: frozenset[str]) -> None:
        """`showable`: the messages a `show:` button may open (the sources' "back")."""
        self.catalog = catalog
        self.showable = showable

    def page(
        self, message_id: str, locale: str, part: int = 0, *, fallback: Rows = ()
    ) -> Reply | None:
        """Page `part` of a message; its last page carries the message's buttons, or
        `fallback` when it has none. None: no such page."""
        rendered = self.catalog.render(message_id, locale)
        pages = split_for_phone(rendered.text)
        if not 0 <= part < len(pages):
            return None
        if part < len(pages) - 1:
            label = self.catalog.render("screen.next", locale, page=part + 2, pages=len(pages)).text
            following = Button(label, encode(ShowPart(message_id, part + 1)))
            return Reply(pages[part], ((following,),))
        return Reply(pages[part], self.buttons(message_id, rendered.buttons or fallback, locale))

    def buttons(self, message_id: str, rows: Rows, locale: str) -> Rows:
        """A message's buttons, with "📚 Sources" when it has sources, at most
        `MAX_BUTTONS`: past that, the first ones and "➕ Plus…"."""
        extras: Rows = ()
        if self.catalog.message(message_id).sources:
            label = self.catalog.render("screen.sources", locale).text
            extras = ((Button(label, encode(ShowSources(message_id))),),)
        return self._at_most(message_id, rows, extras, 0, locale)

    def choices(self, message_id: str, start: int, locale: str) -> Reply | None:
        """ "➕ Plus…": the message's buttons from the `start`-th on. None when there are
        none left (the message has changed since)."""
        rows = self.catalog.render(message_id, locale).buttons
        if not 0 < start < _count(rows):
            return None
        text = self.catalog.render("screen.more", locale).text
        return Reply(text, self._at_most(message_id, rows, (), start, locale))

    def sources(self, message_id: str, locale: str) -> tuple[Reply, ...]:
        """What a message rests on, in as many messages as it takes; the last one leads
        back to the message. Empty when it names no sources."""
        sources = self.catalog.message(message_id).sources
        if not sources:
            return ()
        intro = self.catalog.render("screen.sources_intro", locale).text
        text = "\n".join((intro, *(f"• {source}" for source in sources)))
        back: Rows = ()
        if message_id in self.showable:
            label = self.catalog.render("screen.back", locale).text
            back = ((Button(label, encode(Show(message_id))),),)
        return split_reply(text, back)

    def _at_most(self, message_id: str, rows: Rows, extras: Rows, start: int, locale: str) -> Rows:
        """`rows` from their `start`-th button on, then `extras`, keeping `MAX_BUTTONS`."""
        rest = _from(rows, start)
        if _count(rest) + _count(extras) <= MAX_BUTTONS:
            return rest + extras
        keep = MAX_BUTTONS - 1 - _count(extras)
        label = self.catalog.render("screen.more_button", locale).text
        more = ((Button(label, encode(MoreChoices(message_id, start + keep))),),)
        return _first(rest, keep) + extras + more


def split_reply(text: str, buttons: Rows = (), *, protect: bool = False) -> tuple[Reply, ...]:
    """A text that must be read whole before its buttons (a consent, a crisis's first
    aid): as many messages as fit a phone, the buttons under the last one."""
    pages = split_for_phone(text) or [text]
    replies = [Reply(page, protect=protect) for page in pages]
    replies[-1] = replace(replies[-1], buttons=buttons)
    return tuple(replies)


def _count(rows: Sequence[Sequence[Button]]) -> int:
    return sum(len(row) for row in rows)


def _first(rows: Rows, count: int) -> Rows:
    """The first `count` buttons, in their rows."""
    kept: list[tuple[Button, ...]] = []
    for row in rows:
        if count <= 0:
            break
        kept.append(row[:count])
        count -= len(row)
    return tuple(kept)


def _from(rows: Rows, start: int) -> Rows:
    """The buttons from the `start`-th on, in their rows."""
    kept: list[tuple[Button, ...]] = []
    for row in rows:
        if start >= len(row):
            start -= len(row)
            continue
        kept.append(row[start:])
        start = 0
    return tuple(kept)
