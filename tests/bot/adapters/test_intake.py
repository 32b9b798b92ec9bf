"""`bot/adapters/intake.py` on its own: what an accepted update leaves in Redis, and what
happens when Redis is not there."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis
from structlog.testing import capture_logs
from telegram import Update

from bot.adapters.intake import DurableUpdates
from sini.redis_server import LocalRedis
from tests.conftest import SECRET
from tests.support.redis_scan import everything

USER_ID = 770_555_123
FIRST_NAME = "Mariam-Zebra"
USERNAME = "mariam_zebra_handle"
TEXT = "ZEBRA-TEXT je suis perdue à Kati"


def update(update_id: int = 1) -> Update:
    """A private text message, with everything a raw update says about its sender."""
    user = {"id": USER_ID, "is_bot": False, "first_name": FIRST_NAME, "username": USERNAME}
    message = {
        "message_id": 7,
        "date": 1764928800,
        "chat": {"id": USER_ID, "type": "private", "first_name": FIRST_NAME, "username": USERNAME},
        "from": user,
        "text": TEXT,
    }
    made = Update.de_json({"update_id": update_id, "message": message}, None)
    assert made is not None
    return made


async def test_an_accepted_update_is_in_redis_sealed_and_comes_back_whole(
    redis: Redis[bytes],
) -> None:
    updates = DurableUpdates(SECRET)
    updates.attach(redis, None)
    await updates.put(update())

    stored = await everything(redis)
    assert stored, "the update is kept in Redis"
    for secret in (str(USER_ID), FIRST_NAME, USERNAME, "ZEBRA-TEXT", "Kati"):
        assert secret.encode() not in stored, secret

    taken = await updates.get()
    assert isinstance(taken, Update)
    assert taken.to_dict() == update().to_dict()
    await updates.ack(taken)
    assert updates.entry(taken) is None


async def test_without_redis_updates_wait_in_the_process_with_one_warning(
    tmp_path: Path,
) -> None:
    server = LocalRedis(tmp_path / "redis").start()
    client = Redis.from_url(server.url, socket_connect_timeout=0.5, socket_timeout=0.5)
    server.stop()
    updates = DurableUpdates(SECRET)
    updates.attach(client, None)
    try:
        with capture_logs() as logs:
            await updates.put(update(1))
            await updates.put(update(2))
            first, second = await updates.get(), await updates.get()
    finally:
        await client.close()
    assert [u.update_id for u in (first, second)] == [1, 2]  # type: ignore[attr-defined]
    warnings = [e for e in logs if e["event"] == "intake.redis_unavailable"]
    assert len(warnings) == 1
