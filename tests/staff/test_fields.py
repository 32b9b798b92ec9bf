"""What staff type is cleaned before it is stored, shown, exported or audited: no control
character (NUL, escape, bell…), no bidirectional override, no lone surrogate."""

from __future__ import annotations

import pytest

from staff.fields import one_line, paragraph


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("OCS", "OCS"),
        ("  O\x00C\x1bS \t", "OCS"),
        ("Police\njudiciaire", "Police judiciaire"),
        ("\u202egnp.exe\u2066", "gnp.exe"),
        ("ligne\u2028suite", "ligne suite"),
        ("moi\udcff", "moi"),
        (None, ""),
        (42, ""),
    ],
)
def test_one_line_fields_lose_control_characters(typed: object, kept: str) -> None:
    assert one_line(typed) == kept


def test_paragraphs_keep_line_breaks_and_tabs_only() -> None:
    assert paragraph("une\r\nnote\x00\x07\tici\x1b\n") == "une\nnote\tici"
