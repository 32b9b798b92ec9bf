"""Locale choice and Bambara/English rendering through gettext."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content import Catalog, ContentError, negotiate_locale
from bot.content.i18n import load_translations
from sini.settings import PROJECT_ROOT


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


def test_a_phone_number_in_a_translation_stops_the_load_at_its_po_line(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(PROJECT_ROOT / "locales", locales)
    po = locales / "bm" / "LC_MESSAGES" / "messages.po"
    lines = po.read_text(encoding="utf-8").splitlines()
    po.write_text("\n".join([*lines, "", 'msgid "Police"', 'msgstr "Polisi : 80 333"', ""]))
    with pytest.raises(ContentError, match=rf"messages\.po:{len(lines) + 3}: phone number"):
        load_translations(locales)
