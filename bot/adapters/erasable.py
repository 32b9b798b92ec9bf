"""The messages "erase this conversation" can delete, remembered in Redis per chat.

Telegram lets a bot delete a private chat's messages — the person's and its own — by id,
for 48 hours after they were sent. So each update's message ids (the one it answers and
the replies it sent) are added, sealed, to a Redis list under the chat's HMAC key
(`chat_key`, as the dialogue state) that expires 48 hours after the chat's last update:
erasing works whichever replica received the chat's updates, and a replica keeps nothing
per chat once an update is done.

A message id is not an identity, but with Telegram's own records it would point to a
chat: each update's ids are sealed under a key derived per chat from the installation
secret, so the list shows only how many updates a chat had in two days.

Without Redis the ids wait in a bounded in-process map (the most recently active
`FALLBACK_CHATS` chats, `MAX_IDS` each) and join the chat's Redis list with its next
update once Redis answers. Erasing during an outage deletes only what this replica
holds; what is lost: ids of chats pushed out of that map, ids another replica held, and
ids held when the replica stops.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Sequence

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import metrics
from bot.dialogue.store import chat_key
from sini.logging import get_logger
from sini.redis import PREFIX
from tips.crypto import derive_secret

log = get_logger(__name__)
# Older messages can no longer be deleted by a bot (Telegram's limit).
ERASABLE_SECONDS = 48 * 3600
# The updates whose messages a chat's list keeps; an update answers with a few replies.
MAX_UPDATES = 100
MAX_IDS = 300  # per chat in the in-process fallback
FALLBACK_CHATS = 10_000
_ID = struct.Struct(">q")

# KEYS: the chat's list. ARGV: updates kept, ttl, then one sealed entry.
_KEEP = """
redis.call('RPUSH', KEYS[1], ARGV[3])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
"""
# KEYS: the chat's list. Returns its entries and removes it.
_TAKE = """
local entries = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return entries
"""


class ErasableMessages:
    """Every replica's record of the message ids each chat could still erase."""

    def __init__(
        self, redis: Redis[bytes], secret: bytes, fallback_chats: int = FALLBACK_CHATS
    ) -> None:
        self.redis = redis
        self._secret = secret
        self._keep = redis.register_script(_KEEP)
        self._take = redis.register_script(_TAKE)
        self._fallback_chats = fallback_chats
        # Ids kept while Redis did not answer, by chat key, least recently active first.
        self.held: OrderedDict[str, list[int]] = OrderedDict()
        self._down = False

    async def keep(self, chat_id: int, message_ids: Sequence[int]) -> None:
        """Remember one update's message ids (with any the chat had waiting in process)."""
        key = chat_key(self._secret, chat_id)
        ids = [*self.held.pop(key, ()), *message_ids]
        if not ids:
            return
        sealed = self._box(key).encrypt(b"".join(_ID.pack(i) for i in ids))
        try:
            await self._keep(
                keys=[f"{PREFIX}:erasable:{key}"],
                args=[MAX_UPDATES, ERASABLE_SECONDS, bytes(sealed)],
            )
        except RedisError as error:
            self._outage(error)
            self.held[key] = ids[-MAX_IDS:]
            while len(self.held) > self._fallback_chats:
                self.held.popitem(last=False)
        else:
            self._down = False

    async def take(self, chat_id: int) -> list[int]:
        """Every id remembered for the chat, forgotten as they are handed over: the ones
        in Redis (sent through any replica) and the ones this replica held without it."""
        key = chat_key(self._secret, chat_id)
        ids = self.held.pop(key, [])
        try:
            entries: list[bytes] = await self._take(keys=[f"{PREFIX}:erasable:{key}"])
        except RedisError as error:
            self._outage(error)
            return ids
        self._down = False
        box = self._box(key)
        for entry in entries:
            try:
                plain = box.decrypt(entry)
            except CryptoError:
                continue  # another secret's entry: nothing this installation can delete
            ids += [value for (value,) in _ID.iter_unpack(plain)]
        return ids

    def _box(self, key: str) -> SecretBox:
        return SecretBox(derive_secret(self._secret, f"erasable:{key}"))

    def _outage(self, error: RedisError) -> None:
        if not self._down:
            self._down = True
            log.warning("redis.unavailable", error_type=type(error).__name__)
        metrics.redis_unavailable("erasable")
