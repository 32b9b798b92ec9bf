"""The outbound scheduler: every Bot API call that puts something in a chat waits here.

It replaces PTB's `AIORateLimiter` through PTB's public `BaseRateLimiter` interface
(`ApplicationBuilder.rate_limiter`): PTB hands each request to `process_request` with the
`rate_limit_args` its caller gave (`bot.send_message(..., rate_limit_args=Priority.URGENT)`),
and this class decides when the request goes out. `AIORateLimiter` is first come, first
served with one fixed rate and gives up after `max_retries` 429s; wrapping it could not
change either, so it is replaced.

What it guarantees:

- **Priority classes** (`Priority`): crisis answers, check-ins and the 🆘 key first; then the
  first reply to a new message; then the rest (other parts of an answer, menus, quiz steps,
  edits, deletions); broadcasts and notices last. First come, first served within a class.
- **A chat's messages stay in order**: one request per chat is in flight at a time, and a
  chat is served at the best class among its waiting requests (a crisis answer pulls the
  menu queued before it in the same chat along, instead of overtaking it).
- **About one message per second per chat**, with a short burst (a token bucket per chat;
  groups get Telegram's 20 per minute); edits and deletions keep their place in the chat
  but do not count.
- **An adaptive overall rate**: live replies start at `start_rate` (at the ceiling when
  there is one) and grow while there is a
  backlog and no 429 (doubling each second until the first 429, then +`ADDITIVE_STEP`
  messages/s each second), `max_rate` being an optional hard ceiling; a 429 pauses every
  sender for its `retry_after` and cuts the rate to `DECREASE` x the rate actually sent at
  (once per episode; not when the bot was sending slowly, as then the 429 is not about
  the overall rate — one chat's flood, say).
  Broadcasts also keep to `broadcast_rate`.
- **A 429 never drops a message**: the request is retried, at the head of its chat and with
  its place in its class, as often as it takes — except broadcasts, which give up after
  `broadcast_max_retries` (logged) so that a broadcast run can resume later. Any other error
  (403: the user blocked the bot) is the caller's, at once, without retry.

Requests without a chat (answerCallbackQuery, getFile, setMyCommands…) are not queued:
they only wait out a 429 pause, and are retried after one like the rest.

With `share(SharedBudget(redis))` the overall bucket, the adaptive rate and the 429 pause
are shared by every replica through Redis (bot/adapters/shared_budget.py): this process then
spends tokens granted in batches instead of refilling its own bucket by the clock. When
Redis cannot be reached it goes on alone at its own rate, and asks Redis again after
`SHARED_RETRY_SECONDS`. Per-chat order and pace, the classes and the queue itself stay in
the process that received the update.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum
from typing import Any

from redis.exceptions import RedisError
from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot import metrics
from bot.adapters.shared_budget import Need, SharedBudget
from sini.logging import get_logger

log = get_logger(__name__)


class Priority(IntEnum):
    """Who goes first when there is a backlog (lower first)."""

    URGENT = 1  # crisis answers, check-ins, the 🆘 key
    FIRST = 2  # the first reply to a new message
    REST = 3  # the rest of an answer, menus, quiz steps, edits, deletions
    BULK = 4  # broadcasts and notices

    @property
    def label(self) -> str:
        return self.name.lower()


_VALUES = frozenset(p.value for p in Priority)
# What each class asks of the shared budget (`Need.LIVE` for the classes not listed).
_NEEDS = {Priority.URGENT: Need.URGENT, Priority.BULK: Need.BULK}
# Bot API methods that put something in (or take it out of) a chat: these are queued.
PACED_PREFIXES = ("send", "edit", "delete", "copy", "forward", "stop")
# Of those, the ones that post a new message: only these count towards a chat's own pace
# (erasing a conversation deletes a dozen messages at once).
NEW_MESSAGE_PREFIXES = ("send", "copy", "forward")
START_RATE = 30.0  # messages/s before anything is learnt: Telegram's published bulk figure
MIN_RATE = 1.0
ADDITIVE_STEP = 2.0  # messages/s added per second of backlog without a 429
PROBE_FACTOR = 2.0  # growth per second of backlog before the first 429 (slow start)
DECREASE = 0.7  # the rate after a 429, as a share of the rate actually sent at
ADJUST_SECONDS = 1.0
BURST_SECONDS = 0.1  # the overall bucket holds this many seconds' worth of messages
CHAT_RATE = 1.0
CHAT_BURST = 10.0
GROUP_RATE = 20 / 60
GROUP_BURST = 20.0
BROADCAST_RATE = 25.0
BROADCAST_MAX_RETRIES = 5
URGENT_WARNING_SECONDS = 1.0
MAX_IDLE_CHATS = 10_000  # idle chats whose bucket is refilling, kept before a sweep
BEHIND_SECONDS = 2.0  # a backlog longer than this folds answers into fewer messages
SHARED_RETRY_SECONDS = 5.0  # alone after the shared budget failed, before asking again


def retry_after_seconds(error: RetryAfter) -> float:
    """`retry_after` in seconds, without PTB 22's int/timedelta deprecation warning."""
    value = getattr(error, "_retry_after", None)
    if isinstance(value, timedelta):
        return value.total_seconds()
    raw = error.retry_after
    return raw.total_seconds() if isinstance(raw, timedelta) else float(raw)


def priority_of(rate_limit_args: object) -> Priority:
    """The class a caller asked for; REST when it said nothing (or nonsense)."""
    if isinstance(rate_limit_args, int) and rate_limit_args in _VALUES:
        return Priority(rate_limit_args)
    return Priority.REST


class _Bucket:
    """A token bucket whose rate may change; at rate 0 it only holds what it is given."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        if self.rate == math.inf:
            self.tokens = self.capacity
        elif now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait(self, now: float) -> float:
        """Seconds until one token is there (0 when it is)."""
        self.refill(now)
        if self.tokens >= 1:
            return 0.0
        return math.inf if self.rate == 0 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self.refill(now)
        self.tokens -= 1

    def full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= self.capacity


@dataclass(eq=False)
class _Item:
    priority: Priority
    seq: int
    enqueued: float
    turn: asyncio.Future[None]
    attempts: int = 0
    epoch: int = 0
    sent_once: bool = False
    granted: bool = False  # its turn came (its chat is busy with it)
    new_message: bool = True  # counts towards the chat's own pace


@dataclass(eq=False)
class _Chat:
    key: Hashable
    bucket: _Bucket
    items: deque[_Item] = field(default_factory=deque)
    busy: bool = False
    entry: int = 0  # the id of its one valid heap entry (0: none)

    def best(self) -> tuple[int, int]:
        """(class, seq) it is served at: the best class waiting, first come in it."""
        return min((item.priority.value, item.seq) for item in self.items)


@dataclass(frozen=True)
class ClassStats:
    queued: int
    oldest_wait: float


class PriorityRateLimiter(BaseRateLimiter[Priority]):
    """Prioritised, per-chat ordered, adaptive sending (see the module's docstring)."""

    def __init__(
        self,
        *,
        max_rate: float | None = None,
        start_rate: float = START_RATE,
        broadcast_rate: float = BROADCAST_RATE,
        broadcast_max_retries: int = BROADCAST_MAX_RETRIES,
        chat_rate: float = CHAT_RATE,
        chat_burst: float = CHAT_BURST,
        min_rate: float = MIN_RATE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_rate = max_rate if max_rate else None
        self.min_rate = min_rate
        self.broadcast_max_retries = broadcast_max_retries
        self.chat_rate = chat_rate  # 0: no pacing per chat
        self.chat_burst = max(1.0, chat_burst)
        self._clock = clock
        now = clock()
        rate = self.max_rate if self.max_rate is not None else start_rate
        self._rate = max(min_rate, rate)
        self._overall = _Bucket(self._rate, self._capacity(self._rate), now)
        self._bulk = _Bucket(broadcast_rate, max(1.0, broadcast_rate * BURST_SECONDS), now)
        self._chats: dict[Hashable, _Chat] = {}
        self._sweep_at = MAX_IDLE_CHATS
        self._ready: list[tuple[int, int, int, _Chat]] = []  # (class, seq, entry, chat)
        self._timers: list[tuple[float, int, _Chat]] = []  # per-chat bucket refills
        self._entries = itertools.count(1)
        self._seqs = itertools.count(1)
        self._queued = dict.fromkeys(Priority, 0)
        self._paused_until = 0.0
        self._epoch = 0
        self._probing = self.max_rate is None
        self._rate_bound = False
        self._adjusted = now
        self._recent: deque[float] = deque()  # grant times in the last second
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._budget: SharedBudget | None = None
        self._alone_until = 0.0  # the shared budget failed: this process paces itself
        self._alone_seconds = SHARED_RETRY_SECONDS
        self._lost = False  # the shared budget failed and has not answered since
        self._starved: Priority | None = None  # the class that found no shared token
        self._tell_rate = False
        self._tell_pause = 0.0

    def share(
        self, budget: SharedBudget, *, alone_after_failure: float = SHARED_RETRY_SECONDS
    ) -> None:
        """Spend one budget with every replica (see the module's docstring)."""
        self._budget = budget
        self._alone_seconds = alone_after_failure
        self._overall.rate = 0.0
        self._overall.tokens = 0.0

    # ------------------------------------------------------------ BaseRateLimiter

    async def initialize(self) -> None:
        self._ensure_running()

    async def shutdown(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Priority | None,
    ) -> bool | JSONDict | list[JSONDict]:
        priority = priority_of(rate_limit_args)
        chat_id = data.get("chat_id")
        if chat_id is None or not endpoint.startswith(PACED_PREFIXES):
            return await self._unpaced(callback, args, kwargs, priority)
        new_message = endpoint.startswith(NEW_MESSAGE_PREFIXES)
        return await self._paced(callback, args, kwargs, priority, chat_id, new_message)

    # ------------------------------------------------------------------ what it shows

    @property
    def rate(self) -> float:
        """The overall rate live replies are sent at now (messages/s)."""
        return self._rate

    @property
    def behind(self) -> bool:
        """Whether the live replies waiting would take more than `BEHIND_SECONDS` to send
        at the current rate: answers then fold their parts (bot/adapters/folding.py)."""
        waiting = self._queued[Priority.FIRST] + self._queued[Priority.REST]
        return waiting > self._rate * BEHIND_SECONDS

    def stats(self) -> dict[Priority, ClassStats]:
        """Per class: requests waiting (or being retried) and the oldest one's wait."""
        now = self._clock()
        oldest = dict.fromkeys(Priority, now)
        for chat in self._chats.values():
            for item in chat.items:
                oldest[item.priority] = min(oldest[item.priority], item.enqueued)
        return {p: ClassStats(self._queued[p], now - oldest[p]) for p in Priority}

    # ------------------------------------------------------------------- requests

    async def _unpaced(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        priority: Priority,
    ) -> bool | JSONDict | list[JSONDict]:
        attempts = 0
        while True:
            while (pause := self._paused_until - self._clock()) > 0:
                await asyncio.sleep(pause)
            epoch = self._epoch
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                attempts += 1
                self._retry_after(error, priority, epoch)
                if priority is Priority.BULK and attempts > self.broadcast_max_retries:
                    self._give_up(attempts)
                    raise

    async def _paced(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        priority: Priority,
        chat_id: object,
        new_message: bool = True,
    ) -> bool | JSONDict | list[JSONDict]:
        self._ensure_running()
        loop = asyncio.get_running_loop()
        chat = self._chat(chat_id)
        item = _Item(priority, next(self._seqs), self._clock(), loop.create_future())
        item.new_message = new_message
        chat.items.append(item)
        self._queued[priority] += 1
        self._schedule(chat)
        while True:
            try:
                await item.turn
            except asyncio.CancelledError:
                self._abandon(chat, item)
                raise
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as error:
                item.attempts += 1
                self._retry_after(error, priority, item.epoch)
                if priority is Priority.BULK and item.attempts > self.broadcast_max_retries:
                    self._finish(chat, item)
                    self._give_up(item.attempts)
                    raise
                item.turn = loop.create_future()
                item.granted = False
                chat.busy = False
                self._schedule(chat)
            except BaseException:
                self._finish(chat, item)
                raise
            else:
                self._finish(chat, item)
                return result

    def _chat(self, chat_id: object) -> _Chat:
        key: Hashable = chat_id if isinstance(chat_id, (int, str)) else str(chat_id)
        chat = self._chats.get(key)
        if chat is None:
            if len(self._chats) >= self._sweep_at:
                self._sweep()
                self._sweep_at = max(MAX_IDLE_CHATS, 2 * len(self._chats))
            group = isinstance(key, str) or (isinstance(key, int) and key < 0)
            rate, burst = (GROUP_RATE, GROUP_BURST) if group else (self.chat_rate, self.chat_burst)
            if rate <= 0:
                rate, burst = math.inf, 1.0
            chat = _Chat(key, _Bucket(rate, burst, self._clock()))
            self._chats[key] = chat
        return chat

    def _sweep(self) -> None:
        """Forget idle chats whose bucket is full again (they would start the same)."""
        now = self._clock()
        for key, chat in list(self._chats.items()):
            if not chat.items and not chat.busy and chat.bucket.full(now):
                del self._chats[key]

    def _abandon(self, chat: _Chat, item: _Item) -> None:
        """The caller went away (cancelled) while its request waited or was granted."""
        if item in chat.items:
            chat.items.remove(item)
            self._queued[item.priority] -= 1
        if item.granted:
            item.granted = False
            chat.busy = False
        self._schedule(chat)

    def _finish(self, chat: _Chat, item: _Item) -> None:
        chat.items.remove(item)
        self._queued[item.priority] -= 1
        chat.busy = False
        self._schedule(chat)

    def _give_up(self, attempts: int) -> None:
        metrics.send_given_up()
        log.warning("telegram.broadcast_gave_up", attempts=attempts)

    # --------------------------------------------------------------- the schedule

    def _schedule(self, chat: _Chat) -> None:
        """Put the chat where it belongs: ready, waiting for its own bucket, or nowhere."""
        if chat.busy or not chat.items:
            chat.entry = 0
            return
        entry = next(self._entries)
        chat.entry = entry
        now = self._clock()
        wait = chat.bucket.wait(now) if chat.items[0].new_message else 0.0
        if wait > 0:
            heapq.heappush(self._timers, (now + wait, entry, chat))
        else:
            klass, seq = chat.best()
            heapq.heappush(self._ready, (klass, seq, entry, chat))
        if self._wake is not None:
            self._wake.set()

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="telegram-sending"
            )

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            if self._budget is not None:
                await self._tell_budget()
            delay = self._dispatch()
            if self._starved is not None:
                delay = await self._replenish(self._starved)
                self._starved = None
                if delay == 0:
                    continue
            if delay is None:
                await self._wake.wait()
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    # ---------------------------------------------------------- the shared budget

    async def _replenish(self, klass: Priority) -> float:
        """Take a batch of tokens from the shared budget; the seconds to wait before the
        next try (0: try again now)."""
        assert self._budget is not None
        await self._tell_budget()  # a rate this process just changed goes first
        try:
            grant = await self._budget.take(
                int(self._overall.capacity),
                rate=self._rate,
                capacity=self._overall.capacity,
                need=_NEEDS.get(klass, Need.LIVE),
            )
        except RedisError as error:
            self._go_alone(error)
            return 0.0
        if self._lost:
            self._lost = False
            log.info("telegram.shared_budget_back")
        now = self._clock()
        if grant.rate != self._rate:
            self._set_rate(grant.rate, tell=False)
        if grant.paused_for > 0:
            self._paused_until = max(self._paused_until, now + grant.paused_for)
            return 0.0
        self._overall.tokens += grant.tokens
        return 0.0 if grant.tokens else max(grant.next_token_in, 0.001)

    async def _tell_budget(self) -> None:
        """Pass on this process's rate change and 429 pause to the other replicas."""
        assert self._budget is not None
        pause, self._tell_pause = self._tell_pause, 0.0
        tell_rate, self._tell_rate = self._tell_rate, False
        if self._clock() < self._alone_until:
            return
        try:
            if pause > 0:
                await self._budget.pause(pause)
            if tell_rate:
                await self._budget.set_rate(self._rate)
        except RedisError as error:
            self._go_alone(error)

    def _go_alone(self, error: RedisError) -> None:
        if not self._lost:  # once per outage, however many retries fail
            self._lost = True
            log.warning("telegram.shared_budget_unavailable", error_type=type(error).__name__)
        self._alone_until = self._clock() + self._alone_seconds
        self._overall.rate = self._rate

    def _shared(self, now: float) -> bool:
        """Whether tokens come from the shared budget now (else from this process's clock)."""
        if self._budget is None:
            return False
        if now < self._alone_until:
            return False
        if self._overall.rate != 0:  # back from being alone: the budget decides again
            self._overall.rate = 0.0
            self._overall.tokens = min(self._overall.tokens, 0.0)
        return True

    def _dispatch(self) -> float | None:
        """Grant every request that may go now; the seconds until the next may (None:
        nothing is waiting)."""
        now = self._clock()
        self._adjust(now)
        if now < self._paused_until:
            return self._paused_until - now
        while self._timers and self._timers[0][0] <= now:
            _, entry, chat = heapq.heappop(self._timers)
            if chat.entry == entry:
                self._schedule(chat)
        shared = self._shared(now)
        while self._ready:
            klass, _seq, entry, chat = self._ready[0]
            if chat.entry != entry:
                heapq.heappop(self._ready)
                continue
            wait = self._overall.wait(now)
            if shared and wait > 0:
                self._rate_bound = True
                self._starved = Priority(klass)
                return self._next(None, now)
            if wait > 0:
                self._rate_bound = True
            if klass == Priority.BULK:
                wait = max(wait, self._bulk.wait(now))
            if wait > 0:
                return self._next(wait, now)
            heapq.heappop(self._ready)
            self._overall.take(now)
            if klass == Priority.BULK:
                self._bulk.take(now)
            self._grant(chat, now)
        return self._next(None, now)

    def _next(self, wait: float | None, now: float) -> float | None:
        if self._timers:
            timer = max(0.0, self._timers[0][0] - now)
            wait = timer if wait is None else min(wait, timer)
        return wait

    def _grant(self, chat: _Chat, now: float) -> None:
        item = chat.items[0]
        chat.busy = True
        chat.entry = 0
        item.granted = True
        if item.new_message:
            chat.bucket.take(now)
        item.epoch = self._epoch
        self._recent.append(now)
        if not item.sent_once:
            item.sent_once = True
            waited = now - item.enqueued
            metrics.send_waited(item.priority.label, waited)
            if item.priority is Priority.URGENT and waited > URGENT_WARNING_SECONDS:
                log.warning("telegram.urgent_send_delayed", waited_seconds=round(waited, 3))
        if not item.turn.done():
            item.turn.set_result(None)

    # ------------------------------------------------------------- adapting the rate

    def _adjust(self, now: float) -> None:
        """Once a second: grow the rate if it held back a backlog and no 429 came."""
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        if now - self._adjusted < ADJUST_SECONDS:
            return
        if self._rate_bound and now >= self._paused_until:
            grown = self._rate * PROBE_FACTOR if self._probing else self._rate + ADDITIVE_STEP
            self._set_rate(grown if self.max_rate is None else min(self.max_rate, grown))
        self._rate_bound = False
        self._adjusted = now

    def _retry_after(self, error: RetryAfter, priority: Priority, epoch: int) -> None:
        """Telegram said wait: everyone waits, and the first refusal of an episode (a
        request sent since the last cut) cuts the rate."""
        seconds = retry_after_seconds(error)
        now = self._clock()
        metrics.send_refused(priority.label)
        self._paused_until = max(self._paused_until, now + seconds)
        self._tell_pause = max(self._tell_pause, seconds)
        if epoch == self._epoch:
            self._epoch += 1
            sent_at = float(len(self._recent))  # messages granted in the last second
            if sent_at >= START_RATE * DECREASE:  # else it was not about the overall rate
                self._probing = False
                self._set_rate(min(self._rate, sent_at) * DECREASE)
            self._overall.tokens = 0.0
            log.info("telegram.retry_after", retry_after=seconds, rate=round(self._rate, 2))
        self._adjusted = now
        self._rate_bound = False
        if self._wake is not None:
            self._wake.set()

    def _set_rate(self, rate: float, *, tell: bool = True) -> None:
        rate = max(self.min_rate, rate)
        if self.max_rate is not None:
            rate = min(self.max_rate, rate)
        self._tell_rate = self._tell_rate or (tell and rate != self._rate)
        self._rate = rate
        now = self._clock()
        self._overall.refill(now)
        if not self._shared(now):
            self._overall.rate = rate
        self._overall.capacity = self._capacity(rate)
        self._overall.tokens = min(self._overall.tokens, self._overall.capacity)

    @staticmethod
    def _capacity(rate: float) -> float:
        return max(1.0, math.floor(rate * BURST_SECONDS))


def watch(limiter: PriorityRateLimiter) -> None:
    """Serve the limiter's queues and rate at /metrics (read at each scrape)."""
    metrics.watch_sending(
        lambda label: float(_stats_for(limiter, label).queued),
        lambda label: _stats_for(limiter, label).oldest_wait,
        lambda: limiter.rate,
    )


def _stats_for(limiter: PriorityRateLimiter, label: str) -> ClassStats:
    return limiter.stats()[Priority[label.upper()]]
