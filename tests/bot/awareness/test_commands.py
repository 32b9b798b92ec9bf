"""`helpline campaigns`, `stats` and `broadcast` find the bot's Redis the way `make run`
does: REDIS_URL when set, otherwise the project-local redis-server of var/redis."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.awareness.campaigns import CampaignStore
from bot.cli import parser
from sini.redis_server import LocalRedis
from sini.settings import Settings
from tests.bot.awareness.test_campaigns import DAY, TARGETS


def _add_campaign(url: str) -> None:
    async def add() -> None:
        client: Redis[bytes] = Redis.from_url(url)
        try:
            await CampaignStore(client).add_campaign(
                "segou-lycee", "tramadol", "Affiche lycée Ségou", DAY, targets=TARGETS
            )
        finally:
            await client.close()

    asyncio.run(add())


def _helpline(settings: Settings, *argv: str) -> int:
    args = parser().parse_args(list(argv))
    return int(args.func(settings, args))


def test_without_redis_url_campaigns_joins_the_redis_make_run_started(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local = replace(settings, redis_url=None, var_dir=tmp_path)
    with LocalRedis(tmp_path / "redis") as running:  # what `make run` holds while chatting
        _add_campaign(running.url)
        assert _helpline(local, "campaigns", "list") == 0
    out = capsys.readouterr()
    assert "segou-lycee\ttramadol" in out.out
    assert "Joined the running local redis-server" in out.err


def test_without_redis_url_stats_starts_the_project_local_redis_and_reads_it_back(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local = replace(settings, redis_url=None, var_dir=tmp_path)
    assert _helpline(local, "stats", "--days", "1") == 0
    assert "Started local redis-server" in capsys.readouterr().err
    assert (tmp_path / "redis").is_dir()  # the same data directory `make run` uses
