"""The staff side of the tip store against a real Redis: the queue by status, the life
cycle, the thread with the tipster, notes, labels and the "important" flag, retention (and
an admin keeping a tip longer), and the audit entry written in the
same transaction as the change it records."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from redis.asyncio import Redis

from sini.regions import Region
from tests.conftest import Keys
from tests.tips.conftest import WHEN, content, gps_photo, submit
from tips.desk import Desk, Order, Reason, TipQuery
from tips.intake import Intake, ReceiptInvalid
from tips.media import prepare_attachment
from tips.model import (
    AttachmentKind,
    Author,
    Category,
    Draft,
    InvalidTransition,
    Status,
    TextTooLong,
    TipValidationError,
    TooManyLabels,
    floor_hour,
)
from tips.receipts import new_receipt
from tips.stored import TipNotFound, status_index


async def test_thread_between_tipster_and_desk(intake: Intake, desk: Desk, keys: Keys) -> None:
    receipt = await submit(intake, keys)
    lookup = intake.lookup(receipt.code)
    later = WHEN + timedelta(hours=3, minutes=12)
    photo = prepare_attachment(AttachmentKind.PHOTO, gps_photo())
    await intake.add_followup(
        receipt.code, receipt.passphrase, "ils sont revenus ce soir", later, [photo]
    )
    assert (await desk.get(lookup)).awaiting_reply
    await desk.reply_to_tipster(
        lookup, "Merci, pouvez-vous préciser l'heure ?", keys.public, now=later
    )
    await desk.add_note(lookup, "note interne: recouper avec OCS", "admin", keys.public, now=later)

    record = await desk.get(lookup)
    assert not record.awaiting_reply
    assert record.attachment_count == 1
    assert record.updated_hour == later.replace(minute=0, second=0, microsecond=0)

    view = await intake.open_for_tipster(receipt.code, receipt.passphrase)
    assert [(m.author, m.text) for m in view.thread] == [
        (Author.TIPSTER, "ils sont revenus ce soir"),
        (Author.DESK, "Merci, pouvez-vous préciser l'heure ?"),
    ]
    assert view.thread[0].attachments[0].index == 0
    assert await desk.open_attachment(lookup, 0, keys.ring) == photo.data
    assert all("note interne" not in m.text for m in view.thread)  # notes stay with the desk
    assert [m.text for m in await desk.thread(lookup, keys.ring)] == [m.text for m in view.thread]
    notes = await desk.notes(lookup, keys.ring)
    assert [(n.actor, n.text) for n in notes] == [("admin", "note interne: recouper avec OCS")]

    with pytest.raises(ReceiptInvalid):
        await intake.add_followup(receipt.code, new_receipt().passphrase, "spam", later)
    with pytest.raises(TipNotFound):
        await desk.reply_to_tipster("0" * 32, "hello", keys.public)


async def test_the_queue_reads_by_status_and_follows_the_life_cycle(
    intake: Intake, desk: Desk, keys: Keys, redis: Redis[bytes]
) -> None:
    a = intake.lookup((await submit(intake, keys, content("a"), WHEN)).code)
    b = intake.lookup(
        (
            await submit(
                intake,
                keys,
                content("b", Category.HUMAN_TRAFFICKING, Region.KAYES),
                WHEN + timedelta(hours=1),
            )
        ).code
    )
    c = intake.lookup(
        (
            await submit(intake, keys, content("c", region=Region.KAYES), WHEN + timedelta(hours=2))
        ).code
    )

    assert [r.lookup for r in await desk.records()] == [c, b, a]  # newest first

    with pytest.raises(InvalidTransition):
        await desk.set_status(a, Status.FORWARDED, "too early", "admin", forwarded_to="OCS")
    await desk.set_status(a, Status.IN_REVIEW, "", "admin", now=WHEN)
    with pytest.raises(TipValidationError):
        await desk.set_status(a, Status.FORWARDED, "no target", "admin")
    before, record = await desk.set_status(
        a, Status.FORWARDED, "urgent", "admin", forwarded_to="OCS", now=WHEN
    )
    assert before.status is Status.IN_REVIEW
    assert record.status is Status.FORWARDED
    assert record.forwarded_to == "OCS"
    assert (await desk.get(a)).forwarded_to == "OCS"
    assert [r.lookup for r in await desk.records(Status.NEW)] == [c, b]
    assert [r.lookup for r in await desk.records(Status.FORWARDED)] == [a]
    assert [r.lookup for r in await desk.records(Status.FORWARDED, Status.NEW)] == [c, b, a]
    assert await redis.zscore(status_index(Status.IN_REVIEW), a) is None
    history = await desk.history(a, keys.ring)
    assert [(h.old, h.new, h.reason) for h in history] == [
        (Status.NEW, Status.IN_REVIEW, ""),
        (Status.IN_REVIEW, Status.FORWARDED, "urgent"),
    ]
    assigned = await desk.assign(b, "awa", now=WHEN)
    assert assigned.assigned_to == "awa"
    assert (await desk.get(b)).assigned_to == "awa"
    await desk.assign(b, None)
    assert (await desk.get(b)).assigned_to is None
    with pytest.raises(TipNotFound):
        await desk.get("f" * 32)


async def test_concurrent_submissions_get_distinct_receipts(
    intake: Intake, desk: Desk, keys: Keys
) -> None:
    receipts = await asyncio.gather(*(submit(intake, keys, content(f"tip {n}")) for n in range(10)))
    assert len({r.code for r in receipts}) == 10
    assert len(await desk.records()) == 10


async def test_purge_removes_only_old_closed_and_rejected_tips(
    intake: Intake, desk: Desk, keys: Keys, redis: Redis[bytes]
) -> None:
    now = datetime(2025, 9, 1, 10, 30, tzinfo=timezone.utc)
    old, recent = now - timedelta(days=100), now - timedelta(days=10)

    async def tip(status_path: list[Status], when: datetime) -> str:
        photo = prepare_attachment(AttachmentKind.PHOTO, gps_photo())
        draft = Draft().with_category(Category.OTHER).with_region(Region.SIKASSO).add_text("x")
        tip = draft.to_content([photo.meta])
        receipt = await intake.submit(tip, keys.public, when, [photo.data])
        lookup = intake.lookup(receipt.code)
        await intake.add_followup(receipt.code, receipt.passphrase, "suite", when)
        await desk.add_note(lookup, "n", "admin", keys.public, now=when)
        for status in status_path:
            await desk.set_status(lookup, status, "", "admin", now=when)
        return lookup

    old_closed = await tip([Status.IN_REVIEW, Status.CLOSED], old)
    old_rejected = await tip([Status.REJECTED], old)
    recent_closed = await tip([Status.IN_REVIEW, Status.CLOSED], recent)
    old_open = await tip([Status.IN_REVIEW], old)
    old_new = await tip([], old)

    assert await desk.purge_closed(90, now) == 2
    remaining = {r.lookup for r in await desk.records()}
    assert remaining == {recent_closed, old_open, old_new}
    for gone in (old_closed, old_rejected):
        assert [k async for k in redis.scan_iter(match=f"*{gone}*")] == []
        with pytest.raises(TipNotFound):
            await desk.get(gone)
    assert await desk.purge_closed(90, now) == 0
    assert await desk.purge_closed(5, now) == 1  # now the recent one is old enough


async def test_a_label_is_one_label_whatever_its_case_and_spacing(
    intake: Intake, desk: Desk, keys: Keys
) -> None:
    first = intake.lookup((await submit(intake, keys)).code)
    second = intake.lookup((await submit(intake, keys)).code)
    await desk.label(first, "Gare  routière")
    after = await desk.label(second, " gare ROUTIÈRE ")
    assert after.labels == ("Gare routière",)  # the spelling first given
    assert await desk.labels() == ["Gare routière"]
    page = await desk.page(TipQuery(label="GARE ROUTIÈRE"), Order.OLDEST)
    assert {r.lookup for r in page.records} == {first, second}
    removed = await desk.label(first, "gare routière", remove=True)
    assert removed.labels == ()
    assert (await desk.page(TipQuery(label="Gare routière"), Order.OLDEST)).total == 1
    with pytest.raises(TipValidationError):
        await desk.label(first, "x" * 41)
    for n in range(10):
        await desk.label(first, f"étiquette {n}")
    with pytest.raises(TooManyLabels):
        await desk.label(first, "une de trop")


async def test_important_tips_are_found_by_their_flag(
    intake: Intake, desk: Desk, keys: Keys
) -> None:
    lookups = [intake.lookup((await submit(intake, keys)).code) for _ in range(3)]
    await desk.mark_important(lookups[1], True)
    assert (await desk.get(lookups[1])).important
    important = await desk.page(TipQuery(important=True), Order.OLDEST)
    assert [r.lookup for r in important.records] == [lookups[1]]
    await desk.mark_important(lookups[1], False)
    assert (await desk.count(TipQuery(important=True))) == 0


async def test_a_tip_an_admin_keeps_longer_survives_the_purge_until_then(
    intake: Intake, desk: Desk, keys: Keys
) -> None:
    old = datetime(2025, 1, 1, 10, tzinfo=timezone.utc)
    now = datetime(2025, 9, 1, 10, 30, tzinfo=timezone.utc)
    lookup = intake.lookup((await submit(intake, keys, now=old)).code)
    await desk.set_status(lookup, Status.REJECTED, "doublon", "admin", now=old)
    kept = await desk.keep_until(
        lookup,
        now + timedelta(days=30),
        Reason("admin", "Enquête judiciaire en cours", keys.public),
    )
    assert kept.kept_until == floor_hour(now + timedelta(days=30))
    assert [n.text for n in await desk.notes(lookup, keys.ring)] == ["Enquête judiciaire en cours"]
    assert await desk.purge_closed(90, now) == 0
    assert await desk.purge_closed(90, now + timedelta(days=31)) == 1


async def test_a_reason_goes_with_its_change_as_a_sealed_note(
    intake: Intake, desk: Desk, keys: Keys, redis: Redis[bytes]
) -> None:
    lookup = intake.lookup((await submit(intake, keys)).code)
    reason = Reason("admin", "Même réseau que T-25-0001", keys.public)
    await desk.assign(lookup, "awa", reason=reason)
    await desk.label(lookup, "réseau", reason=reason)
    notes = await desk.notes(lookup, keys.ring)
    assert [n.text for n in notes] == ["Même réseau que T-25-0001"] * 2
    stored = b"".join(await redis.lrange(f"sini:tip:{lookup}:notes", 0, -1))
    assert b"T-25-0001" not in stored
    with pytest.raises(TextTooLong):
        await desk.assign(lookup, "awa", reason=Reason("admin", "x" * 501, keys.public))
    assert (await desk.get(lookup)).assigned_to == "awa"
    assert len(await desk.notes(lookup, keys.ring)) == 2  # refused whole: no note either
