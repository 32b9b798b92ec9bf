"""The queue's logic, pure: filters, priority, counts and the CSV export.

Priority is a transparent score, not a model: what is most at stake (children, people held)
and who is waiting on the desk (a new tip, a tipster who wrote back) comes first, and time
waiting slowly pushes anything up so nothing rots at the bottom. Closed and rejected tips
always sink.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from staff import fields, labels
from staff.formatting import Formatter
from tips.model import Category, Status, TipRecord, TipRegion, find_tip_region

AGES: dict[str, str] = {
    "lt1d": "Moins de 24 h",
    "lt7d": "Moins de 7 jours",
    "gt7d": "Plus de 7 jours",
    "gt30d": "Plus de 30 jours",
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
        }
        return {k: v for k, v in params.items() if v}


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


def _age_ok(record: TipRecord, age: str | None, now: datetime) -> bool:
    waited = now - record.created_hour
    if age == "lt1d":
        return waited < timedelta(days=1)
    if age == "lt7d":
        return waited < timedelta(days=7)
    if age == "gt7d":
        return waited > timedelta(days=7)
    if age == "gt30d":
        return waited > timedelta(days=30)
    return True


def apply(
    records: Iterable[TipRecord], wanted: QueueFilter, account: str, now: datetime
) -> list[TipRecord]:
    """The records `wanted` selects, in the order it asks for."""
    kept = [
        r
        for r in records
        if (wanted.status is None or r.status is wanted.status)
        and (wanted.category is None or r.category is wanted.category)
        and (wanted.region is None or r.region is wanted.region)
        and (not wanted.mine or r.assigned_to == account)
        and _age_ok(r, wanted.age, now)
    ]
    if wanted.sort == "oldest":
        return sorted(kept, key=lambda r: (r.created_hour, r.lookup))
    if wanted.sort == "newest":
        return sorted(kept, key=lambda r: (r.created_hour, r.lookup), reverse=True)
    return sorted(kept, key=lambda r: (-priority(r, now), r.created_hour, r.lookup))


def counts(records: Iterable[TipRecord]) -> dict[Status, int]:
    """How many tips in each status (every status present, zeros included)."""
    found = Counter(r.status for r in records)
    return {status: found.get(status, 0) for status in Status}


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
                    r.lookup,
                    labels.category(r.category.value),
                    labels.region(r.region.value),
                    labels.status(r.status.value),
                    fmt.datetime(r.created_hour),
                    fmt.datetime(r.updated_hour),
                    r.assigned_to or "",
                    r.forwarded_to or "",
                    r.attachment_count,
                    "oui" if r.awaiting_reply else "non",
                )
            ]
        )
    return out.getvalue()
