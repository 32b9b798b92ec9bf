"""An update delivered twice is handled once (issue 22): Telegram redelivers, two replicas
receive the same update — whichever way, the person gets one answer.

Two real PTB Applications (two replicas) share one real Redis and send their replies
to the Bot API emulator; the same update goes through `Application.process_update` of
each, as the webhook server or the poller hands it over. A real webhook bot process is
then sent the same POST twice.

An update a replica accepted (its webhook answered 200) survives that replica: two real
webhook processes share one redis-server, and the one that took the update is killed
before it could answer it; in polling mode, a replica is killed after Telegram counted the
update delivered, and the replica polling next answers it.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis
from redis.asyncio import Redis
from telegram import Update

from bot.content import Catalog
from bot.dialogue.store import chat_key
from sini.redis import PREFIX
from sini.redis_server import LocalRedis, free_port
from tests.conftest import REPLICAS_TOKEN as TOKEN
from tests.conftest import TEST_SECRET, Replica
from tests.e2e.conftest import STARTUP_SECONDS, WebhookBot, start_webhook_bot
from tests.support.screens import first_screen
from tests.support.telegram_emulator import BotMessage, TelegramEmulator

_ids = itertools.count(1)


def start_update(chat_id: int, update_id: int) -> dict[str, Any]:
    person = {"id": chat_id, "is_bot": False, "first_name": "Awa", "language_code": "fr"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": next(_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Awa"},
            "from": person,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


def answers(emulator: TelegramEmulator, chat_id: int, cursor: int) -> list[BotMessage]:
    """Everything the bot sent in the chat after `cursor` (process_update has returned,
    so it is all there: nothing to wait for)."""
    sent, _, _ = emulator.wait_bot_messages(TOKEN, chat_id, cursor, 0, 0.0)
    return sent


async def test_the_same_update_twice_on_one_replica_is_answered_once(
    replicas: list[Replica], emulator: TelegramEmulator, catalog: Catalog
) -> None:
    replica, _ = replicas
    chat_id, cursor = 881_000_001, emulator.cursor()
    update = start_update(chat_id, 700_000_001)
    for _ in range(2):
        await replica.process_update(Update.de_json(update, replica.bot))
    sent = answers(emulator, chat_id, cursor)
    assert [m.text for m in sent][:1] == [first_screen(catalog, "welcome", "fr")]
    assert len(sent) == 2, "welcome and menu, once"


async def test_the_same_update_on_two_replicas_is_answered_by_one(
    replicas: list[Replica], emulator: TelegramEmulator
) -> None:
    chat_id, cursor = 881_000_002, emulator.cursor()
    update = start_update(chat_id, 700_000_002)
    for replica in replicas:
        await replica.process_update(Update.de_json(update, replica.bot))
    assert len(answers(emulator, chat_id, cursor)) == 2, "one answer: welcome and menu"


async def test_the_next_update_is_answered_and_no_update_id_is_kept_in_clear(
    replicas: list[Replica], emulator: TelegramEmulator, redis: Redis
) -> None:
    replica, other = replicas
    chat_id, cursor = 881_000_003, emulator.cursor()
    await replica.process_update(Update.de_json(start_update(chat_id, 700_000_003), replica.bot))
    await other.process_update(Update.de_json(start_update(chat_id, 700_000_004), other.bot))
    assert len(answers(emulator, chat_id, cursor)) == 4, "two updates, two answers"
    marks = await redis.keys(f"{PREFIX}:update:*")
    assert len(marks) == 2
    for mark in marks:
        assert b"70000000" not in mark + (await redis.get(mark) or b"")
        assert str(chat_id).encode() not in mark


async def test_without_redis_an_update_is_still_answered(
    replicas: list[Replica], emulator: TelegramEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mark cannot be set: answering is worth more than never answering twice."""
    replica, _ = replicas
    assistant = replica.bot_data["assistant"]

    async def down(update_id: int, delivery: str | None) -> None:
        from redis.exceptions import ConnectionError

        raise ConnectionError("redis is down")

    monkeypatch.setattr(assistant.store, "arrival", down)
    chat_id, cursor = 881_000_004, emulator.cursor()
    await replica.process_update(Update.de_json(start_update(chat_id, 700_000_005), replica.bot))
    assert answers(emulator, chat_id, cursor), "answered"


def test_the_same_post_twice_to_a_webhook_bot_is_answered_once(
    webhook_bot: WebhookBot,
    emulator: TelegramEmulator,
    catalog: Catalog,
    user_id: Callable[[], int],
) -> None:
    """The real process in webhook mode: Telegram resending an update it believes lost."""
    chat_id = user_id()
    user = emulator.user(webhook_bot.token, chat_id, "Awa", None, "fr")
    update = start_update(chat_id, 950_000_000 + chat_id % 1_000_000)
    headers = {"X-Telegram-Bot-Api-Secret-Token": webhook_bot.secret}
    for _ in range(2):
        assert httpx.post(webhook_bot.webhook_url, json=update, headers=headers).status_code == 200
    welcome, _menu = user.replies(2)  # the first delivery's answer
    assert welcome.text == first_screen(catalog, "welcome", "fr")
    # A chat's updates are answered in order: had the duplicate been handled, its
    # answer would come next, before the emergency numbers asked for now.
    (following,) = user.ask_command("urgence", n=1, timeout=30)
    assert catalog.emergency[0].number in following.text


@pytest.fixture
def user_id() -> Callable[[], int]:
    ids = itertools.count(1)
    return lambda: 791_000_000 + next(ids) * 7919


REPLICA_TOKEN = "626262:DURABLE-intake-token-for-tests-only-0"
TAKEOVER_SECONDS = 60  # an orphaned entry is taken over after CLAIM_IDLE_SECONDS


@pytest.fixture
def webhook_replicas(
    emulator: TelegramEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WebhookBot, WebhookBot]]:
    """Two real bot processes in webhook mode on one redis-server, as deployed. Free text
    is not needed: NLU_URL names a port nobody listens on, so no model is loaded. Telegram
    (the emulator) delivers to the replica started last; the test POSTs to the first."""
    with LocalRedis(tmp_path_factory.mktemp("replicas-redis")) as redis_server:
        env = {"NLU_URL": f"http://127.0.0.1:{free_port()}"}
        bots = tuple(
            start_webhook_bot(
                emulator,
                redis_server.url,
                tmp_path_factory.mktemp(f"replica-{name}-var"),
                tmp_path_factory.mktemp(f"replica-{name}") / "bot.log",
                token=REPLICA_TOKEN,
                env=env,
            )
            for name in ("a", "b")
        )
        yield bots[0], bots[1]
        for bot in bots:
            if bot.process.poll() is None:
                bot.process.terminate()
                bot.process.wait(timeout=30)
        emulator.reset(REPLICA_TOKEN)


def wait_for_command(monitor: sync_redis.client.Monitor, *words: str) -> None:
    """Read Redis's MONITOR feed until a command naming every one of `words` passes."""
    command = ""
    while not all(word in command for word in words):
        command = monitor.next_command()["command"]


def wait_until_delivered(client: sync_redis.Redis, key: str) -> None:
    """Return once the replica that answered the chat's last update has marked its replies
    sent: the person can see them before the replica drops its outbox and gives the chat
    back, and a replica paused in between leaves them for the next holder to send again."""
    with client.monitor() as monitor:
        if client.exists(f"{PREFIX}:outbox:{key}", f"{PREFIX}:lease:{key}"):
            wait_for_command(monitor, "EVALSHA", f"{PREFIX}:outbox:{key}", f"{PREFIX}:lease:{key}")


def test_an_update_accepted_by_a_replica_that_dies_is_answered_by_the_other_once(
    webhook_replicas: tuple[WebhookBot, WebhookBot],
    emulator: TelegramEmulator,
    catalog: Catalog,
) -> None:
    """Replica A answers Telegram's POST with 200, takes the update and is killed while it
    waits for the chat (held by the test, so it cannot have answered); replica B takes
    the update over and answers it, once — and Telegram's second POST of the same update
    is not answered again."""
    dying, survivor = webhook_replicas
    chat_id = 792_000_001
    user = emulator.user(REPLICA_TOKEN, chat_id, "Awa", None, "fr")
    update = start_update(chat_id, 960_000_001)
    lease = f"{PREFIX}:lease:{chat_key(bytes.fromhex(TEST_SECRET), chat_id)}"
    client = sync_redis.Redis.from_url(dying.redis_url, socket_timeout=TAKEOVER_SECONDS)
    client.set(lease, b"held by the test", px=TAKEOVER_SECONDS * 1000)
    with client.monitor() as monitor:
        response = httpx.post(
            dying.webhook_url,
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": dying.secret},
        )
        assert response.status_code == 200
        wait_for_command(monitor, "EVALSHA", lease)  # A has taken it and waits for the chat
    dying.process.send_signal(signal.SIGKILL)
    dying.process.wait(timeout=30)
    client.delete(lease)

    welcome, _menu = user.replies(2, timeout=TAKEOVER_SECONDS)
    assert welcome.text == first_screen(catalog, "welcome", "fr")
    response = httpx.post(
        survivor.webhook_url,
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": survivor.secret},
    )
    assert response.status_code == 200
    # A chat's updates are answered in order: an answer to either POST handled again
    # would come before the emergency numbers asked for now.
    (following,) = user.ask_command("urgence", n=1, timeout=30)
    assert catalog.emergency[0].number in following.text
    client.close()


def answer_update(chat_id: int, update_id: int, question: BotMessage) -> dict[str, Any]:
    """The person pressing the first answer under a quiz question."""
    person = {"id": chat_id, "is_bot": False, "first_name": "Awa", "language_code": "fr"}
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "from": person,
            "chat_instance": "-7331",
            "data": question.buttons[0][0].callback_data,
            "message": {
                "message_id": question.message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Awa"},
                "text": question.text,
            },
        },
    }


def test_an_answer_saved_by_a_replica_that_dies_before_sending_it_arrives_once(
    webhook_replicas: tuple[WebhookBot, WebhookBot],
    emulator: TelegramEmulator,
    catalog: Catalog,
) -> None:
    """Replica A (B paused meanwhile) scores a quiz answer and saves the chat (the next
    question is now the current one); Telegram refuses its first send (429, retry later)
    and A is killed while it waits. Replica B takes the update over: it sends A's saved
    answer, once, instead of scoring the answer again against the next question ("this
    button is no longer valid")."""
    dying, survivor = webhook_replicas
    chat_id = 792_000_002
    user = emulator.user(REPLICA_TOKEN, chat_id, "Awa", None, "fr")
    key = chat_key(bytes.fromhex(TEST_SECRET), chat_id)
    (quizzes,) = user.ask_command("quiz", n=1, timeout=30)
    (question,) = user.press_and_wait(quizzes, quizzes.buttons[0][0].callback_data or "")
    client = sync_redis.Redis.from_url(dying.redis_url, socket_timeout=TAKEOVER_SECONDS)
    wait_until_delivered(client, key)
    emulator.call(
        "bot/flood",
        {"token": REPLICA_TOKEN, "method": "sendMessage", "count": 1, "retry_after": 5},
    )
    survivor.process.send_signal(signal.SIGSTOP)  # so that A is the one to take the update
    with client.monitor() as monitor:
        response = httpx.post(
            dying.webhook_url,
            json=answer_update(chat_id, 960_000_002, question),
            headers={"X-Telegram-Bot-Api-Secret-Token": dying.secret},
        )
        assert response.status_code == 200
        # A's save: the chat's state, counted under today's topics
        wait_for_command(monitor, "EVALSHA", f"{PREFIX}:chat:{key}", f"{PREFIX}:stats:topics")
    dying.process.send_signal(signal.SIGKILL)  # A now waits out the 429 before sending
    dying.process.wait(timeout=30)
    survivor.process.send_signal(signal.SIGCONT)
    assert user.drain() == [], "A sent nothing"

    feedback, following = user.replies(2, timeout=TAKEOVER_SECONDS)
    assert feedback.text != first_screen(catalog, "error.expired_button", "fr")
    assert following.buttons, "the next question"
    assert following.text != question.text
    (emergency,) = user.ask_command("urgence", n=1, timeout=30)
    assert catalog.emergency[0].number in emergency.text, "nothing sent twice before it"
    client.close()


POLLING_TOKEN = "646464:POLLING-intake-token-for-tests-only-0"


def start_polling_replica(
    emulator: TelegramEmulator, redis_url: str, folder: Path
) -> subprocess.Popen[bytes]:
    """A real bot process polling the emulator (no WEBHOOK_URL), as `make run` starts it;
    returns once it has called getUpdates. No model: NLU_URL names a port nobody serves."""
    calls = emulator.call("bot/polling", {"token": POLLING_TOKEN, "timeout": 0})
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": POLLING_TOKEN,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{emulator.port}",
        "REDIS_URL": redis_url,
        "NLU_URL": f"http://127.0.0.1:{free_port()}",
        "SINI_SECRET": TEST_SECRET,
        "SINI_VAR_DIR": str(folder),
        "LOG_FORMAT": "json",
    }
    with (folder / "bot.log").open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "bot"],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    polled = emulator.call(
        "bot/polling",
        {
            "token": POLLING_TOKEN,
            "timeout": STARTUP_SECONDS,
            "after_calls": calls["get_updates_calls"],
        },
        wait=STARTUP_SECONDS,
    )
    assert polled["polling"], "the polling replica did not start"
    return process


def test_an_update_polled_by_a_replica_that_dies_is_answered_by_the_next_once(
    emulator: TelegramEmulator, catalog: Catalog, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Polling confirms an update to Telegram (the next getUpdates' offset) as soon as it
    is in the intake stream, before it is handled: the replica is killed while the update
    waits for its chat (held by the test), after Telegram counts it delivered — the next
    replica to poll takes it over from the stream and answers it, once."""
    chat_id = 793_000_001
    user = emulator.user(POLLING_TOKEN, chat_id, "Awa", None, "fr")
    lease = f"{PREFIX}:lease:{chat_key(bytes.fromhex(TEST_SECRET), chat_id)}"
    with LocalRedis(tmp_path_factory.mktemp("polling-redis")) as redis_server:
        client = sync_redis.Redis.from_url(redis_server.url, socket_timeout=TAKEOVER_SECONDS)
        dying = start_polling_replica(
            emulator, redis_server.url, tmp_path_factory.mktemp("polling-a")
        )
        client.set(lease, b"held by the test", px=TAKEOVER_SECONDS * 1000)
        with client.monitor() as monitor:
            user.send_command("start")
            wait_for_command(monitor, "EVALSHA", lease)  # taken, waiting for the chat
        assert emulator.wait_drained(POLLING_TOKEN, timeout=30), "confirmed to Telegram"
        dying.send_signal(signal.SIGKILL)
        dying.wait(timeout=30)
        survivor = start_polling_replica(
            emulator, redis_server.url, tmp_path_factory.mktemp("polling-b")
        )
        try:
            client.delete(lease)
            welcome, _menu = user.replies(2, timeout=TAKEOVER_SECONDS)
            assert welcome.text == first_screen(catalog, "welcome", "fr")
            # In order: the update answered a second time would come before these numbers.
            (following,) = user.ask_command("urgence", n=1, timeout=30)
            assert catalog.emergency[0].number in following.text
        finally:
            survivor.terminate()
            survivor.wait(timeout=30)
            client.close()
            emulator.reset(POLLING_TOKEN)


def test_an_update_polled_by_a_replica_that_dies_before_it_reaches_redis_comes_again(
    emulator: TelegramEmulator, catalog: Catalog, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Polling confirms nothing to Telegram until the batch is in the intake stream: the
    replica is killed after getUpdates handed it the update and while Redis holds its
    write (CLIENT PAUSE), so the update never reached Redis nor was confirmed — Telegram
    gives it to the next replica that polls, which answers it, once."""
    chat_id = 793_000_002
    user = emulator.user(POLLING_TOKEN, chat_id, "Awa", None, "fr")
    with LocalRedis(tmp_path_factory.mktemp("polling-redis-early")) as redis_server:
        client = sync_redis.Redis.from_url(redis_server.url)
        dying = start_polling_replica(
            emulator, redis_server.url, tmp_path_factory.mktemp("polling-early-a")
        )
        handed_out = emulator.handed_out(POLLING_TOKEN)
        client.client_pause(TAKEOVER_SECONDS * 1000, all=False)  # writes wait, reads go on
        try:
            user.send_command("start")
            assert emulator.wait_fetched(POLLING_TOKEN, handed_out, timeout=30), "handed out"
            dying.send_signal(signal.SIGKILL)
            dying.wait(timeout=30)
        finally:
            client.client_unpause()
        assert not emulator.wait_drained(POLLING_TOKEN, timeout=0), "never confirmed"
        assert client.xlen(f"{PREFIX}:intake") == 0, "never reached Redis"
        survivor = start_polling_replica(
            emulator, redis_server.url, tmp_path_factory.mktemp("polling-early-b")
        )
        try:
            welcome, _menu = user.replies(2, timeout=60)
            assert welcome.text == first_screen(catalog, "welcome", "fr")
            (following,) = user.ask_command("urgence", n=1, timeout=30)
            assert catalog.emergency[0].number in following.text, "answered once, in order"
        finally:
            survivor.terminate()
            survivor.wait(timeout=30)
            client.close()
            emulator.reset(POLLING_TOKEN)
