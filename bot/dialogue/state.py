"""Per-chat dialogue state, stored as JSON in Redis between updates."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from bot.content.i18n import SOURCE_LOCALE


@dataclass(frozen=True)
class ChatState:
    """Everything Sini remembers about a chat: no identity, no message text.

    locale:  the language answers are written in (fr, bm or en)
    chosen_locale: set when the user picked a language; then the text's language is not
             guessed any more
    drug:    the drug last talked about, so "how do I stop?" needs no repetition
    pending: a question waiting for a yes/no (e.g. "confirm_report")
    service_kind: the kind of help being looked for, kept while the user says where
    flow, step: the report or follow-up flow in progress and its step
    draft:   the tip being written (Draft JSON). The store encrypts the whole state at rest
             and lets it expire quickly while a flow is active.
    code, note: the receipt code and the text being added during a follow-up
    quiz:    the quiz run in progress (QuizProgress.dumps())
    campaign: the deep-link payload that brought this conversation, for campaign counts
    danger:  the kind of danger a check-in asked about ("are you in danger now?")
    deferred: the topic (an intent name) to answer if the check-in is answered "no"
    """

    locale: str | None = None
    chosen_locale: str | None = None
    drug: str | None = None
    pending: str | None = None
    service_kind: str | None = None
    flow: str | None = None
    step: str | None = None
    draft: str | None = None
    code: str | None = None
    note: str | None = None
    quiz: str | None = None
    campaign: str | None = None
    danger: str | None = None
    deferred: str | None = None

    @property
    def language(self) -> str:
        """The locale to write in: the chat's, or the source language before it is known."""
        return self.locale or SOURCE_LOCALE

    def to_json(self) -> str:
        # Every field is a string or None: no need for `asdict`'s recursive deep copy,
        # which cost a tenth of the bot's own CPU for an update.
        return json.dumps({name: getattr(self, name) for name in _FIELDS}, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> ChatState:
        """Parse stored state; anything unreadable starts a fresh conversation."""
        if not raw:
            return cls()
        try:
            data: Any = json.loads(raw)
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        values = {
            k: v for k, v in data.items() if k in _FIELDS and (v is None or isinstance(v, str))
        }
        return cls(**values)


_FIELDS = tuple(f.name for f in fields(ChatState))
