"""`sini.redis`: the client patch is used only on the redis-py release it was written for."""

from __future__ import annotations

from redis.asyncio import Redis
from structlog.testing import capture_logs

from sini.redis import PARSER_VERIFIED_ON, PromptParser, connect_redis, parser_options
from sini.redis_server import LocalRedis


async def test_the_installed_redis_py_gets_the_prompt_parser(redis_server: LocalRedis) -> None:
    client = connect_redis(redis_server.url)
    try:
        assert client.connection_pool.connection_kwargs["parser_class"] is PromptParser
        assert await client.ping()
    finally:
        await client.close()


async def test_another_redis_py_keeps_its_own_parser_and_says_so_once(
    redis_server: LocalRedis,
) -> None:
    with capture_logs() as logs:
        options = parser_options(installed="5.0.1")
    assert options == {}
    assert logs == [
        {
            "event": "redis.own_parser",
            "verified": PARSER_VERIFIED_ON,
            "installed": "5.0.1",
            "log_level": "warning",
        }
    ]
    client: Redis[bytes] = Redis.from_url(redis_server.url, **options)  # what connect_redis builds
    try:
        assert await client.ping()
    finally:
        await client.close()
