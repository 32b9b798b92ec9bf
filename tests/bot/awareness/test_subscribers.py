"""Opt-in weekly messages: an encrypted list, a paced broadcast that resumes without
duplicates, /stop honoured at once, and the rotating content."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.awareness.quiz import load_quizzes
from bot.awareness.subscribers import (
    SUBSCRIBERS_KEY,
    RetryLater,
    Subscribers,
    Unreachable,
    iso_week,
    load_weekly,
    pick_weekly,
    weekly_broadcast_id,
)
from bot.content import Catalog, ContentError
from bot.dialogue.store import chat_key
from tests.bot.awareness import (
    PHONE,
    QUIZZES_DIR,
    WEEKLY_FILE,
    FakeTime,
    cited_sources,
    redis_dump,
    write,
)
from tests.conftest import SECRET

CHATS = [770_000_001 + 7919 * i for i in range(12)]
LOCALES = ["fr", "bm", "en"]


@pytest.fixture
def subscribers(redis: Redis) -> Subscribers:
    return Subscribers(redis, SECRET)


async def is_subscribed(subscribers: Subscribers, chat_id: int) -> bool:
    """What the list says of one chat (the bot itself never needs to ask)."""
    return bool(await subscribers.redis.hexists(SUBSCRIBERS_KEY, subscribers._field(chat_id)))


async def subscribe_all(subscribers: Subscribers, chats: list[int] = CHATS) -> dict[int, str]:
    locales = dict(zip(chats, itertools.cycle(LOCALES)))
    for chat_id, locale in locales.items():
        await subscribers.subscribe(chat_id, locale)
    return locales


class Recorder:
    """A `send` that records who got what, and when (on the fake clock)."""

    def __init__(self, time: FakeTime | None = None) -> None:
        self.time = time
        self.delivered: list[tuple[int, str]] = []
        self.at: list[float] = []

    async def __call__(self, chat_id: int, locale: str) -> None:
        self.delivered.append((chat_id, locale))
        self.at.append(self.time.now if self.time else 0.0)

    @property
    def chats(self) -> list[int]:
        return [chat_id for chat_id, _ in self.delivered]


# ----------------------------------------------------------------- the list


async def test_subscribe_unsubscribe_and_count(subscribers: Subscribers) -> None:
    assert await subscribers.count() == 0
    assert await subscribers.subscribe(CHATS[0], "bm") is True
    assert await subscribers.subscribe(CHATS[0], "fr") is False  # language update, not a new one
    assert await subscribers.subscribe(CHATS[1], "en") is True
    assert await subscribers.count() == 2
    assert await is_subscribed(subscribers, CHATS[0])
    assert await subscribers.unsubscribe(CHATS[0]) is True
    assert await subscribers.unsubscribe(CHATS[0]) is False
    assert not await is_subscribed(subscribers, CHATS[0])
    assert await subscribers.count() == 1


async def test_the_language_follows_a_change_but_never_resubscribes(
    subscribers: Subscribers,
) -> None:
    await subscribers.subscribe(CHATS[0], "fr")
    assert await subscribers.update_locale(CHATS[0], "bm") is True
    assert await subscribers.update_locale(CHATS[1], "bm") is False
    assert not await is_subscribed(subscribers, CHATS[1])
    recorder = Recorder()
    await subscribers.broadcast(recorder, "w1", sleep=FakeTime().sleep)
    assert recorder.delivered == [(CHATS[0], "bm")]


async def test_redis_holds_no_plaintext_chat_id(subscribers: Subscribers, redis: Redis) -> None:
    await subscribe_all(subscribers)
    await subscribers.broadcast(Recorder(), "w1", sleep=FakeTime().sleep)  # the sent set too
    dump = await redis_dump(redis)
    for chat_id in CHATS:
        assert str(chat_id).encode() not in dump
        assert chat_id.to_bytes(8, "little", signed=True) not in dump
        assert chat_id.to_bytes(8, "big", signed=True) not in dump
        # Not the chat-state pseudonym either: the list cannot be joined with chat state.
        assert chat_key(SECRET, chat_id).encode() not in dump
    assert await redis.hlen(SUBSCRIBERS_KEY) == len(CHATS)


async def test_another_secret_cannot_read_the_list(subscribers: Subscribers, redis: Redis) -> None:
    await subscribe_all(subscribers, CHATS[:3])
    stranger = Subscribers(redis, b"x" * 32)
    recorder = Recorder()
    report = await stranger.broadcast(recorder, "w1", sleep=FakeTime().sleep)
    assert recorder.delivered == []
    assert report.unreadable == 3


async def test_an_entry_copied_under_another_chat_is_refused(
    subscribers: Subscribers, redis: Redis
) -> None:
    await subscribe_all(subscribers, CHATS[:2])
    fields = sorted(await redis.hkeys(SUBSCRIBERS_KEY))
    await redis.hset(SUBSCRIBERS_KEY, fields[0], await redis.hget(SUBSCRIBERS_KEY, fields[1]))
    recorder = Recorder()
    report = await subscribers.broadcast(recorder, "w1", sleep=FakeTime().sleep)
    assert len(recorder.delivered) == 1
    assert report.unreadable == 1


# ----------------------------------------------------------------- broadcast


async def test_everyone_gets_one_message_in_their_language(subscribers: Subscribers) -> None:
    locales = await subscribe_all(subscribers)
    recorder = Recorder()
    report = await subscribers.broadcast(recorder, "weekly-2025-W11", sleep=FakeTime().sleep)
    assert sorted(recorder.delivered) == sorted(locales.items())
    assert report.sent == len(CHATS)
    again = Recorder()
    report = await subscribers.broadcast(again, "weekly-2025-W11", sleep=FakeTime().sleep)
    assert again.delivered == []
    assert report.already_sent == len(CHATS)
    other = Recorder()
    await subscribers.broadcast(other, "weekly-2025-W12", sleep=FakeTime().sleep)
    assert len(other.delivered) == len(CHATS)


async def test_a_broadcast_stopped_by_an_error_resumes_without_duplicates(
    subscribers: Subscribers,
) -> None:
    await subscribe_all(subscribers)
    delivered: list[int] = []
    calls = 0

    async def flaky(chat_id: int, locale: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise ConnectionError("network down")
        delivered.append(chat_id)

    with pytest.raises(ConnectionError):
        await subscribers.broadcast(flaky, "w1", sleep=FakeTime().sleep)
    assert len(delivered) == 4
    report = await subscribers.broadcast(flaky, "w1", sleep=FakeTime().sleep)
    assert Counter(delivered).most_common(1)[0][1] == 1  # nobody twice
    # The chat whose send failed may have got it (delivery uncertain): never retried.
    assert len(delivered) == len(CHATS) - 1
    assert report.already_sent == 5


async def test_a_cancelled_broadcast_resumes_without_duplicates(subscribers: Subscribers) -> None:
    await subscribe_all(subscribers)
    time = FakeTime()
    recorder = Recorder(time)
    stuck = asyncio.Event()
    forever = asyncio.Event()

    async def sleep(seconds: float) -> None:
        if len(recorder.delivered) == 6:  # a deploy stops the bot mid-broadcast
            stuck.set()
            await forever.wait()
        await time.sleep(seconds)

    task = asyncio.create_task(subscribers.broadcast(recorder, "w1", sleep=sleep))
    await asyncio.wait_for(stuck.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(recorder.delivered) == 6
    report = await subscribers.broadcast(recorder, "w1", sleep=FakeTime().sleep)
    assert sorted(recorder.chats) == sorted(CHATS)  # everyone, exactly once
    assert report.sent == len(CHATS) - 6
    assert report.already_sent == 6


async def test_stop_is_honoured_by_the_next_send(subscribers: Subscribers) -> None:
    await subscribe_all(subscribers)
    recorder = Recorder()
    stopped: list[int] = []

    async def send(chat_id: int, locale: str) -> None:
        await recorder(chat_id, locale)
        if not stopped:  # while the first message goes out, someone sends /stop
            waiting = next(c for c in CHATS if c not in recorder.chats)
            await subscribers.unsubscribe(waiting)
            stopped.append(waiting)

    report = await subscribers.broadcast(send, "w1", sleep=FakeTime().sleep)
    assert stopped[0] not in recorder.chats
    assert sorted(recorder.chats) == sorted(set(CHATS) - set(stopped))
    assert report.unsubscribed == 1
    later = Recorder()
    await subscribers.broadcast(later, "w2", sleep=FakeTime().sleep)
    assert stopped[0] not in later.chats


async def test_a_chat_that_blocked_the_bot_is_removed(subscribers: Subscribers) -> None:
    await subscribe_all(subscribers, CHATS[:4])
    recorder = Recorder()

    async def send(chat_id: int, locale: str) -> None:
        if chat_id == CHATS[2]:
            raise Unreachable("Forbidden: bot was blocked by the user")
        await recorder(chat_id, locale)

    report = await subscribers.broadcast(send, "w1", sleep=FakeTime().sleep)
    assert report.unreachable == 1
    assert report.sent == 3
    assert not await is_subscribed(subscribers, CHATS[2])
    assert await subscribers.count() == 3


async def test_too_many_requests_waits_and_retries_the_same_chat(
    subscribers: Subscribers,
) -> None:
    await subscribe_all(subscribers, CHATS[:3])
    time = FakeTime()
    recorder = Recorder(time)
    refused: list[float] = []

    async def send(chat_id: int, locale: str) -> None:
        if not refused:
            refused.append(time.now)
            raise RetryLater(3.0)
        await recorder(chat_id, locale)

    report = await subscribers.broadcast(send, "w1", sleep=time.sleep, clock=time.clock)
    assert sorted(recorder.chats) == sorted(CHATS[:3])
    assert report.sent == 3
    assert recorder.at[0] - refused[0] >= 3.0


async def test_pacing_never_exceeds_25_messages_per_second(subscribers: Subscribers) -> None:
    chats = [CHATS[0] + i for i in range(80)]
    await subscribe_all(subscribers, chats)
    time = FakeTime()
    recorder = Recorder(time)
    await subscribers.broadcast(recorder, "w1", sleep=time.sleep, clock=time.clock)
    assert len(recorder.at) == 80
    for first, twenty_sixth in zip(recorder.at, recorder.at[25:], strict=False):
        assert twenty_sixth - first >= 1.0 - 1e-9  # at most 25 in any one-second window
    assert sum(time.sleeps) == pytest.approx(79 / 25)  # and not slower than needed


async def test_a_slower_rate_can_be_asked(subscribers: Subscribers) -> None:
    await subscribe_all(subscribers, CHATS[:6])
    time = FakeTime()
    recorder = Recorder(time)
    await subscribers.broadcast(
        recorder, "w1", rate_per_second=2, sleep=time.sleep, clock=time.clock
    )
    gaps = [b - a for a, b in zip(recorder.at, recorder.at[1:], strict=False)]
    assert all(gap >= 0.5 - 1e-9 for gap in gaps)


@pytest.mark.parametrize("broadcast_id", ["", "a b", "x" * 65, "weekly/1"])
async def test_a_broadcast_id_is_a_short_name(subscribers: Subscribers, broadcast_id: str) -> None:
    with pytest.raises(ValueError, match="broadcast id"):
        await subscribers.broadcast(Recorder(), broadcast_id)


# ----------------------------------------------------------------- weekly content


def test_weekly_messages_are_short_sourced_and_link_to_real_content(catalog: Catalog) -> None:
    weekly = load_weekly(WEEKLY_FILE)
    quizzes = load_quizzes(QUIZZES_DIR)
    listed = cited_sources()
    assert 6 <= len(weekly) <= 12
    for message in weekly.values():
        assert len(message.text) <= 600, message.id
        assert not PHONE.search(message.text), message.id
        assert message.sources, message.id
        assert set(message.sources) <= listed, message.id
        assert message.more is None or message.more in quizzes or message.more in catalog
        assert message.id not in catalog


def test_the_rotation_walks_every_message_week_after_week() -> None:
    weekly = load_weekly(WEEKLY_FILE)
    start = date(2020, 12, 14)  # 2020 has 53 ISO weeks: the rotation crosses that boundary
    picks = [pick_weekly(weekly, iso_week(start + timedelta(weeks=n))) for n in range(len(weekly))]
    assert sorted(picks) == sorted(weekly)
    following = pick_weekly(weekly, iso_week(start + timedelta(weeks=len(weekly))))
    assert following == picks[0]
    assert iso_week(date(2021, 1, 4)) == (2021, 1)
    assert weekly_broadcast_id((2025, 7)) == "weekly-2025-W07"


def test_a_broken_weekly_file_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path / "weekly.yml", "weekly:\n  weekly.demo:\n    text: Bonjour\n")
    with pytest.raises(ContentError, match=r"weekly\.yml:3: weekly\.demo\.sources"):
        load_weekly(path)
