"""The audit log's anchor (`staff.audit`): a HMAC'd head (count and last MAC) kept apart
from the list, so removing the newest entries is reported like any other tampering."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from sini.settings import Settings
from sini.transactions import Writes
from staff.audit import AUDIT_HEAD_KEY, AUDIT_KEY, AuditLog
from tests.staff.conftest import ADMIN, ADMIN_PASSWORD, REVIEWER, arun, submit_tip
from tips.desk import Desk
from tips.keys import unwrap_desk_keyring
from tips.model import InvalidTransition, Status, TipRecord


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


def test_a_tip_change_and_its_audit_entry_are_written_together_or_not_at_all(
    redis_url: str, staff_settings: Settings, desk: str
) -> None:
    """The entry is queued in the change's own MULTI: a refused change leaves no entry, and
    an entry appended by someone else meanwhile makes the whole change start again, so
    the chain stays intact and the change happens once."""
    tip = submit_tip(desk, staff_settings.secret)

    async def job(redis: Redis) -> tuple[list[str], int | None, list[tuple[Status, Status]]]:
        audit = AuditLog(redis, staff_settings.secret)
        tips = Desk(redis)
        with pytest.raises(InvalidTransition):
            await tips.set_status(
                tip.lookup,
                Status.CLOSED,
                "trop tôt",
                ADMIN,
                journal=audit.of_tip(ADMIN, "tip.status"),
            )
        assert await audit.count() == 0

        class Interrupted:
            """A journal whose first entry is overtaken by another staff member's action."""

            def __init__(self) -> None:
                self.inner = audit.of_tip(ADMIN, "tip.status")
                self.interrupted = False

            @property
            def watched(self) -> Sequence[str]:
                return self.inner.watched

            async def entry(self, pipe: Pipeline, before: TipRecord, after: TipRecord) -> Writes:
                writes = await self.inner.entry(pipe, before, after)
                if not self.interrupted:
                    self.interrupted = True
                    await audit.record(REVIEWER, "tip.view", tip.lookup)
                return writes

        await tips.set_status(tip.lookup, Status.IN_REVIEW, "vu", ADMIN, journal=Interrupted())
        keyring = await unwrap_desk_keyring(redis, ADMIN, ADMIN_PASSWORD)
        history = [(h.old, h.new) for h in await tips.history(tip.lookup, keyring)]
        page, _ = await audit.page()
        return [e.action for e in reversed(page)], await audit.verify(), history

    actions, broken, history = arun(desk, job)
    assert actions == ["tip.view", "tip.status"]
    assert broken is None
    assert history == [(Status.NEW, Status.IN_REVIEW)]
