"""The outbound scheduler on its own (bot/adapters/sending.py), through PTB's
`BaseRateLimiter.process_request` exactly as PTB's ExtBot calls it, with a Bot API stand-in
that records what was sent when: crisis answers overtake a backlog, a chat's messages keep
their order, a 429 pauses every sender and loses nothing, broadcasts alone may give up, a
blocked user is not retried, the rate adapts, and it all shows at /metrics.

Nothing here sleeps: a test waits only for the scheduler to finish the requests it was
given (whose pacing is the thing under test)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs
from telegram.error import Forbidden, RetryAfter

from bot import metrics
from bot.adapters.sending import MAX_IDLE_CHATS, Priority, PriorityRateLimiter, watch
from bot.adapters.telegram import reply_priority
from bot.metrics import REGISTRY

Send = Callable[..., Awaitable[Any]]


class FakeTelegram:
    """Records each sendMessage call (chat, label, time); may refuse some with a 429."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, float]] = []
        self.refuse: Callable[[int, str, int], float | None] = lambda chat, label, n: None
        self.attempts: dict[str, int] = {}

    async def post(self, endpoint: str, data: dict[str, Any]) -> dict[str, Any]:
        label = str(data["text"])
        self.attempts[label] = self.attempts.get(label, 0) + 1
        retry_after = self.refuse(int(data["chat_id"]), label, self.attempts[label])
        if retry_after is not None:
            raise RetryAfter(timedelta(seconds=retry_after))
        self.calls.append((int(data["chat_id"]), label, time.monotonic()))
        return {"message_id": len(self.calls), "text": label}

    @property
    def order(self) -> list[str]:
        return [label for _, label, _ in self.calls]


def sender(limiter: PriorityRateLimiter, telegram: FakeTelegram) -> Send:
    async def send(chat_id: int, label: str, priority: Priority | None = None) -> Any:
        data = {"chat_id": chat_id, "text": label}
        return await limiter.process_request(
            callback=telegram.post,
            args=("sendMessage", data),
            kwargs={},
            endpoint="sendMessage",
            data=data,
            rate_limit_args=priority,
        )

    return send


def refusals() -> float:
    """429s the schedulers have counted so far (`sini_send_retry_after`, every class)."""
    return sum(
        REGISTRY.get_sample_value("sini_send_retry_after_total", {"priority": p.label}) or 0.0
        for p in Priority
    )


def given_up() -> float:
    """Broadcast messages given up so far (`sini_send_given_up`)."""
    return REGISTRY.get_sample_value("sini_send_given_up_total") or 0.0


@pytest.fixture
async def limiter() -> Any:
    made: list[PriorityRateLimiter] = []

    def make(**options: Any) -> PriorityRateLimiter:
        made.append(PriorityRateLimiter(**options))
        return made[-1]

    yield make
    for each in made:
        await each.shutdown()


async def test_a_crisis_answer_overtakes_a_backlog_of_hundreds_of_greetings(limiter: Any) -> None:
    scheduler = limiter(max_rate=400)
    telegram = FakeTelegram()
    send = sender(scheduler, telegram)
    greetings = [
        asyncio.create_task(send(1000 + n, f"hello {n}", Priority.FIRST)) for n in range(400)
    ]
    while len(telegram.calls) < 40:  # the backlog is being worked through
        await asyncio.wait(greetings, return_when=asyncio.FIRST_COMPLETED, timeout=0.05)
    sent_before = len(telegram.calls)
    await send(7, "crisis", Priority.URGENT)
    await asyncio.gather(*greetings)

    assert telegram.order.index("crisis") <= sent_before + 2
    assert sorted(telegram.order) == sorted([*(f"hello {n}" for n in range(400)), "crisis"])


async def test_classes_go_in_order_and_first_come_first_served_within_a_class(
    limiter: Any,
) -> None:
    scheduler = limiter(max_rate=1000)
    telegram = FakeTelegram()
    send = sender(scheduler, telegram)
    plan = [
        (1, "bulk a", Priority.BULK),
        (2, "rest a", Priority.REST),
        (3, "first a", Priority.FIRST),
        (4, "urgent a", Priority.URGENT),
        (5, "rest b", None),  # nothing said: the rest
        (6, "first b", Priority.FIRST),
        (7, "urgent b", Priority.URGENT),
        (8, "bulk b", Priority.BULK),
    ]
    # Queued together (no grant can happen before the loop runs the scheduler).
    await asyncio.gather(*(send(chat, label, priority) for chat, label, priority in plan))

    assert telegram.order == [
        "urgent a",
        "urgent b",
        "first a",
        "first b",
        "rest a",
        "rest b",
        "bulk a",
        "bulk b",
    ]


async def test_a_chats_messages_stay_in_order_and_its_crisis_answer_pulls_them_along(
    limiter: Any,
) -> None:
    scheduler = limiter(max_rate=1000)  # bursts of 100
    telegram = FakeTelegram()
    send = sender(scheduler, telegram)
    others = [send(100 + n, f"other {n}", Priority.FIRST) for n in range(400)]
    mine = [
        send(1, "menu", Priority.REST),
        send(1, "quiz step", Priority.REST),
        send(1, "crisis", Priority.URGENT),
        send(1, "next steps", Priority.URGENT),
    ]
    await asyncio.gather(*others, *mine)

    order = telegram.order
    assert [label for label in order if not label.startswith("other")] == [
        "menu",
        "quiz step",
        "crisis",
        "next steps",
    ]
    # One message of a chat at a time, but ahead of the first replies waiting: all four
    # went out within the first burst and a few messages after it, not at the end.
    assert order.index("next steps") < 110


async def test_one_chat_gets_a_short_burst_then_about_one_message_a_second_while_others_flow(
    limiter: Any,
) -> None:
    scheduler = limiter(max_rate=1000, chat_rate=20, chat_burst=3)
    telegram = FakeTelegram()
    send = sender(scheduler, telegram)
    started = time.monotonic()
    flood = [send(1, f"flood {n}", Priority.FIRST) for n in range(9)]
    others = [send(100 + n, f"other {n}", Priority.REST) for n in range(30)]
    await asyncio.gather(*flood, *others)

    flood_times = [at for chat, _, at in telegram.calls if chat == 1]
    assert [label for chat, label, _ in telegram.calls if chat == 1] == [
        f"flood {n}" for n in range(9)
    ]
    assert flood_times[-1] - started >= (9 - 3) / 20  # the burst, then 20/s
    # The others were not held up by the flooding chat: all went before its last message.
    assert max(at for chat, _, at in telegram.calls if chat != 1) < flood_times[-1]


async def test_erasing_a_conversation_is_not_held_to_the_pace_of_new_messages(
    limiter: Any,
) -> None:
    scheduler = limiter(max_rate=1000, chat_rate=1, chat_burst=2)
    telegram = FakeTelegram()
    send = sender(scheduler, telegram)
    deleted: list[int] = []

    async def delete(endpoint: str, data: dict[str, Any]) -> bool:
        deleted.append(int(data["message_id"]))
        return True

    async def erase(message_id: int) -> Any:
        data = {"chat_id": 1, "message_id": message_id}
        return await scheduler.process_request(
            delete, ("deleteMessage", data), {}, "deleteMessage", data, None
        )

    started = time.monotonic()
    await send(1, "receipt", Priority.FIRST)
    await send(1, "erase offer", Priority.REST)  # the chat's burst is spent
    await asyncio.gather(*(erase(n) for n in range(15)))

    assert deleted == list(range(15))  # in order
    assert time.monotonic() - started < 1  # not one a second
    await send(1, "erased", Priority.FIRST)  # the next message keeps the chat's pace
    assert time.monotonic() - started >= 0.9


async def test_a_429_pauses_every_sender_and_every_message_is_still_sent_once(
    limiter: Any,
) -> None:
    scheduler = limiter(max_rate=50)  # bursts of 5
    telegram = FakeTelegram()
    refused_at: list[float] = []
    counted = refusals()

    def refuse(chat: int, label: str, attempt: int) -> float | None:
        if label == "hello 30" and attempt == 1:
            refused_at.append(time.monotonic())
            return 1.0
        return None

    telegram.refuse = refuse
    send = sender(scheduler, telegram)
    answers = [send(1000 + n, f"hello {n}", Priority.FIRST) for n in range(100)]
    answers += [send(1030, "its menu", Priority.REST)]
    results = await asyncio.gather(*answers)

    assert sorted(telegram.order) == sorted([*(f"hello {n}" for n in range(100)), "its menu"])
    assert [r["text"] for r in results[:100]] == [f"hello {n}" for n in range(100)]
    order = telegram.order
    assert order.index("hello 30") < order.index("its menu")  # retried first in its chat
    [refusal] = refused_at
    # Nobody sent during the second Telegram asked for (but those already in flight).
    during = [label for _, label, at in telegram.calls if refusal < at < refusal + 0.99]
    assert len(during) <= 5, during
    assert refusals() - counted == 1
    assert scheduler.rate < 50


async def test_replies_are_retried_as_long_as_it_takes_but_a_broadcast_gives_up(
    limiter: Any,
) -> None:
    scheduler = limiter(max_rate=1000, broadcast_max_retries=2)
    telegram = FakeTelegram()
    abandoned = given_up()
    short = 0.01
    telegram.refuse = lambda chat, label, attempt: (
        short if label.startswith("weekly") or attempt <= 8 else None
    )
    send = sender(scheduler, telegram)

    with capture_logs() as events:
        reply = await send(1, "reply", Priority.FIRST)
        with pytest.raises(RetryAfter):
            await send(2, "weekly tip", Priority.BULK)

    assert reply["text"] == "reply"
    assert telegram.attempts == {"reply": 9, "weekly tip": 3}
    assert given_up() - abandoned == 1
    assert [e for e in events if e["event"] == "telegram.broadcast_gave_up"] == [
        {"event": "telegram.broadcast_gave_up", "attempts": 3, "log_level": "warning"}
    ]


async def test_a_user_who_blocked_the_bot_is_skipped_without_retries(limiter: Any) -> None:
    scheduler = limiter(max_rate=1000)
    calls: list[int] = []

    async def blocked(endpoint: str, data: dict[str, Any]) -> Any:
        calls.append(int(data["chat_id"]))
        raise Forbidden("Forbidden: bot was blocked by the user")

    data = {"chat_id": 5, "text": "hello"}
    with pytest.raises(Forbidden):
        await scheduler.process_request(
            blocked, ("sendMessage", data), {}, "sendMessage", data, Priority.FIRST
        )
    telegram = FakeTelegram()
    await sender(scheduler, telegram)(5, "the chat's next message")  # the chat is not stuck

    assert calls == [5]
    assert telegram.order == ["the chat's next message"]


async def test_the_rate_falls_on_429s_and_climbs_back_without_them(limiter: Any) -> None:
    """A Telegram stand-in that refuses (retry_after 1 s) above 60 messages in any second:
    the scheduler, starting at 30/s with no ceiling, probes upwards, is cut back, and every
    message is sent exactly once."""
    scheduler = limiter(start_rate=30, chat_rate=0)
    counted = refusals()
    telegram = FakeTelegram()
    accepted: list[float] = []

    def over_60(chat: int, label: str, attempt: int) -> float | None:
        now = time.monotonic()
        while accepted and accepted[0] <= now - 1:
            accepted.pop(0)
        if len(accepted) >= 60:
            return 1.0
        accepted.append(now)
        return None

    telegram.refuse = over_60
    send = sender(scheduler, telegram)
    rates: list[float] = []
    answers = [asyncio.ensure_future(send(n, f"m {n}", Priority.FIRST)) for n in range(300)]
    while not all(a.done() for a in answers):
        rates.append(scheduler.rate)
        await asyncio.wait(answers, timeout=0.1)

    assert sorted(telegram.order) == sorted(f"m {n}" for n in range(300))
    assert max(rates) > 30  # it probed above the start rate
    assert refusals() > counted
    assert min(rates[rates.index(max(rates)) :]) < max(rates)  # and was cut back


async def test_queues_and_rate_show_at_metrics_and_a_late_crisis_answer_warns(
    limiter: Any,
) -> None:
    scheduler = limiter(max_rate=500)
    counted = refusals()
    watch(scheduler)
    telegram = FakeTelegram()
    telegram.refuse = lambda chat, label, attempt: 1.5 if (label, attempt) == ("first", 1) else None
    send = sender(scheduler, telegram)

    def gauge(name: str, **labels: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    refused_before = gauge("sini_send_retry_after_total", priority="first")
    with capture_logs() as events:
        first = asyncio.ensure_future(send(1, "first", Priority.FIRST))
        while refusals() == counted:  # Telegram asked for a pause of 1.5 s
            await asyncio.wait([first], timeout=0.01)
        waiting = [asyncio.ensure_future(send(2 + n, f"w{n}", Priority.FIRST)) for n in range(5)]
        crisis = asyncio.ensure_future(send(9, "crisis", Priority.URGENT))
        await asyncio.wait([crisis], timeout=0.01)
        assert gauge("sini_send_queued", priority="first") == 6
        assert gauge("sini_send_queued", priority="urgent") == 1
        assert gauge("sini_send_oldest_wait_seconds", priority="first") > 0
        assert gauge("sini_send_rate") == scheduler.rate
        await asyncio.gather(first, crisis, *waiting)

    assert gauge("sini_send_queued", priority="first") == 0
    assert gauge("sini_send_retry_after_total", priority="first") == refused_before + 1
    [warning] = [e for e in events if e["event"] == "telegram.urgent_send_delayed"]
    assert warning["waited_seconds"] > 1
    assert all(metrics.label_allowed("priority", p.label) for p in Priority)


async def test_a_request_whose_caller_gave_up_does_not_hold_up_its_chat(limiter: Any) -> None:
    scheduler = limiter(max_rate=1000)
    counted = refusals()
    telegram = FakeTelegram()
    telegram.refuse = lambda chat, label, attempt: 1.0 if (label, attempt) == ("a", 1) else None
    send = sender(scheduler, telegram)
    first = asyncio.ensure_future(send(2, "a"))
    while refusals() == counted:  # everyone is paused for a second
        await asyncio.wait([first], timeout=0.01)
    abandoned = asyncio.ensure_future(send(1, "abandoned"))
    await asyncio.wait([abandoned], timeout=0.01)
    abandoned.cancel()
    await send(1, "next")
    await first

    assert telegram.order == ["a", "next"]
    assert scheduler.stats()[Priority.REST].queued == 0


@pytest.mark.parametrize(
    ("topic", "classes"),
    [
        ("crisis.suicide", [Priority.URGENT, Priority.URGENT]),  # numbers, then next steps
        ("crisis.general", [Priority.URGENT]),
        ("checkin", [Priority.URGENT]),
        ("emergency", [Priority.URGENT]),  # the 🆘 key, /urgence
        ("start", [Priority.FIRST, Priority.REST]),  # welcome, then the menu
        ("checkin.no", [Priority.FIRST]),
        ("quiz.hiv", [Priority.FIRST, Priority.REST]),
        (None, [Priority.FIRST, Priority.REST, Priority.REST]),
    ],
)
def test_the_telegram_adapter_sends_crisis_answers_first_then_first_replies(
    topic: str | None, classes: list[Priority]
) -> None:
    assert [reply_priority(topic, number) for number in range(len(classes))] == classes


async def test_a_backlog_of_more_than_two_seconds_of_live_replies_makes_answers_fold(
    limiter: Any,
) -> None:
    scheduler = limiter(max_rate=20)
    telegram = FakeTelegram()
    send = sender(scheduler, telegram)
    assert not scheduler.behind

    backlog = [
        asyncio.ensure_future(send(1000 + n, f"hello {n}", Priority.FIRST)) for n in range(60)
    ]
    await asyncio.sleep(0)  # let them queue (no time passes)
    assert scheduler.behind
    await asyncio.gather(*backlog)
    assert not scheduler.behind


async def test_the_pacing_of_chats_at_rest_is_forgotten_so_memory_stays_bounded(
    limiter: Any,
) -> None:
    """Each chat has its own pacing while it is answered; a chat at rest (its bucket full
    again) is forgotten once MAX_IDLE_CHATS are kept, however many chats come."""
    now = [0.0]
    scheduler = limiter(max_rate=1e9, clock=lambda: now[0])
    send = sender(scheduler, FakeTelegram())
    wave = 500
    for first in range(0, 3 * MAX_IDLE_CHATS, wave):
        await asyncio.gather(*(send(50_000 + n, "hello") for n in range(first, first + wave)))
        now[0] += 60.0  # every bucket is full again
    assert len(scheduler._chats) <= MAX_IDLE_CHATS + wave
