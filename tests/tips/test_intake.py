"""The tipster's side of the tip store against a real Redis: who can read what, receipts,
one tip per draft, and what a full copy of the database gives away (nothing identifying)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from nacl.public import PrivateKey, PublicKey
from redis.asyncio import Redis

from bot.dialogue.store import chat_key
from sini.regions import Region
from tests.conftest import Keys
from tests.support.redis_scan import rows as stored_rows
from tests.tips.conftest import (
    FIRST_NAME,
    HOUR,
    MARKER,
    PHONE,
    SECRET,
    TELEGRAM_ID,
    USERNAME,
    WHEN,
    content,
    gps_photo,
    sealed_to,
    submit,
)
from tips.crypto import MINIMUM_FOR_TESTS, NotARecipient, Sealed, open_sealed
from tips.desk import Desk
from tips.intake import (
    SUBMISSION_MEMORY_SECONDS,
    AlreadySubmitted,
    InconsistentTip,
    Intake,
    ReceiptInvalid,
    ReceiptLocked,
)
from tips.media import prepare_attachment
from tips.model import AttachmentKind, Category, Draft, Status
from tips.receipts import Receipt, new_receipt
from tips.stored import ALL_INDEX, attempts_key, tip_key

DRAFT_ID = "0123456789abcdef0123456789abcdef"


async def test_bot_cannot_read_back_but_tipster_and_staff_can(
    intake: Intake, desk: Desk, keys: Keys, redis: Redis[bytes]
) -> None:
    tip = content(MARKER)
    receipt = await submit(intake, keys, tip)
    lookup = intake.lookup(receipt.code)
    record = await desk.get(lookup)

    # The bot's whole key material is the desk PUBLIC key: nothing it can build opens the tip.
    bot_public = keys.public
    sealed = Sealed.from_bytes(record.sealed)
    assert sealed_to(sealed, bot_public)
    assert sealed_to(sealed, PublicKey(record.tipster_public_key))
    assert len(sealed.recipients) == 2
    for attempt in (PrivateKey(bytes(bot_public)), PrivateKey.generate()):
        with pytest.raises(NotARecipient):
            open_sealed(record.sealed, attempt)
    assert MARKER.encode() not in await redis.hget(tip_key(lookup), "sealed")  # type: ignore[operator]

    view = await intake.open_for_tipster(receipt.code, receipt.passphrase)
    assert view.content == tip
    assert view.status is Status.NEW
    assert view.thread == ()
    assert await desk.open(lookup, keys.ring) == tip
    assert await desk.open(lookup, keys.ring.current) == tip


async def test_receipt_input_is_forgiving(intake: Intake, desk: Desk, keys: Keys) -> None:
    receipt = await submit(intake, keys)
    typed_code = receipt.code.lower().replace("-", " ")
    typed_pass = receipt.passphrase.upper().replace(" ", "-")
    assert (await intake.open_for_tipster(typed_code, typed_pass)).status is Status.NEW


async def test_wrong_passphrase_unknown_code_and_garbage_all_look_the_same(
    intake: Intake, desk: Desk, keys: Keys
) -> None:
    receipt = await submit(intake, keys)
    other = new_receipt()
    cases = [
        (receipt.code, other.passphrase),  # wrong passphrase
        (other.code, receipt.passphrase),  # unknown code
        (other.code, other.passphrase),
        ("not a code", receipt.passphrase),
        (receipt.code, "too short"),
    ]
    messages = set()
    for code, passphrase in cases:
        with pytest.raises(ReceiptInvalid) as caught:
            await intake.open_for_tipster(code, passphrase)
        assert type(caught.value) is ReceiptInvalid
        messages.add(str(caught.value))
    assert len(messages) == 1


async def test_repeated_wrong_passphrases_lock_the_code(
    intake: Intake, desk: Desk, keys: Keys, redis: Redis[bytes]
) -> None:
    receipt = await submit(intake, keys)
    wrong = new_receipt().passphrase
    for _ in range(intake.attempt_limit):
        with pytest.raises(ReceiptInvalid):
            await intake.open_for_tipster(receipt.code, wrong)
    with pytest.raises(ReceiptLocked) as caught:
        await intake.open_for_tipster(receipt.code, receipt.passphrase)  # even the right one
    assert 0 < caught.value.retry_after_seconds <= 15 * 60
    counter = attempts_key(intake.lookup(receipt.code))
    assert 0 < await redis.ttl(counter) <= 15 * 60

    # Unknown codes lock the same way, so a lock says nothing about existence.
    unknown = new_receipt()
    for _ in range(intake.attempt_limit):
        with pytest.raises(ReceiptInvalid):
            await intake.open_for_tipster(unknown.code, unknown.passphrase)
    with pytest.raises(ReceiptLocked):
        await intake.open_for_tipster(unknown.code, unknown.passphrase)


async def test_the_lock_expires_and_success_clears_the_counter(
    redis: Redis[bytes], keys: Keys
) -> None:
    intake = Intake(
        redis, SECRET, kdf_limits=MINIMUM_FOR_TESTS, attempt_limit=2, attempt_window_seconds=1
    )
    receipt = await submit(intake, keys)
    wrong = new_receipt().passphrase
    for _ in range(2):
        with pytest.raises(ReceiptInvalid):
            await intake.open_for_tipster(receipt.code, wrong)
    with pytest.raises(ReceiptLocked):
        await intake.open_for_tipster(receipt.code, receipt.passphrase)
    await asyncio.sleep(1.2)
    await intake.open_for_tipster(receipt.code, receipt.passphrase)
    assert not await redis.exists(attempts_key(intake.lookup(receipt.code)))


async def test_created_hour_is_rounded_down(
    intake: Intake, desk: Desk, keys: Keys, redis: Redis[bytes]
) -> None:
    receipt = await submit(intake, keys, now=WHEN)
    lookup = intake.lookup(receipt.code)
    record = await desk.get(lookup)
    assert record.created_hour == HOUR == record.updated_hour
    stored = await redis.hget(tip_key(lookup), "created")
    assert stored is not None
    assert int(stored) == int(HOUR.timestamp())
    assert await redis.zscore(ALL_INDEX, lookup) == HOUR.timestamp()


async def test_attachments_are_stripped_sealed_and_readable_by_staff(
    intake: Intake, desk: Desk, keys: Keys, redis: Redis[bytes]
) -> None:
    photo = prepare_attachment(AttachmentKind.PHOTO, gps_photo())
    voice = prepare_attachment(AttachmentKind.VOICE, b"OggS voice note")
    draft = (
        Draft()
        .with_category(Category.HUMAN_TRAFFICKING)
        .with_region(Region.GAO)
        .add_text("voir photo")
    )
    tip = draft.to_content([photo.meta, voice.meta])
    receipt = await intake.submit(tip, keys.public, WHEN, [photo.data, voice.data])
    lookup = intake.lookup(receipt.code)
    opened = await desk.open(lookup, keys.ring)
    assert [a.index for a in opened.attachments] == [0, 1]
    assert await desk.open_attachment(lookup, 0, keys.ring) == photo.data
    assert await desk.open_attachment(lookup, 1, keys.ring) == b"OggS voice note"
    raw = await redis.get(f"sini:tip:{lookup}:att:1")
    assert raw is not None
    assert b"OggS" not in raw
    with pytest.raises(NotARecipient):
        open_sealed(raw, PrivateKey.generate())
    assert b"SPYPHONE" not in photo.data
    with pytest.raises(InconsistentTip):
        await intake.submit(tip, keys.public, WHEN, [photo.data])


async def test_submission_quota_per_chat_and_day(intake: Intake, redis: Redis[bytes]) -> None:
    me, other = chat_key(SECRET, TELEGRAM_ID), chat_key(SECRET, TELEGRAM_ID + 1)
    assert [await intake.allow_submission(me, WHEN) for _ in range(6)] == [True] * 5 + [False]
    assert await intake.allow_submission(other, WHEN)
    assert await intake.allow_submission(me, WHEN + timedelta(days=1))
    keys = [k async for k in redis.scan_iter(match="sini:tips:quota:*")]
    assert len(keys) == 3
    for key in keys:
        assert me.encode() not in key
        assert str(TELEGRAM_ID).encode() not in key
        assert 0 < await redis.ttl(key) <= 24 * 3600


async def test_a_full_copy_of_redis_holds_nothing_identifying(
    intake: Intake, desk: Desk, keys: Keys, redis: Redis[bytes]
) -> None:
    identity = f"{MARKER} — écrit par @{USERNAME} ({FIRST_NAME}, id {TELEGRAM_ID}, tél {PHONE})"
    my_chat = chat_key(SECRET, TELEGRAM_ID)
    assert await intake.allow_submission(my_chat, WHEN)
    photo = prepare_attachment(AttachmentKind.PHOTO, gps_photo())
    doc = prepare_attachment(AttachmentKind.DOCUMENT, identity.encode(), "text/plain")
    tip = replace(content(identity), attachments=(photo.meta, doc.meta))
    receipt = await intake.submit(tip, keys.public, WHEN, [photo.data, doc.data])
    lookup = intake.lookup(receipt.code)
    await intake.add_followup(
        receipt.code, receipt.passphrase, f"{MARKER} encore, {USERNAME}", WHEN
    )
    with pytest.raises(ReceiptInvalid):
        await intake.open_for_tipster(receipt.code, new_receipt().passphrase)
    await desk.reply_to_tipster(lookup, f"{MARKER} merci {FIRST_NAME}", keys.public, now=WHEN)
    await desk.add_note(lookup, f"{MARKER} {PHONE}", "admin", keys.public, now=WHEN)
    await desk.set_status(lookup, Status.IN_REVIEW, f"{MARKER} {TELEGRAM_ID}", "admin", now=WHEN)

    forbidden = [
        MARKER.split()[0],
        "tramadol",
        "Badalabougou",
        USERNAME,
        FIRST_NAME,
        str(TELEGRAM_ID),
        PHONE,
        PHONE.lstrip("+"),
        my_chat,
        receipt.code,
        receipt.code.replace("-", ""),
        receipt.passphrase,
        receipt.passphrase.replace(" ", "").upper(),
        "12.63",  # the rounded location
        "SPYPHONE",
    ]
    rows = await stored_rows(redis)
    assert rows, "the scan saw nothing"
    blob = b"\n".join(k + b"\n" + v for k, v, _ in rows)
    for needle in forbidden:
        for encoding in ("utf-8", "utf-16-le"):
            assert needle.encode(encoding) not in blob, needle
        assert needle.lower().encode() not in blob.lower(), needle
    assert TELEGRAM_ID.to_bytes(8, "big").lstrip(b"\0") not in blob
    assert TELEGRAM_ID.to_bytes(8, "little").rstrip(b"\0") not in blob

    # Times: every stored time and score is a whole UTC hour.
    hash_fields = dict(v.split(b"=", 1) for k, v, _ in rows if k == tip_key(lookup).encode())
    for name in (b"created", b"updated"):
        assert int(hash_fields[name]) % 3600 == 0
    for _, _, score in rows:
        if score is not None:
            assert score % 3600 == 0
    exact = str(int(WHEN.timestamp())).encode()
    assert exact not in blob
    assert str(WHEN.timestamp()).encode() not in blob


async def test_a_draft_sent_twice_is_one_tip_and_the_second_send_says_already_stored(
    intake: Intake, desk: Desk, keys: Keys, redis: Redis[bytes]
) -> None:
    tip = content()
    assert not await intake.was_submitted(DRAFT_ID)
    await intake.submit(tip, keys.public, WHEN, submission=DRAFT_ID)
    assert await intake.was_submitted(DRAFT_ID)
    with pytest.raises(AlreadySubmitted):
        await intake.submit(tip, keys.public, WHEN, submission=DRAFT_ID)
    assert len(await desk.records()) == 1
    other = "f" * 32  # another draft with the same words is another tip
    await intake.submit(tip, keys.public, WHEN, submission=other)
    assert len(await desk.records()) == 2


async def test_two_sends_of_one_draft_racing_store_one_tip(
    intake: Intake, desk: Desk, keys: Keys
) -> None:
    """Two replicas sealing the same draft at once: the store's script lets one through."""
    tip = content()
    outcomes = await asyncio.gather(
        *(intake.submit(tip, keys.public, WHEN, submission=DRAFT_ID) for _ in range(2)),
        return_exceptions=True,
    )
    receipts = [o for o in outcomes if isinstance(o, Receipt)]
    refused = [o for o in outcomes if isinstance(o, AlreadySubmitted)]
    assert (len(receipts), len(refused)) == (1, 1), outcomes
    (record,) = await desk.records()
    assert record.lookup == intake.lookup(receipts[0].code)


async def test_the_mark_of_a_stored_draft_names_nothing_and_expires_on_an_hour(
    intake: Intake, desk: Desk, keys: Keys, redis: Redis[bytes]
) -> None:
    tip = content()
    await intake.submit(tip, keys.public, WHEN, submission=DRAFT_ID)
    (mark,) = await redis.keys("sini:tips:submitted:*")
    assert DRAFT_ID.encode() not in mark
    assert await redis.get(mark) == b"1"
    expires = await redis.expiretime(mark)
    assert expires % 3600 == 0, "the mark's expiry says no finer time than an hour"
    now = int((await redis.time())[0])
    assert SUBMISSION_MEMORY_SECONDS - 3600 < expires - now <= SUBMISSION_MEMORY_SECONDS


async def test_a_failed_submission_leaves_no_mark(intake: Intake, desk: Desk, keys: Keys) -> None:
    """Nothing written, nothing marked: the same draft can be sent once it can be stored."""
    tip = content()
    with pytest.raises(InconsistentTip):
        await intake.submit(tip, keys.public, WHEN, [b"no metadata"], submission=DRAFT_ID)
    assert not await intake.was_submitted(DRAFT_ID)
    await intake.submit(tip, keys.public, WHEN, submission=DRAFT_ID)
    assert len(await desk.records()) == 1
