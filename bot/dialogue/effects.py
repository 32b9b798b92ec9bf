"""Work the engine asks its caller to do, and what came of it.

The engine stays pure: when a turn needs storage (submitting a tip, opening one with a
receipt) it returns an effect; the assistant performs it and hands the outcome back to
`Engine.resolve`, which words the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from sini.counselling.model import Origin, Risk
from sini.counselling.store import Queued
from tips.model import AttachmentRef, Draft, TipView
from tips.receipts import Receipt


@dataclass(frozen=True)
class SubmitTip:
    """Seal and store this draft as a tip."""

    draft: Draft


@dataclass(frozen=True)
class OpenFollowup:
    """Open a tip with its receipt, for the tipster."""

    code: str
    passphrase: str = field(repr=False)


@dataclass(frozen=True)
class AddFollowup:
    """Append the tipster's new information to a tip."""

    code: str
    passphrase: str = field(repr=False)
    text: str = field(repr=False)


@dataclass(frozen=True)
class EraseChat:
    """Delete this conversation's messages from the chat (Telegram only)."""


@dataclass(frozen=True)
class Subscribe:
    """Add this chat to the opt-in weekly prevention messages, in `locale`."""

    locale: str


@dataclass(frozen=True)
class Unsubscribe:
    """Remove this chat from the weekly messages, at once."""


@dataclass(frozen=True)
class RequestCounsellor:
    """Join the counselling queue (when counsellors are on duty, or to leave a message:
    `origin` MESSAGE)."""

    origin: Origin
    risk: Risk
    locale: str


@dataclass(frozen=True)
class OfferCounsellor:
    """Offer to talk to a counsellor after this answer (`origin`: what led to it): to
    talk now when counsellors answer, else to leave a message."""

    origin: Origin


@dataclass(frozen=True)
class Relay:
    """Pass what the young person wrote (or the photo, voice note or file they sent,
    `attachment`, downloaded by the assistant) to their conversation, at `risk` at least."""

    conversation: str
    text: str = field(repr=False)
    risk: Risk
    attachment: AttachmentRef | None = field(default=None, repr=False)


@dataclass(frozen=True)
class EndCounselling:
    """The young person ends the conversation."""

    conversation: str


@dataclass(frozen=True)
class CounselFeedback:
    """ "Did it help?" answered: counted anonymously."""

    helped: bool


Effect = (
    SubmitTip
    | OpenFollowup
    | AddFollowup
    | EraseChat
    | Subscribe
    | Unsubscribe
    | RequestCounsellor
    | OfferCounsellor
    | Relay
    | EndCounselling
    | CounselFeedback
)


class Failure(str, Enum):
    """Why an effect could not be done; each has its own kind answer."""

    INVALID = "invalid"  # wrong code or passphrase (never says which)
    LOCKED = "locked"  # too many wrong passphrases for this code
    QUOTA = "quota"  # too many tips from this chat today
    UNAVAILABLE = "unavailable"  # storage down: nothing lost, try again
    NOT_READY = "not_ready"  # the desk has not created its keys yet: reports cannot be sealed
    UNSUPPORTED = "unsupported"  # this channel cannot do it (erasing in a terminal)
    ALREADY_STORED = "already_stored"  # this draft was stored already: no second tip
    UNSTAFFED = "unstaffed"  # out of hours, or no counsellor on duty
    ENDED = "ended"  # the counsellor has ended the conversation


@dataclass(frozen=True)
class Done:
    """The effect succeeded; `receipt` after a submission, `view` after opening a tip,
    `queued` after joining the counselling queue."""

    receipt: Receipt | None = None
    view: TipView | None = None
    queued: Queued | None = None


Outcome = Done | Failure
