"""One sending budget for every replica of the bot, kept in Redis.

Telegram counts what a bot sends, not what each of its processes sends: two replicas that
each pace themselves at the allowed rate send twice too fast, and a 429 that one of them
receives says nothing to the other. Here the overall token bucket, the adaptive rate and
the pause that follows a 429 live in Redis, in one hash and one key, changed only by the
scripts below (each runs atomically, with Redis's own clock, so replicas on different hosts
share one notion of time).

A replica takes tokens in small batches (`take`) and spends them from a local bucket, so a
Redis round trip is paid per batch, not per message. Urgent requests (crisis answers) may
overdraw the bucket, one message at a time and by at most one burst: they never wait behind
another replica's backlog, and the others repay the debt before they send again, so the
average rate still holds. Bulk sends (a weekly broadcast, possibly from another process)
only take what lies above a reserve of half the bucket, so live replies, which may take
the reserve, are always served first when both wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from redis.asyncio import Redis

BUCKET_KEY = "sini:send:budget"
PAUSE_KEY = "sini:send:pause"
# An idle budget expires; the next replica to send starts a fresh one (full, at its rate).
IDLE_SECONDS = 60

# KEYS: bucket, pause. ARGV: wanted, rate (used when the bucket is new), capacity,
# need (urgent/live/bulk), idle ms. Returns {granted, paused ms, ms until the next token,
# rate x 1000}.
_TAKE = """
local pause = redis.call('PTTL', KEYS[2])
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local wanted = tonumber(ARGV[1])
local capacity = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp', 'rate')
local rate = tonumber(state[3]) or tonumber(ARGV[2])
local tokens = tonumber(state[1]) or capacity
local stamp = tonumber(state[2]) or now
if now > stamp then
  tokens = math.min(capacity, tokens + (now - stamp) * rate / 1000)
end
local granted = 0
if pause <= 0 then
  local available = math.floor(tokens)
  if ARGV[4] == 'bulk' then
    available = math.floor(tokens - capacity / 2)
  elseif ARGV[4] == 'urgent' and available < 1 and tokens > -capacity then
    available = 1
  end
  granted = math.max(0, math.min(wanted, available))
  tokens = tokens - granted
end
local next_ms = 0
if tokens < 1 then
  next_ms = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', now, 'rate', tostring(rate))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {granted, math.max(pause, 0), next_ms, math.floor(rate * 1000)}
"""

# KEYS: bucket. ARGV: rate, idle ms. The shared rate becomes `rate`.
_SET_RATE = """
redis.call('HSET', KEYS[1], 'rate', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS: bucket, pause. ARGV: pause ms. Every replica waits `pause ms` (never shortened),
# and the tokens already in the bucket are void: they were counted before Telegram refused.
_PAUSE = """
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'tokens', '0')
end
return 1
"""


class Need(Enum):
    """Who asks for tokens: a crisis answer, another live reply, or a bulk send."""

    URGENT = "urgent"
    LIVE = "live"
    BULK = "bulk"


@dataclass(frozen=True)
class Grant:
    """What the shared budget allowed: `tokens` messages now; when none, how long until
    the pause ends or the next token is there; and the rate every replica is to use."""

    tokens: int
    paused_for: float
    next_token_in: float
    rate: float


class SharedBudget:
    """The Redis half of `PriorityRateLimiter.share` (see the module's docstring)."""

    def __init__(self, redis: Redis[bytes], *, idle_seconds: int = IDLE_SECONDS) -> None:
        self.redis = redis
        self._idle_ms = str(idle_seconds * 1000)
        self._take = redis.register_script(_TAKE)
        self._set_rate = redis.register_script(_SET_RATE)
        self._pause = redis.register_script(_PAUSE)

    async def take(self, wanted: int, *, rate: float, capacity: float, need: Need) -> Grant:
        granted, paused_ms, next_ms, rate_milli = await self._take(
            keys=[BUCKET_KEY, PAUSE_KEY],
            args=[wanted, repr(rate), repr(capacity), need.value, self._idle_ms],
        )
        return Grant(int(granted), int(paused_ms) / 1000, int(next_ms) / 1000, rate_milli / 1000)

    async def set_rate(self, rate: float) -> None:
        await self._set_rate(keys=[BUCKET_KEY], args=[repr(rate), self._idle_ms])

    async def pause(self, seconds: float) -> None:
        await self._pause(keys=[BUCKET_KEY, PAUSE_KEY], args=[max(1, round(seconds * 1000))])
