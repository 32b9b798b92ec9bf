"""`sini.counselling.store`: the queue, claims, messages both ways and what Redis holds."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from redis.asyncio import Redis

from sini.counselling.hours import parse_hours
from sini.counselling.model import Author, Origin, Risk, Status
from sini.counselling.store import (
    AlreadyClaimed,
    AtLimit,
    Counselling,
    EmptyMessage,
    NotHeld,
    messages_key,
)
from sini.counselling.summary import Summary, Topic
from tests.conftest import Keys
from tests.sini.conftest import CHAT_ID, SECRET, Clock
from tests.support.redis_scan import everything
from tips.crypto import DecryptionFailed, DeskKeyring, generate_keypair, open_sealed
from tips.keys import DeskKeyMissing

SUMMARY = Summary(Topic.FAMILY, Risk.ORDINARY)


async def test_the_queue_puts_crisis_first_then_unsure_then_who_asked_first(
    store: Counselling, clock: Clock
) -> None:
    first = await store.request(1, "fr", Origin.MENU)
    clock.now += 60
    unsure = await store.request(2, "bm", Origin.CHECK_IN, Risk.UNSURE)
    clock.now += 60
    crisis = await store.request(3, "en", Origin.CRISIS, Risk.CRISIS)
    clock.now += 60
    last = await store.request(4, "fr", Origin.INTENT)
    order = [c.id for c in await store.waiting()]
    assert order == [
        crisis.conversation,
        unsure.conversation,
        first.conversation,
        last.conversation,
    ]
    assert (await store.place(last.conversation)).position == 4


async def test_what_the_young_person_writes_can_raise_the_risk_and_the_place(
    store: Counselling, clock: Clock
) -> None:
    first = await store.request(1, "fr", Origin.MENU)
    clock.now += 60
    second = await store.request(2, "fr", Origin.MENU)
    assert await store.say(second.conversation, "je veux mourir", Risk.CRISIS) is Status.WAITING
    assert (await store.place(second.conversation)).position == 1
    await store.say(second.conversation, "ça va mieux", Risk.ORDINARY)  # risk never falls
    assert (await store.get(second.conversation)).risk is Risk.CRISIS
    assert (await store.place(first.conversation)).position == 2


async def test_the_expected_wait_comes_from_how_long_the_last_people_waited(
    store: Counselling, clock: Clock
) -> None:
    first = await store.request(1, "fr", Origin.MENU)
    assert first.wait_minutes is None  # no history: no promise
    clock.now += 300
    await store.claim(first.conversation, "awa")
    second = await store.request(2, "fr", Origin.MENU)
    clock.now += 1
    third = await store.request(3, "fr", Origin.MENU)
    assert (second.wait_minutes, third.wait_minutes) == (5, 10)


async def test_of_two_counsellors_claiming_at_once_exactly_one_gets_it(
    store: Counselling,
) -> None:
    for round in range(10):
        queued = await store.request(round, "fr", Origin.MENU)
        results = await asyncio.gather(
            store.claim(queued.conversation, f"awa{round}"),
            store.claim(queued.conversation, f"binta{round}"),
            return_exceptions=True,
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        assert len(winners) == 1
        assert [type(r) for r in results if isinstance(r, BaseException)] == [AlreadyClaimed]
        assert (await store.get(queued.conversation)).counsellor == winners[0].counsellor
    assert await store.waiting() == []


async def test_a_counsellor_holds_no_more_than_the_limit(store: Counselling) -> None:
    ids = [(await store.request(n, "fr", Origin.MENU)).conversation for n in range(3)]
    await store.claim(ids[0], "awa")
    await store.claim(ids[1], "awa")
    with pytest.raises(AtLimit):
        await store.claim(ids[2], "awa")
    await store.close(ids[0], "awa", SUMMARY)
    await store.claim(ids[2], "awa")
    assert {c.id for c in await store.held_by("awa")} == {ids[1], ids[2]}


async def test_only_the_holder_replies_or_closes(store: Counselling) -> None:
    queued = await store.request(CHAT_ID, "fr", Origin.MENU)
    with pytest.raises(NotHeld):
        await store.reply(queued.conversation, "awa", "Bonjour")
    await store.claim(queued.conversation, "awa")
    with pytest.raises(NotHeld):
        await store.reply(queued.conversation, "binta", "Bonjour")
    with pytest.raises(NotHeld):
        await store.close(queued.conversation, "binta", SUMMARY)
    with pytest.raises(EmptyMessage):
        await store.reply(queued.conversation, "awa", "   ")


async def test_messages_both_ways_and_replies_delivered_once_acknowledged(
    store: Counselling, keys: Keys
) -> None:
    queued = await store.request(CHAT_ID, "bm", Origin.MENU)
    await store.say(queued.conversation, "J'ai un souci")
    await store.claim(queued.conversation, "awa")
    await store.set_alias("awa", "  Mariam ")
    await store.reply(queued.conversation, "awa", "Je t'écoute.")
    messages = await store.messages(queued.conversation, keys.ring)
    assert [(m.author, m.text, m.alias) for m in messages] == [
        (Author.YOUNG, "J'ai un souci", None),
        (Author.COUNSELLOR, "Je t'écoute.", "Mariam"),
    ]
    [delivery] = await store.pending_replies("bot-1", block_ms=10)
    assert delivery.chat_id == CHAT_ID
    assert (delivery.reply.text, delivery.reply.alias, delivery.reply.locale) == (
        "Je t'écoute.",
        "Mariam",
        "bm",
    )
    await store.delivered(delivery)
    assert await store.pending_replies("bot-1", block_ms=10) == []


async def test_a_reply_left_unacknowledged_by_a_dead_replica_goes_to_another(
    store: Counselling, redis: Redis[bytes]
) -> None:
    queued = await store.request(CHAT_ID, "fr", Origin.MENU)
    await store.claim(queued.conversation, "awa")
    await store.reply(queued.conversation, "awa", "Tu es là ?")
    [taken] = await store.pending_replies("bot-dead", block_ms=10)
    assert await store.pending_replies("bot-alive", block_ms=10) == []  # not idle long yet
    # The dead replica's entry has been pending long enough (idle time set by XCLAIM).
    await redis.xclaim("sini:counsel:outbox", "bot", "bot-dead", 0, [taken.entry], idle=10**6)
    [again] = await store.pending_replies("bot-alive", block_ms=10)
    assert (again.entry, again.reply.text) == (taken.entry, "Tu es là ?")


async def test_closing_tells_the_young_person_and_stops_what_they_write(
    store: Counselling,
) -> None:
    queued = await store.request(CHAT_ID, "fr", Origin.MENU)
    await store.claim(queued.conversation, "awa")
    await store.close(queued.conversation, "awa", SUMMARY)
    [notice] = await store.pending_replies("bot-1", block_ms=10)
    assert notice.reply.text is None
    assert await store.say(queued.conversation, "encore là ?") is Status.CLOSED
    assert await store.held_by("awa") == []


async def test_a_closed_conversation_expires_after_its_retention(
    redis: Redis[bytes], clock: Clock, keys: Keys
) -> None:
    store = Counselling(redis, SECRET, retention=3600, clock=clock)
    queued = await store.request(CHAT_ID, "fr", Origin.MENU)
    await store.say(queued.conversation, "bonjour")
    await store.end(queued.conversation)
    kept = [k async for k in redis.scan_iter(f"sini:counsel:*{queued.conversation}")]
    assert len(kept) == 3
    assert all(0 < ttl <= 3600 for ttl in [await redis.ttl(k) for k in kept])
    assert await store.waiting() == []


async def test_redis_holds_no_chat_id_and_no_text(store: Counselling) -> None:
    queued = await store.request(CHAT_ID, "fr", Origin.MENU)
    await store.say(queued.conversation, "SECRET-MOUSSA je suis perdu")
    await store.claim(queued.conversation, "awa")
    await store.reply(queued.conversation, "awa", "SECRET-REPLY courage")
    dump = await everything(store.redis)
    for secret in (str(CHAT_ID).encode(), b"SECRET-MOUSSA", b"SECRET-REPLY"):
        assert secret not in dump


async def test_the_transcript_opens_with_the_desk_keyring_only(
    store: Counselling, keys: Keys, redis: Redis[bytes]
) -> None:
    """The bot writes what the young person says and cannot read it back: every message
    is sealed to the desk key; a message copied under another conversation is not shown
    there, and a keyring without the desk key shows nothing."""
    first = await store.request(CHAT_ID, "fr", Origin.MENU)
    other = await store.request(CHAT_ID + 1, "fr", Origin.MENU)
    await store.say(first.conversation, "SECRET-MOUSSA je suis perdu")
    [sealed] = await redis.lrange(messages_key(first.conversation), 0, -1)
    with pytest.raises(DecryptionFailed):
        open_sealed(sealed, DeskKeyring(generate_keypair()))
    await redis.rpush(messages_key(other.conversation), sealed)
    assert await store.messages(other.conversation, keys.ring) == []
    [said] = await store.messages(first.conversation, keys.ring)
    assert said.text == "SECRET-MOUSSA je suis perdu"
    assert await store.messages(first.conversation, DeskKeyring(generate_keypair())) == []


async def test_no_conversation_opens_before_the_desk_exists(
    redis: Redis[bytes], clock: Clock
) -> None:
    """Without desk keys nobody could read a transcript: a message left for later is
    refused, not kept unreadable."""
    store = Counselling(redis, SECRET, clock=clock)
    with pytest.raises(DeskKeyMissing):
        await store.request(CHAT_ID, "fr", Origin.MESSAGE)
    assert await store.waiting() == []


async def test_staffed_only_within_hours_and_with_a_counsellor_on_duty(
    redis: Redis[bytes], clock: Clock
) -> None:
    # 2025-10-09 is a Thursday; Bamako is on UTC.
    clock.now = datetime(2025, 10, 9, 10, 0, tzinfo=timezone.utc).timestamp()
    hours = parse_hours("mon-fri=08:00-18:00")
    store = Counselling(redis, SECRET, hours=hours, clock=clock)
    assert not await store.is_staffed()  # nobody on duty
    await store.on_duty("awa")
    assert await store.is_staffed()
    clock.now += 10 * 3600  # 20:00
    assert not await store.is_staffed()


@pytest.mark.parametrize(
    "text", ["mon=8:00-18:00", "xyz=08:00-09:00", "fri-mon=08:00-09:00", "mon=10:00-09:00"]
)
def test_opening_hours_that_cannot_be_read_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"DAYS=HH:MM-HH:MM|an empty range|time of day"):
        parse_hours(text)


async def test_a_place_that_moves_is_edited_by_one_bot_process_only(
    redis: Redis[bytes], store: Counselling
) -> None:
    ahead = await store.request(1, "fr", Origin.MENU)
    behind = await store.request(CHAT_ID, "bm", Origin.MENU)
    await store.shown(behind, 4242)
    other_replica = Counselling(redis, SECRET, clock=store.clock)
    assert await store.moved_places("bot-a") == []  # nothing moved since it was shown
    await store.claim(ahead.conversation, "awa")
    [moved] = await store.moved_places("bot-a")
    assert (moved.chat_id, moved.message, moved.locale) == (CHAT_ID, 4242, "bm")
    assert moved.queued.position == 1
    assert await other_replica.moved_places("bot-b") == []  # the same change, taken
    await store.shown(moved.queued, moved.message)
    await store.say(behind.conversation, "SECRET-MOUSSA", Risk.CRISIS)  # the queue changes
    assert await store.moved_places("bot-a") == []  # but this place did not move
    dump = await everything(redis)
    assert str(CHAT_ID).encode() not in dump


async def test_a_counsellor_off_duty_counts_for_nobody_even_with_the_console_open(
    store: Counselling,
) -> None:
    assert await store.on_duty("awa")
    assert await store.is_staffed()
    await store.switch_duty("awa", on=False)
    assert not await store.on_duty("awa")  # the console refreshed: still off
    assert not await store.is_staffed()
    assert await store.on_duty_now() == []
    await store.switch_duty("awa", on=True)
    assert await store.on_duty_now() == ["awa"]
