"""Redis persistence for the dialogue: state, flood counters and anonymous topic counts.

Chat ids never reach Redis: every key uses `chat_key`, an HMAC of the chat id under the
installation secret, so a copy of the database does not say who talked to Sini. The state
itself is encrypted with a per-chat key (a tip draft lives in it, and Redis's append-only
file keeps every value ever written), and expires quickly while a report is being written.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

from nacl.exceptions import CryptoError
from redis.asyncio import Redis

from bot.dialogue.state import ChatState
from tips.crypto import draft_box

PREFIX = "sini"
STATS_TTL_SECONDS = 400 * 24 * 3600


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

    async def load(self, key: str) -> ChatState:
        """The chat's state; unreadable or foreign data starts a fresh conversation."""
        raw = await self.redis.get(f"{PREFIX}:chat:{key}")
        if raw is None:
            return ChatState()
        try:
            return ChatState.from_json(draft_box(self._secret, key).decrypt(raw))
        except CryptoError:
            return ChatState()

    async def save(self, key: str, state: ChatState) -> None:
        """Store encrypted; a flow in progress expires after `draft_ttl` of silence."""
        sealed = bytes(draft_box(self._secret, key).encrypt(state.to_json().encode()))
        ttl = self.draft_ttl if state.flow else self.state_ttl
        await self.redis.set(f"{PREFIX}:chat:{key}", sealed, ex=ttl)

    async def count_message(self, key: str) -> int:
        """Messages from this chat in the current flood window (including this one)."""
        counter = f"{PREFIX}:flood:{key}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(counter)
            pipe.expire(counter, self.flood_window, nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def count_topic(self, day: date, locale: str, topic: str) -> None:
        """Anonymous statistics: how often a topic came up, per day and language."""
        stats = f"{PREFIX}:stats:topics:{day.isoformat()}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(stats, f"{locale}:{topic}", 1)
            pipe.expire(stats, STATS_TTL_SECONDS)
            await pipe.execute()
