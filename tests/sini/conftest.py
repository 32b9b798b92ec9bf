"""What the counselling store's specifications share: a store on the real Redis, with a
clock the test moves."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from sini.counselling.store import Counselling
from tests.conftest import Keys

SECRET = b"c" * 32
CHAT_ID = 712_345_678


class Clock:
    def __init__(self) -> None:
        self.now = 1_760_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(redis: Redis[bytes], clock: Clock, keys: Keys) -> Counselling:
    """The store, on a Redis where the desk exists (transcripts are sealed to its key)."""
    return Counselling(redis, SECRET, limit=2, clock=clock)
