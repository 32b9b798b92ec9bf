"""What the dashboard answers when it refuses a request, in one table.

Views raise — a domain exception (`TipNotFound`, `StoreConflict`…) or one of the refusals
below — and never catch: `staff.app` installs one Starlette exception handler that looks
the exception up here (by class, most specific first) and answers either

- a `Page`: the French error page with its HTTP status, or
- a `Notice`: back to the page the form came from (303), with a fixed notice
  (`web.MESSAGES`); no user text ever travels in the URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from sini.counselling.store import (
    AlreadyClaimed,
    AtLimit,
    ConversationNotFound,
    EmptyMessage,
    NotHeld,
)
from staff.accounts import AccountMissing
from tips.crypto import DecryptionFailed, MalformedSealed
from tips.keys import DeskKeyError
from tips.model import (
    EmptyText,
    InvalidTransition,
    MalformedData,
    TextTooLong,
    TipValidationError,
    TooManyLabels,
)
from tips.stored import StoreConflict, TipNotFound


@dataclass(frozen=True)
class Page:
    """The error page, with `message` and the HTTP `status`."""

    status: int
    message: str


@dataclass(frozen=True)
class Notice:
    """Back to the form's page (or to `page` when set), showing the notice `key`."""

    key: str
    page: str | None = None


class Refused(Exception):
    """A refusal a view or the session guard raises itself, with its answer."""

    def __init__(self, answer: Page | Notice) -> None:
        super().__init__(answer)
        self.answer = answer


class NotFound(Refused):
    def __init__(self, message: str) -> None:
        super().__init__(Page(404, message))


class Forbidden(Refused):
    """Refused for who is asking (the refusal is audited before this is raised)."""

    def __init__(self, message: str) -> None:
        super().__init__(Page(403, message))


class FormRefused(Refused):
    """A form the desk refuses (a reason missing, one's own account…)."""

    def __init__(self, notice: str) -> None:
        super().__init__(Notice(notice))


UNREADABLE = Page(500, "Ce signalement est illisible (données abîmées).")

# Domain exceptions → answers. An exception not found here (nor any of its bases) is not
# a refusal but a fault: the 500 page of `staff.app`.
ANSWERS: dict[type[Exception], Page | Notice] = {
    TipNotFound: Page(404, "Signalement introuvable (peut-être purgé)."),
    DecryptionFailed: Page(
        409,
        "Votre clé ne déchiffre pas ce signalement : la clé du bureau a peut-être été "
        "renouvelée. Reconnectez-vous.",
    ),
    MalformedSealed: UNREADABLE,
    MalformedData: UNREADABLE,
    EmptyText: Notice("empty_text"),
    TextTooLong: Notice("text_too_long"),
    InvalidTransition: Notice("transition"),
    # The store's other refusals of what a form wrote (a status change's reason too long).
    TooManyLabels: Notice("too_many_labels"),
    TipValidationError: Notice("text_too_long"),
    StoreConflict: Notice("conflict"),
    AccountMissing: Notice("unknown_account"),
    DeskKeyError: Notice("stale_key", page="/"),
    AlreadyClaimed: Notice("already_claimed"),
    AtLimit: Notice("at_limit"),
    NotHeld: Notice("not_held"),
    ConversationNotFound: Notice("conversation_gone"),
    EmptyMessage: Notice("empty_text"),
}


def answer_for(error: Exception) -> Page | Notice | None:
    """The answer to `error`: its own (a `Refused`), or that of its most specific class
    in `ANSWERS`; None when it is not a refusal."""
    if isinstance(error, Refused):
        return error.answer
    for kind in type(error).__mro__:
        if kind in ANSWERS:
            return ANSWERS[kind]
    return None
