"""Erasing the conversation deletes the chat's messages whichever replica sent them, and a
replica keeps nothing per chat once an update is done (issue 22).

Two real PTB Applications (two replicas) share one real redis-server and answer through
the Bot API emulator; each update is taken from the emulator's getUpdates, as Telegram
hands it over, and given to the replica the test chooses.
"""

from __future__ import annotations

import itertools
import struct
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from telegram import Update

from bot.adapters.erasable import MAX_IDS, ErasableMessages
from bot.adapters.telegram import ERASABLE_KEY
from bot.content import Catalog
from bot.dialogue.store import chat_key
from sini.redis import PREFIX, connect_redis
from sini.redis_server import LocalRedis, free_port
from tests.conftest import REPLICAS_TOKEN, SECRET, Replica
from tests.support.telegram_emulator import TelegramEmulator

_chats = itertools.count(1)


def new_chat() -> int:
    return 883_000_000 + next(_chats) * 7919


async def hand_over(emulator: TelegramEmulator, replica: Replica) -> None:
    """Every update waiting in the emulator, confirmed and processed by `replica`."""
    updates: list[dict[str, Any]] = emulator.bot_api(REPLICAS_TOKEN, "getUpdates", timeout=0)
    if updates:
        emulator.bot_api(
            REPLICAS_TOKEN, "getUpdates", offset=updates[-1]["update_id"] + 1, timeout=0
        )
    for update in updates:
        await replica.process_update(Update.de_json(update, replica.bot))


async def test_erasing_on_one_replica_deletes_the_messages_both_replicas_sent(
    replicas: list[Replica], emulator: TelegramEmulator, catalog: Catalog
) -> None:
    first, second = replicas
    chat_id = new_chat()
    user = emulator.user(REPLICAS_TOKEN, chat_id, "Awa", None, "fr")
    asked = [user.send_command("start")]
    await hand_over(emulator, first)
    asked.append(user.send_command("urgence"))
    await hand_over(emulator, second)
    shown = user.visible_history()
    assert len(shown) >= 3, "the welcome, the menu and the emergency numbers"
    user.press(shown[0], "rep:erase", force=True)
    await hand_over(emulator, first)

    history = emulator.history(REPLICAS_TOKEN, chat_id)
    left = [m["text"] for m in history["messages"] if not m["deleted"]]
    assert left == [catalog.render("report.erased", "fr").text]
    deleted = {m["message_id"] for m in history["user_messages"] if m["deleted"]}
    assert set(asked) <= deleted, "the person's own messages are deleted too"


async def test_a_replica_keeps_nothing_per_chat_after_many_chats(
    replicas: list[Replica], emulator: TelegramEmulator
) -> None:
    """PTB's chat_data and user_data stay empty; the ids wait in Redis, not in the process."""
    replica, _ = replicas
    for _ in range(60):
        emulator.user(REPLICAS_TOKEN, new_chat(), "Awa", None, "fr").send_command("start")
    await hand_over(emulator, replica)
    assert len(replica.chat_data) == 0
    assert len(replica.user_data) == 0
    erasable: ErasableMessages = replica.bot_data[ERASABLE_KEY]
    assert len(erasable.held) == 0


async def test_the_ids_in_redis_are_sealed_and_expire_within_two_days(redis: Redis) -> None:
    erasable = ErasableMessages(redis, SECRET)
    chat_id, message_id = new_chat(), 987_654_321
    await erasable.keep(chat_id, [message_id, message_id + 1])
    key = f"{PREFIX}:erasable:{chat_key(SECRET, chat_id)}"
    (entry,) = await redis.lrange(key, 0, -1)
    for clear in (str(message_id).encode(), struct.pack(">q", message_id), str(chat_id).encode()):
        assert clear not in entry + key.encode()
    assert 0 < await redis.ttl(key) <= 48 * 3600
    assert await erasable.take(chat_id) == [message_id, message_id + 1]
    assert await redis.exists(key) == 0, "taken means forgotten"


async def test_without_redis_the_ids_wait_in_a_bounded_map() -> None:
    """What a replica holds while Redis is down stays bounded, by chats and per chat; the
    chat's own replica can still erase what it holds."""
    down = connect_redis(f"redis://127.0.0.1:{free_port()}/0")
    erasable = ErasableMessages(down, SECRET, fallback_chats=50)
    chats = [new_chat() for _ in range(80)]
    for chat_id in chats:
        await erasable.keep(chat_id, [1, 2, 3])
    assert len(erasable.held) == 50, "the least recently active chats are forgotten"
    talkative = chats[-1]
    for message_id in range(MAX_IDS + 40):
        await erasable.keep(talkative, [message_id])
    assert await erasable.take(talkative) == list(range(40, MAX_IDS + 40))
    assert await erasable.take(chats[0]) == [], "forgotten: that chat's erase is incomplete"
    await down.close()


async def test_ids_held_during_an_outage_join_the_chat_in_redis_once_it_is_back(
    tmp_path: Path,
) -> None:
    with LocalRedis(tmp_path) as server:
        client = connect_redis(server.url)
        erasable = ErasableMessages(client, SECRET)
        chat_id = new_chat()
        await erasable.keep(chat_id, [10])
        server.stop()
        await erasable.keep(chat_id, [11, 12])
        assert len(erasable.held) == 1
        server.start()
        await erasable.keep(chat_id, [13])
        assert len(erasable.held) == 0
        other_replica = ErasableMessages(connect_redis(server.url), SECRET)
        assert sorted(await other_replica.take(chat_id)) == [10, 11, 12, 13]
        await other_replica.redis.close()
        await client.close()
