"""The tip store in Redis: submissions, the tipster's follow-up, and the staff queue.

What Redis holds (and nothing else):

- ``sini:tip:<lookup>`` — hash: status, category, region, created/updated hour (epoch of
  the UTC hour), assignee, forwarded-to, the sealed content, the tipster's public key,
  attachment count, awaiting-reply flag. `<lookup>` is an HMAC of the reference code.
- ``sini:tip:<lookup>:att:<n>`` — one sealed attachment each (desk + tipster).
- ``sini:tip:<lookup>:thread`` — list of sealed messages between tipster and desk.
- ``sini:tip:<lookup>:notes`` / ``:history`` — lists sealed to the desk only.
- ``sini:tips:all``, ``sini:tips:status:<status>`` — sorted sets of lookups, scored by the
  creation hour (equal scores sort by the random-looking lookup, so order within an hour
  says nothing).
- ``sini:tips:attempts:<lookup>`` — failed-receipt counter, expires after the window.
- ``sini:tips:quota:<hmac>`` — submissions per chat per day, under an HMAC keyed by a daily
  secret, so the counter cannot be tied to the chat's dialogue state key without the
  installation secret, nor to the same chat's counter on another day.
- ``sini:tips:submitted:<hmac>`` — "this draft was stored": an HMAC of the draft's random
  submission id, value "1", expiring on an hour boundary two days after the hour it was
  stored in. It names neither the chat nor the tip.

Never: Telegram ids, names, phone numbers, receipt codes or passphrases, plaintext, or a
time finer than an hour. Writes that must go together use MULTI/EXEC (with WATCH where
they depend on what they read) or one script; `submit` is one script — the tip, its
attachments, its index entries, its event and the submission mark together or not at all —
and returns only after Redis acknowledged it: with `appendfsync always`
(deploy/redis.conf) that is after the AOF was fsynced.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from nacl.public import PrivateKey, PublicKey
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from tips.crypto import (
    INTERACTIVE,
    KdfLimits,
    derive_secret,
    open_sealed,
    seal,
    tipster_keypair,
)
from tips.keys import desk_public_key as stored_desk_public_key
from tips.media import PreparedAttachment
from tips.model import (
    MAX_ATTACHMENTS,
    MAX_REASON_CHARS,
    Author,
    Category,
    EmptyText,
    InvalidTransition,
    MalformedData,
    Message,
    Note,
    Status,
    StatusChange,
    TipContent,
    TipError,
    TipRecord,
    TipValidationError,
    TipView,
    TooManyAttachments,
    clean_text,
    floor_hour,
    hour_from_epoch,
    hour_to_epoch,
    tip_region,
    validate_account,
    validate_forwarded_to,
)
from tips.receipts import (
    MalformedReceipt,
    Receipt,
    lookup_id,
    new_receipt,
    normalize_passphrase,
    tipster_salt,
)

PREFIX = "sini"
ALL_INDEX = f"{PREFIX}:tips:all"
EVENTS_STREAM = f"{PREFIX}:tips:events"
EVENTS_MAXLEN = 10_000
DAY_SECONDS = 24 * 3600
# How long a stored draft's submission id is remembered: far above the life of a draft in
# the chat state (DRAFT_TTL_SECONDS, 30 min by default; it only lasts while the chat is
# active), so the same draft sent again is recognised however late it comes.
SUBMISSION_MEMORY_SECONDS = 2 * DAY_SECONDS
_RETRIES = 8

# One script stores a tip: conditional on the submission id not being marked yet (0: this
# draft is already stored) and on the lookup being free (-1: a 40-bit code collided, draw
# another), it writes the envelope, the attachments, both indexes, the staff event and the
# mark, atomically. KEYS: tip, status index, all index, events, mark, attachments…
# ARGV: use mark (1/0), status, category, region, hour, sealed, tipster pk, attachment
# count, lookup, events maxlen, how long the mark lasts (from the current hour: its
# expiry says no finer time), attachments…
_SUBMIT = """
local marked = ARGV[1] == '1'
if marked and redis.call('EXISTS', KEYS[5]) == 1 then
  return 0
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return -1
end
redis.call('HSET', KEYS[1], 'v', 1, 'status', ARGV[2], 'category', ARGV[3],
  'region', ARGV[4], 'created', ARGV[5], 'updated', ARGV[5], 'sealed', ARGV[6],
  'tipster_pk', ARGV[7], 'att', ARGV[8], 'awaiting', 0)
for i = 1, tonumber(ARGV[8]) do
  redis.call('SET', KEYS[5 + i], ARGV[11 + i])
end
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[9])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[9])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[10], '0-*', 'type', 'new', 'tip', ARGV[9],
  'category', ARGV[3], 'region', ARGV[4], 'hour', ARGV[5])
if marked then
  local now = tonumber(redis.call('TIME')[1])
  redis.call('SET', KEYS[5], 1, 'EXAT', now - now % 3600 + tonumber(ARGV[11]))
end
return 1
"""

DeskKeys = PrivateKey | Iterable[PrivateKey]


def tip_key(lookup: str) -> str:
    return f"{PREFIX}:tip:{lookup}"


def attachment_key(lookup: str, index: int) -> str:
    return f"{PREFIX}:tip:{lookup}:att:{index}"


def thread_key(lookup: str) -> str:
    return f"{PREFIX}:tip:{lookup}:thread"


def notes_key(lookup: str) -> str:
    return f"{PREFIX}:tip:{lookup}:notes"


def history_key(lookup: str) -> str:
    return f"{PREFIX}:tip:{lookup}:history"


def status_index(status: Status) -> str:
    return f"{PREFIX}:tips:status:{status.value}"


def attempts_key(lookup: str) -> str:
    return f"{PREFIX}:tips:attempts:{lookup}"


# --------------------------------------------------------------------------- errors


class ReceiptError(TipError):
    """Root of the errors a tipster can get back from code + passphrase."""


class ReceiptInvalid(ReceiptError):
    """Wrong code, wrong passphrase, or malformed input — deliberately indistinguishable."""


class ReceiptLocked(ReceiptError):
    """Too many attempts on this code recently; try again after `retry_after_seconds`."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many attempts; retry in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class TipNotFound(TipError):
    """No tip under this lookup id (never existed, or purged)."""


class InconsistentTip(TipValidationError):
    """Arguments that contradict each other (clear fields vs content, blobs vs metadata)."""


class StoreConflict(TipError):
    """A tip kept changing under concurrent writers; nothing was written."""


class AlreadySubmitted(TipError):
    """This draft (its submission id) is already stored as a tip; nothing was written."""


# --------------------------------------------------------------------------- records


def _text(data: Mapping[bytes, bytes], name: str) -> str | None:
    value = data.get(name.encode())
    return value.decode() if value else None


def _record_from_hash(lookup: str, data: Mapping[bytes, bytes]) -> TipRecord:
    """A `TipRecord` from the stored hash; `MalformedData` if a field is missing or bad."""
    try:
        return TipRecord(
            lookup=lookup,
            status=Status(data[b"status"].decode()),
            category=Category(data[b"category"].decode()),
            region=tip_region(data[b"region"].decode()),
            created_hour=hour_from_epoch(int(data[b"created"])),
            updated_hour=hour_from_epoch(int(data[b"updated"])),
            sealed=data[b"sealed"],
            tipster_public_key=data[b"tipster_pk"],
            assigned_to=_text(data, "assigned"),
            forwarded_to=_text(data, "forwarded"),
            attachment_count=int(data.get(b"att", b"0")),
            awaiting_reply=data.get(b"awaiting") == b"1",
        )
    except (KeyError, ValueError, UnicodeDecodeError) as error:
        raise MalformedData(f"tip record {lookup} is malformed") from error


def _keys(desk_keys: DeskKeys) -> list[PrivateKey]:
    return [desk_keys] if isinstance(desk_keys, PrivateKey) else list(desk_keys)


def _optional_text(text: str | None) -> str:
    if text is None or not text.strip():
        return ""
    return clean_text(text)


Plan = Callable[["Pipeline[bytes]"], None]


class TipStore:
    """Tips in one Redis: the bot's side (submit, follow-up) and the staff side (queue).

    `secret` is the installation secret (`Settings.secret`); the receipt pepper and the
    quota secret are derived from it. The bot and the dashboard share the class but not
    the keys: the bot only ever passes the desk *public* key, staff pass private ones.
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
        self._submit = redis.register_script(_SUBMIT)
        # Argon2id INTERACTIVE takes 64 MiB and a noticeable fraction of a second: it runs in
        # a thread (the event loop keeps serving other chats) with bounded concurrency.
        self._kdf_slots = asyncio.Semaphore(kdf_concurrency)

    # ----------------------------------------------------------------- helpers

    def lookup(self, code: str) -> str:
        """The lookup id of a reference code (`MalformedReceipt` if it cannot be a code)."""
        return lookup_id(code, self._pepper)

    async def _tipster_key(self, canonical_passphrase: str, lookup: str) -> PrivateKey:
        async with self._kdf_slots:
            return await asyncio.to_thread(
                tipster_keypair, canonical_passphrase, tipster_salt(lookup), self.kdf_limits
            )

    async def _desk_public(self, given: PublicKey | None) -> PublicKey:
        return given if given is not None else await stored_desk_public_key(self.redis)

    async def _update(
        self, lookup: str, prepare: Callable[[TipRecord], Awaitable[Plan]]
    ) -> TipRecord:
        """Read a tip under WATCH, let `prepare` validate and build the writes, run them in
        MULTI/EXEC; retry if another writer changed the tip meanwhile."""
        key = tip_key(lookup)
        for _ in range(_RETRIES):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    data = await pipe.hgetall(key)
                    if not data:
                        raise TipNotFound("no such tip")
                    record = _record_from_hash(lookup, data)
                    plan = await prepare(record)
                    pipe.multi()
                    plan(pipe)
                    await pipe.execute()
                    return record
                except WatchError:
                    continue
        raise StoreConflict("the tip changed too often; try again")

    # ----------------------------------------------------------------- tipster side

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
        category: Category,
        region: str,
        desk_public_key: PublicKey,
        now: datetime,
        attachments: Sequence[bytes] = (),
        *,
        submission: str | None = None,
    ) -> Receipt:
        """Seal and store a tip; return the receipt only once Redis acknowledged the write.

        `category`/`region` are the clear copies for the queue and must equal the content's.
        `attachments` are the stripped blobs (`media.prepare_attachment`) in the order of
        `content.attachments`. Content and attachments are sealed to the desk key and to
        the tipster key derived from the new receipt's passphrase.

        Given the draft's `submission` id, the tip is stored only if no tip was stored for
        it, in the same script that marks it: `AlreadySubmitted` otherwise, so a draft sent
        twice — a retry after a crash, two replicas racing — is one tip.
        """
        if content.category != category or content.region != region:
            raise InconsistentTip("category/region differ from the content's")
        if len(attachments) != len(content.attachments):
            raise InconsistentTip("one blob per attachment is required")
        for meta, blob in zip(content.attachments, attachments, strict=True):
            if meta.size != len(blob):
                raise InconsistentTip("attachment size differs from its metadata")
        indexed = replace(
            content,
            attachments=tuple(replace(m, index=i) for i, m in enumerate(content.attachments)),
        )
        hour = hour_to_epoch(floor_hour(now))
        for _ in range(_RETRIES):
            receipt = new_receipt()
            lookup = self.lookup(receipt.code)
            tipster = await self._tipster_key(normalize_passphrase(receipt.passphrase), lookup)
            recipients = [desk_public_key, tipster.public_key]
            sealed, blobs = await asyncio.to_thread(
                _seal_many, indexed.to_json(), attachments, recipients
            )
            key = tip_key(lookup)
            mark = self.submission_key(submission) if submission is not None else key
            # Staff-side consumers (notifiers, the dashboard) learn of new tips from the
            # event, which carries the clear envelope only, never content. Its id is a bare
            # sequence number ("0-n"): an auto id would be the exact millisecond.
            keys = [key, status_index(Status.NEW), ALL_INDEX, EVENTS_STREAM, mark]
            keys += [attachment_key(lookup, index) for index in range(len(blobs))]
            args: list[bytes | str | int] = [
                "1" if submission is not None else "0",
                Status.NEW.value,
                category.value,
                region,
                hour,
                sealed,
                bytes(tipster.public_key),
                len(blobs),
                lookup,
                EVENTS_MAXLEN,
                SUBMISSION_MEMORY_SECONDS,
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
        return lookup, tipster, _record_from_hash(lookup, data)

    async def open_for_tipster(self, code: str, passphrase: str) -> TipView:
        """The tipster's view of their tip: status, what they sent, and the thread."""
        lookup, tipster, record = await self._authenticate(code, passphrase)
        content = TipContent.from_json(open_sealed(record.sealed, tipster))
        return TipView(
            status=record.status,
            created_hour=record.created_hour,
            updated_hour=record.updated_hour,
            content=content,
            thread=tuple(await self._read_messages(lookup, [tipster])),
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
        desk = await self._desk_public(desk_public_key)
        hour = floor_hour(now)

        async def prepare(record: TipRecord) -> Plan:
            first = record.attachment_count
            metas = tuple(replace(a.meta, index=first + i) for i, a in enumerate(attachments))
            message = Message(Author.TIPSTER, hour, cleaned, metas)
            recipients = [desk, PublicKey(record.tipster_public_key)]
            sealed, blobs = await asyncio.to_thread(
                _seal_many, message.to_json(), [a.data for a in attachments], recipients
            )

            def plan(pipe: Pipeline[bytes]) -> None:
                for offset, blob in enumerate(blobs):
                    pipe.set(attachment_key(lookup, first + offset), blob)
                pipe.rpush(thread_key(lookup), sealed)
                pipe.hset(
                    tip_key(lookup),
                    mapping={
                        "att": first + len(blobs),
                        "updated": hour_to_epoch(hour),
                        "awaiting": 1,
                    },
                )

            return plan

        await self._update(lookup, prepare)

    # ----------------------------------------------------------------- staff side

    async def get(self, lookup: str) -> TipRecord:
        """The clear envelope of one tip (`TipNotFound` if absent)."""
        data = await self.redis.hgetall(tip_key(lookup))
        if not data:
            raise TipNotFound("no such tip")
        return _record_from_hash(lookup, data)

    async def list(
        self,
        status: Status | None = None,
        category: Category | None = None,
        region: str | None = None,
    ) -> builtins.list[TipRecord]:
        """The queue, newest first, filtered by status, category and region."""
        index = status_index(status) if status is not None else ALL_INDEX
        lookups = [m.decode() for m in await self.redis.zrevrange(index, 0, -1)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for lookup in lookups:
                pipe.hgetall(tip_key(lookup))
            rows: builtins.list[dict[bytes, bytes]] = await pipe.execute()
        records = [_record_from_hash(lk, row) for lk, row in zip(lookups, rows, strict=True) if row]
        return [
            r
            for r in records
            if (category is None or r.category is category)
            and (region is None or r.region == region)
            and (status is None or r.status is status)
        ]

    async def open_for_staff(self, lookup: str, desk_private_key: DeskKeys) -> TipContent:
        """The tip's content, opened with the desk private key (or a keyring after rotations)."""
        record = await self.get(lookup)
        return TipContent.from_json(open_sealed(record.sealed, _keys(desk_private_key)))

    async def open_attachment(self, lookup: str, index: int, desk_private_key: DeskKeys) -> bytes:
        """One attachment's bytes, opened with the desk key."""
        blob = await self.redis.get(attachment_key(lookup, index))
        if blob is None:
            raise TipNotFound("no such attachment")
        return open_sealed(blob, _keys(desk_private_key))

    async def _read_sealed_list(self, key: str, keys: Sequence[PrivateKey]) -> builtins.list[bytes]:
        return [open_sealed(raw, keys) for raw in await self.redis.lrange(key, 0, -1)]

    async def _read_messages(
        self, lookup: str, keys: Sequence[PrivateKey]
    ) -> builtins.list[Message]:
        return [
            Message.from_json(p) for p in await self._read_sealed_list(thread_key(lookup), keys)
        ]

    async def thread(self, lookup: str, desk_private_key: DeskKeys) -> builtins.list[Message]:
        """The tipster/desk thread, oldest first, for staff."""
        return await self._read_messages(lookup, _keys(desk_private_key))

    async def notes(self, lookup: str, desk_private_key: DeskKeys) -> builtins.list[Note]:
        """Staff notes, oldest first."""
        raw = await self._read_sealed_list(notes_key(lookup), _keys(desk_private_key))
        return [Note.from_json(p) for p in raw]

    async def history(self, lookup: str, desk_private_key: DeskKeys) -> builtins.list[StatusChange]:
        """Status changes, oldest first."""
        raw = await self._read_sealed_list(history_key(lookup), _keys(desk_private_key))
        return [StatusChange.from_json(p) for p in raw]

    async def set_status(
        self,
        lookup: str,
        status: Status,
        reason: str,
        actor: str,
        *,
        now: datetime | None = None,
        forwarded_to: str | None = None,
        desk_public_key: PublicKey | None = None,
    ) -> TipRecord:
        """Move a tip along its life cycle (`InvalidTransition` otherwise); return the new
        envelope. Forwarding names the organisation (kept in clear for statistics). The
        change, with its reason, is logged sealed to the desk."""
        validate_account(actor)
        reason = reason.strip()
        if len(reason) > MAX_REASON_CHARS:
            raise TipValidationError("reason too long")
        target = validate_forwarded_to(forwarded_to) if forwarded_to is not None else None
        if status is Status.FORWARDED and target is None:
            raise TipValidationError("forwarding needs the organisation it goes to")
        desk = await self._desk_public(desk_public_key)
        hour = floor_hour(now or datetime.now(timezone.utc))

        async def prepare(record: TipRecord) -> Plan:
            if not record.status.can_become(status):
                raise InvalidTransition(record.status, status)
            change = StatusChange(actor, hour, record.status, status, reason, target)
            entry = seal(change.to_json(), [desk]).to_bytes()
            created = hour_to_epoch(record.created_hour)

            def plan(pipe: Pipeline[bytes]) -> None:
                fields: dict[str | bytes, bytes | float | int | str] = {
                    "status": status.value,
                    "updated": hour_to_epoch(hour),
                }
                if target is not None:
                    fields["forwarded"] = target
                pipe.hset(tip_key(lookup), mapping=fields)
                pipe.zrem(status_index(record.status), lookup)
                pipe.zadd(status_index(status), {lookup: created})
                pipe.rpush(history_key(lookup), entry)

            return plan

        record = await self._update(lookup, prepare)
        return replace(
            record,
            status=status,
            updated_hour=hour,
            forwarded_to=target if target is not None else record.forwarded_to,
        )

    async def assign(
        self, lookup: str, account: str | None, *, now: datetime | None = None
    ) -> TipRecord:
        """Give the tip to a staff account (None: unassign)."""
        if account is not None:
            validate_account(account)
        hour = floor_hour(now or datetime.now(timezone.utc))

        async def prepare(record: TipRecord) -> Plan:
            def plan(pipe: Pipeline[bytes]) -> None:
                key = tip_key(lookup)
                if account is None:
                    pipe.hdel(key, "assigned")
                else:
                    pipe.hset(key, "assigned", account)
                pipe.hset(key, "updated", hour_to_epoch(hour))

            return plan

        record = await self._update(lookup, prepare)
        return replace(record, assigned_to=account, updated_hour=hour)

    async def add_note(
        self,
        lookup: str,
        text: str,
        actor: str,
        desk_public_key: PublicKey,
        *,
        now: datetime | None = None,
    ) -> None:
        """A staff note, sealed to the desk only: the tipster never reads notes."""
        note = Note(actor, floor_hour(now or datetime.now(timezone.utc)), clean_text(text))
        entry = seal(note.to_json(), [desk_public_key]).to_bytes()

        async def prepare(record: TipRecord) -> Plan:
            def plan(pipe: Pipeline[bytes]) -> None:
                pipe.rpush(notes_key(lookup), entry)

            return plan

        await self._update(lookup, prepare)

    async def reply_to_tipster(
        self,
        lookup: str,
        text: str,
        desk_public_key: PublicKey,
        *,
        now: datetime | None = None,
    ) -> None:
        """A desk message in the thread, sealed to desk and tipster (the tipster's public key
        is on the record). Signed "desk", never with a staff name."""
        message = Message(
            Author.DESK, floor_hour(now or datetime.now(timezone.utc)), clean_text(text)
        )
        hour = message.hour

        async def prepare(record: TipRecord) -> Plan:
            recipients = [desk_public_key, PublicKey(record.tipster_public_key)]
            entry = seal(message.to_json(), recipients).to_bytes()

            def plan(pipe: Pipeline[bytes]) -> None:
                pipe.rpush(thread_key(lookup), entry)
                pipe.hset(tip_key(lookup), mapping={"awaiting": 0, "updated": hour_to_epoch(hour)})

            return plan

        await self._update(lookup, prepare)

    async def purge_closed(self, older_than_days: int, now: datetime) -> int:
        """Delete closed and rejected tips not touched for `older_than_days`; return how many.

        Age counts from the last change (hour precision, never early). Everything of the tip
        goes: envelope, attachments, thread, notes, history, attempt counter, index entries.
        """
        if older_than_days < 0:
            raise TipValidationError("older_than_days must be ≥ 0")
        cutoff = hour_to_epoch(floor_hour(now) - timedelta(days=older_than_days))
        purged = 0
        for status in (Status.CLOSED, Status.REJECTED):
            for member in await self.redis.zrange(status_index(status), 0, -1):
                if await self._purge_one(member.decode(), cutoff):
                    purged += 1
        return purged

    async def _purge_one(self, lookup: str, cutoff: int) -> bool:
        key = tip_key(lookup)
        for _ in range(_RETRIES):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    data: dict[bytes, bytes] = await pipe.hgetall(key)
                    if not data:
                        pipe.multi()
                        _unindex(pipe, lookup)  # a dangling index entry
                        await pipe.execute()
                        return False
                    record = _record_from_hash(lookup, data)
                    if not record.status.is_final or hour_to_epoch(record.updated_hour) >= cutoff:
                        return False
                    pipe.multi()
                    pipe.delete(
                        key,
                        thread_key(lookup),
                        notes_key(lookup),
                        history_key(lookup),
                        attempts_key(lookup),
                        *(attachment_key(lookup, i) for i in range(record.attachment_count)),
                    )
                    _unindex(pipe, lookup)
                    await pipe.execute()
                    return True
                except WatchError:
                    continue
        raise StoreConflict("the tip changed too often during purge")


def _unindex(pipe: Pipeline[bytes], lookup: str) -> None:
    pipe.zrem(ALL_INDEX, lookup)
    for status in Status:
        pipe.zrem(status_index(status), lookup)


def _seal_many(
    main: bytes, blobs: Sequence[bytes], recipients: Sequence[PublicKey]
) -> tuple[bytes, list[bytes]]:
    """Seal a record and its attachments (run in a thread: attachments weigh up to 100 MB)."""
    return seal(main, recipients).to_bytes(), [seal(b, recipients).to_bytes() for b in blobs]
