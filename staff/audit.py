"""The audit log: who did what to which tip, and when (to the minute). Append-only.

Every view of a tip or attachment, status change, note, reply, assignment, export, login
and account change is recorded. Entries never hold tip content: the target is the tip's
lookup id (an HMAC, meaningless outside the desk) and the detail is a status, a count or an
account name — never a reason, a note or a reply, which may quote the tipster.

Stored as a Redis list (`RPUSH` only; the dashboard has no way to change or delete an
entry). Each entry carries an HMAC chained over the previous one, keyed by a secret only
the installation holds: editing, deleting or reordering an entry in Redis breaks the chain
from that point, and `verify` says where.

The chain alone cannot show that its newest entries were removed (what is left is still a
valid chain), so the log has an anchor kept apart from the list (`AUDIT_HEAD_KEY`): the
number of entries ever written and the last MAC, HMAC'd with the same secret and updated in
the same transaction as each append. New entries chain to the anchor's MAC, not to whatever
the list ends with, so a truncation stays visible after the dashboard writes again. Limit:
someone who deletes the anchor *and* the newest entries (or rolls both back to an older copy)
is not detected by this alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from sini.transactions import Writes, transaction
from staff import fields, labels
from tips.crypto import derive_secret
from tips.model import Status, TipRecord

AUDIT_KEY = "sini:staff:audit"
AUDIT_HEAD_KEY = "sini:staff:audit:head"  # the anchor: {"count", "mac", "sig"}
SYSTEM = "système"  # actor of scheduled jobs and the command line
UNKNOWN = "?"  # actor of a failed login on a name that does not exist
_EPOCH = "1970-01-01T00:00Z"
WATCHED = (AUDIT_KEY, AUDIT_HEAD_KEY)
_ATTEMPTS = 16


class AuditBusy(RuntimeError):
    """Concurrent writers kept the entry from being chained; nothing was written."""


@dataclass(frozen=True)
class AuditEntry:
    at: str  # "2025-03-14T14:37Z"
    actor: str
    action: str
    target: str = ""
    detail: str = ""
    mac: str = ""

    @property
    def moment(self) -> datetime:
        return datetime.strptime(self.at, "%Y-%m-%dT%H:%MZ").replace(tzinfo=timezone.utc)

    def body(self) -> bytes:
        """The canonical bytes the chain MAC covers (everything but the MAC)."""
        fields = {k: v for k, v in asdict(self).items() if k != "mac"}
        return json.dumps(fields, ensure_ascii=False, sort_keys=True).encode()

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> AuditEntry:
        """The entry back; something unreadable (tampering) becomes a visible "corrupt"
        entry rather than an error, so the log stays readable and `verify` flags it."""
        try:
            data = json.loads(raw)
            entry = cls(**{k: str(data.get(k, "")) for k in cls.__dataclass_fields__})
            entry.moment  # noqa: B018 - validates the time
        except (ValueError, TypeError, AttributeError):
            return cls(_EPOCH, UNKNOWN, "corrupt")
        return entry


def _now() -> datetime:
    return datetime.now(timezone.utc)


class AuditLog:
    """Append and read the audit log."""

    def __init__(
        self, redis: Redis[bytes], secret: bytes, clock: Callable[[], datetime] = _now
    ) -> None:
        self.redis = redis
        self.clock = clock
        self._key = derive_secret(secret, "staff:audit")

    def _mac(self, previous: str, entry: AuditEntry) -> str:
        message = previous.encode() + b"\n" + entry.body()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _head_sig(self, count: int, mac: str) -> str:
        message = b"head\n" + str(count).encode() + b"\n" + mac.encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _head(self, raw: bytes | None) -> tuple[int, str] | None:
        """The anchor's (count, last MAC) when present and genuine, else None."""
        if not raw:
            return None
        try:
            data = json.loads(raw)
            count, mac, sig = int(data["count"]), str(data["mac"]), str(data["sig"])
        except (ValueError, TypeError, KeyError):
            return None
        if not hmac.compare_digest(sig, self._head_sig(count, mac)):
            return None
        return count, mac

    def _head_json(self, count: int, mac: str) -> bytes:
        return json.dumps({"count": count, "mac": mac, "sig": self._head_sig(count, mac)}).encode()

    def _entry(self, actor: str, action: str, target: str, detail: str) -> AuditEntry:
        return AuditEntry(
            self.clock().astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
            fields.one_line(actor)[:100],
            fields.one_line(action)[:100],
            fields.one_line(target)[:200],
            fields.one_line(detail)[:200],
        )

    async def _append(self, pipe: Pipeline[bytes], entry: AuditEntry) -> tuple[AuditEntry, Writes]:
        """Chain `entry` to the last one, read through a pipeline that WATCHes `WATCHED`
        (so concurrent writers cannot both chain to the same predecessor); the writes that
        append it and move the anchor."""
        head = self._head(await pipe.get(AUDIT_HEAD_KEY))
        if head is None:  # a log from before the anchor (or an empty one)
            count = int(await pipe.llen(AUDIT_KEY))
            last = await pipe.lindex(AUDIT_KEY, -1)
            previous = AuditEntry.from_json(last).mac if last else ""
        else:
            count, previous = head
        sealed = replace(entry, mac=self._mac(previous, entry))

        def writes(pipe: Pipeline[bytes]) -> None:
            pipe.rpush(AUDIT_KEY, sealed.to_json())
            pipe.set(AUDIT_HEAD_KEY, self._head_json(count + 1, sealed.mac))

        return sealed, writes

    async def record(
        self, actor: str, action: str, target: str = "", detail: str = ""
    ) -> AuditEntry:
        """Append one entry on its own."""
        entry = self._entry(actor, action, target, detail)

        async def step(pipe: Pipeline[bytes]) -> tuple[AuditEntry, Writes]:
            return await self._append(pipe, entry)

        return await transaction(
            self.redis,
            WATCHED,
            step,
            attempts=_ATTEMPTS,
            contended=lambda: AuditBusy("audit log busy: entry not written"),
        )

    def of_tip(
        self, actor: str, action: str, detail: Callable[[TipRecord, TipRecord], str] | None = None
    ) -> TipJournal:
        """The entry recording a change to a tip, written in the change's own transaction
        (`tips.desk.Journal`); `detail` reads the tip before and after the change."""
        return TipJournal(self, actor, action, detail)

    async def count(self) -> int:
        return int(await self.redis.llen(AUDIT_KEY))

    async def page(
        self,
        offset: int = 0,
        limit: int = 50,
        action: str | None = None,
        actor: str | None = None,
    ) -> tuple[list[AuditEntry], int]:
        """Newest first: entries `offset`..`offset+limit` of those matching the filters, and
        how many match in all. Unfiltered pages read only their own slice of the list."""
        if not action and not actor:
            total = int(await self.redis.llen(AUDIT_KEY))
            if offset >= total:
                return [], total
            raw = await self.redis.lrange(AUDIT_KEY, -(offset + limit), -(offset + 1))
            return [AuditEntry.from_json(item) for item in reversed(raw)], total
        entries = [
            AuditEntry.from_json(item)
            for item in reversed(await self.redis.lrange(AUDIT_KEY, 0, -1))
        ]
        matching = [
            e
            for e in entries
            if (not action or e.action == action) and (not actor or e.actor == actor)
        ]
        return matching[offset : offset + limit], len(matching)

    async def verify(self) -> int | None:
        """None when the chain is intact and matches its anchor, else the position (0 =
        oldest) of the first entry that does not match its MAC — or the number of entries
        left when the newest were removed (or the anchor is missing or forged)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(AUDIT_KEY, 0, -1)
            pipe.get(AUDIT_HEAD_KEY)
            raws, raw_head = await pipe.execute()
        previous = ""
        for position, raw in enumerate(raws):
            entry = AuditEntry.from_json(raw)
            if not hmac.compare_digest(entry.mac, self._mac(previous, entry)):
                return position
            previous = entry.mac
        if not raws and raw_head is None:
            return None  # nothing written yet
        head = self._head(raw_head)
        if head is None or head != (len(raws), previous):
            return len(raws)
        return None


@dataclass(frozen=True)
class TipJournal:
    """An audit entry bound to a tip change (see `AuditLog.of_tip`)."""

    log: AuditLog
    actor: str
    action: str
    detail: Callable[[TipRecord, TipRecord], str] | None

    @property
    def watched(self) -> Sequence[str]:
        return WATCHED

    async def entry(self, pipe: Pipeline[bytes], before: TipRecord, after: TipRecord) -> Writes:
        detail = self.detail(before, after) if self.detail is not None else ""
        entry = self.log._entry(self.actor, self.action, before.lookup, detail)
        _, writes = await self.log._append(pipe, entry)
        return writes


def named(record: TipRecord, detail: str = "") -> str:
    """An audit detail that names the tip by its reference: "T-26-0172 · …"."""
    return " · ".join(part for part in (str(record.reference or ""), detail) if part)


def status_detail(before: TipRecord, after: TipRecord) -> str:
    """ "T-26-0172 · Nouveau → Transmis (OCS)": the move, and where a forwarded tip went."""
    detail = f"{labels.status(before.status.value)} → {labels.status(after.status.value)}"
    if after.status is Status.FORWARDED:
        detail += f" ({after.forwarded_to})"
    return named(after, detail)
