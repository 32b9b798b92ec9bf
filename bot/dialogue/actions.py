"""What a button (or a command, or a keyboard key) asks the engine to do, as typed values.

An action travels as Telegram's callback data: `encode` writes it and `decode` reads it
back (the content files' buttons and the quiz answers of `bot.awareness.quiz` are written
as text; a test decodes every one). The wire strings are the ones earlier versions wrote
(`"svc:reg:Nioro du Sahel"`, `"rep:cat:drug_trafficking"`, `"do:menu"`…), so buttons
already sitting in people's chats keep working.

An action's wire form is its prefix (one table, `_PREFIXES`), then its fields in order,
joined by ":". A field is a string, a number, an enum member, or an optional string whose
absence has a word of its own (`ABSENT`). Callback data can be forged: whatever `decode`
cannot read raises `UnknownAction`, which the adapters turn into a "this button is no
longer valid" answer. Whether a well-formed action still makes sense (a region that
exists, a quiz question still being asked) is the engine's decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, is_dataclass
from enum import Enum
from types import NoneType, UnionType
from typing import ClassVar, Union, cast, get_args, get_origin, get_type_hints

from bot.awareness.quiz import AnswerChoice, StartQuiz
from bot.dialogue.do import Do as Do
from sini.counselling.model import Origin
from tips.model import Category, When

MAX_CALLBACK_BYTES = 64
"""Telegram's limit on callback data."""
SEPARATOR = ":"
_NUMBER = re.compile(r"[0-9]{1,6}")  # ASCII digits only: int() would also read "²" or "٣"


class UnknownAction(ValueError):
    """Callback data Sini cannot read: from a version long gone, damaged, or forged."""


class Confirm(Enum):
    """`confirm:<what>`: ask before starting something ("report a tip?")."""

    REPORT = "report"


class ReportButton(Enum):
    """`rep:<name>`: the report flow's buttons that carry no value."""

    START = "start"
    REVIEW = "review"
    MORE = "more"
    SEND = "send"
    ERASE = "erase"
    KEEP = "keep"


class FollowupButton(Enum):
    """`fol:<name>`: the follow-up flow's buttons."""

    ADD = "add"


@dataclass(frozen=True)
class Show:
    """Show a message of the catalog."""

    message_id: str


@dataclass(frozen=True)
class ShowPart:
    """ "➡️ Suite": a page after the first of a message too long for one screen."""

    message_id: str
    part: int


@dataclass(frozen=True)
class MoreChoices:
    """ "➕ Plus…": a message's buttons from the `start`-th on."""

    message_id: str
    start: int


@dataclass(frozen=True)
class ShowSources:
    """ "📚 Sources": what a health or legal message rests on."""

    message_id: str


@dataclass(frozen=True)
class SetLanguage:
    """Answer in this locale from now on."""

    locale: str


@dataclass(frozen=True)
class AskIntent:
    """A topic picked from the clarifying menu: answer as if the NLU had read it."""

    intent: str


@dataclass(frozen=True)
class PickKind:
    """The kind of help looked for; None: any kind."""

    ABSENT: ClassVar[str] = "any"
    kind: str | None


@dataclass(frozen=True)
class ServicesIn:
    """The services of a region (a directory region name)."""

    region: str


@dataclass(frozen=True)
class RegionPage:
    """The page of the region picker that starts at this index."""

    start: int


@dataclass(frozen=True)
class MoreServices:
    """The rest of a region's list, from this offset ("Plus…")."""

    region: str
    offset: int


@dataclass(frozen=True)
class ServiceInfo:
    """A service's full card."""

    service_id: str


@dataclass(frozen=True)
class CounselOffer:
    """ "💬 Talk to someone", offered after an answer: the consent, for `origin`."""

    origin: Origin


@dataclass(frozen=True)
class CounselJoin:
    """Yes to the counselling consent, or to leaving a message out of hours (`origin`
    MESSAGE): how the young person came to ask."""

    origin: Origin


@dataclass(frozen=True)
class ReportCategory:
    """What the tip is about."""

    category: Category


@dataclass(frozen=True)
class ReportRegion:
    """Where it happened (a directory region name); None: the tipster would rather not say."""

    ABSENT: ClassVar[str] = "unknown"
    region: str | None


@dataclass(frozen=True)
class ReportWhen:
    """When it happened."""

    when: When


ScreenAction = ShowPart | MoreChoices | ShowSources
"""The buttons that page through a message too big for one screen (bot.dialogue.screens)."""
ServiceAction = PickKind | ServicesIn | RegionPage | MoreServices | ServiceInfo
ReportAction = ReportButton | ReportCategory | ReportRegion | ReportWhen
QuizAction = StartQuiz | AnswerChoice
"""`quiz:<id>` and `quiz:<id>:<position>:<question>:<choice>` (see bot.awareness.quiz)."""
FlowAction = ReportAction | FollowupButton
"""The actions that belong to a report or a follow-up: pressing them keeps it going."""
Action = (
    Do
    | Confirm
    | Show
    | ScreenAction
    | SetLanguage
    | AskIntent
    | ServiceAction
    | FlowAction
    | QuizAction
    | CounselOffer
    | CounselJoin
)

# The wire prefix of each kind of action. Value-less actions are enum members (the prefix,
# then the member's value); the others are dataclasses, their fields in declaration order.
# Two kinds may share a prefix when their number of fields tells them apart.
_PREFIXES: dict[type, str] = {
    Do: "do",
    Confirm: "confirm",
    Show: "show",
    ShowPart: "page",
    MoreChoices: "more",
    ShowSources: "src",
    SetLanguage: "lang",
    AskIntent: "intent",
    PickKind: "svc:kind",
    ServicesIn: "svc:reg",
    RegionPage: "svc:regs",
    MoreServices: "svc:more",
    ServiceInfo: "svc:info",
    ReportButton: "rep",
    ReportCategory: "rep:cat",
    ReportRegion: "rep:reg",
    ReportWhen: "rep:when",
    FollowupButton: "fol",
    CounselJoin: "counsel:join",
    CounselOffer: "counsel:offer",
    StartQuiz: "quiz",
    AnswerChoice: "quiz",
}
_BY_PREFIX: dict[str, tuple[type, ...]] = {
    prefix: tuple(kind for kind, its in _PREFIXES.items() if its == prefix)
    for prefix in _PREFIXES.values()
}


def _schema(kind: type) -> tuple[tuple[str, object], ...]:
    """(name, type) of a dataclass action's fields, in wire order."""
    hints = get_type_hints(kind)
    return tuple((field.name, hints[field.name]) for field in fields(kind))


_SCHEMAS: dict[type, tuple[tuple[str, object], ...]] = {
    kind: _schema(kind) for kind in _PREFIXES if is_dataclass(kind)
}


def encode(action: Action) -> str:
    """The callback data of an action. ValueError when it cannot travel (a value holding
    the separator, or longer than Telegram allows): a programming error, not a user's."""
    prefix = _PREFIXES[type(action)]
    if isinstance(action, Enum):
        values = [str(action.value)]
    else:
        values = [_write(action, name, hint) for name, hint in _SCHEMAS[type(action)]]
    if any(not value or SEPARATOR in value for value in values):
        raise ValueError(f"{action!r} cannot be written as callback data")
    data = SEPARATOR.join((prefix, *values))
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"{data!r} is longer than Telegram's {MAX_CALLBACK_BYTES}-byte limit")
    return data


def decode(data: str) -> Action:
    """The action in callback data; UnknownAction for anything `encode` would not write."""
    if len(data.encode(errors="replace")) > MAX_CALLBACK_BYTES:
        raise UnknownAction("callback data too long")
    parts = data.split(SEPARATOR)
    # The longer prefix first: "rep:cat:…" is a category, "rep:send" a plain button.
    for width in (2, 1):
        candidates = _BY_PREFIX.get(SEPARATOR.join(parts[:width]), ())
        values = parts[width:]
        for kind in candidates:
            action = _read(kind, values)
            if action is not None:
                return action
    raise UnknownAction("not an action Sini writes")


def _read(kind: type, values: list[str]) -> Action | None:
    if issubclass(kind, Enum):
        if len(values) != 1:
            return None
        return cast(Action | None, kind._value2member_map_.get(values[0]))
    schema = _SCHEMAS[kind]
    if len(values) != len(schema):
        return None
    try:
        parsed = [
            _parse(kind, value, hint) for value, (_, hint) in zip(values, schema, strict=True)
        ]
    except ValueError:
        return None
    return cast(Action, kind(*parsed))


def _parse(kind: type, value: str, hint: object) -> object:
    """One field from its text; ValueError when the text is not one `_write` produces."""
    if not value:
        raise ValueError("empty field")
    if _is_optional(hint):
        return None if value == kind.ABSENT else value  # type: ignore[attr-defined]
    if hint is int:
        if not _NUMBER.fullmatch(value):
            raise ValueError("not a number")
        return int(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    return value


def _write(action: object, name: str, hint: object) -> str:
    value = getattr(action, name)
    if value is None and _is_optional(hint):
        return str(type(action).ABSENT)  # type: ignore[attr-defined]
    return str(value.value if isinstance(value, Enum) else value)


def _is_optional(hint: object) -> bool:
    return get_origin(hint) in (Union, UnionType) and NoneType in get_args(hint)
