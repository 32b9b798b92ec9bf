"""The answer catalog: messages from `responses/messages/*.yml`, rendered in a locale.

A message has French source text (or a singular/plural pair), the sources it rests on,
and rows of buttons. A button's action is what Telegram sends back as `callback_data`
(at most 64 bytes), so every action is checked here at load time: a typo in a content
file fails the start-up with its file and line, not a user's button press.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol

import msgspec
from babel.support import NullTranslations
from msgspec import Meta

from bot.content.i18n import LOCALES, SOURCE_LOCALE, load_translations
from bot.content.phones import check_no_phone_numbers
from bot.dialogue.do import Do
from bot.services.directory import Service
from bot.yamlfile import ContentError, Said, convert, line_of, load_yaml

MAX_CALLBACK_BYTES = 64
# Actions a button may carry besides `show:<message id>`; the dialogue engine handles them.
ACTION_PREFIXES = ("show:", "do:", "lang:", "intent:", "quiz:")
# The `do:` actions the dialogue engine runs (`Engine._do`; a test presses each one).
DO_ACTIONS = frozenset(action.value for action in Do)
# Messages the engine never shows through a `show:` button (keyboard labels, topic names,
# the counsellors' quick replies).
UNSHOWABLE_PREFIXES = ("key.", "topic.", "quick.")


@dataclass(frozen=True)
class Button:
    """One inline button: a label to show and the action sent back when pressed."""

    label: str
    action: str


@dataclass(frozen=True)
class Message:
    """A message as written in the content files (French source)."""

    id: str
    text: str
    plural: str | None
    sources: tuple[str, ...]
    buttons: tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Rendered:
    """A message ready to send: text and button labels in the reader's language."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass(frozen=True)
class EmergencyLine:
    """A line shown in every crisis answer: a label and the numbers of a directory entry."""

    label: str
    number: str
    verified: bool


class Catalog:
    """All messages and the translations to render them."""

    def __init__(
        self,
        messages: Mapping[str, Message],
        translations: Mapping[str, NullTranslations],
        emergency: Iterable[EmergencyLine],
    ) -> None:
        self._messages = dict(messages)
        self._translations = dict(translations)
        self.emergency = tuple(emergency)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._messages

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._messages)

    def message(self, message_id: str) -> Message:
        return self._messages[message_id]

    def gettext(self, text: str, locale: str) -> str:
        return self._translations.get(locale, self._translations[SOURCE_LOCALE]).gettext(text)

    def emergency_block(self, locale: str) -> str:
        """The emergency numbers, one per line, labels translated."""
        unverified = self.render("emergency.unverified", locale).text
        return "\n".join(
            f"☎️ {self.gettext(line.label, locale)} : {line.number}"
            + ("" if line.verified else f" ({unverified})")
            for line in self.emergency
        )

    def emergency_line(self, locale: str) -> str:
        """The first emergency line alone, for a check-in or a footer."""
        first = self.emergency[0]
        return f"{self.gettext(first.label, locale)} : {first.number}"

    def render(
        self, message_id: str, locale: str, count: int | None = None, **params: Any
    ) -> Rendered:
        """Translate a message and fill its `{placeholders}`.

        `{emergency}` and `{emergency_line}` are always available; plural messages need `count`, which is also
        available to the text as `{count}` (formatted by the caller if it wants to).
        """
        message = self._messages[message_id]
        translations = self._translations.get(locale, self._translations[SOURCE_LOCALE])
        if message.plural is not None:
            if count is None:
                raise ValueError(f"{message_id} is a plural message: pass count")
            text = translations.ngettext(message.text, message.plural, count)
            params.setdefault("count", count)
        else:
            text = translations.gettext(message.text)
        if "{emergency}" in text:
            params.setdefault("emergency", self.emergency_block(locale))
        if "{emergency_line}" in text:
            params.setdefault("emergency_line", self.emergency_line(locale))
        if params:
            text = text.format(**params)
        buttons = tuple(
            tuple(Button(translations.gettext(b.label), b.action) for b in row)
            for row in message.buttons
        )
        return Rendered(text=text, buttons=buttons)


Action = Annotated[str, Meta(pattern="^(" + "|".join(ACTION_PREFIXES) + ")")]


class _Button(msgspec.Struct, forbid_unknown_fields=True):
    label: Said
    action: Action


class _Plural(msgspec.Struct, forbid_unknown_fields=True):
    one: Said
    other: Said


class _Message(msgspec.Struct, forbid_unknown_fields=True):
    """One message as a content file writes it: a row of buttons is one button or a list."""

    text: Said | _Plural
    sources: list[str] = []
    buttons: list[_Button | list[_Button]] = []


class _EmergencyEntry(msgspec.Struct, forbid_unknown_fields=True):
    service: Said
    label: Said


_HINTS = {
    "text": "a non-empty string, or {one, other} for a plural",
    "text.one": "a non-empty string",
    "text.other": "a non-empty string",
    "sources": "a list of strings",
    "buttons": "a list of rows, each a button {label, action} or a list of them",
    "buttons.label": "a non-empty string",
    "buttons.action": f"an action starting with one of {', '.join(ACTION_PREFIXES)}",
    "service": "the id of a directory entry",
    "label": "a non-empty string",
}


def _parse_message(message_id: str, data: Any, path: Path) -> Message:
    if not isinstance(data, dict):
        raise ContentError(path, None, message_id, "must be a mapping with at least `text`")
    message = convert(path, data, _Message, message_id, _HINTS)
    rows = []
    for r, row in enumerate(message.buttons):
        buttons = row if isinstance(row, list) else [row]
        for c, button in enumerate(buttons):
            if len(button.action.encode()) > MAX_CALLBACK_BYTES:
                raw = data["buttons"][r]
                raise ContentError(
                    path,
                    line_of(raw[c] if isinstance(raw, list) else raw),
                    f"{message_id}.buttons.action",
                    f"{button.action!r} is longer than Telegram's {MAX_CALLBACK_BYTES}-byte limit",
                )
        rows.append(tuple(Button(b.label.strip(), b.action.strip()) for b in buttons))
    text = message.text
    return Message(
        id=message_id,
        text=(text if isinstance(text, str) else text.one).strip(),
        plural=None if isinstance(text, str) else text.other.strip(),
        sources=tuple(message.sources),
        buttons=tuple(rows),
    )


def load_messages(messages_dir: Path) -> dict[str, Message]:
    """Read every `*.yml` under `messages_dir`; duplicate ids are an error."""
    messages: dict[str, Message] = {}
    places: dict[tuple[str, str], tuple[Path, int | None]] = {}  # (id, action) → file, line
    for path in sorted(messages_dir.glob("*.yml")):
        check_no_phone_numbers(path)
        document = load_yaml(path) or {}
        entries = document.get("messages")
        if not isinstance(entries, dict):
            raise ContentError(path, line_of(document), "messages", "missing top-level mapping")
        for message_id, data in entries.items():
            if message_id == "__line__":
                continue
            if message_id in messages:
                raise ContentError(path, line_of(data), message_id, "defined twice")
            messages[message_id] = _parse_message(message_id, data, path)
            for row in data.get("buttons") or []:
                for item in row if isinstance(row, list) else [row]:
                    places[message_id, str(item["action"]).strip()] = (path, line_of(item))
    for message in messages.values():
        for row in message.buttons:
            for button in row:
                problem = _unresolved(button.action, messages)
                if problem:
                    path, line = places[message.id, button.action]
                    raise ContentError(path, line, f"{message.id}.buttons.action", problem)
    return messages


def _unresolved(action: str, messages: Mapping[str, Message]) -> str | None:
    """Why the engine would answer this button with "Ce bouton n'est plus valable", or None.

    `quiz:` buttons name a quiz, which only `bot.awareness` knows: they are checked where
    quizzes and messages meet (`check_references`)."""
    kind, _, target = action.partition(":")
    if kind == "show" and (target not in messages or target.startswith(UNSHOWABLE_PREFIXES)):
        return f"{action!r}: no message {target!r} to show"
    if kind == "do" and target not in DO_ACTIONS:
        return f"{action!r}: no dialogue action {target!r} (one of {', '.join(sorted(DO_ACTIONS))})"
    if kind == "intent" and f"topic.{target}" not in messages:
        return f"{action!r}: no intent {target!r} (it needs a topic.{target} message)"
    if kind == "lang" and target not in LOCALES:
        return f"{action!r}: no language {target!r} (one of {', '.join(LOCALES)})"
    return None


def load_emergency(path: Path, services: Sequence[Service]) -> list[EmergencyLine]:
    """Read the crisis lines; each names a directory entry that has phone numbers."""
    directory = {service.id: service for service in services}
    check_no_phone_numbers(path)
    document = load_yaml(path) or {}
    lines = []
    for raw in document.get("emergency") or []:
        entry = convert(path, raw, _EmergencyEntry, "emergency", _HINTS)
        service_id = entry.service.strip()
        service = directory.get(service_id)
        if service is None or not service.phones:
            raise ContentError(
                path,
                line_of(raw),
                "emergency.service",
                f"{service_id!r} is not a directory entry with phone numbers",
            )
        lines.append(
            EmergencyLine(
                label=entry.label.strip(),
                number=" · ".join(service.phones),
                verified=service.verified,
            )
        )
    if not lines:
        raise ContentError(path, None, "emergency", "at least one line is required")
    return lines


def load_catalog(responses_dir: Path, locales_dir: Path, services: Sequence[Service]) -> Catalog:
    """Load messages, the crisis lines and compiled translations for all LOCALES."""
    translations = load_translations(locales_dir)
    assert set(translations) == set(LOCALES)
    return Catalog(
        messages=load_messages(responses_dir / "messages"),
        translations=translations,
        emergency=load_emergency(responses_dir / "emergency.yml", services),
    )


class _Offers(Protocol):
    """A quiz or a weekly message: offers `more` ("En savoir plus") at its end."""

    @property
    def more(self) -> str | None: ...


def check_references(
    messages_dir: Path,
    catalog: Catalog,
    quizzes: Mapping[str, _Offers],
    weekly: Mapping[str, _Offers],
) -> None:
    """What only the whole content can tell: a quiz's `more` is a message, a weekly
    message's `more` a quiz or a message, a `quiz:` button an existing quiz."""
    for quiz_id, quiz in quizzes.items():
        if quiz.more is not None and quiz.more not in catalog:
            raise ContentError(
                messages_dir.parent / "quizzes" / f"{quiz_id}.yml",
                None,
                "more",
                f"no message {quiz.more!r}",
            )
    for weekly_id, message in weekly.items():
        if message.more is not None and message.more not in catalog and message.more not in quizzes:
            raise ContentError(
                messages_dir.parent / "weekly.yml",
                None,
                f"{weekly_id}.more",
                f"{message.more!r} is neither a quiz nor a message",
            )
    for message_id in catalog.ids:
        for row in catalog.message(message_id).buttons:
            for button in row:
                kind, _, target = button.action.partition(":")
                if kind == "quiz" and target.split(":")[0] not in quizzes:
                    raise ContentError(
                        messages_dir,
                        None,
                        f"{message_id}.buttons.action",
                        f"{button.action!r}: no quiz {target!r}",
                    )
