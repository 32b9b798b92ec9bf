"""Durable intake: an update Telegram handed over outlives the replica that took it.

Telegram never sends an update again once a webhook answered 200 (or a poll confirmed
it). So an update is written to a Redis stream before that: PTB's webhook handler awaits
`update_queue.put` before it answers, and the poller awaits it before it confirms. Each
replica then reads its share of the stream through one consumer group and acknowledges
an entry (XACK, then XDEL: nothing stays) only once the update was processed, whatever
the outcome — an update that raised was answered by the error handler, and acking it
too means a poison update cannot come back forever.

An entry a replica took but did not acknowledge stays pending under that replica's
name. While the replica lives it touches its pending entries (XCLAIM to itself), so their
idle time stays short; once it dies they grow idle, and after `CLAIM_IDLE_SECONDS` another
replica takes them over (XAUTOCLAIM) and processes them. The same update can thus be
handed over twice — to a replica that died mid-update, then to the next — and
`DialogueStore.arrival` lets the second handing through because it carries the same
stream entry (`delivery()`), while a second POST of the update by Telegram (another entry)
is still stopped.

A raw update holds the sender's id, names and text: each entry is sealed (SecretBox,
a key derived from the installation secret) so none of it reaches Redis, or its
append-only file, in clear.

Without Redis the update goes to the in-process queue, as PTB does by default: the bot
keeps answering, and only that update is lost if the replica dies before handling it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from contextvars import ContextVar
from typing import Any

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from telegram import Update
from telegram.ext import Application

from bot import metrics
from bot.dialogue.store import LEASE_SECONDS
from sini.logging import get_logger
from sini.redis import PREFIX
from tips.crypto import derive_secret

log = get_logger(__name__)
STREAM = f"{PREFIX}:intake"
GROUP = "replicas"
FIELD = b"update"
# A blocking read must end before the Redis client's socket timeout; it is also how long
# a stop, or an update queued in-process while Redis was down, may wait to be noticed.
READ_BLOCK_MS = 1000
READ_COUNT = 32
# An entry idle this long belongs to a replica that stopped touching it: it died, or froze
# longer than a chat lease (then its chat's lease has run out too, and fencing refuses its
# late save).
CLAIM_IDLE_SECONDS = LEASE_SECONDS
TOUCH_SECONDS = CLAIM_IDLE_SECONDS / 3
# A consumer with nothing pending and silent this long is a replica gone for good.
FORGET_CONSUMER_SECONDS = 3600.0

_delivery: ContextVar[str | None] = ContextVar("intake_delivery", default=None)


def delivery() -> str | None:
    """The stream entry of the update being processed (None: it came in-process)."""
    return _delivery.get()


class DurableUpdates(asyncio.Queue[object]):
    """PTB's `update_queue`, with updates kept in a Redis stream until processed.

    The in-process queue underneath holds what this replica is about to process: entries
    read from the stream, PTB's stop signal, and updates queued while Redis was down. PTB
    counts `task_done` against it, so every entry read is put there before it is taken."""

    def __init__(self, secret: bytes) -> None:
        super().__init__()
        self._box = SecretBox(derive_secret(secret, "telegram-intake"))
        self._consumer = secrets.token_hex(8)
        self._redis: Redis[bytes] | None = None
        self._bot: Any = None
        self._group_ready = False
        self._down = False
        self._next_touch = 0.0
        # Every entry read and not yet acknowledged, by the Update object made from it.
        self._taken: dict[int, str] = {}

    def attach(self, redis: Redis[bytes], bot: Any) -> None:
        """Start using the stream (inside the event loop that owns `redis`)."""
        self._redis, self._bot = redis, bot

    async def put(self, item: object) -> None:
        if isinstance(item, Update) and self._redis is not None:
            sealed = bytes(self._box.encrypt(item.to_json().encode()))
            try:
                await self._redis.xadd(STREAM, {FIELD: sealed})
            except RedisError as error:
                self._outage(error)
            else:
                self._back()
                return
        await super().put(item)

    async def get(self) -> object:
        while self.empty():
            try:
                await self._fill()
            except RedisError as error:
                self._outage(error)
                if self.empty():
                    with contextlib.suppress(asyncio.TimeoutError):
                        return await asyncio.wait_for(super().get(), READ_BLOCK_MS / 1000)
        return self.get_nowait()

    def entry(self, update: object) -> str | None:
        """The stream entry `update` was read from, until it is acknowledged."""
        return self._taken.get(id(update))

    async def ack(self, update: object) -> None:
        """The update was processed: its entry leaves the stream. If Redis does not
        answer, it stays pending and another replica will process it again (the update_id
        mark then lets it through: twice is better than never)."""
        entry = self._taken.pop(id(update), None)
        if entry is None or self._redis is None:
            return
        try:
            await self._forget(entry)
        except RedisError as error:
            self._outage(error)

    async def _forget(self, entry: str | bytes) -> None:
        assert self._redis is not None
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.xack(STREAM, GROUP, entry).xdel(STREAM, entry).execute()

    async def _fill(self) -> None:
        """Move this replica's share of the stream into the in-process queue: first what
        dead replicas left (every `TOUCH_SECONDS`), then new entries, waiting for them a
        moment."""
        if self._redis is None:
            raise RedisError("not attached yet")
        await self._create_group()
        loop = asyncio.get_running_loop()
        entries: list[tuple[bytes, dict[bytes, bytes]]] = []
        if loop.time() >= self._next_touch:
            self._next_touch = loop.time() + TOUCH_SECONDS
            entries = await self._reclaim()
        if not entries:
            read = await self._redis.xreadgroup(
                GROUP, self._consumer, {STREAM: ">"}, count=READ_COUNT, block=READ_BLOCK_MS
            )
            entries = read[0][1] if read else []
        self._back()
        for entry_id, fields in entries:
            update = self._open(fields.get(FIELD))
            if update is None:
                await self._forget(entry_id)
                continue
            self._taken[id(update)] = entry_id.decode()
            self.put_nowait(update)

    async def _reclaim(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Keep this replica's own pending entries fresh, forget replicas long gone, and
        take over the entries other replicas left idle."""
        assert self._redis is not None
        if self._taken:
            await self._redis.xclaim(  # type: ignore[no-untyped-call]
                STREAM, GROUP, self._consumer, 0, list(self._taken.values()), justid=True
            )
        consumers = await self._redis.xinfo_consumers(  # type: ignore[no-untyped-call]
            STREAM, GROUP
        )
        for consumer in consumers:
            if consumer["pending"] == 0 and consumer["idle"] > FORGET_CONSUMER_SECONDS * 1000:
                await self._redis.xgroup_delconsumer(  # type: ignore[no-untyped-call]
                    STREAM, GROUP, consumer["name"]
                )
        _, claimed, _ = await self._redis.xautoclaim(
            STREAM, GROUP, self._consumer, int(CLAIM_IDLE_SECONDS * 1000), "0-0", READ_COUNT
        )
        if claimed:
            log.info("intake.reclaimed", entries=len(claimed))
        return list(claimed)

    async def _create_group(self) -> None:
        """The group reads the stream from its start: after a Redis restart that lost the
        group, the entries still there are delivered again (the update_id mark stops those
        already handled)."""
        if self._group_ready:
            return
        assert self._redis is not None
        try:
            await self._redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True

    def _open(self, sealed: bytes | None) -> Update | None:
        try:
            data = json.loads(self._box.decrypt(sealed or b""))
            return Update.de_json(data, self._bot)
        except (CryptoError, ValueError) as error:
            log.warning("intake.entry_unreadable", error_type=type(error).__name__)
            return None

    def _outage(self, error: RedisError) -> None:
        """One warning per outage; a group lost with Redis's data is made again after."""
        self._group_ready = False
        if not self._down:
            self._down = True
            log.warning("intake.redis_unavailable", error_type=type(error).__name__)
            metrics.redis_unavailable("intake")

    def _back(self) -> None:
        if self._down:
            self._down = False
            log.info("intake.redis_back")


class DurableApplication(Application):  # type: ignore[type-arg]
    """PTB's Application, acknowledging each update's stream entry once processed."""

    async def process_update(self, update: object) -> None:
        queue = self.update_queue
        if not isinstance(queue, DurableUpdates):
            await super().process_update(update)
            return
        handed = _delivery.set(queue.entry(update))
        try:
            await super().process_update(update)
        finally:
            _delivery.reset(handed)
            await queue.ack(update)
