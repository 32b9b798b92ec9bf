"""Every answer fits a phone: at most 500 characters in a message and six buttons, the rest
one tap away ("➡️ Suite", "➕ Plus…"), and health and legal answers show their sources."""

from __future__ import annotations

import pytest

from bot.content import LOCALES, Button, Catalog
from bot.content.catalog import UNSHOWABLE_PREFIXES
from bot.dialogue.actions import MoreChoices, Show, ShowPart, ShowSources, encode
from bot.dialogue.cards import PHONE_TEXT_LIMIT
from bot.dialogue.engine import Engine
from bot.dialogue.events import CommandEvent, TextEvent, button_event
from bot.dialogue.replies import Reply, Turn
from bot.dialogue.state import ChatState
from bot.nlu.crisis import Assessment, Reason, Verdict
from bot.nlu.safety import Crisis

MAX_BUTTONS = 6  # what a phone shows without scrolling, with the message above them


def press(engine: Engine, action: str, locale: str) -> Turn:
    return engine.respond(button_event(action), ChatState(locale=locale))


def buttons(reply: Reply) -> list[Button]:
    return [button for row in reply.buttons for button in row]


def fits(reply: Reply) -> bool:
    return len(reply.text) <= PHONE_TEXT_LIMIT and len(buttons(reply)) <= MAX_BUTTONS


def shown(catalog: Catalog) -> list[str]:
    return sorted(i for i in catalog.ids if not i.startswith((*UNSHOWABLE_PREFIXES, "screen.")))


def read_whole(engine: Engine, message_id: str, locale: str) -> tuple[list[Reply], list[Button]]:
    """Every page of a message (pressing "Suite" to the end), then every choice behind
    "Plus…": what a reader who taps through everything sees."""
    pages = list(press(engine, encode(Show(message_id)), locale).replies)
    while following := [b for b in buttons(pages[-1]) if b.action.startswith("page:")]:
        pages.extend(press(engine, following[0].action, locale).replies)
    choices: list[Button] = []
    screen = pages[-1]
    while True:
        more = [b for b in buttons(screen) if b.action.startswith("more:")]
        choices.extend(b for b in buttons(screen) if b not in more)
        if not more:
            return pages, choices
        (screen,) = press(engine, more[0].action, locale).replies
        assert fits(screen)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_fits_a_phone_and_tapping_through_shows_all_of_it(
    engine: Engine, catalog: Catalog, locale: str
) -> None:
    for message_id in shown(catalog):
        if (
            catalog.message(message_id).plural is not None
            or "{" in catalog.message(message_id).text
        ):
            continue  # filled by the code, which sizes them (services lists, receipts)
        rendered = catalog.render(message_id, locale)
        pages, choices = read_whole(engine, message_id, locale)
        assert all(fits(page) for page in pages), (locale, message_id)
        assert " ".join(" ".join(p.text.split()) for p in pages) == " ".join(rendered.text.split())
        own = [b for row in rendered.buttons for b in row]
        assert [b for b in choices if b in own] == own, (locale, message_id)


def test_a_long_answer_is_read_a_page_at_a_time(engine: Engine, catalog: Catalog) -> None:
    whole = catalog.render("drug.tramadol.effects", "fr").text
    assert len(whole) > PHONE_TEXT_LIMIT
    (first,) = press(engine, encode(Show("drug.tramadol.effects")), "fr").replies
    (following,) = buttons(first)
    assert following.label.startswith("➡️ Suite (2/")
    (second,) = press(engine, following.action, "fr").replies
    assert "📚 Sources" in [b.label for b in buttons(second)]


def test_six_buttons_at_most_the_rest_behind_plus(engine: Engine, catalog: Catalog) -> None:
    friend = catalog.render("intent.help_friend", "fr")
    assert sum(len(row) for row in friend.buttons) > MAX_BUTTONS
    (reply,) = press(engine, encode(Show("intent.help_friend")), "fr").replies
    labels = [b.label for b in buttons(reply)]
    assert len(labels) == MAX_BUTTONS
    assert labels[-1] == "➕ Plus…"
    assert "Tramadol" in labels


def test_the_main_menu_keeps_help_talking_and_reporting_on_its_first_screen(
    engine: Engine,
) -> None:
    for locale in LOCALES:
        start = engine.respond(CommandEvent("start"), ChatState(), language_code=locale)
        menu = start.replies[-1]
        assert fits(menu)
        actions = {b.action for b in buttons(menu)}
        assert {"do:services", "do:counsel", "do:report", "show:drugs.menu"} <= actions


def test_health_and_legal_answers_show_their_sources_in_plain_words(
    engine: Engine, catalog: Catalog
) -> None:
    (card,) = press(engine, encode(Show("rights.drug_help")), "fr").replies
    source_button = next(b for b in buttons(card) if b.label == "📚 Sources")
    assert source_button.action == encode(ShowSources("rights.drug_help"))
    sources = press(engine, source_button.action, "fr").replies
    listed = "\n".join(reply.text for reply in sources)
    for source in catalog.message("rights.drug_help").sources:
        assert f"• {source}" in listed
    assert all(fits(reply) for reply in sources)
    back = buttons(sources[-1])
    assert [b.action for b in back] == [encode(Show("rights.drug_help"))]


def test_a_message_without_sources_has_no_sources_button(engine: Engine) -> None:
    (menu,) = press(engine, encode(Show("language.pick")), "fr").replies
    assert not [b for b in buttons(menu) if b.action.startswith("src:")]


@pytest.mark.parametrize("kind", list(Crisis))
@pytest.mark.parametrize("locale", LOCALES)
def test_a_crisis_answer_has_every_number_in_its_first_message_and_fits_a_phone(
    engine: Engine, catalog: Catalog, kind: Crisis, locale: str
) -> None:
    crisis = Assessment(Verdict.CRISIS, Reason.PATTERN, kind)
    turn = engine.respond(TextEvent("..."), ChatState(locale=locale), crisis=crisis)
    first = turn.replies[0]
    for line in catalog.emergency:
        assert line.number in first.text
    assert first.keyboard
    assert all(fits(reply) for reply in turn.replies)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_counselling_consent_and_the_report_notice_are_read_whole_before_their_buttons(
    engine: Engine, locale: str
) -> None:
    for action in ("do:counsel", "do:report"):
        replies = press(engine, action, locale).replies
        assert all(fits(reply) for reply in replies), (action, locale)
        assert all(not reply.buttons for reply in replies[:-1])
        assert replies[-1].buttons


@pytest.mark.parametrize(
    "action",
    [
        encode(ShowPart("drug.tramadol.effects", 9)),
        encode(MoreChoices("drugs.menu", 99)),
        encode(MoreChoices("drugs.menu", 0)),
        encode(ShowSources("language.pick")),
        encode(ShowPart("no.such.message", 1)),
    ],
)
def test_a_page_or_choice_that_no_longer_exists_is_refused_kindly(
    engine: Engine, catalog: Catalog, action: str
) -> None:
    (reply,) = press(engine, action, "fr").replies
    assert reply.text == catalog.render("error.expired_button", "fr").text
