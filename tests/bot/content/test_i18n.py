"""Locale choice and Bambara/English rendering through gettext."""

from __future__ import annotations

import pytest

from bot.content import Catalog, negotiate_locale


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("fr", "fr"),
        ("fr-ML", "fr"),
        ("en-GB", "en"),
        ("bm", "bm"),
        ("bm-ML", "bm"),
        (None, "fr"),
        ("", "fr"),
        ("ar", "fr"),
        ("zz-??", "fr"),
    ],
)
def test_telegram_language_codes_are_negotiated(code: str | None, expected: str) -> None:
    assert negotiate_locale(code) == expected


def test_the_same_message_reads_differently_in_each_language(catalog: Catalog) -> None:
    texts = {loc: catalog.render("welcome", loc).text for loc in ("fr", "bm", "en")}
    assert len(set(texts.values())) == 3


def test_emergency_numbers_are_the_same_in_every_language(catalog: Catalog) -> None:
    for locale in ("fr", "bm", "en"):
        text = catalog.render("emergency", locale).text
        assert all(line.number in text for line in catalog.emergency)
