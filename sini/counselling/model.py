"""The values of a counselling conversation, free of storage and of any channel.

A conversation never carries who is talking: it is known by a random id, shown to the
counsellor as a pseudonym derived from that id; the chat to answer is sealed apart
(`store`). Its messages are kept sealed, never in these values' stored form.
"""

from __future__ import annotations

import math
from enum import Enum, IntEnum

import msgspec

from tips.model import AttachmentMeta

PSEUDONYM_RANGE = 10_000  # "Jeune n° 0000" to "Jeune n° 9999"


class Status(str, Enum):
    WAITING = "waiting"  # in the queue, nobody has claimed it yet
    ACTIVE = "active"  # a counsellor holds it
    CLOSED = "closed"  # ended by either side; kept until its retention ends


class Origin(str, Enum):
    """How the young person came to ask for a counsellor."""

    MENU = "menu"  # the main menu's button
    INTENT = "intent"  # said so in their own words
    CRISIS = "crisis"  # offered after a crisis answer
    CHECK_IN = "checkin"  # offered after "are you in danger now?" answered yes
    CLARIFY = "clarify"  # offered after two clarifying menus in a row
    MESSAGE = "message"  # out of hours: a message left for later


class Risk(IntEnum):
    """How urgently a conversation needs a counsellor; a higher value goes first. Risk
    only rises during a conversation (`Conversation.raised`)."""

    ORDINARY = 0
    UNSURE = 1  # the crisis net asked "are you in danger now?"
    CRISIS = 2  # the crisis net recognised acute danger


class Change(str, Enum):
    """What a change to the conversations concerns, for the consoles that show it live."""

    QUEUE = "queue"  # someone waits, was claimed, left the queue or moved in it: every console
    CONVERSATION = "conversation"  # a held one has a message, a new risk, or ended: its holder's


class Author(str, Enum):
    YOUNG = "young"
    COUNSELLOR = "counsellor"


class Conversation(msgspec.Struct, frozen=True, kw_only=True):
    """One conversation's stored description: nothing in it identifies anyone.

    requested: when the young person asked (epoch seconds), the queue's tie-break
    counsellor: the account holding it (ACTIVE, and CLOSED after a counsellor held it)
    claimed: when a counsellor first took it (kept through transfers and a return to the
        queue: the wait and the duration are counted from it)
    """

    id: str
    locale: str
    origin: Origin
    risk: Risk = Risk.ORDINARY
    status: Status = Status.WAITING
    requested: float
    counsellor: str | None = None
    claimed: float | None = None
    closed: float | None = None

    @property
    def pseudonym(self) -> int:
        """The number the counsellor knows the young person by, stable for a conversation."""
        return int(self.id[:8], 16) % PSEUDONYM_RANGE

    def raised(self, risk: Risk) -> Conversation:
        """This conversation at `risk`, unless it is already at least that urgent."""
        return self if risk <= self.risk else msgspec.structs.replace(self, risk=risk)


class Message(msgspec.Struct, frozen=True):
    """One message of a conversation, as kept sealed. `alias`: the counsellor's chosen
    name, for what a counsellor wrote; `attachment`: a photo, voice note, video or file
    the young person sent (its bytes are sealed apart, under its `index`)."""

    author: Author
    at: float
    text: str
    alias: str | None = None
    attachment: AttachmentMeta | None = None


class Reply(msgspec.Struct, frozen=True):
    """What the bot delivers to the young person: a counsellor's message, the notice that
    another counsellor takes over (`handover`, `text` None), or the notice that the
    counsellor ended the conversation (`text` None)."""

    conversation: str
    locale: str
    alias: str
    text: str | None = None
    handover: bool = False


def queue_score(risk: Risk, requested: float) -> float:
    """The queue's order in one number (lowest first): higher risk first, then who asked
    first. Epoch seconds stay far below the gap between two risk levels."""
    return (Risk.CRISIS - risk) * 1e11 + requested


def expected_wait(position: int, recent_waits: list[float]) -> int | None:
    """Minutes the young person at `position` (1: next) may wait, from how long the last
    people waited; None while there is no such history (then no figure is promised)."""
    if not recent_waits:
        return None
    average = sum(recent_waits) / len(recent_waits)
    return max(1, math.ceil(average * position / 60))
