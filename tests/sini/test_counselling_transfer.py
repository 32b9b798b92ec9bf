"""`sini.counselling.store`: handing a conversation to another counsellor or back to the
queue, and ending it with a summary that only adds to anonymous daily counts."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from redis.asyncio import Redis

from sini.counselling.model import Origin, Risk, Status
from sini.counselling.store import Counselling, NotHeld, Unavailable
from sini.counselling.summary import NO_REFERRAL, Summary, Topic, figures
from tests.conftest import Keys
from tests.sini.conftest import CHAT_ID, SECRET, Clock
from tests.support.redis_scan import everything


async def held(store: Counselling, account: str) -> list[str]:
    return [c.id for c in await store.held_by(account)]


async def test_a_transfer_moves_the_conversation_and_tells_the_young_person_once(
    store: Counselling,
) -> None:
    await store.on_duty("binta")
    queued = await store.request(CHAT_ID, "bm", Origin.MENU)
    await store.claim(queued.conversation, "awa")
    assert await store.available("awa") == ["binta"]
    assert await store.available("binta") == []  # never oneself; awa is not on duty
    await store.transfer(queued.conversation, "awa", "binta")
    assert await held(store, "awa") == []
    assert await held(store, "binta") == [queued.conversation]
    moved = await store.get(queued.conversation)
    assert (moved.status, moved.counsellor) == (Status.ACTIVE, "binta")
    [notice] = await store.pending_replies("bot-1", block_ms=10)
    assert (notice.reply.handover, notice.reply.text, notice.reply.locale) == (True, None, "bm")
    with pytest.raises(NotHeld):  # no longer awa's: no reply, no second transfer
        await store.reply(queued.conversation, "awa", "encore moi")


async def test_back_in_the_queue_it_keeps_its_place_by_risk_and_first_request(
    store: Counselling, clock: Clock
) -> None:
    first = await store.request(1, "fr", Origin.MENU, Risk.UNSURE)
    clock.now += 60
    later = await store.request(2, "fr", Origin.MENU, Risk.UNSURE)
    clock.now += 60
    ordinary = await store.request(3, "fr", Origin.MENU)
    await store.claim(first.conversation, "awa")
    clock.now += 600
    newest = await store.request(4, "fr", Origin.MENU, Risk.UNSURE)
    await store.requeue(first.conversation, "awa")
    order = [c.id for c in await store.waiting()]
    assert order == [
        first.conversation,
        later.conversation,
        newest.conversation,
        ordinary.conversation,
    ]
    assert await held(store, "awa") == []
    assert await store.pending_replies("bot-1", block_ms=10) == []  # the young person: nothing
    back = await store.get(first.conversation)
    assert (back.status, back.counsellor) == (Status.WAITING, None)


async def test_of_two_transfers_racing_for_the_last_place_exactly_one_wins(
    redis: Redis[bytes], clock: Clock, keys: Keys
) -> None:
    store = Counselling(redis, SECRET, limit=1, clock=clock)
    await store.on_duty("chaka")
    one = await store.request(1, "fr", Origin.MENU)
    two = await store.request(2, "fr", Origin.MENU)
    await store.claim(one.conversation, "awa")
    await store.claim(two.conversation, "binta")
    results = await asyncio.gather(
        store.transfer(one.conversation, "awa", "chaka"),
        store.transfer(two.conversation, "binta", "chaka"),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "Unavailable"]
    taken = await held(store, "chaka")
    assert len(taken) == 1
    kept = [*await held(store, "awa"), *await held(store, "binta")]
    assert sorted(taken + kept) == sorted([one.conversation, two.conversation])


async def test_a_transfer_to_someone_off_duty_or_at_the_limit_is_refused(
    store: Counselling, clock: Clock
) -> None:
    await store.on_duty("binta")
    await store.switch_duty("binta", False)
    queued = await store.request(CHAT_ID, "fr", Origin.MENU)
    await store.claim(queued.conversation, "awa")
    for to in ("binta", "nobody", "awa"):
        with pytest.raises(Unavailable):
            await store.transfer(queued.conversation, "awa", to)
    await store.switch_duty("binta", True)
    for n in range(2):
        other = await store.request(n, "fr", Origin.MENU)
        await store.claim(other.conversation, "binta")
    with pytest.raises(Unavailable):
        await store.transfer(queued.conversation, "awa", "binta")
    assert await held(store, "awa") == [queued.conversation]


async def test_a_summary_adds_to_the_days_counts_and_keeps_no_text(
    store: Counselling, clock: Clock
) -> None:
    queued = await store.request(CHAT_ID, "fr", Origin.MENU)
    await store.say(queued.conversation, "SECRET-FANTA on me force à partir")
    clock.now += 4 * 60
    await store.claim(queued.conversation, "awa")
    await store.on_duty("binta")
    await store.transfer(queued.conversation, "awa", "binta")
    clock.now += 20 * 60
    summary = Summary(Topic.TRAFFICKING, Risk.UNSURE, "ml-bko-ong-enfance")
    await store.close(queued.conversation, "binta", summary)
    other = await store.request(2, "bm", Origin.MENU)
    clock.now += 6 * 60
    await store.claim(other.conversation, "awa")
    clock.now += 10 * 60
    await store.close(other.conversation, "awa", Summary(Topic.FAMILY, Risk.ORDINARY))

    day = datetime.fromtimestamp(clock.now, timezone.utc).date()
    counted = await figures(store.redis, [day])
    assert counted.per_day == [(day, 2)]
    assert (counted.median_wait, counted.median_duration) == (4, 10)
    assert counted.topics == {Topic.TRAFFICKING: 1, Topic.FAMILY: 1}
    assert counted.risks == {Risk.UNSURE: 1, Risk.ORDINARY: 1}
    assert counted.referrals == {"ml-bko-ong-enfance": 1, NO_REFERRAL: 1}
    dump = await everything(store.redis)
    summaries = [line for line in dump.split(b"\n") if line.startswith(b"sini:counsel:summary:")]
    assert summaries
    assert not any(
        word in line
        for line in summaries
        for word in (b"SECRET", b"awa", b"binta", queued.conversation.encode())
    )


async def test_a_conversation_the_young_person_ends_is_counted_without_a_summary(
    store: Counselling, clock: Clock
) -> None:
    talked = await store.request(CHAT_ID, "fr", Origin.MENU)
    clock.now += 3 * 60
    await store.claim(talked.conversation, "awa")
    clock.now += 7 * 60
    await store.end(talked.conversation)  # /stop before the counsellor wrote a summary
    left_waiting = await store.request(2, "bm", Origin.MENU)
    await store.end(left_waiting.conversation)  # no counsellor had it: not a conversation

    day = datetime.fromtimestamp(clock.now, timezone.utc).date()
    counted = await figures(store.redis, [day])
    assert counted.per_day == [(day, 1)]
    assert counted.unsummarised == 1
    assert (counted.median_wait, counted.median_duration) == (3, 7)
    assert counted.topics == {}
