"""Short tip references staff can quote on the phone or in a letter: ``T-26-0172``.

Pure: the value, its text form and reading what someone typed. A reference is the
two-digit year of submission and a number unique within that year; the number comes
from a per-year counter passed through a keyed permutation (`tips.stored.REFERENCE_LUA`),
so it tells neither the order of arrival nor how many tips came before. It is never
derived from the tipster's receipt code or from the lookup id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Accepts what people type: "T-26-0172", "t 26 172", "26-0172".
_TYPED = re.compile(r"^\s*(?:T\s*[-\s]?\s*)?(\d{2})\s*[-\s]\s*(\d{1,9})\s*$", re.IGNORECASE)
_STORED = re.compile(r"^T-(\d{2})-(\d{4,9})$")


@dataclass(frozen=True, order=True)
class Reference:
    """A tip's short reference: year of submission modulo 100, and a number."""

    year: int
    number: int

    def __post_init__(self) -> None:
        if not (0 <= self.year < 100 and self.number >= 0):
            raise ValueError("a reference is a two-digit year and a non-negative number")

    def __str__(self) -> str:
        return f"T-{self.year:02d}-{self.number:04d}"

    @classmethod
    def typed(cls, text: str) -> Reference | None:
        """The reference someone typed, forgiving case, spaces and leading zeros."""
        found = _TYPED.match(text)
        return cls(int(found[1]), int(found[2])) if found else None

    @classmethod
    def stored(cls, text: str) -> Reference:
        """The reference as the store writes it (`ValueError` otherwise)."""
        found = _STORED.match(text)
        if found is None:
            raise ValueError("not a stored reference")
        return cls(int(found[1]), int(found[2]))
