"""Nothing that names a person or a photo reaches the log, Redis or its AOF — whatever
python-telegram-bot, Pillow or Rasa would print at LOG_LEVEL=DEBUG.

A user with a full identity (id, first and last name, username) sends the bot updates
python-telegram-bot 22 cannot read (a callback whose message has no message_id, polls
missing the fields it requires, a reply to a message without an id), a message that
contains their own name, and a report with a portrait photo full of EXIF (camera make,
model and serial, the time it was taken, its GPS position). Both ways a bot receives
updates are covered: long polling through the Bot API emulator, and a webhook that the
emulator (and a forger) POSTs to.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sini.redis_server import LocalRedis
from tests.conftest import DESK_PASSWORD, TEST_SECRET
from tests.support.log_privacy import (
    COORDINATES,
    EXIF_STRINGS,
    IdentifiedUser,
    Identity,
    PrivateBot,
    hits,
    init_desk,
    portrait_with_exif,
    start_private_bot,
    stored_files,
)
from tests.support.redis_scan import everything_at
from tests.support.telegram_emulator import BotMessage, EmulatorTimeout, TelegramEmulator

TOKENS = {
    "polling": "474747:LOG-privacy-polling-token-only-0",
    "webhook": "484848:LOG-privacy-webhook-token-only-0",
}
PERSON = Identity(6_150_427_391, "Kadiatoumata", "Sangaréfolo", "kadia_leak_7731")
UNREADABLE_EVENT = b'"telegram.update_unreadable"'
_update_ids = itertools.count(990_000_001)


@pytest.fixture(scope="module", params=["polling", "webhook"])
def private_bot(
    request: pytest.FixtureRequest,
    emulator: TelegramEmulator,
    model_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PrivateBot]:
    """The bot at LOG_LEVEL=DEBUG with its own Redis (AOF on, as deployed)."""
    mode = str(request.param)
    with LocalRedis(tmp_path_factory.mktemp(f"privacy-redis-{mode}")) as redis:
        init_desk(redis.url, DESK_PASSWORD)
        bot = start_private_bot(
            emulator,
            mode,
            TOKENS[mode],
            redis,
            tmp_path_factory.mktemp(f"privacy-var-{mode}"),
            tmp_path_factory.mktemp(f"privacy-bot-{mode}") / "bot.log",
            TEST_SECRET,
        )
        try:
            yield bot
        finally:
            bot.stop()
            emulator.reset(bot.token)


def unreadable_updates(person: Identity) -> list[dict[str, Any]]:
    """Updates as Telegram could send them that python-telegram-bot 22 refuses to build,
    each carrying the person's identity."""
    now = int(time.time())
    return [
        {  # a button press whose message has no message_id
            "update_id": next(_update_ids),
            "callback_query": {
                "id": "4815162342",
                "from": person.user(),
                "chat_instance": "-7331",
                "data": "do:menu",
                "message": {"date": now, "chat": person.chat(), "text": "Menu"},
            },
        },
        {  # a poll missing the fields PTB 22 requires (options, type, counts…)
            "update_id": next(_update_ids),
            "poll": {"id": "poll-1", "question": f"{person.first_name} ?"},
        },
        {  # a message carrying such a poll
            "update_id": next(_update_ids),
            "message": {
                "message_id": 77,
                "date": now,
                "chat": person.chat(),
                "from": person.user(),
                "poll": {"id": "poll-2", "question": "Sondage"},
            },
        },
    ]


def feed_unreadable(bot: PrivateBot, user: IdentifiedUser) -> tuple[int, list[int]]:
    """Send the unreadable updates; how many, and the webhook's HTTP answers."""
    if bot.mode == "webhook":
        updates = unreadable_updates(user.identity)
        return len(updates), [bot.post_update(update) for update in updates]
    # Through the emulator's getUpdates: a poll missing its required fields, and a reply
    # to a message that has no message_id.
    user.send_raw({"poll": {"id": "poll-3", "question": "Sondage"}})
    user.send_raw(
        {
            "reply_to_message": {
                "date": int(time.time()),
                "chat": user.identity.chat(),
                "from": user.identity.user(),
                "text": f"{user.identity.first_name} {user.identity.last_name}",
            }
        }
    )
    return 2, []


def next_reply(
    user: IdentifiedUser, wanted: Callable[[BotMessage], bool], timeout: float = 30
) -> BotMessage:
    """The next bot message that `wanted` accepts, skipping others (free text may get one
    answer or two, depending on what the NLU and the crisis check make of it)."""
    while True:
        (message,) = user.replies(timeout=timeout)
        if wanted(message):
            return message


def with_button(data: str) -> Callable[[BotMessage], bool]:
    return lambda message: data in message.callback_datas


def press_through(user: IdentifiedUser, message: BotMessage, data: str, then: str) -> BotMessage:
    """Press `data` under `message`; the next message offering `then`."""
    user.press(message, data)
    return next_reply(user, with_button(then))


def report_with_photo(user: IdentifiedUser, photo: bytes) -> None:
    """A whole anonymous report with the photo (attachments are stripped when sent)."""
    user.send_command("signaler")
    intro = next_reply(user, with_button("rep:start"))
    category = press_through(user, intro, "rep:start", "rep:cat:drug_trafficking")
    regions = press_through(user, category, "rep:cat:drug_trafficking", "rep:reg:Bamako")
    when = press_through(user, regions, "rep:reg:Bamako", "rep:when:ongoing")
    user.press(when, "rep:when:ongoing")
    user.send_text("Le dealer vend près du pont, chaque soir")
    user.send_photo(photo)
    noted = next_reply(user, with_button("rep:review"))
    review = press_through(user, noted, "rep:review", "rep:send")
    user.press(review, "rep:send")
    next_reply(user, lambda message: "Code :" in message.text, timeout=60)


def test_unreadable_updates_names_and_exif_leave_no_trace_at_debug(
    private_bot: PrivateBot, emulator: TelegramEmulator
) -> None:
    user = IdentifiedUser(emulator, private_bot.token, PERSON)
    user.send_command("start")
    user.replies(timeout=60)  # up and answering
    unreadable, webhook_statuses = feed_unreadable(private_bot, user)
    stuck: EmulatorTimeout | None = None
    try:  # the leaks are checked first: on failure, they are the finding that matters
        user.send_text(
            f"Bonjour, je suis {PERSON.first_name} {PERSON.last_name} ({PERSON.username}), "
            "c'est quoi le tramadol ?"
        )
        report_with_photo(user, portrait_with_exif())
    except EmulatorTimeout as error:
        stuck = error
    private_bot.stop()

    log = private_bot.log()
    redis_files = stored_files(private_bot.redis.data_dir)
    assert b"sini.aof" in redis_files, "the scan reads the AOF (its manifest names it)"
    leaks = hits(
        PERSON.needles() + EXIF_STRINGS + COORDINATES,
        log=log,
        redis=everything_at(private_bot.redis.url),
        redis_files=redis_files,
    )
    assert leaks == [], leaks
    assert b"Traceback" not in log
    assert stuck is None, f"the bot stopped answering after unreadable updates: {stuck}"
    assert b'"tips.submitted"' in log, "the scan reads the whole log, to the report's end"
    # The bot's own handler answered each unreadable update, with an event name only...
    assert log.count(UNREADABLE_EVENT) == unreadable, log.decode(errors="replace")[-3000:]
    # ...and a webhook takes it (200) rather than have Telegram deliver it again and again.
    assert webhook_statuses == [200] * len(webhook_statuses)
