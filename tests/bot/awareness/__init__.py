"""Tests of the awareness domain (quizzes, campaigns, subscribers) and their helpers."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from redis.asyncio import Redis

from sini.settings import PROJECT_ROOT
from tests.support.redis_scan import everything

RESPONSES = PROJECT_ROOT / "responses"
QUIZZES_DIR = RESPONSES / "quizzes"
WEEKLY_FILE = RESPONSES / "weekly.yml"
PHONE = re.compile(r"\d{2}[ .]?\d{2}[ .]?\d{2}[ .]?\d{2}")


class FakeTime:
    """A clock that only moves when something sleeps: pacing is asserted by reading the
    requested sleeps and the clock at each send, and no test ever waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # still a real await point, like asyncio.sleep


def cited_sources() -> set[str]:
    """The short citations listed (in bold) in responses/SOURCES.md."""
    text = (RESPONSES / "SOURCES.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\*\*(.+?)\*\*$", text, flags=re.MULTILINE))


async def redis_dump(redis: Redis) -> bytes:
    """Every key with every value, to scan for things that must not be there."""
    return await everything(redis)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
