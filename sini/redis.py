"""Redis for the bot and the dashboard: where it is (`configured_url`) and clients that
fail fast when it is down and reconnect by themselves (`connect_redis`, `connect_tips`)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version

from redis.asyncio import Redis
from redis.asyncio.connection import PythonParser
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, RedisError, TimeoutError

from sini.logging import get_logger
from sini.settings import Settings

log = get_logger(__name__)

PREFIX = "sini"  # every key Sini writes starts with it
STATS_TTL_SECONDS = 400 * 24 * 3600  # anonymous daily counters: a year and a month


class PromptParser(PythonParser):
    """redis-py 4.6's reply parser, with redis-py 5's check of a pooled connection.

    Before lending a connection, redis-py 4.6 tries to read a byte from it under a zero
    timeout, in case a reply was left unread: an event-loop turn and a cancelled timer
    for every command. No reply can be left unread — redis-py drops a connection whose
    command was interrupted — and a read at end of stream returns b"", which that check
    takes for "nothing to read". redis-py 5 (which Rasa 3.6 does not allow) looks only at
    what is already buffered and at the end of stream, without waiting; so does this, so a
    connection the server closed is also replaced before use instead of failing a command.
    """

    _connected: bool  # PythonParser's own state (its stubs leave it out)
    _buffer: bytes
    _stream: asyncio.StreamReader

    async def can_read_destructive(self) -> bool:
        if not self._connected:
            raise RedisError("Buffer is closed.")
        return bool(self._buffer) or self._stream.at_eof()


# PromptParser reads PythonParser's private state as redis-py lays it out in this release;
# on any other, redis-py's own parser is used (one more event-loop turn per command).
PARSER_VERIFIED_ON = "4.6.0"


def parser_options(installed: str | None = None) -> dict[str, object]:
    """The client options that install PromptParser, or none on another redis-py."""
    installed = installed or version("redis")
    if installed == PARSER_VERIFIED_ON:
        return {"parser_class": PromptParser}
    log.warning("redis.own_parser", verified=PARSER_VERIFIED_ON, installed=installed)
    return {}


_PARSER = parser_options()


def connect_redis(url: str) -> Redis[bytes]:
    """A client that fails fast when Redis is down and reconnects by itself when it is back.

    Single commands broken by a Redis restart are retried on a fresh connection; a pooled
    connection idle for a second is PINGed before use, which catches the ones a restart
    closed (redis-py 4 does not retry MULTI/EXEC pipelines on connection errors)."""
    client: Redis[bytes] = Redis.from_url(  # type: ignore[call-overload]  # stubs lack parser_class
        url,
        **_PARSER,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        health_check_interval=1,
        decode_responses=False,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        retry_on_error=[ConnectionError, TimeoutError],
    )
    return client


def connect_tips(settings: Settings, dialogue: Redis[bytes]) -> Redis[bytes]:
    """The Redis of tips, desk keys and staff data: TIPS_REDIS_URL's own client when it is
    set, else `dialogue` itself (the caller closes each distinct client once)."""
    return connect_redis(settings.tips_redis_url) if settings.tips_redis_url else dialogue


@contextmanager
def configured_url(settings: Settings) -> Iterator[str]:
    """The dialogue Redis, found the way `make run` finds it: REDIS_URL when set, otherwise
    the project-local redis-server of var/redis — joined while another command holds it,
    started for the duration of the block when nothing does (its AOF keeps the data)."""
    if settings.redis_url:
        yield settings.redis_url
        return
    from sini.redis_server import LocalRedis

    with LocalRedis(settings.var_dir / "redis") as server:
        verb = "Started" if server.process is not None else "Joined the running"
        print(
            f"{verb} local redis-server on 127.0.0.1:{server.port} (data: var/redis)",
            file=sys.stderr,
        )
        yield server.url
