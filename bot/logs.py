"""Logging that cannot leak who wrote what.

Sini's own code logs event names and counters only. This module also guards against the
libraries: Rasa logs every parsed message text at DEBUG (`parse_data_text`), httpx logs
request URLs (which contain the bot token) at INFO and python-telegram-bot logs request
payloads at DEBUG. Their loggers are capped, and a last processor redacts any field whose
name suggests message text or identity, and anything shaped like a bot token.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Library loggers and the most verbose level they may use, whatever LOG_LEVEL says.
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
}

_SENSITIVE_KEY = re.compile(
    r"text|message_text|username|first_name|last_name|user_id|chat_id|phone|contact|"
    r"location|latitude|longitude|token|passphrase|password",
    re.IGNORECASE,
)
_BOT_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
REDACTED = "[redacted]"


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Drop values of sensitive-looking fields and mask bot tokens in the rest."""
    for key in list(event_dict):
        if key in {"event", "level", "timestamp", "logger"}:
            continue
        if _SENSITIVE_KEY.search(key):
            event_dict[key] = REDACTED
        elif isinstance(event_dict[key], str):
            event_dict[key] = _BOT_TOKEN.sub(REDACTED, event_dict[key])
    if isinstance(event_dict.get("event"), str):
        event_dict["event"] = _BOT_TOKEN.sub(REDACTED, event_dict["event"])
    return event_dict


_applied: dict[str, Any] = {}


def reapply() -> None:
    """Configure again as last configured: loading a Rasa model resets the root logger's
    level to WARNING (which would silence Sini's own events), so the NLU calls this after
    loading or training."""
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
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name, ceiling in _LIBRARY_CEILINGS.items():
        logging.getLogger(name).setLevel(max(numeric, ceiling))


def get_logger(name: str) -> Any:
    """A structlog logger named like the module, so its level follows the stdlib tree."""
    return structlog.get_logger(name)
