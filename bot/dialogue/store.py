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

# Every update opens and saves its chat, so each is one command: a script. As pipelines
# of two or three commands they cost redis-py's asyncio client ≈ 60 µs more CPU apiece,
# about a tenth of the bot's own work for an update. The scripts are loaded by hash
# and reloaded by redis-py after a Redis restart.
_OPEN = """
local state = redis.call('GET', KEYS[1])
local count = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1], 'NX')
return {state, count}
"""
_SAVE = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if #KEYS == 2 then
  redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
"""


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

    async def load(self, key: str) -> ChatState:
        """The chat's state; unreadable or foreign data starts a fresh conversation."""
        return self._decode(key, await self.redis.get(f"{PREFIX}:chat:{key}"))

    async def open(self, key: str) -> tuple[ChatState, int]:
        """The chat's state and how many messages it sent in the current flood window
        (this one included). Every update needs both, so they share one round trip."""
        raw, count = await self._open(
            keys=[f"{PREFIX}:chat:{key}", f"{PREFIX}:flood:{key}"], args=[self.flood_window]
        )
        return self._decode(key, raw), int(count)

    async def save(self, key: str, state: ChatState, topic: tuple[date, str] | None = None) -> None:
        """Store encrypted (a flow in progress expires after `draft_ttl` of silence) and,
        given `(day, topic)`, count the topic for the anonymous statistics — per day and
        language, never per chat — in the same round trip."""
        sealed = bytes(draft_box(self._secret, key).encrypt(state.to_json().encode()))
        ttl = self.draft_ttl if state.flow else self.state_ttl
        keys = [f"{PREFIX}:chat:{key}"]
        args: list[bytes | str | int] = [sealed, ttl]
        if topic is not None:
            day, name = topic
            keys.append(f"{PREFIX}:stats:topics:{day.isoformat()}")
            args += [f"{state.language}:{name}", STATS_TTL_SECONDS]
        await self._save(keys=keys, args=args)

    def _decode(self, key: str, raw: bytes | None) -> ChatState:
        if raw is None:
            return ChatState()
        try:
            return ChatState.from_json(draft_box(self._secret, key).decrypt(raw))
        except CryptoError:
            return ChatState()
