"""Waiting for a counsellor, seen through the real Bot API protocol: the bot process polls
the emulator, and the place in the queue is one message, edited when it changes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import pytest

from bot.dialogue.actions import CounselJoin, Do, encode
from sini.counselling.model import Origin
from sini.counselling.store import Counselling
from sini.redis import connect_redis
from sini.redis_server import LocalRedis
from sini.settings import Settings
from tests.support.telegram_emulator import BotMessage, EmulatedUser

UserFactory = Callable[..., EmulatedUser]
COUNSELLOR = "e2e-awa"


def store_call(url: str, job: Callable[[Counselling], Awaitable[object]]) -> object:
    """Run one store call against the bot's Redis, as a dashboard would."""

    async def run() -> object:
        client = connect_redis(url)
        try:
            return await job(Counselling(client, Settings.from_env().secret))
        finally:
            await client.close()

    return asyncio.run(run())


@pytest.fixture
def on_duty(bot_redis: LocalRedis) -> Iterator[str]:
    """A counsellor with the console open, switched off duty afterwards (the bot is shared:
    others expect nobody on duty)."""
    store_call(bot_redis.url, lambda store: store.on_duty(COUNSELLOR))
    yield COUNSELLOR
    store_call(bot_redis.url, lambda store: store.switch_duty(COUNSELLOR, on=False))


def join(user: EmulatedUser) -> BotMessage:
    """From the menu, through the consent, into the queue: the message showing the place."""
    _welcome, menu = user.ask_command("start", n=2)
    (consent,) = user.press_and_wait(menu, encode(Do.COUNSEL))
    (place,) = user.press_and_wait(consent, encode(CounselJoin(Origin.MENU)))
    return place


def test_the_place_in_the_queue_is_one_message_edited_when_it_moves(
    user_factory: UserFactory, bot_redis: LocalRedis, on_duty: str
) -> None:
    first, second = user_factory("fr"), user_factory("fr")
    assert "place n° 1" in join(first).text
    shown = join(second)
    assert "place n° 2" in shown.text
    waiting = store_call(bot_redis.url, lambda store: store.waiting())
    assert isinstance(waiting, list)
    ahead, behind = (conversation.id for conversation in waiting)
    try:
        store_call(bot_redis.url, lambda store: store.claim(ahead, on_duty))
        (moved,) = second.replies(1)
        assert moved.event == "edited"
        assert moved.message_id == shown.message_id  # the same message, not a new one
        assert "place n° 1" in moved.text
    finally:
        for conversation in (ahead, behind):
            store_call(bot_redis.url, lambda store, c=conversation: store.end(c))
