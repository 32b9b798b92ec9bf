"""The tipster's side of the tip store: submit a tip, get a receipt, follow up with it.

It holds only the desk *public* key: what it seals it cannot open again, and nothing it
keeps names the person who sent it (see `tips.stored` for what Redis holds).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from nacl.public import PrivateKey, PublicKey
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from sini.redis import PREFIX
from sini.transactions import Writes
from tips.crypto import INTERACTIVE, KdfLimits, derive_secret, open_sealed, tipster_keypair
from tips.keys import desk_public_key as stored_desk_public_key
from tips.media import PreparedAttachment
from tips.model import (
    MAX_ATTACHMENTS,
    Author,
    EmptyText,
    Message,
    Status,
    TipContent,
    TipError,
    TipRecord,
    TipValidationError,
    TipView,
    TooManyAttachments,
    clean_text,
    floor_hour,
    hour_to_epoch,
)
from tips.receipts import (
    MalformedReceipt,
    Receipt,
    lookup_id,
    new_receipt,
    normalize_passphrase,
    tipster_salt,
)
from tips.stored import (
    ALL_INDEX,
    REFERENCE_LUA,
    REFERENCES,
    UPDATED_INDEX,
    StoreConflict,
    attachment_key,
    attempts_key,
    category_index,
    change,
    open_list,
    record_from_hash,
    reference_counter,
    reference_secret,
    reference_year,
    region_index,
    seal_many,
    status_index,
    thread_key,
    tip_key,
)

DAY_SECONDS = 24 * 3600
# How long a stored draft's submission id is remembered: far above the life of a draft in
# the chat state (DRAFT_TTL_SECONDS, 30 min by default; it only lasts while the chat is
# active), so the same draft sent again is recognised however late it comes.
SUBMISSION_MEMORY_SECONDS = 2 * DAY_SECONDS
_CODE_DRAWS = 8

# One script stores a tip: conditional on the submission id not being marked yet (0: this
# draft is already stored) and on the lookup being free (-1: a 40-bit code collided, draw
# another), it writes the envelope, the attachments, every index, the reference and the
# mark, atomically.
# KEYS: tip, status index, all index, mark, category index, region index, updated index,
# reference counter, references, attachments…
# ARGV: use mark (1/0), status, category, region, hour, sealed, tipster pk, attachment
# count, lookup, how long the mark lasts (from the current hour: its expiry says no finer
# time), reference year, reference secret, attachments…
_SUBMIT = (
    REFERENCE_LUA
    + """
local marked = ARGV[1] == '1'
if marked and redis.call('EXISTS', KEYS[4]) == 1 then
  return 0
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return -1
end
redis.call('HSET', KEYS[1], 'v', 1, 'status', ARGV[2], 'category', ARGV[3],
  'region', ARGV[4], 'created', ARGV[5], 'updated', ARGV[5], 'sealed', ARGV[6],
  'tipster_pk', ARGV[7], 'att', ARGV[8], 'awaiting', 0)
for i = 1, tonumber(ARGV[8]) do
  redis.call('SET', KEYS[9 + i], ARGV[12 + i])
end
for _, index in ipairs({KEYS[2], KEYS[3], KEYS[5], KEYS[6], KEYS[7]}) do
  redis.call('ZADD', index, ARGV[5], ARGV[9])
end
give_reference(KEYS[8], KEYS[9], KEYS[1], ARGV[9], ARGV[11], ARGV[12])
if marked then
  local now = tonumber(redis.call('TIME')[1])
  redis.call('SET', KEYS[4], 1, 'EXAT', now - now % 3600 + tonumber(ARGV[10]))
end
return 1
"""
)


class ReceiptError(TipError):
    """Root of the errors a tipster can get back from code + passphrase."""


class ReceiptInvalid(ReceiptError):
    """Wrong code, wrong passphrase, or malformed input — deliberately indistinguishable."""


class ReceiptLocked(ReceiptError):
    """Too many attempts on this code recently; try again after `retry_after_seconds`."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many attempts; retry in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class InconsistentTip(TipValidationError):
    """Blobs that do not match the content's attachment metadata."""


class AlreadySubmitted(TipError):
    """This draft (its submission id) is already stored as a tip; nothing was written."""


def _optional_text(text: str | None) -> str:
    if text is None or not text.strip():
        return ""
    return clean_text(text)


class Intake:
    """Tips coming in, and tipsters following up with their receipt.

    `secret` is the installation secret (`Settings.secret`); the receipt pepper, the quota
    secret and the submission secret are derived from it.
    """

    def __init__(
        self,
        redis: Redis[bytes],
        secret: bytes,
        *,
        kdf_limits: KdfLimits = INTERACTIVE,
        attempt_limit: int = 5,
        attempt_window_seconds: int = 15 * 60,
        submission_limit: int = 5,
        kdf_concurrency: int = 2,
    ) -> None:
        self.redis = redis
        self.kdf_limits = kdf_limits
        self.attempt_limit = attempt_limit
        self.attempt_window_seconds = attempt_window_seconds
        self.submission_limit = submission_limit
        self._pepper = derive_secret(secret, "tips:lookup")
        self._quota_secret = derive_secret(secret, "tips:quota")
        self._submission_secret = derive_secret(secret, "tips:submission")
        self._reference_secret = reference_secret(secret)
        self._submit = redis.register_script(_SUBMIT)
        # Argon2id INTERACTIVE takes 64 MiB and a noticeable fraction of a second: it runs in
        # a thread (the event loop keeps serving other chats) with bounded concurrency.
        self._kdf_slots = asyncio.Semaphore(kdf_concurrency)

    def lookup(self, code: str) -> str:
        """The lookup id of a reference code (`MalformedReceipt` if it cannot be a code)."""
        return lookup_id(code, self._pepper)

    async def _tipster_key(self, canonical_passphrase: str, lookup: str) -> PrivateKey:
        async with self._kdf_slots:
            return await asyncio.to_thread(
                tipster_keypair, canonical_passphrase, tipster_salt(lookup), self.kdf_limits
            )

    async def allow_submission(self, chat_key: str, now: datetime) -> bool:
        """Count one submission for this chat today; False once the daily limit is passed.

        The counter's name is HMAC(daily secret, chat_key), the daily secret being derived
        from the installation secret and the UTC date: no chat id or chat key in Redis, and
        yesterday's counter cannot be linked to today's. It expires after 24 h.
        """
        day = floor_hour(now).date().isoformat()
        day_secret = hmac.new(self._quota_secret, f"day:{day}".encode(), hashlib.sha256).digest()
        name = hmac.new(day_secret, f"chat:{chat_key}".encode(), hashlib.sha256).hexdigest()[:32]
        counter = f"{PREFIX}:tips:quota:{name}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(counter)
            pipe.expire(counter, DAY_SECONDS, nx=True)
            count, _ = await pipe.execute()
        return int(count) <= self.submission_limit

    def submission_key(self, submission: str) -> str:
        """Where the mark of a stored draft lives: an HMAC of its submission id."""
        name = hmac.new(
            self._submission_secret, f"submission:{submission}".encode(), hashlib.sha256
        ).hexdigest()[:32]
        return f"{PREFIX}:tips:submitted:{name}"

    async def was_submitted(self, submission: str) -> bool:
        """Whether the draft with this submission id is already stored (a cheap look before
        the sealing work; `submit` decides for good, atomically)."""
        return bool(await self.redis.exists(self.submission_key(submission)))

    async def submit(
        self,
        content: TipContent,
        desk_public_key: PublicKey,
        now: datetime,
        attachments: Sequence[bytes] = (),
        *,
        submission: str | None = None,
    ) -> Receipt:
        """Seal and store a tip; return the receipt only once Redis acknowledged the write.

        The content's category and region are also kept in clear for the queue.
        `attachments` are the stripped blobs (`media.prepare_attachment`) in the order of
        `content.attachments`. Content and attachments are sealed to the desk key and to
        the tipster key derived from the new receipt's passphrase.

        Given the draft's `submission` id, the tip is stored only if no tip was stored for
        it, in the same script that marks it: `AlreadySubmitted` otherwise, so a draft sent
        twice — a retry after a crash, two replicas racing — is one tip.
        """
        if len(attachments) != len(content.attachments):
            raise InconsistentTip("one blob per attachment is required")
        for meta, blob in zip(content.attachments, attachments, strict=True):
            if meta.size != len(blob):
                raise InconsistentTip("attachment size differs from its metadata")
        indexed = replace(
            content,
            attachments=tuple(m.numbered(i) for i, m in enumerate(content.attachments)),
        )
        hour = hour_to_epoch(floor_hour(now))
        year = reference_year(floor_hour(now))
        for _ in range(_CODE_DRAWS):
            receipt = new_receipt()
            lookup = self.lookup(receipt.code)
            tipster = await self._tipster_key(normalize_passphrase(receipt.passphrase), lookup)
            recipients = [desk_public_key, tipster.public_key]
            sealed, blobs = await asyncio.to_thread(
                seal_many, indexed.to_json(), attachments, recipients
            )
            key = tip_key(lookup)
            mark = self.submission_key(submission) if submission is not None else key
            keys = [
                key,
                status_index(Status.NEW),
                ALL_INDEX,
                mark,
                category_index(content.category),
                region_index(content.region),
                UPDATED_INDEX,
                reference_counter(year),
                REFERENCES,
            ]
            keys += [attachment_key(lookup, index) for index in range(len(blobs))]
            args: list[bytes | str | int] = [
                "1" if submission is not None else "0",
                Status.NEW.value,
                content.category.value,
                content.region.value,
                hour,
                sealed,
                bytes(tipster.public_key),
                len(blobs),
                lookup,
                SUBMISSION_MEMORY_SECONDS,
                f"{year:02d}",
                self._reference_secret,
                *blobs,
            ]
            stored = int(await self._submit(keys=keys, args=args))
            if stored == 0:
                raise AlreadySubmitted("this draft is already stored")
            if stored == 1:
                return receipt
            # -1: a 40-bit code collided: draw another receipt
        raise StoreConflict("could not allocate a reference code")

    async def _authenticate(self, code: str, passphrase: str) -> tuple[str, PrivateKey, TipRecord]:
        """Check code + passphrase; the same `ReceiptInvalid` for every kind of wrong.

        Every attempt is counted per lookup id — existing or not, so a lock says nothing
        about whether a code exists — before any Argon2 work, so a locked code costs no CPU.
        A success clears the counter.
        """
        try:
            lookup = self.lookup(code)
        except MalformedReceipt as error:
            raise ReceiptInvalid("invalid receipt") from error
        counter = attempts_key(lookup)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(counter)
            pipe.expire(counter, self.attempt_window_seconds, nx=True)
            pipe.ttl(counter)
            count, _, ttl = await pipe.execute()
        if int(count) > self.attempt_limit:
            raise ReceiptLocked(max(int(ttl), 1))
        try:
            canonical = normalize_passphrase(passphrase)
        except MalformedReceipt as error:
            raise ReceiptInvalid("invalid receipt") from error
        tipster = await self._tipster_key(canonical, lookup)
        data = await self.redis.hgetall(tip_key(lookup))
        stored = data.get(b"tipster_pk", b"")
        if not data or not hmac.compare_digest(stored, bytes(tipster.public_key)):
            raise ReceiptInvalid("invalid receipt")
        await self.redis.delete(counter)
        return lookup, tipster, record_from_hash(lookup, data)

    async def open_for_tipster(self, code: str, passphrase: str) -> TipView:
        """The tipster's view of their tip: status, what they sent, and the thread."""
        lookup, tipster, record = await self._authenticate(code, passphrase)
        content = TipContent.from_json(open_sealed(record.sealed, tipster))
        return TipView(
            status=record.status,
            created_hour=record.created_hour,
            updated_hour=record.updated_hour,
            content=content,
            thread=tuple(
                Message.from_json(m)
                for m in await open_list(self.redis, thread_key(lookup), [tipster])
            ),
        )

    async def add_followup(
        self,
        code: str,
        passphrase: str,
        text: str | None,
        now: datetime,
        attachments: Sequence[PreparedAttachment] = (),
        desk_public_key: PublicKey | None = None,
    ) -> None:
        """Append a tipster message (text and/or stripped attachments) to the thread.

        Needs the passphrase again: the bot keeps no tipster secret between messages. Sealed
        to the desk key (read from Redis unless given) and to the tipster key on record.
        """
        cleaned = _optional_text(text)
        if not cleaned and not attachments:
            raise EmptyText("a follow-up needs text or an attachment")
        if len(attachments) > MAX_ATTACHMENTS:
            raise TooManyAttachments(f"the limit is {MAX_ATTACHMENTS} attachments")
        lookup, _tipster, _record = await self._authenticate(code, passphrase)
        desk = (
            desk_public_key
            if desk_public_key is not None
            else await stored_desk_public_key(self.redis)
        )
        hour = floor_hour(now)

        async def decide(record: TipRecord, _pipe: Pipeline[bytes]) -> tuple[None, Writes]:
            first = record.attachment_count
            metas = tuple(a.meta.numbered(first + i) for i, a in enumerate(attachments))
            message = Message(Author.TIPSTER, hour, cleaned, metas)
            recipients = [desk, PublicKey(record.tipster_public_key)]
            sealed, blobs = await asyncio.to_thread(
                seal_many, message.to_json(), [a.data for a in attachments], recipients
            )

            def writes(pipe: Pipeline[bytes]) -> None:
                for offset, blob in enumerate(blobs):
                    pipe.set(attachment_key(lookup, first + offset), blob)
                pipe.rpush(thread_key(lookup), sealed)
                pipe.zadd(UPDATED_INDEX, {lookup: hour_to_epoch(hour)})
                pipe.hset(
                    tip_key(lookup),
                    mapping={
                        "att": first + len(blobs),
                        "updated": hour_to_epoch(hour),
                        "awaiting": 1,
                    },
                )

            return None, writes

        await change(self.redis, lookup, decide)
