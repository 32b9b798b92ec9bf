"""Opt-in weekly prevention messages: the subscriber list and the broadcast.

The subscriber list is the only place Sini keeps chat ids, because a message cannot be
sent to a pseudonym. So it is built to say as little as possible:

- one Redis hash, `sini:subscribers`: field = HMAC of the chat id under a key derived for
  this list only (so its fields cannot be matched with the chat-state, flood or tip keys,
  which use other keys), value = SecretBox(chat id + locale) under another derived key.
  A copy of Redis (or of its append-only file) shows how many subscribe, not who;
- subscribe and unsubscribe touch one field: O(1), nothing else is decrypted;
- nothing here is linked to tips, chat state or counters.

A broadcast walks the hash and records, per broadcast id, the HMACs already served in a
set with a TTL. A chat is claimed in that set *before* its message is sent: if the process
dies mid-send, that one chat may miss the message, but no chat ever gets it twice, and
calling `broadcast` again with the same id resumes where it stopped. Membership is read
again right before each send, so a /stop that arrives mid-broadcast is honoured.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from redis.asyncio import Redis

from bot.yamlfile import LINE_KEY, TRANSLATABLE, ContentError, Said, convert, line_of, load_yaml
from sini.redis import PREFIX
from tips.crypto import derive_secret

SUBSCRIBERS_KEY = f"{PREFIX}:subscribers"
BROADCAST_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
LOCALE = re.compile(r"[a-z]{2,3}")
# Long enough to resume a broadcast days later; a broadcast id is used for one week.
SENT_TTL_SECONDS = 35 * 24 * 3600
TELEGRAM_BROADCAST_RATE = 25.0  # messages per second overall (Telegram allows about 30)
MAX_RETRIES_PER_CHAT = 3
SCAN_BATCH = 200

Send = Callable[[int, str], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

_UPDATE_IF_PRESENT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
"""


class Unreachable(Exception):
    """Raised by `send` when the chat is gone for good (the user blocked the bot or
    deleted the account): the broadcast unsubscribes it, and a counsellor's reply ends
    its conversation (`bot.adapters.counsellor_replies`)."""


class RetryLater(Exception):
    """Raised by `send` when Telegram says "too many requests, retry after N seconds": the
    message was not sent, so the broadcast waits and tries the same chat again."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


@dataclass
class BroadcastReport:
    """What one `broadcast` call did (counts only)."""

    sent: int = 0
    already_sent: int = 0  # served by an earlier (interrupted) call with the same id
    unsubscribed: int = 0  # left between the start of the broadcast and their turn
    unreachable: int = 0  # blocked the bot: removed from the list
    unreadable: int = 0  # an entry that does not decrypt (another secret): skipped


@dataclass(frozen=True)
class Subscriber:
    chat_id: int
    locale: str


class Subscribers:
    """The encrypted subscriber list and the resumable, paced broadcast."""

    def __init__(self, redis: Redis[bytes], secret: bytes) -> None:
        self.redis = redis
        self._box = SecretBox(derive_secret(secret, "subscribers"))
        self._index_key = derive_secret(secret, "subscribers:index")

    def _field(self, chat_id: int) -> str:
        return hmac.new(self._index_key, str(int(chat_id)).encode(), hashlib.sha256).hexdigest()[
            :32
        ]

    def _seal(self, chat_id: int, locale: str) -> bytes:
        if not LOCALE.fullmatch(locale):
            raise ValueError("not a locale")
        plain = json.dumps({"c": int(chat_id), "l": locale}, separators=(",", ":")).encode()
        return bytes(self._box.encrypt(plain))

    def _open(self, field: str, sealed: bytes) -> Subscriber | None:
        """Decrypt an entry and check it sits under its own HMAC (a value copied under
        another field is refused, not sent to)."""
        try:
            data = json.loads(self._box.decrypt(sealed))
            subscriber = Subscriber(int(data["c"]), str(data["l"]))
        except (CryptoError, ValueError, KeyError, TypeError):
            return None
        if not hmac.compare_digest(self._field(subscriber.chat_id), field):
            return None
        return subscriber

    # ----------------------------------------------------------------- the list

    async def subscribe(self, chat_id: int, locale: str) -> bool:
        """Add (or update the language of) a subscriber; True if newly subscribed."""
        added = await self.redis.hset(
            SUBSCRIBERS_KEY, self._field(chat_id), self._seal(chat_id, locale)
        )
        return bool(added)

    async def unsubscribe(self, chat_id: int) -> bool:
        """Remove at once; the next send of any running broadcast already skips the chat.
        True if the chat was subscribed."""
        return bool(await self.redis.hdel(SUBSCRIBERS_KEY, self._field(chat_id)))

    async def update_locale(self, chat_id: int, locale: str) -> bool:
        """After /langue: weekly messages follow the new language. Atomic, so a /stop racing
        with a language change never re-subscribes anyone. True if subscribed."""
        updated = await self.redis.eval(  # type: ignore[no-untyped-call]
            _UPDATE_IF_PRESENT,
            1,
            SUBSCRIBERS_KEY,
            self._field(chat_id),
            self._seal(chat_id, locale),
        )
        return bool(updated)

    async def count(self) -> int:
        return int(await self.redis.hlen(SUBSCRIBERS_KEY))

    # ----------------------------------------------------------------- broadcast

    async def broadcast(
        self,
        send: Send,
        broadcast_id: str,
        rate_per_second: float = TELEGRAM_BROADCAST_RATE,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        sent_ttl: int = SENT_TTL_SECONDS,
    ) -> BroadcastReport:
        """Call `send(chat_id, locale)` once per subscriber for this `broadcast_id`.

        Sends are sequential and start at least 1/`rate_per_second` apart, so the overall
        rate stays under Telegram's limit; each chat gets one message, so the 1/s per
        chat limit holds too. `send` returns when the message is delivered, raises
        `Unreachable` for a chat that blocked the bot (it is unsubscribed), `RetryLater`
        for a 429 (the same chat is retried after the wait). Any other exception stops the
        broadcast and propagates; that chat counts as served (delivery is uncertain, and a
        duplicate is worse than a miss) and calling again with the same id resumes.
        `sleep` and `clock` are injectable so tests never wait.
        """
        if not BROADCAST_ID.fullmatch(broadcast_id):
            raise ValueError("broadcast id must be 1-64 characters of A-Za-z0-9_.-")
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        interval = 1.0 / rate_per_second
        sent_key = f"{PREFIX}:broadcast:{broadcast_id}:sent"
        report = BroadcastReport()
        last_send: float | None = None
        cursor = 0
        while True:
            cursor, entries = await self.redis.hscan(SUBSCRIBERS_KEY, cursor, count=SCAN_BATCH)
            for raw_field in entries:
                field = raw_field.decode() if isinstance(raw_field, bytes) else str(raw_field)
                if await self.redis.sismember(sent_key, field):
                    report.already_sent += 1
                    continue
                retries = 0
                while True:
                    if last_send is not None:
                        wait = last_send + interval - clock()
                        if wait > 0:
                            await sleep(wait)
                    # Read membership again now: a /stop may have arrived since the scan.
                    sealed = await self.redis.hget(SUBSCRIBERS_KEY, field)
                    if sealed is None:
                        report.unsubscribed += 1
                        break
                    subscriber = self._open(field, sealed)
                    if subscriber is None:
                        report.unreadable += 1
                        break
                    if not await self._claim(sent_key, field, sent_ttl):
                        report.already_sent += 1  # a concurrent run of the same broadcast
                        break
                    last_send = clock()
                    try:
                        await send(subscriber.chat_id, subscriber.locale)
                    except Unreachable:
                        await self.redis.hdel(SUBSCRIBERS_KEY, field)
                        report.unreachable += 1
                    except RetryLater as later:
                        await self.redis.srem(sent_key, field)  # not sent: release the claim
                        retries += 1
                        if retries > MAX_RETRIES_PER_CHAT:
                            raise
                        await sleep(max(later.seconds, interval))
                        last_send = clock()
                        continue
                    else:
                        report.sent += 1
                    break
            if cursor == 0:
                return report

    async def _claim(self, sent_key: str, field: str, ttl: int) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(sent_key, field)
            pipe.expire(sent_key, ttl)
            added, _ = await pipe.execute()
        return bool(added)


# --------------------------------------------------------------------------- weekly content


@dataclass(frozen=True)
class WeeklyMessage:
    """One short prevention message (French source) with its sources, and optionally a
    quiz or message id to offer as "En savoir plus"."""

    id: str
    text: str
    sources: tuple[str, ...]
    more: str | None = None


WEEKLY_ID = re.compile(r"weekly\.[a-z_]{1,40}")
MAX_WEEKLY_TEXT = 600


class _Weekly(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, Meta(pattern=TRANSLATABLE, max_length=MAX_WEEKLY_TEXT)]
    sources: Annotated[list[Said], Meta(min_length=1)]
    more: Said | None = None


_HINTS = {
    "text": f"a non-empty text of at most {MAX_WEEKLY_TEXT} characters, without {{ or }}",
    "sources": "a non-empty list of citations",
    "more": "a quiz or message id",
}


def load_weekly(path: Path) -> dict[str, WeeklyMessage]:
    """`responses/weekly.yml`, validated, in file order (the order of the rotation)."""
    from bot.content.phones import check_no_phone_numbers  # lazy: no import cycle

    check_no_phone_numbers(path)
    document = load_yaml(path)
    entries = document.get("weekly") if isinstance(document, dict) else None
    if not isinstance(entries, dict):
        raise ContentError(path, line_of(document), "weekly", "missing top-level mapping")
    messages: dict[str, WeeklyMessage] = {}
    for message_id, data in entries.items():
        if message_id == LINE_KEY:
            continue
        if not WEEKLY_ID.fullmatch(str(message_id)):
            raise ContentError(
                path, line_of(data), str(message_id), "id must look like weekly.<a-z_>"
            )
        weekly = convert(path, data, _Weekly, str(message_id), _HINTS)
        messages[str(message_id)] = WeeklyMessage(
            str(message_id),
            weekly.text.strip(),
            tuple(source.strip() for source in weekly.sources),
            weekly.more.strip() if weekly.more is not None else None,
        )
    if not messages:
        raise ContentError(path, line_of(entries), "weekly", "at least one message is required")
    return messages


def iso_week(day: date) -> tuple[int, int]:
    """(ISO year, ISO week) of a day: the unit the rotation and broadcast ids use."""
    year, week, _ = day.isocalendar()
    return year, week


def pick_weekly(messages: Mapping[str, WeeklyMessage], week: tuple[int, int]) -> str:
    """The message id for an ISO week: consecutive weeks walk the file in order, across
    year boundaries too (weeks are counted from a fixed Monday, not from January)."""
    if not messages:
        raise ValueError("no weekly message")
    monday = date.fromisocalendar(week[0], week[1], 1)
    ids = list(messages)
    return ids[((monday.toordinal() - 1) // 7) % len(ids)]


def weekly_broadcast_id(week: tuple[int, int]) -> str:
    """The broadcast id of a week's message, e.g. "weekly-2025-W07": running the weekly
    broadcast twice in a week (a retry, a second replica's scheduler) sends nothing twice."""
    return f"weekly-{week[0]}-W{week[1]:02d}"
