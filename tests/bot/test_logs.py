"""Logs never carry message text, identities or the bot token — even from libraries."""

from __future__ import annotations

import io
import logging

import structlog

from bot import logs


def test_sensitive_fields_and_tokens_are_redacted() -> None:
    stream = io.StringIO()
    logs.configure("DEBUG", "json", stream=stream)
    structlog.get_logger("bot.test").info(
        "update",
        text="je vends du yamba",
        user_id=12345,
        username="awa",
        url="https://api.telegram.org/bot123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123/getMe",
    )
    out = stream.getvalue()
    assert "yamba" not in out
    assert "12345" not in out
    assert "awa" not in out
    assert "ABCdefGHI" not in out


def test_rasa_debug_parse_line_is_silenced() -> None:
    stream = io.StringIO()
    logs.configure("DEBUG", "json", stream=stream)
    structlog.get_logger("rasa.core.processor").debug(
        "processor.message.parse", parse_data_text="mon secret"
    )
    logging.getLogger("httpx").info(
        "HTTP Request: POST https://api.telegram.org/bot1:x/sendMessage"
    )
    assert stream.getvalue() == ""
