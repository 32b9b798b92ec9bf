"""Text typed by staff, cleaned before it is stored, shown, exported or audited.

Every form field the dashboard reads goes through `one_line` (names, reasons, organisations)
or `paragraph` (notes, replies): control characters (NUL, escape, bell, …), lone surrogates
and the invisible bidirectional controls (which can make a name read backwards in a list or
a spreadsheet) are removed, never stored. `cell` does the same for CSV cells, keeping what
the CSV writer quotes safely, so an export cannot fail on what a record holds.
"""

from __future__ import annotations

import unicodedata

# Explicit bidirectional embeddings, overrides and isolates (Unicode category Cf).
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Line and paragraph breaks that are not control characters.
_BREAKS = frozenset("\u2028\u2029")


def _clean(text: str, keep: str, breaks_to_space: bool) -> str:
    out: list[str] = []
    for char in text:
        if char in keep:
            out.append(char)
        elif char in _BREAKS or (breaks_to_space and char in "\n\r\t\v\f\x85"):
            out.append(" " if breaks_to_space else "\n")
        elif char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs"):
            continue
        else:
            out.append(char)
    return "".join(out)


def raw(value: object) -> str:
    """A form value as typed (passwords), or empty when it is not text."""
    return value if isinstance(value, str) else ""


def one_line(value: object) -> str:
    """A single-line field: line breaks and tabs become spaces, other controls go, trimmed.
    Anything but a string (a file in a multipart form, a missing field) is empty."""
    if not isinstance(value, str):
        return ""
    return _clean(value, "", breaks_to_space=True).strip()


def paragraph(value: object) -> str:
    """A multi-line text: line breaks (as "\\n") and tabs stay, other controls go, trimmed."""
    if not isinstance(value, str):
        return ""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return _clean(text, "\n\t", breaks_to_space=False).strip()


def cell(text: str) -> str:
    """A CSV cell's text: what the writer quotes (tab, CR, LF) stays, other controls go."""
    return _clean(text, "\t\r\n", breaks_to_space=False)


def has_controls(text: str) -> bool:
    """Whether `text` holds any character these functions remove or replace (passwords are
    refused rather than silently changed)."""
    return any(
        c in _BIDI_CONTROLS or c in _BREAKS or unicodedata.category(c) in ("Cc", "Cs") for c in text
    )
