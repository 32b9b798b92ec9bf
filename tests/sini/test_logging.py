"""Logs never carry message text, identities, photo metadata or the bot token — even
from libraries, at any level, CRITICAL included."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import telegram
from telegram import Bot, Update, User
from telegram.ext import Updater
from telegram.request import HTTPXRequest

from bot.adapters import telegram as adapter
from sini import logging as logs
from sini.redis_server import free_port
from tests.support.log_privacy import COORDINATES, EXIF_STRINGS, Identity, portrait_with_exif
from tips.media import strip_image

PERSON = Identity(6_150_427_391, "Kadiatoumata", "Sangaréfolo", "kadia_leak_7731")
TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything logged during the test, as JSON lines, at LOG_LEVEL=DEBUG."""
    stream = io.StringIO()
    logs.configure("DEBUG", "json", stream=stream)
    yield stream
    logs.configure("DEBUG")


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def leaks(text: str) -> list[str]:
    """The person's identity in `text`, in plain or JSON-escaped form."""
    return [
        needle for needle in PERSON.needles() if needle in text or json.dumps(needle)[1:-1] in text
    ]


def raw_update(update_id: int = 1, **extra: Any) -> dict[str, Any]:
    """A text message from the person, as Telegram sends it."""
    message = {
        "message_id": 7,
        "date": int(time.time()),
        "chat": PERSON.chat(),
        "from": PERSON.user(),
        "text": "bonjour",
    }
    return {"update_id": update_id, "message": {**message, **extra}}


def unreadable_callback(update_id: int) -> dict[str, Any]:
    """A button press whose message has no message_id: PTB 22 cannot build it."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": "99",
            "from": PERSON.user(),
            "chat_instance": "-1",
            "data": "do:menu",
            "message": {"date": int(time.time()), "chat": PERSON.chat()},
        },
    }


def unreadable_poll(update_id: int) -> dict[str, Any]:
    """A message with a poll missing the fields PTB 22 requires."""
    return raw_update(update_id, poll={"id": "p", "question": PERSON.first_name})


# --- structlog fields -----------------------------------------------------------------------


def test_sensitive_fields_and_tokens_are_redacted(captured: io.StringIO) -> None:
    structlog.get_logger("bot.test").info(
        "update",
        text="je vends du yamba",
        user_id=12345,
        username="awa",
        url=f"https://api.telegram.org/bot{TOKEN}/getMe",
    )
    out = captured.getvalue()
    assert "yamba" not in out
    assert "12345" not in out
    assert "awa" not in out
    assert "ABCdefGHI" not in out
    assert lines(captured)[0]["event"] == "update", "redacted fields are no leak"


def test_rasa_debug_parse_line_is_silenced(captured: io.StringIO) -> None:
    structlog.get_logger("rasa.core.processor").debug(
        "processor.message.parse", parse_data_text="mon secret"
    )
    logging.getLogger("httpx").info(
        "HTTP Request: POST https://api.telegram.org/bot1:x/sendMessage"
    )
    assert captured.getvalue() == ""


# --- the last line: Telegram objects are withheld, at every level --------------------------


def test_ptbs_critical_dump_of_an_unreadable_update_is_withheld(captured: io.StringIO) -> None:
    """What python-telegram-bot 22 logs when it cannot read a getUpdates answer."""
    try:
        Update.de_json(unreadable_callback(5), None)
    except TypeError as error:
        logging.getLogger("telegram.Bot").critical(
            "Error while parsing updates! Received data was %r",
            [unreadable_callback(5)],
            exc_info=error,
        )
    out = captured.getvalue()
    assert leaks(out) == []
    [record] = lines(captured)
    assert record == {
        "event": logs.WITHHELD,
        "level": "critical",
        "logger": "telegram.Bot",
        "timestamp": record["timestamp"],
    }


def printed_forms() -> dict[str, str]:
    """A Telegram update or user as libraries and careless code print them."""
    update = raw_update()
    user = User(PERSON.user_id, PERSON.first_name, False, PERSON.last_name, PERSON.username)
    return {
        "dict repr": repr(update),
        "json": json.dumps(update),
        "compact json": json.dumps(update, separators=(",", ":")),
        "json inside json": json.dumps({"body": json.dumps(update)}),
        "update repr": repr(Update.de_json(update, None)),
        "user repr": f"sender {user!r}",
        "user dict": repr(user.to_dict()),
        "bare user json": json.dumps({"id": 1, "username": PERSON.username}),
        "kwargs": f"from_user={PERSON.first_name}",
    }


@pytest.mark.parametrize("form", sorted(printed_forms()))
@pytest.mark.parametrize("logger", ["telegram.ext.Updater", "some.library", "bot.adapters"])
@pytest.mark.parametrize("level", [logging.ERROR, logging.CRITICAL])
def test_a_printed_telegram_object_is_withheld_from_any_logger(
    captured: io.StringIO, form: str, logger: str, level: int
) -> None:
    logging.getLogger(logger).log(level, "received %s", printed_forms()[form])
    logging.getLogger(logger).log(level, f"received {printed_forms()[form]}")  # no args
    assert leaks(captured.getvalue()) == []
    assert [record["event"] for record in lines(captured)] == [logs.WITHHELD] * 2


def test_a_telegram_object_in_a_structlog_field_or_an_exception_is_withheld(
    captured: io.StringIO,
) -> None:
    structlog.get_logger("bot.test").error("bot.odd", detail=repr(raw_update()))
    try:
        raise ValueError(f"cannot handle {raw_update()}")
    except ValueError:
        logging.getLogger("telegram.ext.Application").exception("handler failed")
        structlog.get_logger("bot.test").exception("bot.failed")
    assert leaks(captured.getvalue()) == []
    assert [record["event"] for record in lines(captured)] == [logs.WITHHELD] * 3


def test_redacted_fields_and_event_names_are_not_taken_for_telegram_objects(
    captured: io.StringIO,
) -> None:
    structlog.get_logger("bot.test").info(
        "telegram.update_unreadable", error_type="TypeError", username="x", chat_id=5
    )
    logging.getLogger("telegram.ext.Application").info("Application started")
    assert [record["event"] for record in lines(captured)] == [
        "telegram.update_unreadable",
        "Application started",
    ]


# --- ceilings and library data --------------------------------------------------------------


def test_pillow_prints_no_exif_at_debug(captured: io.StringIO) -> None:
    """Pillow's TiffImagePlugin logs every EXIF tag (make, serial, time, GPS) at DEBUG
    while tips.media strips them."""
    strip_image(portrait_with_exif())
    out = captured.getvalue()
    assert [needle for needle in EXIF_STRINGS + COORDINATES if needle in out] == []


def test_a_library_cannot_lower_its_own_ceiling(captured: io.StringIO) -> None:
    for name in ("PIL.TiffImagePlugin", "telegram.Bot", "unknown.library", "asyncio"):
        logging.getLogger(name).setLevel(logging.DEBUG)
        logging.getLogger(name).debug("debug %s", "data")
    logging.getLogger("unknown.library").info("info %s", "data")
    logging.getLogger("telegram.ext.Application").info("Application started")
    logging.getLogger("unknown.library").warning("warning")
    assert [(r["logger"], r["event"]) for r in lines(captured)] == [
        ("telegram.ext.Application", "Application started"),
        ("unknown.library", "warning"),
    ]


def test_a_library_message_keeps_its_format_but_not_its_data(captured: io.StringIO) -> None:
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    logging.getLogger("httpx").warning(
        'HTTP Request: %s %s "%s %d %s"', "POST", url, "1.1", 429, ""
    )
    logging.getLogger("some.library").error("chat %d at %.4f, %s", PERSON.user_id, 12.6392, True)
    logging.getLogger("some.library").error("%(who)s said %(what)r", {"who": "x", "what": "y"})
    logging.getLogger("some.library").error("100%% done, %s", PERSON.username)
    assert [record["event"] for record in lines(captured)] == [
        'HTTP Request: <str> <str> "<str> 429 <str>"',
        "chat <int> at <float>, True",
        "<str> said <str>",
        "100% done, <str>",
    ]
    assert "ABCdef" not in captured.getvalue()


def test_a_library_structlog_event_keeps_its_name_and_small_numbers(
    captured: io.StringIO,
) -> None:
    structlog.get_logger("rasa.core.processor").warning(
        "processor.slow", message="mon secret", took=3, sender=PERSON.user_id
    )
    [record] = lines(captured)
    assert record["event"] == "processor.slow"
    assert record["took"] == 3
    assert record["message"] == record["sender"] == logs.REDACTED


def test_exceptions_keep_their_frames_and_types_but_not_their_messages(
    captured: io.StringIO,
) -> None:
    said = "le texte de la victime"
    try:
        try:
            raise KeyError(said)
        except KeyError as inner:
            raise RuntimeError(f"encore {said}") from inner
    except RuntimeError as error:
        logging.getLogger("telegram.ext.Application").error("failed", exc_info=error)
        structlog.get_logger("bot.test").error("bot.failed", exc_info=error)
    assert said not in captured.getvalue()
    for record in lines(captured):
        exception = record["exception"]
        assert exception.count("Traceback (most recent call last):") == 2
        assert "KeyError: [message withheld]" in exception
        assert "RuntimeError: [message withheld]" in exception
        assert Path(__file__).name in exception


def test_handlers_libraries_give_themselves_are_taken_away(captured: io.StringIO) -> None:
    """TensorFlow adds its own handler when it finds none on the root: its records would
    skip the guard."""
    theirs = io.StringIO()
    library = logging.getLogger("tensorflow.privacy_test")
    library.addHandler(logging.StreamHandler(theirs))
    library.propagate = False
    logs.reapply()
    library.error("sender %s", repr(raw_update()))
    assert theirs.getvalue() == ""
    assert [record["event"] for record in lines(captured)] == [logs.WITHHELD]


# --- python-telegram-bot's unreadable updates, answered by the bot -------------------------


def test_unreadable_updates_in_a_getupdates_answer_become_bare_ids(
    captured: io.StringIO,
) -> None:
    answer = {"ok": True, "result": [raw_update(1), unreadable_callback(2), unreadable_poll(3)]}
    readable = json.loads(adapter.readable_updates_payload(json.dumps(answer).encode()))
    assert readable == {"ok": True, "result": [raw_update(1), {"update_id": 2}, {"update_id": 3}]}
    assert lines(captured) == [
        {
            "error_type": "TypeError",
            "event": adapter.UNREADABLE_EVENT,
            "level": "warning",
            "logger": "bot.adapters.telegram",
            "timestamp": record["timestamp"],
        }
        for record in lines(captured)
    ]
    assert len(lines(captured)) == 2


def test_a_readable_getupdates_answer_is_passed_on_untouched() -> None:
    payload = json.dumps({"ok": True, "result": [raw_update(1)]}).encode()
    assert adapter.readable_updates_payload(payload) is payload
    assert adapter.readable_updates_payload(b"not json") == b"not json"


async def test_polling_gets_the_readable_updates_and_the_rest_as_bare_ids(
    captured: io.StringIO,
) -> None:
    """The bot's getUpdates client, against a Bot API answering one unreadable update
    between two readable ones: PTB alone would raise, log the batch and fetch it again."""
    batch = [raw_update(1), unreadable_poll(2), raw_update(3)]

    def bot_api(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/getUpdates")
        return httpx.Response(200, json={"ok": True, "result": batch})

    request = adapter.ReadableUpdatesRequest(
        connection_pool_size=1, httpx_kwargs={"transport": httpx.MockTransport(bot_api)}
    )
    bot = Bot(TOKEN, get_updates_request=request)
    updates = await bot.get_updates()
    await request.shutdown()
    assert [update.update_id for update in updates] == [1, 2, 3]
    assert updates[1] == Update(2)
    assert updates[1].message is None
    assert updates[2].message is not None
    assert leaks(captured.getvalue()) == []
    assert [record["event"] for record in lines(captured)] == [adapter.UNREADABLE_EVENT]


async def post_to_ptb_webhook(update: dict[str, Any]) -> int:
    """POST `update` to python-telegram-bot's own webhook server, run in this process
    against a stub Bot API; the HTTP status it answers."""

    def bot_api(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/getMe"):
            me = {"id": 123456, "is_bot": True, "first_name": "Sini", "username": "sini_bot"}
            return httpx.Response(200, json={"ok": True, "result": me})
        return httpx.Response(200, json={"ok": True, "result": True})

    transport = httpx.MockTransport(bot_api)
    bot = Bot(TOKEN, request=HTTPXRequest(httpx_kwargs={"transport": transport}))
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    async with Updater(bot, asyncio.Queue()) as updater:
        await updater.start_webhook("127.0.0.1", port, "telegram", webhook_url=url)
        async with httpx.AsyncClient(trust_env=False) as client:
            status = (await client.post(url, json=update)).status_code
        await updater.stop()
    return status


def webhook_module() -> dict[str, Any]:
    """The namespace of PTB's webhook handler (an internal module)."""
    from telegram.ext._utils import webhookhandler

    return vars(webhookhandler)


async def test_the_webhook_takes_an_unreadable_update_and_the_bot_answers_it(
    captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(webhook_module(), "Update", Update)  # restored after the test
    assert adapter.guard_webhook_parsing()
    assert adapter.guard_webhook_parsing(), "installing twice is harmless"
    # 200: taken, so Telegram does not deliver it again and again.
    assert await post_to_ptb_webhook(unreadable_callback(2)) == 200
    assert leaks(captured.getvalue()) == []
    assert adapter.UNREADABLE_EVENT in [record["event"] for record in lines(captured)]
    readable = webhook_module()["Update"].de_json(raw_update(1), None)
    assert isinstance(readable, Update)
    assert readable.update_id == 1


async def test_on_an_unknown_ptb_the_guard_stays_out_and_the_dump_is_withheld(
    captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback: PTB's own path (400, and the raw update at CRITICAL) with the
    record withheld by the last line."""
    monkeypatch.setitem(webhook_module(), "Update", Update)
    monkeypatch.setattr(adapter, "ptb_version", telegram.__version_info__._replace(major=23))
    assert not adapter.guard_webhook_parsing()
    assert webhook_module()["Update"] is Update
    assert await post_to_ptb_webhook(unreadable_callback(2)) == 400
    assert leaks(captured.getvalue()) == []
    records = [(record["logger"], record["event"]) for record in lines(captured)]
    assert ("bot.adapters.telegram", "telegram.webhook_guard_unavailable") in records
    assert ("telegram.ext.Updater", logs.WITHHELD) in records
