"""The queue's logic, pure: filters, priority, counts and the CSV export.

Priority is a transparent score, not a model: what is most at stake (children, people held)
and who is waiting on the desk (a new tip, a tipster who wrote back) comes first, and time
waiting slowly pushes anything up so nothing rots at the bottom. Closed and rejected tips
always sink.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import parse_qsl, urlencode

from staff import fields, labels
from staff.formatting import Formatter
from tips.model import (
    Category,
    Status,
    TipRecord,
    TipRegion,
    TipValidationError,
    find_tip_region,
    label_key,
    tidy_label,
    validate_account,
)

AGES: dict[str, str] = {
    "lt1d": "Moins de 24 h",
    "lt7d": "Moins de 7 jours",
    "gt7d": "Plus de 7 jours",
    "gt30d": "Plus de 30 jours",
}
# How long each age choice has waited since creation: (more than, less than), exclusive.
_WAITED: dict[str, tuple[timedelta | None, timedelta | None]] = {
    "lt1d": (None, timedelta(days=1)),
    "lt7d": (None, timedelta(days=7)),
    "gt7d": (timedelta(days=7), None),
    "gt30d": (timedelta(days=30), None),
}
SORTS: dict[str, str] = {
    "priority": "Priorité",
    "oldest": "Plus anciens d'abord",
    "newest": "Plus récents d'abord",
}
_CATEGORY_WEIGHT = {
    Category.CHILD_EXPLOITATION: 40,
    Category.HUMAN_TRAFFICKING: 30,
    Category.SEXUAL_EXPLOITATION: 30,
    Category.DRUG_TRAFFICKING: 20,
    Category.OTHER: 10,
}
_STATUS_WEIGHT = {
    Status.NEW: 30,
    Status.IN_REVIEW: 10,
    Status.FORWARDED: 0,
    Status.CLOSED: -100,
    Status.REJECTED: -100,
}
HIGH, MEDIUM = 60, 40
# Spreadsheet programs run cells starting with these as formulas (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class QueueFilter:
    """What the staff member asked to see; built from a query string or a form, where
    anything unknown is ignored rather than an error (links get hand-edited)."""

    status: Status | None = None
    category: Category | None = None
    region: TipRegion | None = None
    age: str | None = None
    mine: bool = False
    sort: str = "priority"
    assignee: str | None = None
    label: str | None = None
    important: bool = False
    received_from: date | None = None  # first and last day of reception, both included
    received_to: date | None = None
    text: str = ""  # the words searched for in what tipsters wrote (`staff.search`)

    @classmethod
    def parse(cls, params: Mapping[str, object]) -> QueueFilter:
        def text(name: str) -> str:
            value = params.get(name)
            return value if isinstance(value, str) else ""

        status = text("status")
        category = text("category")
        region = text("region")
        age = text("age")
        sort = text("sort")
        return cls(
            status=Status(status) if status in {s.value for s in Status} else None,
            category=Category(category) if category in {c.value for c in Category} else None,
            region=find_tip_region(region),
            age=age if age in AGES else None,
            mine=text("mine") == "1",
            sort=sort if sort in SORTS else "priority",
            assignee=_account(text("assignee")),
            label=_label(text("label")),
            important=text("important") == "1",
            received_from=_day(text("from")),
            received_to=_day(text("to")),
            text=" ".join(text("q").split())[:200],
        )

    def as_params(self) -> dict[str, str]:
        """The filter as query/form fields (only those set)."""
        params = {
            "status": self.status.value if self.status else "",
            "category": self.category.value if self.category else "",
            "region": self.region.value if self.region else "",
            "age": self.age or "",
            "mine": "1" if self.mine else "",
            "sort": self.sort if self.sort != "priority" else "",
            "assignee": self.assignee or "",
            "label": self.label or "",
            "important": "1" if self.important else "",
            "from": self.received_from.isoformat() if self.received_from else "",
            "to": self.received_to.isoformat() if self.received_to else "",
            "q": self.text,
        }
        return {k: v for k, v in params.items() if v}

    def created_between(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """The creation bounds of the age choice and the days chosen together: (after,
        before), exclusive, None for open."""
        after, before = created_between(self.age, now)
        if self.received_from is not None:
            # Hours are the finest time stored: the first hour of the day is just after.
            start = datetime.combine(self.received_from, time(), timezone.utc)
            after = max(filter(None, (after, start - timedelta(seconds=1))))
        if self.received_to is not None:
            end = datetime.combine(self.received_to + timedelta(days=1), time(), timezone.utc)
            before = min(filter(None, (before, end)))
        return after, before


def back_to_queue(back: str, notice: str) -> str:
    """The queue a form came from (`back`: its query string, as the page had it), with
    `notice`; read again as a filter, so nothing but known filters gets in the URL."""
    kept = QueueFilter.parse(dict(parse_qsl(back))).as_params()
    return "/?" + urlencode({**kept, "msg": notice})


def _account(value: str) -> str | None:
    try:
        return validate_account(value) if value else None
    except TipValidationError:
        return None


def _label(value: str) -> str | None:
    try:
        return tidy_label(value) if value.strip() else None
    except TipValidationError:
        return None


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def priority(record: TipRecord, now: datetime) -> int:
    """The record's priority score (higher first); see the module docstring."""
    score = _CATEGORY_WEIGHT.get(record.category, 10) + _STATUS_WEIGHT.get(record.status, 0)
    if record.awaiting_reply and not record.status.is_final:
        score += 25
    if not record.status.is_final:
        waited_days = max((now - record.updated_hour).days, 0)
        score += 2 * min(waited_days, 14)
    return score


def priority_level(score: int) -> str:
    """ "haute" / "moyenne" / "basse", for a badge."""
    if score >= HIGH:
        return "haute"
    return "moyenne" if score >= MEDIUM else "basse"


def created_between(age: str | None, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The creation hours an age choice keeps: (after, before), exclusive, None for open."""
    more, less = _WAITED.get(age or "", (None, None))
    return (now - less if less else None, now - more if more else None)


def _created_ok(record: TipRecord, wanted: QueueFilter, now: datetime) -> bool:
    after, before = wanted.created_between(now)
    return (after is None or record.created_hour > after) and (
        before is None or record.created_hour < before
    )


def by_priority(records: Iterable[TipRecord], now: datetime) -> list[TipRecord]:
    """Highest priority first; equal scores oldest first."""
    return sorted(records, key=lambda r: (-priority(r, now), r.created_hour, r.lookup))


def sinking_order() -> list[frozenset[Category]]:
    """How closed and rejected tips follow the open ones under the priority sort: their
    score is their category's weight alone, so by weight (heaviest first), oldest first
    within a weight."""
    weights = sorted(set(_CATEGORY_WEIGHT.values()), reverse=True)
    return [frozenset(c for c, w in _CATEGORY_WEIGHT.items() if w == weight) for weight in weights]


def apply(
    records: Iterable[TipRecord], wanted: QueueFilter, account: str, now: datetime
) -> list[TipRecord]:
    """The records `wanted` selects, in the order it asks for (its words searched for
    aside: `staff.search` holds the text)."""
    kept = [
        r
        for r in records
        if (wanted.status is None or r.status is wanted.status)
        and (wanted.category is None or r.category is wanted.category)
        and (wanted.region is None or r.region is wanted.region)
        and (not wanted.mine or r.assigned_to == account)
        and (wanted.assignee is None or r.assigned_to == wanted.assignee)
        and (wanted.label is None or label_key(wanted.label) in map(label_key, r.labels))
        and (not wanted.important or r.important)
        and _created_ok(r, wanted, now)
    ]
    if wanted.sort == "oldest":
        return sorted(kept, key=lambda r: (r.created_hour, r.lookup))
    if wanted.sort == "newest":
        return sorted(kept, key=lambda r: (r.created_hour, r.lookup), reverse=True)
    return by_priority(kept, now)


def csv_safe(value: object) -> str:
    """A cell a spreadsheet will show as text, and the CSV writer cannot refuse: control
    characters but tab/CR/LF are removed (`fields.cell`), formula-looking cells get a
    leading quote."""
    text = "" if value is None else fields.cell(str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


CSV_HEADER = (
    "référence",
    "catégorie",
    "région",
    "statut",
    "reçu le",
    "mis à jour le",
    "attribué à",
    "transmis à",
    "pièces jointes",
    "réponse attendue",
    "identifiant interne",
)


def to_csv(records: Sequence[TipRecord], fmt: Formatter) -> str:
    """The queue as CSV for a French spreadsheet: `;` separators and a BOM (what Excel in
    French expects), the clear envelope only — never the sealed content."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for r in records:
        writer.writerow(
            [
                csv_safe(cell)
                for cell in (
                    str(r.reference or ""),
                    labels.category(r.category.value),
                    labels.region(r.region.value),
                    labels.status(r.status.value),
                    fmt.datetime(r.created_hour),
                    fmt.datetime(r.updated_hour),
                    r.assigned_to or "",
                    r.forwarded_to or "",
                    r.attachment_count,
                    "oui" if r.awaiting_reply else "non",
                    r.lookup,
                )
            ]
        )
    return out.getvalue()
