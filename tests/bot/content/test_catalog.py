"""Content files load, are sourced, fit a phone screen, and are fully translated."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.awareness import load_quizzes, load_weekly
from bot.content import LOCALES, Catalog, ContentError
from bot.content.catalog import DO_ACTIONS, check_references, load_emergency, load_messages
from bot.content.phones import check_no_phone_numbers, phone_numbers
from bot.dialogue.engine import Engine
from bot.dialogue.events import button_event
from bot.dialogue.state import ChatState
from bot.services import Service
from sini.settings import PROJECT_ROOT, Settings

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
    "rights.",
)
# Messages whose wording belongs to the service directory and to rights: each must fit a
# phone as it stands (≤ 500 characters, ≤ 6 buttons).
PHONE_SIZED_PREFIXES = ("services.", "kind.", "rights.", "intent.rights", "emergency.footer")
PHONE_TEXT_LIMIT = 500
MAX_BUTTONS = 6
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
    with pytest.raises(
        ContentError,
        match=r"bad\.yml:11: bad\.action\.buttons\[0\]\[0\]\.action: must be an action",
    ):
        load_messages(tmp_path)


def test_a_crisis_line_must_name_a_directory_entry_with_phones(
    tmp_path: Path, services: list[Service]
) -> None:
    (tmp_path / "emergency.yml").write_text(
        "emergency:\n  - service: mild-bamako\n    label: MILD\n"
    )
    with pytest.raises(ContentError, match=r"emergency\.yml:2: emergency\.service"):
        load_emergency(tmp_path / "emergency.yml", services)


def test_service_and_rights_messages_fit_a_phone(catalog: Catalog) -> None:
    sample = {"region": "Nioro du Sahel", "kind": "💬 Écoute, soutien", "town": "Kalaban Coro"}
    sample |= {"distance": "1 197 km"}
    for locale in LOCALES:
        for message_id in sorted(catalog.ids):
            if not message_id.startswith(PHONE_SIZED_PREFIXES):
                continue
            plural = catalog.message(message_id).plural is not None
            rendered = catalog.render(message_id, locale, count=2 if plural else None, **sample)
            assert len(rendered.text) <= PHONE_TEXT_LIMIT, (locale, message_id)
            assert sum(len(row) for row in rendered.buttons) <= MAX_BUTTONS, (locale, message_id)


def test_the_fear_of_prison_for_drug_use_has_its_own_sourced_card(catalog: Catalog) -> None:
    """ "Will I go to prison if I ask for help with drugs?" is not answered with the rights
    of trafficking victims: the rights answer offers its own card, which cites the drug
    law and says no more than its sources do."""
    rights = catalog.render("intent.rights", "fr")
    assert rights.buttons[0][0].action == "show:rights.drug_help"
    card = catalog.message("rights.drug_help")
    assert any("01-078" in source for source in card.sources)
    assert not any("2012-023" in source for source in card.sources)  # the trafficking law
    for locale in LOCALES:
        text = catalog.render("rights.drug_help", locale).text
        assert "01-078" in text
        assert "Point G" in text
        assert text != catalog.render("trafficking.rights", locale).text
    actions = [b.action for row in catalog.render("rights.drug_help", "fr").buttons for b in row]
    assert "intent:find_treatment" in actions


def test_contents_cite_sources_listed_in_sources_md(catalog: Catalog) -> None:
    text = (PROJECT_ROOT / "responses" / "SOURCES.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\*\*(.+?)\*\*$", text, flags=re.MULTILINE))
    for message_id in ("rights.drug_help", "intent.rights"):
        for source in catalog.message(message_id).sources:
            assert source in listed, (message_id, source)


# --- every button leads somewhere, checked at load -----------------------------------


def _one_button(tmp_path: Path, action: str) -> Path:
    (tmp_path / "menu.yml").write_text(
        "messages:\n"
        "  topic.find_treatment:\n    text: Se soigner\n"
        "  menu.main:\n    text: Menu\n"
        f"    buttons:\n      - [{{label: Go, action: '{action}'}}]\n"
    )
    return tmp_path


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        ("show:missing", "no message 'missing'"),
        ("show:topic.find_treatment", "no message 'topic.find_treatment' to show"),
        ("do:nowhere", "no dialogue action 'nowhere'"),
        ("intent:no_such_intent", "no intent 'no_such_intent'"),
        ("lang:de", "no language 'de'"),
    ],
)
def test_a_button_that_leads_nowhere_stops_the_load_at_its_line(
    tmp_path: Path, action: str, problem: str
) -> None:
    with pytest.raises(
        ContentError, match=rf"menu\.yml:7: menu\.main\.buttons\.action: .*{problem}"
    ):
        load_messages(_one_button(tmp_path, action))


@pytest.mark.parametrize(
    "action", ["show:menu.main", "do:menu", "intent:find_treatment", "lang:bm"]
)
def test_a_button_that_leads_somewhere_loads(tmp_path: Path, action: str) -> None:
    assert "menu.main" in load_messages(_one_button(tmp_path, action))


@pytest.mark.parametrize("name", sorted(DO_ACTIONS))
def test_the_engine_runs_every_do_action_the_content_may_name(engine: Engine, name: str) -> None:
    turn = engine.respond(button_event(f"do:{name}"), ChatState())
    expired = engine.catalog.render("error.expired_button", "fr").text
    assert all(reply.text != expired for reply in turn.replies)


def test_an_unknown_do_action_is_what_the_load_check_spares_the_user(engine: Engine) -> None:
    turn = engine.respond(button_event("do:nowhere"), ChatState())
    assert turn.replies[0].text == engine.catalog.render("error.expired_button", "fr").text


def test_quizzes_weekly_messages_and_quiz_buttons_lead_somewhere(
    settings: Settings, catalog: Catalog, tmp_path: Path
) -> None:
    quizzes = load_quizzes(settings.responses_dir / "quizzes")
    weekly = load_weekly(settings.responses_dir / "weekly.yml")
    check_references(settings.responses_dir / "messages", catalog, quizzes, weekly)
    broken = {"tramadol": replace(quizzes["tramadol"], more="drug.nowhere")}
    with pytest.raises(ContentError, match=r"tramadol\.yml: more: no message 'drug\.nowhere'"):
        check_references(settings.responses_dir / "messages", catalog, broken, weekly)
    first = next(iter(weekly))
    lost = {first: replace(weekly[first], more="nowhere")}
    with pytest.raises(ContentError, match=rf"weekly\.yml: {first}\.more: 'nowhere'"):
        check_references(settings.responses_dir / "messages", catalog, quizzes, lost)


# --- a phone number is written in services.yml only ----------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "    text: 'Police : 80 333'",
        "    text: Appelle le 17",
        "    text: Le numéro vert 80001132",
        "    sources: ['ONU Femmes Mali, ligne verte 80 00 11 32']",
    ],
)
def test_a_phone_number_outside_the_directory_stops_the_load_at_its_line(
    tmp_path: Path, line: str
) -> None:
    (tmp_path / "bad.yml").write_text(f"messages:\n  hello:\n{line}\n")
    if "sources" in line:
        (tmp_path / "bad.yml").write_text(f"messages:\n  hello:\n    text: Salut\n{line}\n")
    with pytest.raises(ContentError, match=r"bad\.yml:[34]: phone number: .*services\.yml"):
        load_messages(tmp_path)


@pytest.mark.parametrize(
    "text",
    ["loi n°01-078 du 18 juillet 2001", "En 2024, 629 victimes", "6,8 %", "1 sur 10", "24h/24"],
)
def test_laws_years_and_figures_are_not_phone_numbers(text: str) -> None:
    assert phone_numbers(text) == []


def test_no_content_file_but_the_directory_holds_a_phone_number(settings: Settings) -> None:
    files = [p for p in settings.responses_dir.rglob("*.yml") if p.name != "services.yml"]
    assert len(files) > 5
    for path in files:
        check_no_phone_numbers(path)
