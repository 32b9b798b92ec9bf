"""The tip store against a real Redis: who can read what, receipts, queue, retention,
and what a full copy of the database gives away (nothing identifying)."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import pytest
from nacl.public import PrivateKey, PublicKey
from PIL import ExifTags, Image
from redis.asyncio import Redis

from bot.dialogue.store import chat_key
from sini.regions import Region
from tests.support.redis_scan import rows as stored_rows
from tips.crypto import MINIMUM_FOR_TESTS, DeskKeyring, NotARecipient, Sealed, open_sealed
from tips.keys import init_desk_keys, unwrap_desk_keyring
from tips.media import prepare_attachment
from tips.model import (
    AttachmentKind,
    Author,
    Category,
    Draft,
    InvalidTransition,
    Status,
    TipContent,
    TipRegion,
    TipValidationError,
    When,
)
from tips.receipts import Receipt, new_receipt
from tips.store import (
    ALL_INDEX,
    EVENTS_STREAM,
    SUBMISSION_MEMORY_SECONDS,
    AlreadySubmitted,
    InconsistentTip,
    ReceiptInvalid,
    ReceiptLocked,
    TipNotFound,
    TipStore,
    attempts_key,
    status_index,
    tip_key,
)

SECRET = bytes.fromhex("5e" * 32)
WHEN = datetime(2025, 3, 14, 14, 37, 12, 345678, tzinfo=timezone.utc)
HOUR = datetime(2025, 3, 14, 14, tzinfo=timezone.utc)
MARKER = "ZEBRA-MARKER-7731 le dealer Moussa vend du tramadol derrière l'école"
TELEGRAM_ID = 770_123_457
USERNAME = "awa_traore_bko"
FIRST_NAME = "Awatoutou"
PHONE = "+22376543210"


@dataclass
class Desk:
    keys: DeskKeyring

    @property
    def public(self) -> PublicKey:
        return self.keys.public_key


@pytest.fixture
async def desk(redis: Redis[bytes]) -> Desk:
    await init_desk_keys(redis, "admin", "admin password", limits=MINIMUM_FOR_TESTS)
    return Desk(await unwrap_desk_keyring(redis, "admin", "admin password"))


@pytest.fixture
async def store(redis: Redis[bytes]) -> TipStore:
    return TipStore(redis, SECRET, kdf_limits=MINIMUM_FOR_TESTS)


def content(
    text: str = "des comprimés vendus aux élèves",
    category: Category = Category.DRUG_TRAFFICKING,
    region: TipRegion = Region.BAMAKO,
) -> TipContent:
    draft = (
        Draft()
        .with_category(category)
        .with_region(region)
        .with_place("Badalabougou, près du grin")
        .with_location(12.6258, -7.9919)
        .with_when(When.ONGOING)
        .add_text(text)
    )
    return draft.to_content()


async def submit(
    store: TipStore, desk: Desk, tip: TipContent | None = None, now: datetime = WHEN
) -> Receipt:
    tip = tip or content()
    return await store.submit(tip, tip.category, tip.region, desk.public, now)


def gps_photo() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SPYPHONE"
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (12.0, 37.0, 33.0), 3: "W", 4: (7.0, 59.0, 31.0)}
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 10)).save(out, "JPEG", exif=exif)
    return out.getvalue()


# ------------------------------------------------------------------ who can read


async def test_bot_cannot_read_back_but_tipster_and_staff_can(
    store: TipStore, desk: Desk, redis: Redis[bytes]
) -> None:
    tip = content(MARKER)
    receipt = await submit(store, desk, tip)
    lookup = store.lookup(receipt.code)
    record = await store.get(lookup)

    # The bot's whole key material is the desk PUBLIC key: nothing it can build opens the tip.
    bot_public = desk.public
    sealed = Sealed.from_bytes(record.sealed)
    assert sealed.is_sealed_to(bot_public)
    assert sealed.is_sealed_to(PublicKey(record.tipster_public_key))
    assert len(sealed.recipients) == 2
    for attempt in (PrivateKey(bytes(bot_public)), PrivateKey.generate()):
        with pytest.raises(NotARecipient):
            open_sealed(record.sealed, attempt)
    assert MARKER.encode() not in await redis.hget(tip_key(lookup), "sealed")  # type: ignore[operator]

    view = await store.open_for_tipster(receipt.code, receipt.passphrase)
    assert view.content == tip
    assert view.status is Status.NEW
    assert view.thread == ()
    assert await store.open_for_staff(lookup, desk.keys) == tip
    assert await store.open_for_staff(lookup, desk.keys.current) == tip


async def test_receipt_input_is_forgiving(store: TipStore, desk: Desk) -> None:
    receipt = await submit(store, desk)
    typed_code = receipt.code.lower().replace("-", " ")
    typed_pass = receipt.passphrase.upper().replace(" ", "-")
    assert (await store.open_for_tipster(typed_code, typed_pass)).status is Status.NEW


async def test_wrong_passphrase_unknown_code_and_garbage_all_look_the_same(
    store: TipStore, desk: Desk
) -> None:
    receipt = await submit(store, desk)
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
            await store.open_for_tipster(code, passphrase)
        assert type(caught.value) is ReceiptInvalid
        messages.add(str(caught.value))
    assert len(messages) == 1


async def test_repeated_wrong_passphrases_lock_the_code(
    store: TipStore, desk: Desk, redis: Redis[bytes]
) -> None:
    receipt = await submit(store, desk)
    wrong = new_receipt().passphrase
    for _ in range(store.attempt_limit):
        with pytest.raises(ReceiptInvalid):
            await store.open_for_tipster(receipt.code, wrong)
    with pytest.raises(ReceiptLocked) as caught:
        await store.open_for_tipster(receipt.code, receipt.passphrase)  # even the right one
    assert 0 < caught.value.retry_after_seconds <= 15 * 60
    counter = attempts_key(store.lookup(receipt.code))
    assert 0 < await redis.ttl(counter) <= 15 * 60

    # Unknown codes lock the same way, so a lock says nothing about existence.
    unknown = new_receipt()
    for _ in range(store.attempt_limit):
        with pytest.raises(ReceiptInvalid):
            await store.open_for_tipster(unknown.code, unknown.passphrase)
    with pytest.raises(ReceiptLocked):
        await store.open_for_tipster(unknown.code, unknown.passphrase)


async def test_the_lock_expires_and_success_clears_the_counter(
    redis: Redis[bytes], desk: Desk
) -> None:
    store = TipStore(
        redis, SECRET, kdf_limits=MINIMUM_FOR_TESTS, attempt_limit=2, attempt_window_seconds=1
    )
    receipt = await submit(store, desk)
    wrong = new_receipt().passphrase
    for _ in range(2):
        with pytest.raises(ReceiptInvalid):
            await store.open_for_tipster(receipt.code, wrong)
    with pytest.raises(ReceiptLocked):
        await store.open_for_tipster(receipt.code, receipt.passphrase)
    await asyncio.sleep(1.2)
    await store.open_for_tipster(receipt.code, receipt.passphrase)
    assert not await redis.exists(attempts_key(store.lookup(receipt.code)))


# ------------------------------------------------------------------ times, attachments, thread


async def test_created_hour_is_rounded_down(
    store: TipStore, desk: Desk, redis: Redis[bytes]
) -> None:
    receipt = await submit(store, desk, now=WHEN)
    lookup = store.lookup(receipt.code)
    record = await store.get(lookup)
    assert record.created_hour == HOUR == record.updated_hour
    stored = await redis.hget(tip_key(lookup), "created")
    assert stored is not None
    assert int(stored) == int(HOUR.timestamp())
    assert await redis.zscore(ALL_INDEX, lookup) == HOUR.timestamp()


async def test_attachments_are_stripped_sealed_and_readable_by_staff(
    store: TipStore, desk: Desk, redis: Redis[bytes]
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
    receipt = await store.submit(
        tip, tip.category, tip.region, desk.public, WHEN, [photo.data, voice.data]
    )
    lookup = store.lookup(receipt.code)
    opened = await store.open_for_staff(lookup, desk.keys)
    assert [a.index for a in opened.attachments] == [0, 1]
    assert await store.open_attachment(lookup, 0, desk.keys) == photo.data
    assert await store.open_attachment(lookup, 1, desk.keys) == b"OggS voice note"
    raw = await redis.get(f"sini:tip:{lookup}:att:1")
    assert raw is not None
    assert b"OggS" not in raw
    with pytest.raises(NotARecipient):
        open_sealed(raw, PrivateKey.generate())
    assert b"SPYPHONE" not in photo.data
    with pytest.raises(InconsistentTip):
        await store.submit(tip, tip.category, tip.region, desk.public, WHEN, [photo.data])
    with pytest.raises(InconsistentTip):
        await store.submit(
            tip, Category.OTHER, tip.region, desk.public, WHEN, [photo.data, voice.data]
        )


async def test_thread_between_tipster_and_desk(store: TipStore, desk: Desk) -> None:
    receipt = await submit(store, desk)
    lookup = store.lookup(receipt.code)
    later = WHEN + timedelta(hours=3, minutes=12)
    photo = prepare_attachment(AttachmentKind.PHOTO, gps_photo())
    await store.add_followup(
        receipt.code, receipt.passphrase, "ils sont revenus ce soir", later, [photo]
    )
    assert (await store.get(lookup)).awaiting_reply
    await store.reply_to_tipster(
        lookup, "Merci, pouvez-vous préciser l'heure ?", desk.public, now=later
    )
    await store.add_note(lookup, "note interne: recouper avec OCS", "admin", desk.public, now=later)

    record = await store.get(lookup)
    assert not record.awaiting_reply
    assert record.attachment_count == 1
    assert record.updated_hour == later.replace(minute=0, second=0, microsecond=0)

    view = await store.open_for_tipster(receipt.code, receipt.passphrase)
    assert [(m.author, m.text) for m in view.thread] == [
        (Author.TIPSTER, "ils sont revenus ce soir"),
        (Author.DESK, "Merci, pouvez-vous préciser l'heure ?"),
    ]
    assert view.thread[0].attachments[0].index == 0
    assert await store.open_attachment(lookup, 0, desk.keys) == photo.data
    assert all("note interne" not in m.text for m in view.thread)  # notes stay with the desk
    assert [m.text for m in await store.thread(lookup, desk.keys)] == [m.text for m in view.thread]
    notes = await store.notes(lookup, desk.keys)
    assert [(n.actor, n.text) for n in notes] == [("admin", "note interne: recouper avec OCS")]

    with pytest.raises(ReceiptInvalid):
        await store.add_followup(receipt.code, new_receipt().passphrase, "spam", later)
    with pytest.raises(TipNotFound):
        await store.reply_to_tipster("0" * 32, "hello", desk.public)


# ------------------------------------------------------------------ staff queue


async def test_queue_filters_and_status_life_cycle(
    store: TipStore, desk: Desk, redis: Redis[bytes]
) -> None:
    a = store.lookup((await submit(store, desk, content("a"), WHEN)).code)
    b = store.lookup(
        (
            await submit(
                store,
                desk,
                content("b", Category.HUMAN_TRAFFICKING, Region.KAYES),
                WHEN + timedelta(hours=1),
            )
        ).code
    )
    c = store.lookup(
        (
            await submit(store, desk, content("c", region=Region.KAYES), WHEN + timedelta(hours=2))
        ).code
    )

    assert [r.lookup for r in await store.list()] == [c, b, a]  # newest first
    assert [r.lookup for r in await store.list(region=Region.KAYES)] == [c, b]
    assert [r.lookup for r in await store.list(category=Category.HUMAN_TRAFFICKING)] == [b]
    assert [
        r.lookup for r in await store.list(category=Category.DRUG_TRAFFICKING, region=Region.KAYES)
    ] == [c]

    with pytest.raises(InvalidTransition):
        await store.set_status(a, Status.FORWARDED, "too early", "admin", forwarded_to="OCS")
    await store.set_status(a, Status.IN_REVIEW, "", "admin", now=WHEN)
    with pytest.raises(TipValidationError):
        await store.set_status(a, Status.FORWARDED, "no target", "admin")
    record = await store.set_status(
        a, Status.FORWARDED, "urgent", "admin", forwarded_to="OCS", now=WHEN
    )
    assert record.status is Status.FORWARDED
    assert record.forwarded_to == "OCS"
    assert (await store.get(a)).forwarded_to == "OCS"
    assert [r.lookup for r in await store.list(status=Status.NEW)] == [c, b]
    assert [r.lookup for r in await store.list(status=Status.FORWARDED)] == [a]
    assert await redis.zscore(status_index(Status.IN_REVIEW), a) is None
    history = await store.history(a, desk.keys)
    assert [(h.old, h.new, h.reason) for h in history] == [
        (Status.NEW, Status.IN_REVIEW, ""),
        (Status.IN_REVIEW, Status.FORWARDED, "urgent"),
    ]
    assigned = await store.assign(b, "awa", now=WHEN)
    assert assigned.assigned_to == "awa"
    assert (await store.get(b)).assigned_to == "awa"
    await store.assign(b, None)
    assert (await store.get(b)).assigned_to is None
    with pytest.raises(TipNotFound):
        await store.get("f" * 32)


async def test_concurrent_submissions_get_distinct_receipts(store: TipStore, desk: Desk) -> None:
    receipts = await asyncio.gather(*(submit(store, desk, content(f"tip {n}")) for n in range(10)))
    assert len({r.code for r in receipts}) == 10
    assert len(await store.list()) == 10


# ------------------------------------------------------------------ retention


async def test_purge_removes_only_old_closed_and_rejected_tips(
    store: TipStore, desk: Desk, redis: Redis[bytes]
) -> None:
    now = datetime(2025, 9, 1, 10, 30, tzinfo=timezone.utc)
    old, recent = now - timedelta(days=100), now - timedelta(days=10)

    async def tip(status_path: list[Status], when: datetime) -> str:
        photo = prepare_attachment(AttachmentKind.PHOTO, gps_photo())
        draft = Draft().with_category(Category.OTHER).with_region(Region.SIKASSO).add_text("x")
        tip = draft.to_content([photo.meta])
        receipt = await store.submit(tip, tip.category, tip.region, desk.public, when, [photo.data])
        lookup = store.lookup(receipt.code)
        await store.add_followup(receipt.code, receipt.passphrase, "suite", when)
        await store.add_note(lookup, "n", "admin", desk.public, now=when)
        for status in status_path:
            await store.set_status(lookup, status, "", "admin", now=when)
        return lookup

    old_closed = await tip([Status.IN_REVIEW, Status.CLOSED], old)
    old_rejected = await tip([Status.REJECTED], old)
    recent_closed = await tip([Status.IN_REVIEW, Status.CLOSED], recent)
    old_open = await tip([Status.IN_REVIEW], old)
    old_new = await tip([], old)

    assert await store.purge_closed(90, now) == 2
    remaining = {r.lookup for r in await store.list()}
    assert remaining == {recent_closed, old_open, old_new}
    for gone in (old_closed, old_rejected):
        assert [k async for k in redis.scan_iter(match=f"*{gone}*")] == []
        with pytest.raises(TipNotFound):
            await store.get(gone)
    assert await store.purge_closed(90, now) == 0
    assert await store.purge_closed(5, now) == 1  # now the recent one is old enough


# ------------------------------------------------------------------ submission quota


async def test_submission_quota_per_chat_and_day(store: TipStore, redis: Redis[bytes]) -> None:
    me, other = chat_key(SECRET, TELEGRAM_ID), chat_key(SECRET, TELEGRAM_ID + 1)
    assert [await store.allow_submission(me, WHEN) for _ in range(6)] == [True] * 5 + [False]
    assert await store.allow_submission(other, WHEN)
    assert await store.allow_submission(me, WHEN + timedelta(days=1))
    keys = [k async for k in redis.scan_iter(match="sini:tips:quota:*")]
    assert len(keys) == 3
    for key in keys:
        assert me.encode() not in key
        assert str(TELEGRAM_ID).encode() not in key
        assert 0 < await redis.ttl(key) <= 24 * 3600


# ------------------------------------------------------------------ what a copy of Redis shows


async def test_a_full_copy_of_redis_holds_nothing_identifying(
    store: TipStore, desk: Desk, redis: Redis[bytes]
) -> None:
    identity = f"{MARKER} — écrit par @{USERNAME} ({FIRST_NAME}, id {TELEGRAM_ID}, tél {PHONE})"
    my_chat = chat_key(SECRET, TELEGRAM_ID)
    assert await store.allow_submission(my_chat, WHEN)
    photo = prepare_attachment(AttachmentKind.PHOTO, gps_photo())
    doc = prepare_attachment(AttachmentKind.DOCUMENT, identity.encode(), "text/plain")
    tip = replace(content(identity), attachments=(photo.meta, doc.meta))
    receipt = await store.submit(
        tip, tip.category, tip.region, desk.public, WHEN, [photo.data, doc.data]
    )
    lookup = store.lookup(receipt.code)
    await store.add_followup(receipt.code, receipt.passphrase, f"{MARKER} encore, {USERNAME}", WHEN)
    with pytest.raises(ReceiptInvalid):
        await store.open_for_tipster(receipt.code, new_receipt().passphrase)
    await store.reply_to_tipster(lookup, f"{MARKER} merci {FIRST_NAME}", desk.public, now=WHEN)
    await store.add_note(lookup, f"{MARKER} {PHONE}", "admin", desk.public, now=WHEN)
    await store.set_status(lookup, Status.IN_REVIEW, f"{MARKER} {TELEGRAM_ID}", "admin", now=WHEN)

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


# ------------------------------------------------------------------ one tip per draft

DRAFT_ID = "0123456789abcdef0123456789abcdef"


async def test_a_draft_sent_twice_is_one_tip_and_the_second_send_says_already_stored(
    store: TipStore, desk: Desk, redis: Redis[bytes]
) -> None:
    tip = content()
    assert not await store.was_submitted(DRAFT_ID)
    await store.submit(tip, tip.category, tip.region, desk.public, WHEN, submission=DRAFT_ID)
    assert await store.was_submitted(DRAFT_ID)
    with pytest.raises(AlreadySubmitted):
        await store.submit(tip, tip.category, tip.region, desk.public, WHEN, submission=DRAFT_ID)
    assert len(await store.list()) == 1
    assert await redis.xlen(EVENTS_STREAM) == 1, "staff hear of one new tip"
    other = "f" * 32  # another draft with the same words is another tip
    await store.submit(tip, tip.category, tip.region, desk.public, WHEN, submission=other)
    assert len(await store.list()) == 2


async def test_two_sends_of_one_draft_racing_store_one_tip(store: TipStore, desk: Desk) -> None:
    """Two replicas sealing the same draft at once: the store's script lets one through."""
    tip = content()
    outcomes = await asyncio.gather(
        *(
            store.submit(tip, tip.category, tip.region, desk.public, WHEN, submission=DRAFT_ID)
            for _ in range(2)
        ),
        return_exceptions=True,
    )
    receipts = [o for o in outcomes if isinstance(o, Receipt)]
    refused = [o for o in outcomes if isinstance(o, AlreadySubmitted)]
    assert (len(receipts), len(refused)) == (1, 1), outcomes
    (record,) = await store.list()
    assert record.lookup == store.lookup(receipts[0].code)


async def test_the_mark_of_a_stored_draft_names_nothing_and_expires_on_an_hour(
    store: TipStore, desk: Desk, redis: Redis[bytes]
) -> None:
    tip = content()
    await store.submit(tip, tip.category, tip.region, desk.public, WHEN, submission=DRAFT_ID)
    (mark,) = await redis.keys("sini:tips:submitted:*")
    assert DRAFT_ID.encode() not in mark
    assert await redis.get(mark) == b"1"
    expires = await redis.expiretime(mark)
    assert expires % 3600 == 0, "the mark's expiry says no finer time than an hour"
    now = int((await redis.time())[0])
    assert SUBMISSION_MEMORY_SECONDS - 3600 < expires - now <= SUBMISSION_MEMORY_SECONDS


async def test_a_failed_submission_leaves_no_mark(store: TipStore, desk: Desk) -> None:
    """Nothing written, nothing marked: the same draft can be sent once it can be stored."""
    tip = content()
    with pytest.raises(InconsistentTip):
        await store.submit(tip, Category.OTHER, tip.region, desk.public, WHEN, submission=DRAFT_ID)
    assert not await store.was_submitted(DRAFT_ID)
    await store.submit(tip, tip.category, tip.region, desk.public, WHEN, submission=DRAFT_ID)
    assert len(await store.list()) == 1
