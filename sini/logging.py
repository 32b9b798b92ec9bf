"""Logging that cannot leak who wrote what.

Sini's own code logs event names and counters only. The libraries are another matter:
Rasa logs every parsed message text at DEBUG, httpx logs request URLs (which contain the
bot token), Pillow prints a photo's EXIF (camera serial, GPS position) at DEBUG, and
python-telegram-bot logs a whole raw update — the sender's id, names and username — at
CRITICAL when it cannot read it. So every record passes four guards on its way out:

1. Ceilings. A library's records below its ceiling (WARNING unless listed below) are
   dropped whatever LOG_LEVEL says, even if the library lowers its own logger's level.
   Libraries' own handlers are removed, so their records all reach the guarded handler.
2. Library messages lose their data. A library's message is rendered from its format
   string alone: each interpolated argument becomes a placeholder such as `<dict>`
   (small numbers stay). Structured fields of library events are redacted the same way.
3. Exceptions lose their messages. A traceback keeps its frames and exception types; the
   messages (which can quote data) are withheld, for Sini's records as for libraries'.
4. The last line. Any record whose rendered message or exception text still contains a
   Telegram update, user or chat — a `User(…)`-style repr, a `"from": {` key, a
   `'first_name': …` pair — is replaced by the event `log.withheld`, with its level and
   logger name only. Fields already redacted do not count.

And structlog redacts any field whose name suggests message text or identity, and
anything shaped like a bot token, in every record.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import traceback
from collections.abc import Iterator, Mapping, MutableMapping
from types import TracebackType
from typing import Any

import structlog

# Sini's own loggers: their level follows LOG_LEVEL, and they log event names only.
OWN_LOGGERS = ("bot", "tips", "staff", "sini", "__main__")

# The most verbose level each library may use, whatever LOG_LEVEL says; any logger not
# listed (by itself or a parent) gets DEFAULT_CEILING.
DEFAULT_CEILING = logging.WARNING
_LIBRARY_CEILINGS = {
    "rasa": logging.WARNING,
    "tensorflow": logging.ERROR,
    "absl": logging.ERROR,
    "h5py": logging.WARNING,
    "matplotlib": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,
    "apscheduler": logging.WARNING,
    "asyncio": logging.WARNING,
    "sanic": logging.WARNING,
    "urllib3": logging.WARNING,
    "PIL": logging.WARNING,
    "uvicorn": logging.WARNING,
    "tornado": logging.WARNING,
}

_SENSITIVE_KEY = re.compile(
    r"text|message_text|username|first_name|last_name|user_id|chat_id|phone|contact|"
    r"location|latitude|longitude|token|passphrase|password",
    re.IGNORECASE,
)
_BOT_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
REDACTED = "[redacted]"
WITHHELD = "log.withheld"  # the event that replaces a record showing a Telegram object
MESSAGE_WITHHELD = "[message withheld]"
SMALL_NUMBER = 100_000  # numbers at least this large may be ids: never printed from libraries
_META_KEYS = frozenset({"event", "level", "logger", "timestamp"})

# --- what a Telegram update, user or chat looks like once printed --------------------------
_Q = r"""[\\"']*"""  # optional quotes, possibly escaped (JSON inside a JSON string)
_NOT_REDACTED = rf"(?!{_Q}\[redacted\])"
# A field that only Telegram objects carry, with a value (dict or JSON `k: v`, repr `k=v`).
_IDENTITY_FIELDS = (
    "first_name|last_name|username|from_user|is_bot|language_code|phone_number|user_id|"
    "chat_id|sender_chat|chat_instance|update_id|inline_message_id"
)
# A quoted key holding an object: `"from": {`, `'chat': {`, `"callback_query": {` …
_OBJECT_FIELDS = (
    "from|chat|user|message|edited_message|channel_post|callback_query|poll|poll_answer|"
    "inline_query|my_chat_member|chat_member|chat_join_request|sender_chat|contact"
)
_TELEGRAM_SHAPES = re.compile(
    rf"{_Q}\b(?:{_IDENTITY_FIELDS})\b{_Q}\s*[:=]\s*{_NOT_REDACTED}"
    rf"|\\?[\"'](?:{_OBJECT_FIELDS})\\?[\"']\s*:\s*\{{",
    re.IGNORECASE,
)
# python-telegram-bot's repr: `User(first_name='Awa', id=1, is_bot=False)`.
_REPR = re.compile(r"\b([A-Z][A-Za-z]+)\(\w+=")
_FALLBACK_TELEGRAM_CLASSES = frozenset(
    {"Update", "User", "Chat", "ChatFullInfo", "Message", "CallbackQuery", "Poll",
     "PollAnswer", "InlineQuery", "ChosenInlineResult", "ChatMemberUpdated",
     "ChatJoinRequest", "Contact", "Location", "PreCheckoutQuery", "ShippingQuery",
     "MessageReactionUpdated", "BusinessConnection", "InaccessibleMessage"}
)  # fmt: skip
_telegram_classes: frozenset[str] | None = None


def _telegram_class_names() -> frozenset[str]:
    """Every class python-telegram-bot prints as `Name(field=…)` (its TelegramObjects)."""
    global _telegram_classes
    if _telegram_classes is None:
        _telegram_classes = _FALLBACK_TELEGRAM_CLASSES  # meanwhile, should the import log
        with contextlib.suppress(ImportError):  # the staff dashboard may run without PTB
            import telegram

            _telegram_classes |= {
                name
                for name, value in vars(telegram).items()
                if isinstance(value, type) and issubclass(value, telegram.TelegramObject)
            }
    return _telegram_classes


def shows_telegram_object(text: str) -> bool:
    """Whether `text` holds a printed Telegram update, user or chat (or a piece of one)."""
    if _TELEGRAM_SHAPES.search(text):
        return True
    classes = _telegram_class_names()
    return any(match.group(1) in classes for match in _REPR.finditer(text))


# --- library records: the format string without the data ---------------------------------
_FORMAT_SPEC = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?"
    r"(?P<conversion>[diouxXeEfFgGcrsa%])"
)
_MISSING = object()


def _placeholder(value: Any) -> str:
    """How a library's interpolated value is shown: booleans, None and small integers as
    they are (counts, status codes), anything else by its type only."""
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, int) and abs(value) < SMALL_NUMBER:
        return str(value)
    if value is _MISSING:
        return "<missing>"
    return f"<{type(value).__name__}>"


def scrub_message(template: object, args: Any) -> str:
    """A library's message with every `%` argument replaced by its placeholder."""
    if not isinstance(template, str):
        return _placeholder(template)
    if not args:
        return template  # logging does not interpolate without arguments
    mapping = args if isinstance(args, Mapping) else {}
    positional = iter(args if isinstance(args, tuple) else (args,))

    def replace(match: re.Match[str]) -> str:
        if match["conversion"] == "%":
            return "%"
        if match["key"] is not None:
            return _placeholder(mapping.get(match["key"], _MISSING))
        return _placeholder(next(positional, _MISSING))

    return _FORMAT_SPEC.sub(replace, template)


def _scrub_fields(event_dict: MutableMapping[str, Any]) -> None:
    """A library's structured event keeps its name; its fields keep small numbers only."""
    for key, value in event_dict.items():
        if key in _META_KEYS or key == "exception" or value == REDACTED:
            continue
        if _placeholder(value) != str(value):  # not a small number, a boolean or None
            event_dict[key] = REDACTED


# --- exceptions: frames and types, no messages ----------------------------------------------
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _exc_info(value: Any) -> ExcInfo | None:
    """Normalise what `exc_info=` accepts (True, an exception, a tuple) to a tuple."""
    if isinstance(value, BaseException):
        return (type(value), value, value.__traceback__)
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return (value[0], value[1], value[2])
    if value is True:
        current = sys.exc_info()
        if current[1] is not None:
            return (type(current[1]), current[1], current[2])
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The exception and those it was raised from or during, oldest first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__suppress_context__:
            current = None
        else:
            current = current.__context__
    return reversed(chain)


def _qualified(kind: type[BaseException]) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def safe_traceback(error: BaseException) -> str:
    """A traceback with every frame and exception type, and no exception message."""
    parts: list[str] = []
    for exception in _chain(error):
        if parts:
            parts.append("\nwhich led to:\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_list(traceback.extract_tb(exception.__traceback__)))
        parts.append(f"{_qualified(type(exception))}: {MESSAGE_WITHHELD}\n")
    return "".join(parts).rstrip("\n")


def safe_exc_info(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog's `format_exc_info`, with the messages withheld."""
    info = _exc_info(event_dict.pop("exc_info", None))
    if info is not None:
        event_dict["exception"] = safe_traceback(info[1])
    return event_dict


# --- the filter on the one handler ---------------------------------------------------------
def is_own(name: str) -> bool:
    """Whether a logger is Sini's own (`bot`, `tips`, `staff` and their children)."""
    return any(name == own or name.startswith(own + ".") for own in OWN_LOGGERS)


def ceiling(name: str) -> int:
    """The most verbose level a library logger may use: its own or its nearest parent's
    entry in the ceilings, else DEFAULT_CEILING."""
    while name not in _LIBRARY_CEILINGS:
        if "." not in name:
            return DEFAULT_CEILING
        name = name.rsplit(".", 1)[0]
    return _LIBRARY_CEILINGS[name]


def _exception_messages(info: ExcInfo) -> str:
    """What the exceptions of a chain say (their frames are code, not data)."""
    said = []
    for exception in _chain(info[1]):
        try:
            said.append(f"{_qualified(type(exception))}: {exception}")
        except Exception:  # a broken __str__ must not stop logging
            said.append(repr(type(exception)))
    return "\n".join(said)


def _shown_text(record: logging.LogRecord) -> str:
    """Everything of a record that could carry data to the output: its rendered message
    (the values of a structlog event, redacted ones and the already safe traceback left
    out) and what its exceptions say."""
    parts: list[str] = []
    if isinstance(record.msg, Mapping):
        parts += [
            str(value)
            for key, value in record.msg.items()
            if key not in _META_KEYS and key != "exception" and value != REDACTED
        ]
        parts.append(str(record.msg.get("event", "")))
    else:
        try:
            parts.append(record.getMessage())
        except Exception:  # a bad format string: look at its pieces instead
            parts += [str(record.msg), repr(record.args)]
    info = _exc_info(record.exc_info)
    if info is not None:
        parts.append(_exception_messages(info))
    if record.exc_text:
        parts.append(record.exc_text)
    return "\n".join(parts)


def withhold(record: logging.LogRecord) -> None:
    """Replace a record's content by the event `log.withheld`: level and logger remain."""
    if isinstance(record.msg, Mapping):
        kept = {key: record.msg[key] for key in _META_KEYS - {"event"} if key in record.msg}
        record.msg = {**kept, "event": WITHHELD}
    else:
        record.msg = WITHHELD
    record.args = ()
    record.exc_info = None
    record.exc_text = None
    record.stack_info = None


class LeakGuard(logging.Filter):
    """The last line, on the handler every record reaches: ceilings for libraries, their
    data replaced by placeholders, and records showing a Telegram object withheld."""

    def __init__(self, floor: int = logging.NOTSET) -> None:
        super().__init__()
        self.floor = floor  # LOG_LEVEL: no library record is more verbose than this either

    def filter(self, record: logging.LogRecord) -> bool:
        own = is_own(record.name)
        if not own and record.levelno < max(self.floor, ceiling(record.name)):
            return False
        if shows_telegram_object(_shown_text(record)):
            withhold(record)
            return True
        if not own:
            if isinstance(record.msg, MutableMapping):
                _scrub_fields(record.msg)
            else:
                record.msg = scrub_message(record.msg, record.args)
                record.args = ()
        record.exc_text = None  # the exception is rendered by safe_exc_info, from exc_info
        return True


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Drop values of sensitive-looking fields and mask bot tokens in the rest."""
    for key in list(event_dict):
        if key in _META_KEYS:
            continue
        if _SENSITIVE_KEY.search(key):
            event_dict[key] = REDACTED
        elif isinstance(event_dict[key], str):
            event_dict[key] = _BOT_TOKEN.sub(REDACTED, event_dict[key])
    if isinstance(event_dict.get("event"), str):
        event_dict["event"] = _BOT_TOKEN.sub(REDACTED, event_dict["event"])
    return event_dict


def route_library_loggers() -> None:
    """Take away the handlers libraries gave their own loggers (TensorFlow adds one when
    it finds none on the root), so every record goes through the guarded root handler."""
    for name, candidate in list(logging.root.manager.loggerDict.items()):
        if not isinstance(candidate, logging.Logger) or is_own(name):
            continue
        candidate.handlers[:] = [h for h in candidate.handlers if type(h) is logging.NullHandler]
        candidate.propagate = True


_applied: dict[str, Any] = {}


def reapply() -> None:
    """Configure again as last configured: loading a Rasa model resets the root logger's
    level to WARNING (which would silence Sini's own events) and may add handlers, so the
    NLU calls this after loading or training."""
    if _applied:
        configure(**_applied)


def configure(level: str = "INFO", fmt: str = "console", stream: Any = None) -> None:
    """Configure structlog and the standard library to write one safe line per event."""
    _applied.update(level=level, fmt=fmt, stream=stream)
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            safe_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(LeakGuard(numeric))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, safe_exc_info],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    _telegram_class_names()  # here rather than inside the first logging call
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    route_library_loggers()
    for name, library_ceiling in _LIBRARY_CEILINGS.items():
        logging.getLogger(name).setLevel(max(numeric, library_ceiling))


def get_logger(name: str) -> Any:
    """A structlog logger named like the module, so its level follows the stdlib tree."""
    return structlog.get_logger(name)
