"""The audit log's anchor (`staff.audit`): a HMAC'd head (count and last MAC) kept apart
from the list, so removing the newest entries is reported like any other tampering."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from sini.settings import Settings
from staff.audit import AUDIT_HEAD_KEY, AUDIT_KEY, AuditLog
from tests.staff.conftest import ADMIN, arun


async def three_entries(redis: Redis, secret: bytes) -> AuditLog:
    audit = AuditLog(redis, secret)
    for action in ("login.ok", "tip.view", "logout"):
        await audit.record(ADMIN, action)
    assert await audit.verify() is None
    return audit


def test_removing_the_newest_entries_is_detected(redis_url: str, staff_settings: Settings) -> None:
    async def job(redis: Redis) -> list[int | None]:
        audit = await three_entries(redis, staff_settings.secret)
        await redis.rpop(AUDIT_KEY)
        truncated = await audit.verify()
        await audit.record(ADMIN, "login.ok")  # the dashboard carries on writing
        still = await audit.verify()
        await redis.rpop(AUDIT_KEY, 2)
        return [truncated, still, await audit.verify()]

    assert arun(redis_url, job) == [2, 2, 1]


def test_a_missing_or_forged_anchor_is_detected(redis_url: str, staff_settings: Settings) -> None:
    async def job(redis: Redis) -> list[int | None]:
        audit = await three_entries(redis, staff_settings.secret)
        head = json.loads(await redis.get(AUDIT_HEAD_KEY) or b"{}")
        await redis.set(AUDIT_HEAD_KEY, json.dumps({**head, "count": 2}))
        forged = await audit.verify()
        await redis.delete(AUDIT_HEAD_KEY)
        return [forged, await audit.verify()]

    assert arun(redis_url, job) == [3, 3]


def test_a_log_without_an_anchor_yet_gets_one_at_its_next_entry(
    redis_url: str, staff_settings: Settings
) -> None:
    async def job(redis: Redis) -> list[int | None]:
        audit = await three_entries(redis, staff_settings.secret)
        await redis.delete(AUDIT_HEAD_KEY)  # a log written before the anchor existed
        await audit.record(ADMIN, "login.ok")
        return [await audit.verify(), await audit.count()]

    assert arun(redis_url, job) == [None, 4]
