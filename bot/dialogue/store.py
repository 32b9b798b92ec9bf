"""Redis persistence for the dialogue: state, flood counters and anonymous topic counts.

Chat ids never reach Redis: every key uses `chat_key`, an HMAC of the chat id under the
installation secret, so a copy of the database does not say who talked to Sini. The state
itself is encrypted with a per-chat key (a tip draft lives in it, and Redis's append-only
file keeps every value ever written), and expires quickly while a report is being written.

An update opens its chat, and holds it, until its new state is saved: a lease in Redis,
taken and given back inside the same scripts that read and write the state, so it costs
no round trip. Within one process, updates of a chat already wait their turn
(`ChatOrder`); the lease makes bot replicas take turns too, so that two messages of one
person handled at once by two replicas cannot both start from the same state and lose
one's changes (a report step, a quiz answer).

A lease can still run out under a replica that stalls (a VM pause, a long GC) while
another replica takes the chat. So every acquisition gets a fencing token — a per-chat
counter, incremented by each open, that starts from a random value so it counts nothing
— and the save script writes only while the counter still holds this update's token:
a stale update's save is refused (`LeaseLost`), and what the newer one saved stays.

`arrival` lets a Telegram update through once: a mark under an HMAC of its update_id,
set only if absent, shared by every replica (or again for the same intake entry, when
the replica that took it died: bot/adapters/intake.py). The save that stores the
update's new state marks it answered and keeps its replies in the chat's outbox until
they are sent (bot/dialogue/outbox.py): an update taken over after that is not worked
out again, only its replies are sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import cast

from nacl.exceptions import CryptoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.dialogue import outbox
from bot.dialogue.outbox import Outbox
from bot.dialogue.state import ChatState
from sini.redis import PREFIX, STATS_TTL_SECONDS
from tips.crypto import draft_box

# An update holds its chat for at most this long: far above the slowest update (sealing a
# tip with Argon2id, an NLU timeout), so that a replica that died holding a chat delays
# that chat's next message by this much at worst.
LEASE_SECONDS = 15.0
LEASE_POLL_SECONDS = (0.002, 0.05)  # first and longest pause between tries while held

# Every update opens and saves its chat, so each is one command: a script. Pipelines of two
# or three commands would cost redis-py's asyncio client more CPU per update than the
# script does (bench/profile.py shows where an update's time goes). The scripts are loaded
# by hash and reloaded by redis-py after a Redis restart.
# KEYS: state, flood counter, lease, fencing counter, outbox. ARGV: flood window, lease ms, a
# random start for a fencing counter that does not exist, the fencing counter's life.
# Returns false while another update holds the chat, else {state, flood count, token,
# outbox}.
_OPEN = """
if redis.call('EXISTS', KEYS[3]) == 1 then
  return false
end
if redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('SET', KEYS[4], ARGV[3])
end
redis.call('INCR', KEYS[4])
local token = redis.call('GET', KEYS[4])  -- as Redis writes it (a Lua number may not)
redis.call('EXPIRE', KEYS[4], ARGV[4])
redis.call('SET', KEYS[3], token, 'PX', ARGV[2])
local state = redis.call('GET', KEYS[1])
local count = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1], 'NX')
return {state, count, token, redis.call('GET', KEYS[5])}
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
"""
# KEYS: state, lease, fencing counter, outbox, update mark, topic stats. ARGV: sealed
# state, its ttl, token, "1" to give the chat back ("0": `delivered` or `release`
# follows), sealed outbox ("" for none), "1" to mark the update answered, topic field
# ("" for none), stats ttl. Returns 0, writing nothing, when another update opened the
# chat since this token was given (the token is stale), else 1.
_SAVE = """
if redis.call('GET', KEYS[3]) ~= ARGV[3] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if ARGV[5] == '' then
  redis.call('DEL', KEYS[4])
else
  redis.call('SET', KEYS[4], ARGV[5], 'EX', ARGV[2])
end
if ARGV[6] == '1' then
  redis.call('SET', KEYS[5], 'answered', 'EX', ARGV[9])
end
if ARGV[4] == '1' and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
if ARGV[7] ~= '' then
  redis.call('HINCRBY', KEYS[6], ARGV[7], 1)
  redis.call('EXPIRE', KEYS[6], ARGV[8])
end
return 1
"""
# KEYS: outbox, lease, fencing counter. ARGV: token. The outbox was sent: drop it, unless
# another update opened the chat since (then it is that update's to send), and give the
# chat back.
_DELIVERED = """
if redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
"""
# A Telegram update is let through once for this long: Telegram keeps an update it could
# not deliver for at most 24 hours.
UPDATE_SEEN_SECONDS = 24 * 3600


class ChatBusy(RedisError):
    """Another update held the chat past `LEASE_SECONDS`: handled like Redis being down."""


class LeaseLost(Exception):
    """The save was refused: this update's lease ran out and another update opened the
    chat meanwhile (its state is newer and was kept). Nothing was written."""


@dataclass
class OpenChat:
    """A chat opened for one update: its state, how many messages it sent in the current
    flood window (this one included), and the lease that `save` or `release` gives back —
    its fencing token, greater than any earlier update's of this chat."""

    key: str
    state: ChatState
    sent: int
    lease: str
    held: bool = True
    # False while the update's replies are still to be sent: `save` then keeps the chat
    # and writes the replies to its outbox, and `delivered` gives it back once they are
    # handed to Telegram, so that the chat's next update, on any replica, answers after
    # them.
    release_on_save: bool = True
    # Replies an earlier update saved and did not send (its replica stopped): they go
    # before this update's own.
    unsent: Outbox = ()
    # The key marking the Telegram update being answered, set answered by `save`.
    update: str | None = None


class Arrival(Enum):
    """What a replica should do with a Telegram update it is handed."""

    NEW = "new"  # answer it
    ANSWERED = "answered"  # its answer is saved: send what of it is still unsent
    REPEATED = "repeated"  # Telegram sent it again, or another replica has it: nothing


def chat_key(secret: bytes, chat_id: int | str) -> str:
    """A stable pseudonym for a chat, useless without the secret."""
    return hmac.new(secret, f"chat:{chat_id}".encode(), hashlib.sha256).hexdigest()[:32]


class DialogueStore:
    """State, flood limits and counters for the dialogue, in one Redis."""

    def __init__(
        self,
        redis: Redis[bytes],
        secret: bytes,
        state_ttl: int,
        draft_ttl: int,
        flood_limit: int,
        flood_window: int,
    ) -> None:
        self.redis = redis
        self._secret = secret
        self.state_ttl = state_ttl
        self.draft_ttl = draft_ttl
        self.flood_limit = flood_limit
        self.flood_window = flood_window
        self._open = redis.register_script(_OPEN)
        self._save = redis.register_script(_SAVE)
        self._release = redis.register_script(_RELEASE)
        self._delivered = redis.register_script(_DELIVERED)
        self._update_secret = hmac.new(secret, b"telegram-updates", hashlib.sha256).digest()

    async def load(self, key: str) -> ChatState:
        """The chat's state; unreadable or foreign data starts a fresh conversation."""
        return self._decode(key, await self.redis.get(f"{PREFIX}:chat:{key}"))

    async def open(
        self, key: str, lease_seconds: float = LEASE_SECONDS, update_id: int | None = None
    ) -> OpenChat:
        """Open the chat for one update (`update_id`, when it came from Telegram), waiting
        while another update holds it (on another replica: in this process `ChatOrder`
        already queues them). Its state, what an earlier update left unsent, the flood
        count and the lease share one round trip; `save`, `delivered` or `release` must
        follow."""
        keys = [
            f"{PREFIX}:chat:{key}",
            f"{PREFIX}:flood:{key}",
            f"{PREFIX}:lease:{key}",
            f"{PREFIX}:fence:{key}",
            f"{PREFIX}:outbox:{key}",
        ]
        args: list[str | int] = [
            self.flood_window,
            max(int(lease_seconds * 1000), 1),
            secrets.randbelow(2**40),  # a new counter's start: the count then says nothing
            max(self.state_ttl, self.draft_ttl),
        ]
        loop = asyncio.get_running_loop()
        give_up = loop.time() + 2 * lease_seconds  # the holder's lease has expired by then
        pause, longest = LEASE_POLL_SECONDS
        while (opened := await self._open(keys=keys, args=args)) is None:
            if loop.time() > give_up:
                raise ChatBusy("chat held too long")
            await asyncio.sleep(pause)
            pause = min(2 * pause, longest)
        raw, count, token, unsent = opened
        return OpenChat(
            key,
            self._decode(key, raw),
            int(count),
            token.decode(),
            unsent=self._decode_outbox(key, unsent),
            update=None if update_id is None else self._update_key(update_id),
        )

    async def save(
        self,
        chat: OpenChat,
        state: ChatState,
        topic: tuple[date, str] | None = None,
        unsent: Outbox = (),
    ) -> None:
        """Store encrypted (a flow in progress expires after `draft_ttl` of silence) with
        the replies still to send (`unsent`, sealed the same way), mark the update being
        answered as answered, give the chat back (unless `chat.release_on_save` is False)
        and, given `(day, topic)`, count the topic for the anonymous statistics — per day
        and language, never per chat — in the same round trip.

        Only while no other update opened the chat since this one did: otherwise nothing
        is written (the newer state stays) and `LeaseLost` is raised."""
        box = draft_box(self._secret, chat.key)
        sealed = bytes(box.encrypt(state.to_json().encode()))
        ttl = self.draft_ttl if state.flow and state.flow.holds_draft else self.state_ttl
        day, name = topic if topic is not None else (date.today(), "")
        keys = [
            f"{PREFIX}:chat:{chat.key}",
            f"{PREFIX}:lease:{chat.key}",
            f"{PREFIX}:fence:{chat.key}",
            f"{PREFIX}:outbox:{chat.key}",
            chat.update or f"{PREFIX}:update:none",
            f"{PREFIX}:stats:topics:{day.isoformat()}",
        ]
        args: list[bytes | str | int] = [
            sealed,
            ttl,
            chat.lease,
            int(chat.release_on_save),
            bytes(box.encrypt(outbox.encode(unsent))) if unsent else b"",
            int(chat.update is not None),
            f"{state.language}:{name}" if name else "",
            STATS_TTL_SECONDS,
            UPDATE_SEEN_SECONDS,
        ]
        saved = await self._save(keys=keys, args=args)
        chat.held = chat.held and not chat.release_on_save
        if not saved:
            raise LeaseLost("another update opened the chat since")

    async def arrival(self, update_id: int, delivery: str | None = None) -> Arrival:
        """What to do with a Telegram update: `NEW` the first time any replica asks about
        it, then `REPEATED` for a day — or `ANSWERED` once a save marked it answered. The
        mark is under an HMAC of the update_id, never the id itself.

        `delivery` names one handing over of the update (its intake stream entry): the
        same handing over asked about again — its replica died mid-update and another took
        the entry over — is `NEW` again until the update's answer is saved; another one
        (Telegram sent the update twice) is not."""
        mark = (delivery or "").encode() or b"1"
        # SET NX GET answers the mark that was there (typeshed says bool).
        earlier: bytes | None = cast(
            "bytes | None",
            await self.redis.set(
                self._update_key(update_id), mark, nx=True, get=True, ex=UPDATE_SEEN_SECONDS
            ),
        )
        if earlier == b"answered":
            return Arrival.ANSWERED
        if earlier is None or (delivery is not None and earlier == mark):
            return Arrival.NEW
        return Arrival.REPEATED

    async def delivered(self, chat: OpenChat) -> None:
        """The chat's unsent replies were handed to Telegram: drop them (unless a newer
        update opened the chat since) and give the chat back."""
        await self._delivered(
            keys=[
                f"{PREFIX}:outbox:{chat.key}",
                f"{PREFIX}:lease:{chat.key}",
                f"{PREFIX}:fence:{chat.key}",
            ],
            args=[chat.lease],
        )
        chat.held = False

    def _update_key(self, update_id: int) -> str:
        name = hmac.new(self._update_secret, str(update_id).encode(), hashlib.sha256)
        return f"{PREFIX}:update:{name.hexdigest()[:32]}"

    async def release(self, chat: OpenChat) -> None:
        """Give the chat back without saving (an update answered from the state as it was)."""
        if chat.held:
            await self._release(keys=[f"{PREFIX}:lease:{chat.key}"], args=[chat.lease])
            chat.held = False

    def _decode_outbox(self, key: str, raw: bytes | None) -> Outbox:
        if raw is None:
            return ()
        try:
            return outbox.decode(draft_box(self._secret, key).decrypt(raw))
        except CryptoError:
            return ()

    def _decode(self, key: str, raw: bytes | None) -> ChatState:
        if raw is None:
            return ChatState()
        try:
            return ChatState.from_json(draft_box(self._secret, key).decrypt(raw))
        except CryptoError:
            return ChatState()
