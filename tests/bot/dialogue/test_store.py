"""The dialogue's memory in Redis: a chat's state comes back as it was saved, the flood
counter counts one window, topics are counted per day and language, and all of it keeps
working when Redis has forgotten the store's scripts (a restart)."""

from __future__ import annotations

from datetime import date

from redis.asyncio import Redis

from bot.dialogue.state import ChatState
from bot.dialogue.store import PREFIX, STATS_TTL_SECONDS, DialogueStore, chat_key
from tests.conftest import CHAT_ID, SECRET

STATE_TTL, DRAFT_TTL, WINDOW = 3600, 600, 60


def store_on(redis: Redis) -> DialogueStore:
    return DialogueStore(redis, SECRET, STATE_TTL, DRAFT_TTL, flood_limit=20, flood_window=WINDOW)


async def test_a_new_chat_opens_fresh_and_its_messages_are_counted(redis: Redis) -> None:
    store, key = store_on(redis), chat_key(SECRET, CHAT_ID)
    assert await store.open(key) == (ChatState(), 1)
    assert (await store.open(key))[1] == 2
    assert (await store.open(key))[1] == 3


async def test_the_flood_window_starts_at_the_first_message_and_is_not_extended(
    redis: Redis,
) -> None:
    store, key = store_on(redis), chat_key(SECRET, CHAT_ID)
    await store.open(key)
    counter = f"{PREFIX}:flood:{key}"
    await redis.expire(counter, 5)  # as if most of the window had passed
    await store.open(key)
    assert 0 < await redis.ttl(counter) <= 5, "later messages do not restart the window"


async def test_a_saved_state_comes_back_and_a_flow_in_progress_expires_sooner(
    redis: Redis,
) -> None:
    store, key = store_on(redis), chat_key(SECRET, CHAT_ID)
    chatting = ChatState(locale="bm")
    await store.save(key, chatting)
    assert (await store.open(key))[0] == chatting
    assert STATE_TTL - 5 < await redis.ttl(f"{PREFIX}:chat:{key}") <= STATE_TTL
    reporting = ChatState(locale="fr", flow="report", step="what")
    await store.save(key, reporting)
    assert (await store.open(key))[0] == reporting
    assert DRAFT_TTL - 5 < await redis.ttl(f"{PREFIX}:chat:{key}") <= DRAFT_TTL


async def test_the_state_is_stored_encrypted(redis: Redis) -> None:
    store, key = store_on(redis), chat_key(SECRET, CHAT_ID)
    await store.save(key, ChatState(locale="fr", flow="report", step="what"))
    raw = await redis.get(f"{PREFIX}:chat:{key}")
    assert raw is not None
    assert b"report" not in raw


async def test_topics_are_counted_per_day_and_language_never_per_chat(redis: Redis) -> None:
    store = store_on(redis)
    day = date(2026, 12, 2)
    for chat in (1, 2):
        await store.save(chat_key(SECRET, chat), ChatState(locale="fr"), (day, "drug_info"))
    await store.save(chat_key(SECRET, 3), ChatState(locale="bm"), (day, "drug_info"))
    stats = f"{PREFIX}:stats:topics:2026-12-02"
    assert await redis.hgetall(stats) == {b"fr:drug_info": b"2", b"bm:drug_info": b"1"}
    assert STATS_TTL_SECONDS - 5 < await redis.ttl(stats) <= STATS_TTL_SECONDS


async def test_the_store_works_after_redis_forgot_its_scripts(redis: Redis) -> None:
    store, key = store_on(redis), chat_key(SECRET, CHAT_ID)
    await store.save(key, ChatState(locale="en"))
    await redis.script_flush()  # what a restart does to the script cache
    assert await store.open(key) == (ChatState(locale="en"), 1)
    await redis.script_flush()
    await store.save(key, ChatState(locale="fr"), (date(2026, 12, 2), "greet"))
    assert (await store.open(key))[0] == ChatState(locale="fr")
