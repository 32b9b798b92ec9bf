"""The dialogue's memory in Redis: a chat's state comes back as it was saved, the flood
counter counts one window, topics are counted per day and language, all of it keeps
working when Redis has forgotten the store's scripts (a restart), and an update holds
its chat until it saves, so that replicas take turns on one chat; an update whose lease
ran out while another opened the chat cannot overwrite what that one saved; a Telegram
update is let through once across replicas."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from redis.asyncio import Redis

from bot.dialogue.state import ChatState, Flow, Step
from bot.dialogue.store import (
    UPDATE_SEEN_SECONDS,
    Arrival,
    ChatBusy,
    DialogueStore,
    LeaseLost,
    OpenChat,
    chat_key,
)
from sini.redis import PREFIX, STATS_TTL_SECONDS
from tests.conftest import CHAT_ID, SECRET

STATE_TTL, DRAFT_TTL, WINDOW = 3600, 600, 60
KEY = chat_key(SECRET, CHAT_ID)


def store_on(redis: Redis) -> DialogueStore:
    return DialogueStore(redis, SECRET, STATE_TTL, DRAFT_TTL, flood_limit=20, flood_window=WINDOW)


async def opened(store: DialogueStore, key: str = KEY) -> OpenChat:
    """Open a chat and give it straight back, as an update answered without saving."""
    chat = await store.open(key)
    await store.release(chat)
    return chat


async def save(
    store: DialogueStore, state: ChatState, topic: tuple[date, str] | None = None, key: str = KEY
) -> None:
    await store.save(await store.open(key), state, topic)


async def test_a_new_chat_opens_fresh_and_its_messages_are_counted(redis: Redis) -> None:
    store = store_on(redis)
    first = await opened(store)
    assert (first.state, first.sent) == (ChatState(), 1)
    assert (await opened(store)).sent == 2
    assert (await opened(store)).sent == 3


async def test_the_flood_window_starts_at_the_first_message_and_is_not_extended(
    redis: Redis,
) -> None:
    store = store_on(redis)
    await opened(store)
    counter = f"{PREFIX}:flood:{KEY}"
    await redis.expire(counter, 5)  # as if most of the window had passed
    await opened(store)
    assert 0 < await redis.ttl(counter) <= 5, "later messages do not restart the window"


async def test_a_saved_state_comes_back_and_a_flow_in_progress_expires_sooner(
    redis: Redis,
) -> None:
    store = store_on(redis)
    chatting = ChatState(locale="bm")
    await save(store, chatting)
    assert (await opened(store)).state == chatting
    assert STATE_TTL - 5 < await redis.ttl(f"{PREFIX}:chat:{KEY}") <= STATE_TTL
    reporting = ChatState(locale="fr", flow=Flow.REPORT, step=Step.WHAT)
    await save(store, reporting)
    assert (await opened(store)).state == reporting
    assert DRAFT_TTL - 5 < await redis.ttl(f"{PREFIX}:chat:{KEY}") <= DRAFT_TTL


async def test_the_state_is_stored_encrypted(redis: Redis) -> None:
    store = store_on(redis)
    await save(store, ChatState(locale="fr", flow=Flow.REPORT, step=Step.WHAT))
    raw = await redis.get(f"{PREFIX}:chat:{KEY}")
    assert raw is not None
    assert b"report" not in raw
    assert b"what" not in raw


async def test_topics_are_counted_per_day_and_language_never_per_chat(redis: Redis) -> None:
    store = store_on(redis)
    day = date(2026, 12, 2)
    for chat in (1, 2):
        await save(store, ChatState(locale="fr"), (day, "drug_info"), chat_key(SECRET, chat))
    await save(store, ChatState(locale="bm"), (day, "drug_info"), chat_key(SECRET, 3))
    stats = f"{PREFIX}:stats:topics:2026-12-02"
    assert await redis.hgetall(stats) == {b"fr:drug_info": b"2", b"bm:drug_info": b"1"}
    assert STATS_TTL_SECONDS - 5 < await redis.ttl(stats) <= STATS_TTL_SECONDS


async def test_the_store_works_after_redis_forgot_its_scripts(redis: Redis) -> None:
    store = store_on(redis)
    await save(store, ChatState(locale="en"))
    await redis.script_flush()  # what a restart does to the script cache
    chat = await store.open(KEY)
    assert (chat.state, chat.sent) == (ChatState(locale="en"), 2)
    await redis.script_flush()
    await store.release(chat)
    await redis.script_flush()
    await save(store, ChatState(locale="fr"), (date(2026, 12, 2), "greet"))
    assert (await opened(store)).state == ChatState(locale="fr")


async def test_a_second_replica_waits_for_the_chat_and_starts_from_its_saved_state(
    redis: Redis,
) -> None:
    """Two replicas, one chat, two updates at once: the second opens the chat only once
    the first has saved it, so neither update's changes are lost."""
    first, second = store_on(redis), store_on(redis)
    holding = await first.open(KEY)
    waiting = asyncio.create_task(second.open(KEY))
    await asyncio.wait({waiting}, timeout=0.2)
    assert not waiting.done(), "the chat is held"
    await first.save(holding, ChatState(locale="bm", drug="cannabis"))
    chat = await waiting
    assert chat.state == ChatState(locale="bm", drug="cannabis")
    await second.save(chat, ChatState(locale="bm", drug="tramadol"))
    assert await redis.exists(f"{PREFIX}:lease:{KEY}") == 0, "nothing is left held"


async def test_a_chat_held_by_a_replica_that_died_is_free_once_its_lease_expires(
    redis: Redis,
) -> None:
    store = store_on(redis)
    await store.open(KEY, lease_seconds=0.2)  # never saved nor released
    chat = await store.open(KEY)
    assert chat.sent == 2
    await store.release(chat)


async def test_giving_back_a_chat_whose_lease_another_update_took_leaves_that_lease(
    redis: Redis,
) -> None:
    store = store_on(redis)
    late = await store.open(KEY, lease_seconds=0.05)
    current = await store.open(KEY)  # after the late one's lease expired
    await store.release(late)
    assert await redis.get(f"{PREFIX}:lease:{KEY}") == current.lease.encode()
    await store.release(current)


async def test_a_chat_held_too_long_reads_as_storage_trouble(redis: Redis) -> None:
    store = store_on(redis)
    await redis.set(f"{PREFIX}:lease:{KEY}", "someone else", px=10_000)
    with pytest.raises(ChatBusy):
        await store.open(KEY, lease_seconds=0.05)
    await redis.delete(f"{PREFIX}:lease:{KEY}")


async def test_every_opening_of_a_chat_gets_a_greater_token(redis: Redis) -> None:
    store = store_on(redis)
    tokens = [int((await opened(store)).lease) for _ in range(3)]
    assert tokens == sorted(set(tokens))
    assert tokens[0] > 1, "the counter starts anywhere: its value counts nothing"


async def test_a_stale_update_cannot_overwrite_what_a_newer_one_saved(redis: Redis) -> None:
    """Replica A stalls past its lease; replica B opens the chat and saves; A resumes and
    saves: refused, and B's state is the one kept."""
    replica_a, replica_b = store_on(redis), store_on(redis)
    await save(replica_a, ChatState(locale="fr", flow=Flow.REPORT, step=Step.WHAT, draft="one"))
    stalled = await replica_a.open(KEY, lease_seconds=0.001)  # lease A, left to expire
    newer = await replica_b.open(KEY)  # lease B, once A's has expired
    assert int(newer.lease) > int(stalled.lease)
    kept = ChatState(locale="fr", flow=Flow.REPORT, step=Step.WHAT, draft="one two")
    await replica_b.save(newer, kept)
    with pytest.raises(LeaseLost):
        await replica_a.save(stalled, ChatState(locale="fr", flow=Flow.REPORT, step=Step.REVIEW))
    assert (await opened(replica_a)).state == kept
    assert await redis.exists(f"{PREFIX}:lease:{KEY}") == 0, "nothing is left held"


async def test_a_stale_update_cannot_save_while_the_newer_one_still_holds_the_chat(
    redis: Redis,
) -> None:
    store = store_on(redis)
    stalled = await store.open(KEY, lease_seconds=0.001)
    holding = await store.open(KEY)
    with pytest.raises(LeaseLost):
        await store.save(stalled, ChatState(locale="en"), (date(2026, 12, 2), "greet"))
    assert await redis.get(f"{PREFIX}:lease:{KEY}") == holding.lease.encode(), "still held"
    assert await redis.exists(f"{PREFIX}:stats:topics:2026-12-02") == 0, "nothing counted"
    await store.save(holding, ChatState(locale="bm"))
    assert (await opened(store)).state == ChatState(locale="bm")


async def test_an_update_whose_lease_ran_out_unnoticed_still_saves(redis: Redis) -> None:
    """No other update came: nothing newer to protect, so the late save is kept."""
    store = store_on(redis)
    late = await store.open(KEY, lease_seconds=0.001)
    await redis.delete(f"{PREFIX}:lease:{KEY}")  # as if it had expired
    await store.save(late, ChatState(locale="en"))
    assert (await opened(store)).state == ChatState(locale="en")


async def test_a_telegram_update_is_let_through_once_under_a_name_that_hides_its_id(
    redis: Redis,
) -> None:
    replica_a, replica_b = store_on(redis), store_on(redis)
    assert await replica_a.arrival(812_345_678) is Arrival.NEW
    assert await replica_b.arrival(812_345_678) is Arrival.REPEATED, "another replica"
    assert await replica_a.arrival(812_345_678) is Arrival.REPEATED
    assert await replica_b.arrival(812_345_679) is Arrival.NEW
    keys = await redis.keys(f"{PREFIX}:update:*")
    assert len(keys) == 2
    for key in keys:
        assert b"81234567" not in key + (await redis.get(key) or b"")
    assert 0 < await redis.ttl(keys[0]) <= UPDATE_SEEN_SECONDS
