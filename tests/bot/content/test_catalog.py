"""Content files load, are sourced, fit a phone screen, and are fully translated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.config import PROJECT_ROOT
from bot.content import LOCALES, Catalog, ContentError
from bot.content.catalog import load_emergency, load_messages
from bot.services import Service

LOCALES_DIR = PROJECT_ROOT / "locales"
SOURCED_PREFIXES = (
    "drug.",
    "trafficking.",
    "crisis.",
    "intent.drug",
    "intent.rights",
    "intent.safe_migration",
    "intent.trafficking",
    "intent.quit",
    "intent.help_friend",
    "intent.parent",
    "intent.peer",
)
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def test_health_and_legal_messages_name_their_sources(catalog: Catalog) -> None:
    sourced = [i for i in catalog.ids if i.startswith(SOURCED_PREFIXES) or i == "emergency"]
    unsourced = [i for i in sourced if not catalog.message(i).sources]
    assert unsourced == []


def test_messages_fit_a_phone_screen(catalog: Catalog) -> None:
    for locale in LOCALES:
        for message_id in catalog.ids:
            if catalog.message(message_id).plural is None:
                text = catalog.render(message_id, locale).text
                assert len(text) <= 1200, (locale, message_id, len(text))


def test_no_phone_number_is_written_in_message_text(catalog: Catalog) -> None:
    digits = re.compile(r"\d{2}[ .]?\d{2}[ .]?\d{2}[ .]?\d{2}")
    for message_id in catalog.ids:
        assert not digits.search(catalog.message(message_id).text), message_id


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "fr"])
def test_every_text_is_translated_without_fuzzy_or_obsolete_entries(locale: str) -> None:
    with (LOCALES_DIR / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    assert not catalog.obsolete, f"obsolete entries in {locale}: {list(catalog.obsolete)[:5]}"
    problems = []
    for entry in template:
        if not entry.id:
            continue
        translated = catalog.get(entry.id)
        if (
            translated is None
            or not translated.string
            or (isinstance(translated.string, tuple) and not all(translated.string))
        ):
            problems.append(("missing", entry.id))
        elif translated.fuzzy:
            problems.append(("fuzzy", entry.id))
        else:
            source = entry.id if isinstance(entry.id, str) else entry.id[0]
            target = (
                translated.string if isinstance(translated.string, str) else translated.string[0]
            )
            if set(PLACEHOLDER.findall(source)) != set(PLACEHOLDER.findall(target)):
                problems.append(("placeholders differ", entry.id))
    assert problems == [], problems[:10]


def test_catalog_is_up_to_date_with_the_content_files(tmp_path: Path) -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (PROJECT_ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    extracted = {
        entry[2] if isinstance(entry[2], str) else entry[2][0]
        for entry in extract_from_dir(str(PROJECT_ROOT), method_map, options_map)
    }
    with (LOCALES_DIR / "messages.pot").open("rb") as handle:
        template = {e.id if isinstance(e.id, str) else e.id[0] for e in read_po(handle) if e.id}
    assert extracted == template, "run `make messages` to refresh locales/messages.pot"


def test_a_broken_content_file_is_reported_with_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(
        "messages:\n  ok:\n    text: Bonjour\n  broken:\n    text: Salut\n"
        "    buttons:\n      - [{label: Go, action: 'show:missing'}]\n"
        "  bad.action:\n    text: Salut\n    buttons:\n      - [{label: Go, action: 'rm:x'}]\n"
    )
    with pytest.raises(ContentError, match=r"bad\.yml:11: bad\.action\.buttons\.action"):
        load_messages(tmp_path)


def test_a_crisis_line_must_name_a_directory_entry_with_phones(
    tmp_path: Path, services: list[Service]
) -> None:
    (tmp_path / "emergency.yml").write_text(
        "emergency:\n  - service: mild-bamako\n    label: MILD\n"
    )
    with pytest.raises(ContentError, match=r"emergency\.yml:2: emergency\.service"):
        load_emergency(tmp_path / "emergency.yml", services)
