"""Counselling conversations in Redis, shared by the bot and the dashboard.

Keys (all under `sini:counsel:`):

- `queue`: sorted set of the waiting conversations' ids, by `model.queue_score`;
- `conv:<id>`: the conversation's description (`model.Conversation`, JSON: no identity,
  no text);
- `chat:<id>`: the chat to answer, sealed with a key derived from the installation
  secret for this conversation alone (the bot must read it to answer), so a value copied
  under another conversation does not open;
- `messages:<id>`: the transcript, in order, each message sealed to the desk key like a
  tip: the bot and the dashboard write it, only a signed-in staff session (which holds
  the desk keyring) reads it back. Each sealed message names its conversation, so one
  copied under another conversation is not shown there;
- `media:<id>`: what the young person sent besides text (stripped of its metadata like a
  tip's attachments), one sealed value per attachment under its index, sealed to the
  desk key with the conversation it belongs to;
- `held:<account>`: the ids a counsellor holds (the per-counsellor limit counts them);
- `outbox`: a stream of replies for the bot to deliver, read through the consumer group
  `bot`: an entry is acknowledged once sent, and one left pending by a replica that died
  is claimed by another after `REDELIVER_AFTER_MS`;
- `waits`: how long the last people waited (seconds), for an honest expected wait;
- `place:<id>`: the message showing a waiting young person their place (its id in the
  chat and the place and wait it shows), sealed; `queue:version`, raised by every change
  of the queue, tells the bot to edit the places that moved (`moved_places`);
- `duty`: counsellors on duty, by the last time their console was open; `off`: those who
  switched themselves off duty (an open console then keeps nobody on duty);
- `aliases`: the name each counsellor chose to be shown as;
- `changes`: a capped stream of what changed (`model.Change` and the conversation's id,
  nothing else), written in the transaction of each change, which the consoles read to
  show it live (`changes`).
- `summary:<day>`: the anonymous counts of the conversations ended that day with the
  counsellor's summary (`summary`).

A closed conversation's keys expire `retention` seconds after it ends.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone

import msgspec
from nacl.public import PublicKey
from nacl.secret import SecretBox
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from sini.counselling import summary as summaries
from sini.counselling.hours import ALWAYS, OpeningHours
from sini.counselling.model import (
    Author,
    Change,
    Conversation,
    Message,
    Origin,
    Reply,
    Risk,
    Status,
    expected_wait,
    queue_score,
)
from sini.redis import PREFIX, STATS_TTL_SECONDS
from sini.settings import Settings
from sini.transactions import Writes, transaction
from tips.crypto import (
    DecryptionFailed,
    DeskKeyring,
    MalformedSealed,
    derive_secret,
    open_sealed,
    seal,
)
from tips.keys import desk_public_key
from tips.media import PreparedAttachment
from tips.model import AttachmentMeta

ROOT = f"{PREFIX}:counsel"
QUEUE_KEY = f"{ROOT}:queue"
OUTBOX_KEY = f"{ROOT}:outbox"
WAITS_KEY = f"{ROOT}:waits"
DUTY_KEY = f"{ROOT}:duty"
OFF_DUTY_KEY = f"{ROOT}:off"
ALIASES_KEY = f"{ROOT}:aliases"
CHANGES_KEY = f"{ROOT}:changes"
CHANGES_KEPT = 1000  # a console away longer than this many changes reloads its state anyway
QUEUE_VERSION_KEY = f"{ROOT}:queue:version"
GROUP = "bot"
DEFAULT_LIMIT = 4
DEFAULT_RETENTION_SECONDS = 30 * 24 * 3600
RECENT_WAITS = 20  # the waits an expected wait is computed from
DUTY_SECONDS = 120  # a console not refreshed for this long is off duty
REDELIVER_AFTER_MS = 30_000  # a reply pending this long was taken by a replica that died
DEFAULT_ALIAS = "Sini"
MAX_TEXT_CHARS = 4000  # a counsellor's reply: with its "💬 <alias> : ", within Telegram's 4096
MAX_ALIAS_CHARS = 32


class _Said(msgspec.Struct, frozen=True):
    """A transcript message as sealed: with the conversation it belongs to."""

    conversation: str
    message: Message


class _Media(msgspec.Struct, frozen=True):
    """An attachment's bytes as sealed: with its conversation and description."""

    conversation: str
    meta: AttachmentMeta
    data: bytes


_CONVERSATION = msgspec.json.Decoder(Conversation)
_SAID = msgspec.json.Decoder(_Said)
_MEDIA = msgspec.msgpack.Decoder(_Media)
_REPLY = msgspec.json.Decoder(Reply)
_ENCODE = msgspec.json.encode


class CounsellingError(Exception):
    """Root of what the store refuses."""


class ConversationNotFound(CounsellingError):
    """No such conversation (never existed, or purged)."""


class AlreadyClaimed(CounsellingError):
    """Another counsellor took it first, or it has ended."""


class AtLimit(CounsellingError):
    """The counsellor holds as many conversations as allowed."""


class NotHeld(CounsellingError):
    """The conversation is not (or no longer) this counsellor's."""


class Unavailable(CounsellingError):
    """The counsellor a conversation is handed to is off duty, at their limit, or the one
    handing it over."""


class EmptyMessage(CounsellingError):
    """Nothing to send, or more than a message may hold."""


@dataclass(frozen=True)
class Queued:
    """A request in the queue: its place (1: next) and the expected wait in minutes (None:
    no history to estimate from)."""

    conversation: str
    position: int
    wait_minutes: int | None


class Place(msgspec.Struct, frozen=True):
    """What a young person's place message (`message`, in their chat) shows."""

    message: int
    position: int
    wait_minutes: int | None


_PLACE = msgspec.json.Decoder(Place)


@dataclass(frozen=True)
class Moved:
    """A waiting young person whose place changed: the message to edit, and the place."""

    chat_id: int | str
    message: int
    locale: str
    queued: Queued


@dataclass(frozen=True)
class Delivery:
    """A reply to deliver, with the chat it goes to; `entry` is acknowledged once sent."""

    entry: bytes
    chat_id: int | str
    reply: Reply


@dataclass(frozen=True)
class Changed:
    """One entry of the change stream: `entry` is its stream id, the cursor to read on from."""

    entry: str
    change: Change
    conversation: str


def conversation_key(conversation: str) -> str:
    return f"{ROOT}:conv:{conversation}"


def chat_key(conversation: str) -> str:
    return f"{ROOT}:chat:{conversation}"


def messages_key(conversation: str) -> str:
    return f"{ROOT}:messages:{conversation}"


def media_key(conversation: str) -> str:
    return f"{ROOT}:media:{conversation}"


def place_key(conversation: str) -> str:
    return f"{ROOT}:place:{conversation}"


def held_key(account: str) -> str:
    return f"{ROOT}:held:{account}"


class Counselling:
    """The conversations, their queue, messages and replies."""

    def __init__(
        self,
        redis: Redis[bytes],
        secret: bytes,
        *,
        limit: int = DEFAULT_LIMIT,
        hours: OpeningHours = ALWAYS,
        retention: int = DEFAULT_RETENTION_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.limit = limit
        self.hours = hours
        self.retention = retention
        self.clock = clock
        self._secret = derive_secret(secret, "counselling")
        self._version_seen: bytes | None = None

    @classmethod
    def configured(cls, redis: Redis[bytes], settings: Settings) -> Counselling:
        """The conversations as the settings shape them (the bot's and the dashboard's)."""
        return cls(
            redis,
            settings.secret,
            limit=settings.counsel_limit,
            hours=settings.counsel_hours,
            retention=settings.counsel_retention_days * 24 * 3600,
        )

    # ----------------------------------------------------------------- sealing

    def _box(self, conversation: str) -> SecretBox:
        return SecretBox(derive_secret(self._secret, conversation))

    def _seal(self, conversation: str, plain: bytes) -> bytes:
        return bytes(self._box(conversation).encrypt(plain))

    def _open(self, conversation: str, sealed: bytes) -> bytes:
        return bytes(self._box(conversation).decrypt(sealed))

    async def _desk(self) -> list[PublicKey]:
        """The key to seal the transcript to (`DeskKeyMissing` before the desk exists:
        then nobody could ever read it)."""
        return [await desk_public_key(self.redis)]

    # ----------------------------------------------------------------- reading

    async def get(self, conversation: str) -> Conversation:
        raw = await self.redis.get(conversation_key(conversation))
        if raw is None:
            raise ConversationNotFound(conversation)
        return _CONVERSATION.decode(raw)

    async def waiting(self) -> list[Conversation]:
        """The queue, most urgent first, then who asked first."""
        ids = [i.decode() for i in await self.redis.zrange(QUEUE_KEY, 0, -1)]
        return await self._many(ids)

    async def held_by(self, account: str) -> list[Conversation]:
        """The conversations `account` holds, oldest request first."""
        ids = [i.decode() for i in await self.redis.smembers(held_key(account))]
        return sorted(await self._many(ids), key=lambda c: c.requested)

    async def _many(self, ids: list[str]) -> list[Conversation]:
        if not ids:
            return []
        raws = await self.redis.mget([conversation_key(i) for i in ids])
        return [_CONVERSATION.decode(raw) for raw in raws if raw is not None]

    async def messages(self, conversation: str, keyring: DeskKeyring) -> list[Message]:
        """The transcript, opened with a staff session's desk keyring. A message sealed
        to a desk key since removed from the keyring, or copied here from another
        conversation, is left out."""
        said = []
        for sealed in await self.redis.lrange(messages_key(conversation), 0, -1):
            try:
                entry = _SAID.decode(open_sealed(sealed, keyring))
            except (DecryptionFailed, MalformedSealed, msgspec.DecodeError):
                continue
            if entry.conversation == conversation:
                said.append(entry.message)
        return said

    async def attachment(
        self, conversation: str, index: int, keyring: DeskKeyring
    ) -> tuple[AttachmentMeta, bytes]:
        """An attachment the young person sent, opened with a staff session's desk keyring;
        `ConversationNotFound` when there is none under `index` that opens."""
        sealed = await self.redis.hget(media_key(conversation), str(index))
        try:
            media = _MEDIA.decode(open_sealed(sealed or b"", keyring))
        except (DecryptionFailed, MalformedSealed, msgspec.DecodeError) as error:
            raise ConversationNotFound(conversation) from error
        if (media.conversation, media.meta.index) != (conversation, index):
            raise ConversationNotFound(conversation)
        return media.meta, media.data

    async def last_change(self) -> str:
        """The cursor of the newest change ("0-0": none yet); read it before the state it
        goes with, so that `changes` after it misses nothing that state lacks."""
        newest = await self.redis.xrevrange(CHANGES_KEY, count=1)
        return newest[0][0].decode() if newest else "0-0"

    async def changes(self, after: str, block_ms: int) -> list[Changed]:
        """The changes after the cursor `after`, waiting up to `block_ms` for one."""
        read = await self.redis.xread({CHANGES_KEY: after}, count=100, block=block_ms)
        return [
            Changed(entry.decode(), Change(fields[b"k"].decode()), fields[b"c"].decode())
            for _, batch in read
            for entry, fields in batch
        ]

    # ----------------------------------------------------------------- the young person

    async def is_staffed(self) -> bool:
        """Within opening hours, with at least one counsellor on duty."""
        now = self.clock()
        if not self.hours.is_open(_moment(now)):
            return False
        return bool(await self.redis.zcount(DUTY_KEY, now - DUTY_SECONDS, "+inf"))

    async def request(
        self, chat_id: int | str, locale: str, origin: Origin, risk: Risk = Risk.ORDINARY
    ) -> Queued:
        """Open a conversation in the queue for the chat `chat_id` (kept sealed);
        `DeskKeyMissing` before the desk exists, as nobody could read the transcript."""
        await desk_public_key(self.redis)
        conversation = Conversation(
            id=secrets.token_hex(16),
            locale=locale,
            origin=origin,
            risk=risk,
            requested=self.clock(),
        )
        chat = self._seal(conversation.id, json.dumps(chat_id).encode())
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(conversation_key(conversation.id), _ENCODE(conversation))
            pipe.set(chat_key(conversation.id), chat)
            pipe.zadd(QUEUE_KEY, {conversation.id: queue_score(risk, conversation.requested)})
            pipe.incr(QUEUE_VERSION_KEY)
            _changed(pipe, Change.QUEUE, conversation.id)
            await pipe.execute()
        return await self.place(conversation.id)

    async def place(self, conversation: str) -> Queued:
        """Where a waiting conversation stands in the queue now."""
        rank = await self.redis.zrank(QUEUE_KEY, conversation)
        position = (rank or 0) + 1
        waits = [float(w) for w in await self.redis.lrange(WAITS_KEY, 0, -1)]
        return Queued(conversation, position, expected_wait(position, waits))

    async def shown(self, queued: Queued, message: int) -> None:
        """The chat's message `message` shows `queued`: edited when the place changes."""
        place = Place(message, queued.position, queued.wait_minutes)
        sealed = self._seal(queued.conversation, _ENCODE(place))
        await self.redis.set(place_key(queued.conversation), sealed, ex=self.retention)

    async def moved_places(self, consumer: str) -> list[Moved]:
        """The place messages to edit since the queue last changed, for one bot process
        (`consumer`) of those that see the change; the others get none."""
        version = await self.redis.get(QUEUE_VERSION_KEY)
        if version is None or version == self._version_seen:
            return []
        self._version_seen = version
        handled = f"{ROOT}:queue:handled:{version.decode()}"
        if not await self.redis.set(handled, consumer, nx=True, ex=DUTY_SECONDS):
            return []
        waits = [float(w) for w in await self.redis.lrange(WAITS_KEY, 0, -1)]
        moved = []
        for position, conversation in enumerate(await self.waiting(), start=1):
            sealed = await self.redis.get(place_key(conversation.id))
            if sealed is None:
                continue
            place = _PLACE.decode(self._open(conversation.id, sealed))
            queued = Queued(conversation.id, position, expected_wait(position, waits))
            if (place.position, place.wait_minutes) != (position, queued.wait_minutes):
                try:
                    chat = await self.chat_of(conversation.id)
                except ConversationNotFound:  # purged meanwhile: nobody to tell
                    continue
                moved.append(Moved(chat, place.message, conversation.locale, queued))
        return moved

    async def say(
        self,
        conversation: str,
        text: str,
        risk: Risk = Risk.ORDINARY,
        attachment: PreparedAttachment | None = None,
    ) -> Status:
        """Add what the young person wrote (and the photo, voice note or file they sent),
        raising the conversation's risk to `risk`; the status it had (a CLOSED
        conversation takes nothing). Any text is taken, as the chat delivered it: nothing
        the young person says is refused."""
        now = self.clock()
        desk = await self._desk()

        async def step(pipe: Pipeline[bytes]) -> tuple[Status, Writes | None]:
            current = await self._watched(pipe, conversation)
            if current.status is Status.CLOSED:
                return current.status, None
            raised = current.raised(risk)
            meta = blob = None
            if attachment is not None:
                index = await pipe.hlen(media_key(conversation))
                meta = msgspec.structs.replace(attachment.meta, index=index)
                media = _Media(conversation, meta, attachment.data)
                blob = seal(msgspec.msgpack.encode(media), desk).to_bytes()
            message = Message(Author.YOUNG, now, text.strip(), attachment=meta)
            sealed = _sealed(desk, conversation, message)

            def writes(p: Pipeline[bytes]) -> None:
                if meta is not None and blob is not None:
                    p.hset(media_key(conversation), str(meta.index), blob)
                p.rpush(messages_key(conversation), sealed)
                if current.status is Status.ACTIVE:
                    _changed(p, Change.CONVERSATION, conversation)
                if raised != current:
                    p.set(conversation_key(conversation), _ENCODE(raised))
                    if raised.status is Status.WAITING:
                        p.zadd(
                            QUEUE_KEY, {conversation: queue_score(raised.risk, raised.requested)}
                        )
                        p.incr(QUEUE_VERSION_KEY)
                        _changed(p, Change.QUEUE, conversation)

            return current.status, writes

        watched = [conversation_key(conversation), media_key(conversation)]
        return await transaction(self.redis, watched, step)

    async def end(self, conversation: str) -> None:
        """The young person stopped (/stop): closed at once, whoever held it."""
        await self._close(conversation, None, notify=False)

    async def chat_of(self, conversation: str) -> int | str:
        sealed = await self.redis.get(chat_key(conversation))
        if sealed is None:
            raise ConversationNotFound(conversation)
        chat: int | str = json.loads(self._open(conversation, sealed))
        return chat

    async def feedback(self, helped: bool, day: date) -> None:
        """ "Did it help?" answered, counted per day (nothing else is kept)."""
        key = f"{ROOT}:feedback:{day.isoformat()}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "helped" if helped else "not_helped", 1)
            pipe.expire(key, STATS_TTL_SECONDS)
            await pipe.execute()

    # ----------------------------------------------------------------- counsellors

    async def on_duty(self, account: str) -> bool:
        """`account` has the console open now: on duty unless they switched off; whether
        they are on duty."""
        if await self.redis.sismember(OFF_DUTY_KEY, account):
            return False
        now = self.clock()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(DUTY_KEY, {account: now})
            pipe.zremrangebyscore(DUTY_KEY, "-inf", now - DUTY_SECONDS)
            await pipe.execute()
        return True

    async def switch_duty(self, account: str, on: bool) -> None:
        """The console's on duty / off duty switch: off, the account counts for nobody on
        duty at once (with nobody on duty, young people get the out-of-hours answer)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            if on:
                pipe.srem(OFF_DUTY_KEY, account)
                pipe.zadd(DUTY_KEY, {account: self.clock()})
            else:
                pipe.sadd(OFF_DUTY_KEY, account)
                pipe.zrem(DUTY_KEY, account)
            await pipe.execute()

    async def on_duty_now(self) -> list[str]:
        """The accounts on duty now, for supervisors."""
        since = self.clock() - DUTY_SECONDS
        return [a.decode() for a in await self.redis.zrangebyscore(DUTY_KEY, since, "+inf")]

    async def live(self) -> list[Conversation]:
        """Every conversation a counsellor holds now, oldest request first (supervisors)."""
        ids: set[str] = set()
        async for key in self.redis.scan_iter(match=held_key("*"), count=100):
            ids.update(i.decode() for i in await self.redis.smembers(key))
        return sorted(await self._many(sorted(ids)), key=lambda c: c.requested)

    async def first_view(self, conversation: str, account: str) -> bool:
        """Whether `account` reads this conversation for the first time (the dashboard
        audits each reader once, not every refresh of the console)."""
        key = f"{ROOT}:readers:{conversation}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, account)
            pipe.expire(key, self.retention)
            added, _ = await pipe.execute()
        return bool(added)

    async def alias_of(self, account: str) -> str:
        alias = await self.redis.hget(ALIASES_KEY, account)
        return alias.decode() if alias else DEFAULT_ALIAS

    async def set_alias(self, account: str, alias: str) -> None:
        alias = " ".join(alias.split())
        if not alias or len(alias) > MAX_ALIAS_CHARS:
            raise EmptyMessage("alias")
        await self.redis.hset(ALIASES_KEY, account, alias)

    async def claim(self, conversation: str, account: str) -> Conversation:
        """Take a waiting conversation; of two counsellors claiming at once, exactly one
        gets it (the other: `AlreadyClaimed`)."""
        now = self.clock()

        async def step(pipe: Pipeline[bytes]) -> tuple[Conversation, Writes | None]:
            current = await self._watched(pipe, conversation)
            if current.status is not Status.WAITING:
                raise AlreadyClaimed(conversation)
            if await pipe.scard(held_key(account)) >= self.limit:
                raise AtLimit(account)
            # A conversation put back in the queue keeps its first claim: its wait and
            # its duration are counted from the first counsellor who took it.
            first = current.claimed is None
            claimed = msgspec.structs.replace(
                current,
                status=Status.ACTIVE,
                counsellor=account,
                claimed=now if first else current.claimed,
            )

            def writes(p: Pipeline[bytes]) -> None:
                p.set(conversation_key(conversation), _ENCODE(claimed))
                p.zrem(QUEUE_KEY, conversation)
                p.incr(QUEUE_VERSION_KEY)
                _changed(p, Change.QUEUE, conversation)
                p.delete(place_key(conversation))
                p.sadd(held_key(account), conversation)
                if first:
                    p.lpush(WAITS_KEY, now - current.requested)
                    p.ltrim(WAITS_KEY, 0, RECENT_WAITS - 1)

            return claimed, writes

        watched = [conversation_key(conversation), held_key(account)]
        return await transaction(self.redis, watched, step)

    async def reply(self, conversation: str, account: str, text: str) -> None:
        """A counsellor's message: kept with the conversation and queued for the bot."""
        alias = await self.alias_of(account)
        now = self.clock()
        text = _text(text)
        sealed = _sealed(
            await self._desk(), conversation, Message(Author.COUNSELLOR, now, text, alias)
        )

        async def step(pipe: Pipeline[bytes]) -> tuple[None, Writes | None]:
            current = await self._held(pipe, conversation, account)
            outgoing = Reply(conversation, current.locale, alias, text)

            def writes(p: Pipeline[bytes]) -> None:
                p.rpush(messages_key(conversation), sealed)
                _changed(p, Change.CONVERSATION, conversation)
                self._post(p, outgoing)

            return None, writes

        await transaction(self.redis, [conversation_key(conversation)], step)

    async def close(self, conversation: str, account: str, summary: summaries.Summary) -> None:
        """The counsellor ends it with their `summary` (counted, not kept); the young
        person is told."""
        await self._close(conversation, account, notify=True, summary=summary)

    async def available(self, excluding: str) -> list[str]:
        """The counsellors on duty who may take one more conversation, but `excluding`."""
        accounts = [a for a in await self.on_duty_now() if a != excluding]
        held = [await self.redis.scard(held_key(a)) for a in accounts]
        return [a for a, n in zip(accounts, held, strict=True) if n < self.limit]

    async def transfer(self, conversation: str, account: str, to: str) -> None:
        """`account` hands its conversation to the counsellor `to`, who must be on duty
        and under the limit (else `Unavailable`); the young person is told, in one line,
        that someone else takes over. Whatever races it, the conversation is held by
        exactly one of the two."""
        now = self.clock()

        async def step(pipe: Pipeline[bytes]) -> tuple[None, Writes | None]:
            current = await self._held(pipe, conversation, account)
            if to == account or not await self._can_take(pipe, to, now):
                raise Unavailable(to)
            moved = msgspec.structs.replace(current, counsellor=to)
            notice = Reply(conversation, current.locale, await self.alias_of(to), handover=True)

            def writes(p: Pipeline[bytes]) -> None:
                p.set(conversation_key(conversation), _ENCODE(moved))
                p.srem(held_key(account), conversation)
                p.sadd(held_key(to), conversation)
                self._post(p, notice)
                _changed(p, Change.CONVERSATION, conversation)

            return None, writes

        # The duty set is not watched: every open console rewrites it. Going off duty also
        # writes `off`, which is; a console that just stopped refreshing is read as it is.
        watched = [conversation_key(conversation), held_key(to), OFF_DUTY_KEY]
        await transaction(self.redis, watched, step)

    async def requeue(self, conversation: str, account: str) -> None:
        """`account` puts its conversation back in the queue, where its risk and the time
        it was first requested place it (not at the back). The young person is not told:
        to them, nothing changed but who will answer."""

        async def step(pipe: Pipeline[bytes]) -> tuple[None, Writes | None]:
            current = await self._held(pipe, conversation, account)
            waiting = msgspec.structs.replace(current, status=Status.WAITING, counsellor=None)

            def writes(p: Pipeline[bytes]) -> None:
                p.set(conversation_key(conversation), _ENCODE(waiting))
                p.srem(held_key(account), conversation)
                p.zadd(QUEUE_KEY, {conversation: queue_score(current.risk, current.requested)})
                p.incr(QUEUE_VERSION_KEY)
                _changed(p, Change.QUEUE, conversation)

            return None, writes

        await transaction(self.redis, [conversation_key(conversation)], step)

    async def _can_take(self, pipe: Pipeline[bytes], account: str, now: float) -> bool:
        """`account` is on duty now (going off duty takes it out of the duty set) and holds
        fewer conversations than the limit."""
        seen = await pipe.zscore(DUTY_KEY, account)
        if seen is None or seen < now - DUTY_SECONDS:
            return False
        return bool(await pipe.scard(held_key(account)) < self.limit)

    # ----------------------------------------------------------------- the bot's outbox

    async def pending_replies(self, consumer: str, block_ms: int = 1000) -> list[Delivery]:
        """Replies for `consumer` (one bot process) to deliver: first those another
        consumer left unacknowledged too long, else new ones, waiting up to `block_ms`."""
        await self._group()
        _, stale, *_ = await self.redis.xautoclaim(
            OUTBOX_KEY, GROUP, consumer, REDELIVER_AFTER_MS, "0-0", count=50
        )
        entries = list(stale)
        if not entries:
            read = await self.redis.xreadgroup(
                GROUP, consumer, {OUTBOX_KEY: ">"}, count=50, block=block_ms
            )
            entries = [entry for _, batch in read for entry in batch]
        return [await self._delivery(entry_id, fields) for entry_id, fields in entries]

    async def delivered(self, delivery: Delivery) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(OUTBOX_KEY, GROUP, delivery.entry)
            pipe.xdel(OUTBOX_KEY, delivery.entry)
            await pipe.execute()

    async def _delivery(self, entry: bytes, fields: dict[bytes, bytes]) -> Delivery:
        conversation = fields[b"c"].decode()
        reply = _REPLY.decode(self._open(conversation, fields[b"m"]))
        return Delivery(entry, await self.chat_of(conversation), reply)

    async def _group(self) -> None:
        try:
            await self.redis.xgroup_create(OUTBOX_KEY, GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def _post(self, pipe: Pipeline[bytes], reply: Reply) -> None:
        sealed = self._seal(reply.conversation, _ENCODE(reply))
        pipe.xadd(OUTBOX_KEY, {"c": reply.conversation, "m": sealed})

    # ----------------------------------------------------------------- shared steps

    async def _watched(self, pipe: Pipeline[bytes], conversation: str) -> Conversation:
        raw = await pipe.get(conversation_key(conversation))
        if raw is None:
            raise ConversationNotFound(conversation)
        return _CONVERSATION.decode(raw)

    async def _held(self, pipe: Pipeline[bytes], conversation: str, account: str) -> Conversation:
        current = await self._watched(pipe, conversation)
        if current.status is not Status.ACTIVE or current.counsellor != account:
            raise NotHeld(conversation)
        return current

    async def _close(
        self,
        conversation: str,
        account: str | None,
        *,
        notify: bool,
        summary: summaries.Summary | None = None,
    ) -> None:
        now = self.clock()

        async def step(pipe: Pipeline[bytes]) -> tuple[None, Writes | None]:
            if account is None:
                current = await self._watched(pipe, conversation)
            else:
                current = await self._held(pipe, conversation, account)
            if current.status is Status.CLOSED:
                return None, None
            closed = msgspec.structs.replace(current, status=Status.CLOSED, closed=now)
            alias = await self.alias_of(current.counsellor) if current.counsellor else ""

            def writes(p: Pipeline[bytes]) -> None:
                p.set(conversation_key(conversation), _ENCODE(closed), ex=self.retention)
                p.zrem(QUEUE_KEY, conversation)
                p.incr(QUEUE_VERSION_KEY)
                waited = current.status is Status.WAITING
                _changed(p, Change.QUEUE if waited else Change.CONVERSATION, conversation)
                p.delete(place_key(conversation))
                if current.counsellor is not None:
                    p.srem(held_key(current.counsellor), conversation)
                p.expire(messages_key(conversation), self.retention)
                p.expire(media_key(conversation), self.retention)
                p.expire(chat_key(conversation), self.retention)
                if notify:
                    self._post(p, Reply(conversation, current.locale, alias))
                if summary is not None or current.claimed is not None:
                    summaries.count(p, summary, current, now)  # a counsellor had it

            return None, writes

        await transaction(self.redis, [conversation_key(conversation)], step)


def _changed(pipe: Pipeline[bytes], change: Change, conversation: str) -> None:
    """Record `change` in the stream the consoles read, with the writes it is about."""
    pipe.xadd(
        CHANGES_KEY, {"k": change.value, "c": conversation}, maxlen=CHANGES_KEPT, approximate=True
    )


def _text(text: str) -> str:
    text = text.strip()
    if not text or len(text) > MAX_TEXT_CHARS:
        raise EmptyMessage("text")
    return text


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _sealed(desk: list[PublicKey], conversation: str, message: Message) -> bytes:
    """A transcript message sealed to the desk, naming the conversation it belongs to."""
    return seal(_ENCODE(_Said(conversation, message)), desk).to_bytes()
