"""One action on several tips chosen in the queue: reject as spam, close, assign, label,
mark important — always with a reason.

Each tip changes in its own transaction with its own audit entry (`staff.audit.TipJournal`),
exactly as if it had been changed from its page: a status change keeps the reason in the
tip's sealed history, the other actions keep it as a sealed note. A tip the action does
not fit (closing a new tip, a tip purged meanwhile) is left as it is and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from nacl.public import PublicKey

from staff import stats
from staff.audit import AuditLog, named, status_detail
from tips.desk import Desk, Reason
from tips.model import InvalidTransition, Status
from tips.stored import TipNotFound

MAX_BULK = 200  # tips in one action: more than a queue page, small enough for one request


class BulkAction(Enum):
    REJECT = "reject"
    CLOSE = "close"
    ASSIGN = "assign"
    LABEL = "label"
    IMPORTANT = "important"


ACTIONS: dict[BulkAction, str] = {
    BulkAction.REJECT: "Rejeter comme spam",
    BulkAction.CLOSE: "Clore",
    BulkAction.ASSIGN: "Attribuer à…",
    BulkAction.LABEL: "Ajouter l'étiquette…",
    BulkAction.IMPORTANT: "Marquer important",
}
_STATUS_OF = {BulkAction.REJECT: Status.REJECTED, BulkAction.CLOSE: Status.CLOSED}


@dataclass(frozen=True)
class Bulk:
    """What a staff member asked: the action, its reason, and its argument (the account
    to assign to, the label to give)."""

    action: BulkAction
    reason: str
    account: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class Outcome:
    changed: int
    skipped: int


async def apply(
    desk: Desk,
    audit: AuditLog,
    desk_key: PublicKey,
    bulk: Bulk,
    lookups: Sequence[str],
    actor: str,
    now: datetime,
) -> Outcome:
    """Apply `bulk` to each tip of `lookups` (each once, at most `MAX_BULK`)."""
    changed = skipped = 0
    reason = Reason(actor, bulk.reason, desk_key)
    for lookup in dict.fromkeys(lookups[:MAX_BULK]):
        try:
            await _one(desk, audit, bulk, reason, lookup, now)
            changed += 1
        except (InvalidTransition, TipNotFound):
            skipped += 1
    return Outcome(changed, skipped)


async def _one(
    desk: Desk, audit: AuditLog, bulk: Bulk, reason: Reason, lookup: str, now: datetime
) -> None:
    actor = reason.actor
    match bulk.action:
        case BulkAction.REJECT | BulkAction.CLOSE:
            before, _ = await desk.set_status(
                lookup,
                _STATUS_OF[bulk.action],
                bulk.reason,
                actor,
                now=now,
                desk_public_key=reason.desk_public_key,
                journal=audit.of_tip(actor, "tip.status", status_detail),
            )
            if before.status is Status.NEW:
                await stats.record_first_review(desk.redis, before.created_hour, now)
        case BulkAction.ASSIGN:
            await desk.assign(
                lookup,
                bulk.account,
                now=now,
                reason=reason,
                journal=audit.of_tip(
                    actor, "tip.assign", lambda _b, after: named(after, after.assigned_to or "")
                ),
            )
        case BulkAction.LABEL:
            label = bulk.label or ""
            await desk.label(
                lookup,
                label,
                reason=reason,
                journal=audit.of_tip(actor, "tip.label", lambda _b, after: named(after, label)),
            )
        case BulkAction.IMPORTANT:
            await desk.mark_important(
                lookup,
                True,
                reason=reason,
                journal=audit.of_tip(actor, "tip.important", lambda _b, after: named(after)),
            )
