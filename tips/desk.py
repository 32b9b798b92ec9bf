"""The staff side of the tip store: the queue, opening tips with the desk keys, and every
change staff make (status, assignment, notes, replies, purging).

Each change can carry a `Journal` — the staff audit log — whose entry is written in the
same MULTI/EXEC as the change it records: both happen, or neither.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Protocol

from nacl.public import PrivateKey, PublicKey
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from sini.transactions import Writes, both, transaction
from tips.crypto import open_sealed, seal
from tips.keys import desk_public_key as stored_desk_public_key
from tips.model import (
    MAX_LABELS,
    MAX_REASON_CHARS,
    Author,
    Category,
    InvalidTransition,
    Message,
    Note,
    Status,
    StatusChange,
    TipContent,
    TipRecord,
    TipRegion,
    TipValidationError,
    TooManyLabels,
    clean_text,
    floor_hour,
    hour_to_epoch,
    label_key,
    tidy_label,
    validate_account,
    validate_forwarded_to,
)
from tips.references import Reference
from tips.stored import (
    ALL_INDEX,
    IMPORTANT_INDEX,
    LABELS,
    REFERENCES,
    UPDATED_INDEX,
    DeskKeys,
    StoreConflict,
    TipNotFound,
    assignee_index,
    attachment_key,
    attempts_key,
    category_index,
    change,
    history_key,
    label_index,
    notes_key,
    open_list,
    read_record,
    record_from_hash,
    region_index,
    status_index,
    thread_key,
    tip_key,
    unindex,
)

# One page of the tips every factor holds, read where the indexes are. A factor is one
# index or the union of several (stored first into a temporary key). The intersection
# takes its scores from the scoring index alone (weight 1, the factors 0), so the range
# and the order are that index's: the creation hour, or the hour of the last change.
# The temporary keys live only inside this script.
# KEYS: result, two union keys, the scoring index, the factors' keys one after the other.
# ARGV: min score, max score, offset, count (-1: all), reverse (1/0), each factor's size…
_PAGE = """
local factors = {}
local position = 5
local spare = 2
for i = 6, #ARGV do
  local size = tonumber(ARGV[i])
  if size == 1 then
    table.insert(factors, KEYS[position])
  else
    local union = KEYS[spare]
    spare = spare + 1
    redis.call('ZUNIONSTORE', union, size, unpack(KEYS, position, position + size - 1))
    table.insert(factors, union)
  end
  position = position + size
end
local source = KEYS[4]
if #factors > 0 then
  local args = {KEYS[1], #factors + 1, KEYS[4]}
  for _, key in ipairs(factors) do table.insert(args, key) end
  table.insert(args, 'WEIGHTS')
  table.insert(args, 1)
  for _ = 1, #factors do table.insert(args, 0) end
  redis.call('ZINTERSTORE', unpack(args))
  source = KEYS[1]
end
local total = redis.call('ZCOUNT', source, ARGV[1], ARGV[2])
local page
if ARGV[5] == '1' then
  page = redis.call('ZRANGE', source, ARGV[2], ARGV[1], 'BYSCORE', 'REV', 'LIMIT', ARGV[3], ARGV[4])
else
  page = redis.call('ZRANGE', source, ARGV[1], ARGV[2], 'BYSCORE', 'LIMIT', ARGV[3], ARGV[4])
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {total, page}
"""
_PAGE_KEYS = [f"sini:tips:paging:{n}" for n in range(3)]


class Order(Enum):
    """Pages by creation hour; within an hour by lookup, which says nothing of arrival."""

    NEWEST = "newest"
    OLDEST = "oldest"


@dataclass(frozen=True)
class TipQuery:
    """Which tips: each field set narrows (None: any). Sets are alternatives (any of these
    statuses); creation bounds are exclusive."""

    statuses: frozenset[Status] | None = None
    categories: frozenset[Category] | None = None
    region: TipRegion | None = None
    assignee: str | None = None
    label: str | None = None
    important: bool = False  # True: only the tips marked important
    created_after: datetime | None = None
    created_before: datetime | None = None

    def factors(self) -> list[list[str]] | None:
        """The indexes to intersect, each a union of keys; None when nothing can match."""
        unions = [
            [status_index(s) for s in sorted(self.statuses)] if self.statuses is not None else None,
            [category_index(c) for c in sorted(self.categories)]
            if self.categories is not None
            else None,
            [region_index(self.region)] if self.region is not None else None,
            [assignee_index(self.assignee)] if self.assignee is not None else None,
            [label_index(self.label)] if self.label is not None else None,
            [IMPORTANT_INDEX] if self.important else None,
        ]
        present = [u for u in unions if u is not None]
        return None if any(not u for u in present) else present


@dataclass(frozen=True)
class Page:
    """Records of one page, and how many match in all."""

    records: list[TipRecord]
    total: int


def _bound(moment: datetime | None, default: str) -> str:
    return default if moment is None else f"({moment.timestamp()!r}"


@dataclass(frozen=True)
class Reason:
    """Why a staff member made a change that has no history of its own (an assignment, a
    label, the "important" flag, a longer retention): kept as a note on the tip, sealed to
    the desk, written in the change's own transaction."""

    actor: str
    text: str
    desk_public_key: PublicKey = field(repr=False)

    def writes(self, lookup: str, now: datetime | None) -> Writes:
        """The writes that append the note (validated and sealed now)."""
        note = Note(self.actor, floor_hour(now or _now()), clean_text(self.text, MAX_REASON_CHARS))
        entry = seal(note.to_json(), [self.desk_public_key]).to_bytes()

        def writes(pipe: Pipeline[bytes]) -> None:
            pipe.rpush(notes_key(lookup), entry)

        return writes


def _noted(lookup: str, reason: Reason | None, now: datetime | None) -> Writes | None:
    """The writes of the note `reason` makes (validated here, before any transaction)."""
    return reason.writes(lookup, now) if reason is not None else None


def _with(writes: Writes, noted: Writes | None) -> Writes:
    return writes if noted is None else both(writes, noted)


class Journal(Protocol):
    """Records a staff change in the transaction that makes it (the staff audit log)."""

    @property
    def watched(self) -> Sequence[str]:
        """The keys the entry depends on, watched together with the tip's."""

    async def entry(self, pipe: Pipeline[bytes], before: TipRecord, after: TipRecord) -> Writes:
        """Read what the entry needs through `pipe` and return the writes that append it."""


def _keys(desk_keys: DeskKeys) -> list[PrivateKey]:
    return [desk_keys] if isinstance(desk_keys, PrivateKey) else list(desk_keys)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Desk:
    """What staff do with tips. Opening anything sealed needs the desk private keys (a
    keyring after rotations); writing needs only the desk public key."""

    def __init__(self, redis: Redis[bytes]) -> None:
        self.redis = redis
        self._page = redis.register_script(_PAGE)

    # ----------------------------------------------------------------- reading

    async def get(self, lookup: str) -> TipRecord:
        """The clear envelope of one tip (`TipNotFound` if absent)."""
        return await read_record(self.redis, lookup)

    async def records(self, *statuses: Status) -> list[TipRecord]:
        """Every tip in these statuses (all tips when none is given), newest first."""
        query = TipQuery(statuses=frozenset(statuses) if statuses else None)
        return (await self.page(query, Order.NEWEST)).records

    async def page(
        self, query: TipQuery, order: Order, offset: int = 0, limit: int | None = None
    ) -> Page:
        """The tips `query` selects, `limit` of them from `offset` in `order` (all when
        `limit` is None); intersected in Redis, so only the page's envelopes are read."""
        total, lookups = await self._select(
            query,
            ALL_INDEX,
            (_bound(query.created_after, "-inf"), _bound(query.created_before, "+inf")),
            offset,
            limit,
            reverse=order is Order.NEWEST,
        )
        return Page(await self._read(lookups), total)

    async def pages(
        self, queries: Sequence[TipQuery], order: Order, offset: int, limit: int | None
    ) -> list[TipRecord]:
        """`limit` tips from `offset` (all when None) of the tips of each query in turn
        (queries meant to be disjoint); the queries after a full page are not run."""
        records: list[TipRecord] = []
        skipped = 0
        for query in queries:
            if limit is not None and len(records) >= limit:
                break
            wanted = None if limit is None else limit - len(records)
            page = await self.page(query, order, max(offset - skipped, 0), wanted)
            records += page.records
            skipped += page.total
        return records

    async def count(self, query: TipQuery) -> int:
        """How many tips `query` selects."""
        return (await self.page(query, Order.OLDEST, 0, 0)).total

    async def changed_until(self, query: TipQuery, hour: datetime) -> int:
        """How many tips `query` selects were last changed at or before `hour` (the query's
        creation bounds are not used)."""
        total, _ = await self._select(
            query, UPDATED_INDEX, ("-inf", repr(hour.timestamp())), 0, 0, reverse=False
        )
        return total

    async def lookups(self, query: TipQuery, order: Order) -> list[str]:
        """The lookup ids of every tip `query` selects, in `order`; no envelope is read."""
        _, lookups = await self._select(
            query,
            ALL_INDEX,
            (_bound(query.created_after, "-inf"), _bound(query.created_before, "+inf")),
            0,
            None,
            reverse=order is Order.NEWEST,
        )
        return lookups

    async def read(self, lookups: list[str]) -> list[TipRecord]:
        """The envelopes of these tips, in this order (purged ones left out)."""
        return await self._read(lookups)

    async def labels(self) -> list[str]:
        """Every label ever given, in its one spelling, alphabetically."""
        spellings = [v.decode() for v in await self.redis.hvals(LABELS)]
        return sorted(spellings, key=str.casefold)

    async def counts(self) -> tuple[int, dict[Status, int]]:
        """How many tips in all, and in each status (zeros included)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(ALL_INDEX)
            for status in Status:
                pipe.zcard(status_index(status))
            total, *each = await pipe.execute()
        return int(total), {s: int(n) for s, n in zip(Status, each, strict=True)}

    async def find(self, reference: Reference) -> str | None:
        """The lookup id of the tip with this reference (None: no such tip)."""
        lookup = await self.redis.hget(REFERENCES, str(reference))
        return lookup.decode() if lookup else None

    async def _select(
        self,
        query: TipQuery,
        scoring: str,
        scores: tuple[str, str],
        offset: int,
        limit: int | None,
        *,
        reverse: bool,
    ) -> tuple[int, list[str]]:
        factors = query.factors()
        if factors is None:
            return 0, []
        keys = [*_PAGE_KEYS, scoring, *(key for factor in factors for key in factor)]
        args = [*scores, offset, -1 if limit is None else limit, "1" if reverse else "0"]
        args += [len(factor) for factor in factors]
        total, members = await self._page(keys=keys, args=args)
        return int(total), [m.decode() for m in members]

    async def _read(self, lookups: list[str]) -> list[TipRecord]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for lookup in lookups:
                pipe.hgetall(tip_key(lookup))
            rows: list[dict[bytes, bytes]] = await pipe.execute()
        # A tip purged between the index read and the hash read is simply not shown.
        return [record_from_hash(lk, row) for lk, row in zip(lookups, rows, strict=True) if row]

    async def open(self, lookup: str, desk_keys: DeskKeys) -> TipContent:
        """The tip's content, opened with the desk keys."""
        record = await self.get(lookup)
        return TipContent.from_json(open_sealed(record.sealed, _keys(desk_keys)))

    async def open_attachment(self, lookup: str, index: int, desk_keys: DeskKeys) -> bytes:
        """One attachment's bytes, opened with the desk keys."""
        blob = await self.redis.get(attachment_key(lookup, index))
        if blob is None:
            raise TipNotFound("no such attachment")
        return open_sealed(blob, _keys(desk_keys))

    async def thread(self, lookup: str, desk_keys: DeskKeys) -> list[Message]:
        """The tipster/desk thread, oldest first."""
        raw = await open_list(self.redis, thread_key(lookup), _keys(desk_keys))
        return [Message.from_json(entry) for entry in raw]

    async def notes(self, lookup: str, desk_keys: DeskKeys) -> list[Note]:
        """Staff notes, oldest first."""
        raw = await open_list(self.redis, notes_key(lookup), _keys(desk_keys))
        return [Note.from_json(entry) for entry in raw]

    async def history(self, lookup: str, desk_keys: DeskKeys) -> list[StatusChange]:
        """Status changes, oldest first."""
        raw = await open_list(self.redis, history_key(lookup), _keys(desk_keys))
        return [StatusChange.from_json(entry) for entry in raw]

    # ----------------------------------------------------------------- changing

    async def _change(
        self,
        lookup: str,
        journal: Journal | None,
        writes_for: _WritesFor,
        also_watch: Sequence[str] = (),
    ) -> tuple[TipRecord, TipRecord]:
        """Run one change with its journal entry in one transaction; (before, after)."""

        async def decide(
            before: TipRecord, pipe: Pipeline[bytes]
        ) -> tuple[tuple[TipRecord, TipRecord], Writes]:
            after, writes = await writes_for(before)
            if journal is not None:
                writes = both(writes, await journal.entry(pipe, before, after))
            return (before, after), writes

        watched = [*(journal.watched if journal is not None else ()), *also_watch]
        return await change(self.redis, lookup, decide, also_watch=watched)

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
        journal: Journal | None = None,
    ) -> tuple[TipRecord, TipRecord]:
        """Move a tip along its life cycle (`InvalidTransition` otherwise); the envelope
        before and after. Forwarding names the organisation (kept in clear for statistics).
        The change, with its reason, is kept sealed to the desk."""
        validate_account(actor)
        reason = reason.strip()
        if len(reason) > MAX_REASON_CHARS:
            raise TipValidationError("reason too long")
        target = validate_forwarded_to(forwarded_to) if forwarded_to is not None else None
        if status is Status.FORWARDED and target is None:
            raise TipValidationError("forwarding needs the organisation it goes to")
        desk = await self._desk_public(desk_public_key)
        hour = floor_hour(now or _now())

        async def writes_for(record: TipRecord) -> tuple[TipRecord, Writes]:
            if not record.status.can_become(status):
                raise InvalidTransition(record.status, status)
            entry = seal(
                StatusChange(actor, hour, record.status, status, reason, target).to_json(), [desk]
            ).to_bytes()
            after = replace(
                record,
                status=status,
                updated_hour=hour,
                forwarded_to=target if target is not None else record.forwarded_to,
            )

            def writes(pipe: Pipeline[bytes]) -> None:
                fields: dict[str | bytes, bytes | float | int | str] = {
                    "status": status.value,
                    "updated": hour_to_epoch(hour),
                }
                if target is not None:
                    fields["forwarded"] = target
                pipe.hset(tip_key(lookup), mapping=fields)
                pipe.zrem(status_index(record.status), lookup)
                pipe.zadd(status_index(status), {lookup: hour_to_epoch(record.created_hour)})
                pipe.zadd(UPDATED_INDEX, {lookup: hour_to_epoch(hour)})
                pipe.rpush(history_key(lookup), entry)

            return after, writes

        return await self._change(lookup, journal, writes_for)

    async def assign(
        self,
        lookup: str,
        account: str | None,
        *,
        now: datetime | None = None,
        journal: Journal | None = None,
        reason: Reason | None = None,
    ) -> TipRecord:
        """Give the tip to a staff account (None: unassign); the envelope after."""
        if account is not None:
            validate_account(account)
        hour = floor_hour(now or _now())
        noted = _noted(lookup, reason, now)

        async def writes_for(record: TipRecord) -> tuple[TipRecord, Writes]:
            def writes(pipe: Pipeline[bytes]) -> None:
                key = tip_key(lookup)
                if record.assigned_to is not None:
                    pipe.zrem(assignee_index(record.assigned_to), lookup)
                if account is None:
                    pipe.hdel(key, "assigned")
                else:
                    pipe.hset(key, "assigned", account)
                    pipe.zadd(assignee_index(account), {lookup: hour_to_epoch(record.created_hour)})
                pipe.hset(key, "updated", hour_to_epoch(hour))
                pipe.zadd(UPDATED_INDEX, {lookup: hour_to_epoch(hour)})

            after = replace(record, assigned_to=account, updated_hour=hour)
            return after, _with(writes, noted)

        _, after = await self._change(lookup, journal, writes_for)
        return after

    async def label(
        self,
        lookup: str,
        label: str,
        *,
        remove: bool = False,
        journal: Journal | None = None,
        reason: Reason | None = None,
    ) -> TipRecord:
        """Give the tip a label (or take it away); the envelope after. A label is spelled
        the way it was first given, whatever the case and spacing typed now."""
        typed = tidy_label(label)
        key = label_key(typed)
        noted = _noted(lookup, reason, None)

        async def writes_for(record: TipRecord) -> tuple[TipRecord, Writes]:
            known = await self.redis.hget(LABELS, key)
            spelling = known.decode() if known else typed
            kept = tuple(x for x in record.labels if label_key(x) != key)
            labels = kept if remove else (*kept, spelling)
            if len(labels) > MAX_LABELS:
                raise TooManyLabels(f"a tip has at most {MAX_LABELS} labels")
            created = hour_to_epoch(record.created_hour)

            def writes(pipe: Pipeline[bytes]) -> None:
                pipe.hset(tip_key(lookup), "labels", json.dumps(labels, ensure_ascii=False))
                if remove:
                    pipe.zrem(label_index(typed), lookup)
                else:
                    pipe.hsetnx(LABELS, key, spelling)
                    pipe.zadd(label_index(typed), {lookup: created})

            return replace(record, labels=labels), _with(writes, noted)

        _, after = await self._change(lookup, journal, writes_for, also_watch=[LABELS])
        return after

    async def mark_important(
        self,
        lookup: str,
        important: bool,
        *,
        journal: Journal | None = None,
        reason: Reason | None = None,
    ) -> TipRecord:
        """Flag the tip as important (or not); the envelope after."""
        noted = _noted(lookup, reason, None)

        async def writes_for(record: TipRecord) -> tuple[TipRecord, Writes]:
            def writes(pipe: Pipeline[bytes]) -> None:
                if important:
                    pipe.hset(tip_key(lookup), "important", 1)
                    pipe.zadd(IMPORTANT_INDEX, {lookup: hour_to_epoch(record.created_hour)})
                else:
                    pipe.hdel(tip_key(lookup), "important")
                    pipe.zrem(IMPORTANT_INDEX, lookup)

            return replace(record, important=important), _with(writes, noted)

        _, after = await self._change(lookup, journal, writes_for)
        return after

    async def keep_until(
        self,
        lookup: str,
        until: datetime,
        reason: Reason,
        *,
        journal: Journal | None = None,
    ) -> TipRecord:
        """Keep the tip from retention's purge until `until` (an admin's decision, with its
        reason); the envelope after."""
        hour = floor_hour(until)
        noted = reason.writes(lookup, None)

        async def writes_for(record: TipRecord) -> tuple[TipRecord, Writes]:
            def writes(pipe: Pipeline[bytes]) -> None:
                pipe.hset(tip_key(lookup), "keep", hour_to_epoch(hour))

            return replace(record, kept_until=hour), both(writes, noted)

        _, after = await self._change(lookup, journal, writes_for)
        return after

    async def add_note(
        self,
        lookup: str,
        text: str,
        actor: str,
        desk_public_key: PublicKey,
        *,
        now: datetime | None = None,
        journal: Journal | None = None,
    ) -> None:
        """A staff note, sealed to the desk only: the tipster never reads notes."""
        note = Note(actor, floor_hour(now or _now()), clean_text(text))
        entry = seal(note.to_json(), [desk_public_key]).to_bytes()

        async def writes_for(record: TipRecord) -> tuple[TipRecord, Writes]:
            def writes(pipe: Pipeline[bytes]) -> None:
                pipe.rpush(notes_key(lookup), entry)

            return record, writes

        await self._change(lookup, journal, writes_for)

    async def reply_to_tipster(
        self,
        lookup: str,
        text: str,
        desk_public_key: PublicKey,
        *,
        now: datetime | None = None,
        journal: Journal | None = None,
    ) -> None:
        """A desk message in the thread, sealed to desk and tipster (the tipster's public key
        is on the record). Signed "desk", never with a staff name."""
        message = Message(Author.DESK, floor_hour(now or _now()), clean_text(text))
        updated = hour_to_epoch(message.hour)

        async def writes_for(record: TipRecord) -> tuple[TipRecord, Writes]:
            recipients = [desk_public_key, PublicKey(record.tipster_public_key)]
            entry = seal(message.to_json(), recipients).to_bytes()

            def writes(pipe: Pipeline[bytes]) -> None:
                pipe.rpush(thread_key(lookup), entry)
                pipe.hset(tip_key(lookup), mapping={"awaiting": 0, "updated": updated})
                pipe.zadd(UPDATED_INDEX, {lookup: updated})

            return replace(record, awaiting_reply=False, updated_hour=message.hour), writes

        await self._change(lookup, journal, writes_for)

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
                if await self._purge_one(member.decode(), cutoff, floor_hour(now)):
                    purged += 1
        return purged

    async def _purge_one(self, lookup: str, cutoff: int, hour: datetime) -> bool:
        async def step(pipe: Pipeline[bytes]) -> tuple[bool, Writes | None]:
            data: dict[bytes, bytes] = await pipe.hgetall(tip_key(lookup))
            if not data:
                return False, lambda writes: unindex(writes, lookup, None)  # a dangling entry
            record = record_from_hash(lookup, data)
            if not record.status.is_final or hour_to_epoch(record.updated_hour) >= cutoff:
                return False, None
            if record.kept_until is not None and record.kept_until > hour:
                return False, None  # an admin kept it longer

            def writes(pipe: Pipeline[bytes]) -> None:
                pipe.delete(
                    tip_key(lookup),
                    thread_key(lookup),
                    notes_key(lookup),
                    history_key(lookup),
                    attempts_key(lookup),
                    *(attachment_key(lookup, i) for i in range(record.attachment_count)),
                )
                unindex(pipe, lookup, record)

            return True, writes

        return await transaction(
            self.redis,
            [tip_key(lookup)],
            step,
            contended=lambda: StoreConflict("the tip changed too often during purge"),
        )

    async def _desk_public(self, given: PublicKey | None) -> PublicKey:
        return given if given is not None else await stored_desk_public_key(self.redis)


class _WritesFor(Protocol):
    async def __call__(self, record: TipRecord) -> tuple[TipRecord, Writes]: ...
