"""Per-chat dialogue state, stored as JSON in Redis between updates."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import msgspec

from bot.content.i18n import SOURCE_LOCALE
from bot.nlu.safety import Crisis


class Flow(str, Enum):
    """A conversation that spans several messages and keeps what is typed out of the NLU."""

    REPORT = "report"
    FOLLOWUP = "followup"
    COUNSEL = "counsel"  # talking to a counsellor: every text goes to them

    @property
    def holds_draft(self) -> bool:
        """A report or follow-up keeps what is typed in the state: it expires quickly. A
        conversation with a counsellor keeps only its id, and may wait long in a queue."""
        return self is not Flow.COUNSEL


class Step(str, Enum):
    """Where a flow stands: what the next message or button answers."""

    # report
    CATEGORY = "category"
    WHERE = "where"
    WHEN = "when"
    WHAT = "what"
    REVIEW = "review"
    # follow-up
    CODE = "code"
    PASSPHRASE = "passphrase"  # noqa: S105 - a step name: its message is deleted once read
    VIEW = "view"
    ADD_TEXT = "add_text"
    ADD_CONFIRM = "add_confirm"


class Pending(str, Enum):
    """A question waiting for a yes or a no."""

    CONFIRM_REPORT = "confirm_report"  # "do you want to report something?"
    CHECK_IN = "checkin"  # "are you in danger now?"


@dataclass(frozen=True)
class ChatState:
    """Everything Sini remembers about a chat: no identity, no message text.

    locale:  the language answers are written in (fr, bm or en)
    chosen_locale: set when the user picked a language; then the text's language is not
             guessed any more
    drug:    the drug last talked about, so "how do I stop?" needs no repetition
    pending: a question waiting for a yes/no
    service_kind: the kind of help being looked for, kept while the user says where
    flow, step: the report or follow-up flow in progress and its step
    draft:   the tip being written (Draft JSON). The store encrypts the whole state at rest
             and lets it expire quickly while a flow is active.
    code, note: the receipt code and the text being added during a follow-up
    quiz:    the quiz run in progress (QuizProgress.dumps())
    campaign: the deep-link payload that brought this conversation, for campaign counts
    danger:  the kind of danger a check-in asked about ("are you in danger now?")
    deferred: the topic (an intent name) to answer if the check-in is answered "no"
    counsel: the id of the conversation with a counsellor (flow COUNSEL), kept after it
             ends until the "did it help?" question is answered
    clarified: how many clarifying menus in a row were answered (the second one offers a
             counsellor); any other answer sets it back to 0
    """

    locale: str | None = None
    chosen_locale: str | None = None
    drug: str | None = None
    pending: Pending | None = None
    service_kind: str | None = None
    flow: Flow | None = None
    step: Step | None = None
    draft: str | None = None
    code: str | None = None
    note: str | None = None
    quiz: str | None = None
    campaign: str | None = None
    danger: Crisis | None = None
    deferred: str | None = None
    counsel: str | None = None
    clarified: int = 0

    @property
    def language(self) -> str:
        """The locale to write in: the chat's, or the source language before it is known."""
        return self.locale or SOURCE_LOCALE

    def to_json(self) -> str:
        return _ENCODER.encode(self).decode()

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> ChatState:
        """Parse stored state (unknown fields are ignored, missing ones take their default);
        anything the schema refuses starts a fresh conversation."""
        if not raw:
            return cls()
        try:
            return _DECODER.decode(raw)
        except msgspec.DecodeError:  # also raised for a value the schema refuses
            return cls()


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(ChatState)
