"""The project-local redis-server: one per data directory, ready when it says so."""

from __future__ import annotations

from pathlib import Path

import redis

from sini.redis_server import LocalRedis


def test_a_second_local_redis_on_the_same_directory_joins_the_first(tmp_path: Path) -> None:
    with LocalRedis(tmp_path) as first:
        redis.Redis.from_url(first.url).set("k", "v")
        with LocalRedis(tmp_path) as second:
            assert second.port == first.port
            assert second.process is None  # nothing started
            assert redis.Redis.from_url(second.url).get("k") == b"v"
        assert redis.Redis.from_url(first.url).ping()  # leaving the second stops nothing
    with LocalRedis(tmp_path) as again:  # the lock went away with the first server
        assert again.process is not None
        assert redis.Redis.from_url(again.url).get("k") == b"v"  # AOF kept it
