"""What the dialogue engine answers, given an event, a state and the NLU's reading."""

from __future__ import annotations

import pytest

from bot.content import Catalog
from bot.dialogue.actions import Do, FollowupButton, ReportButton, ReportCategory, ServicesIn
from bot.dialogue.engine import Engine
from bot.dialogue.events import (
    ButtonEvent,
    CommandEvent,
    ExpiredButtonEvent,
    LocationEvent,
    TextEvent,
    UnsupportedEvent,
    button_event,
)
from bot.dialogue.state import ChatState, Flow, Step
from bot.nlu import Entity, Understanding
from bot.nlu.crisis import Assessment, Reason, Verdict
from bot.nlu.safety import Crisis
from tests.support.screens import first_screen
from tips.model import Category

FR = ChatState(locale="fr")


def understood(intent: str, confidence: float = 0.95, **entities: str) -> Understanding:
    return Understanding(
        intent=intent,
        confidence=confidence,
        ranking=((intent, confidence),),
        entities=tuple(Entity(k, v) for k, v in entities.items()),
    )


def actions(turn_replies: tuple) -> list[str]:  # type: ignore[type-arg]
    return [b.action for reply in turn_replies for row in reply.buttons for b in row]


def test_start_greets_with_the_emergency_keyboard_then_the_menu(engine: Engine) -> None:
    turn = engine.respond(CommandEvent("start"), ChatState(), language_code="fr")
    welcome, menu = turn.replies
    assert "Sini" in welcome.text
    assert welcome.keyboard
    assert welcome.keyboard[0][0].label == "🆘 Urgence"
    assert "do:report" in actions((menu,))
    assert turn.state.locale == "fr"


def test_language_is_negotiated_from_telegram_then_kept(engine: Engine) -> None:
    assert (
        engine.respond(CommandEvent("start"), ChatState(), language_code="en-US").state.locale
        == "en"
    )
    assert (
        engine.respond(CommandEvent("start"), ChatState(), language_code="bm").state.locale == "bm"
    )
    assert (
        engine.respond(CommandEvent("start"), ChatState(), language_code="de").state.locale == "fr"
    )
    kept = engine.respond(CommandEvent("start"), ChatState(locale="bm"), language_code="en")
    assert kept.state.locale == "bm"


def test_a_language_button_switches_and_answers_in_that_language(engine: Engine) -> None:
    turn = engine.respond(button_event("lang:en"), FR)
    assert turn.state.locale == "en"
    assert "English" in turn.replies[0].text


def test_a_drug_question_gets_that_drugs_answer_and_is_remembered(
    engine: Engine, catalog: Catalog
) -> None:
    turn = engine.respond(
        TextEvent("c koi le tramadol"), FR, understanding=understood("drug_info", drug="tramadol")
    )
    assert turn.replies[0].text == first_screen(catalog, "drug.tramadol.about")
    assert turn.state.drug == "tramadol"
    follow_up = engine.respond(
        TextEvent("et pour arreter?"), turn.state, understanding=understood("quit_help")
    )
    assert follow_up.replies[0].text == first_screen(catalog, "drug.tramadol.quit")


def test_crisis_answers_start_with_emergency_numbers(engine: Engine, catalog: Catalog) -> None:
    turn = engine.respond(
        TextEvent("il respire plus"),
        FR,
        crisis=Assessment(Verdict.CRISIS, Reason.PATTERN, Crisis.OVERDOSE),
        understanding=understood("drug_info"),
    )
    first_number = catalog.emergency[0].number
    assert first_number in turn.replies[0].text
    assert turn.replies[0].text.index(first_number) < 120


UNSURE = Assessment(Verdict.CHECK_IN, Reason.CLASSIFIER, Crisis.SELF_HARM)


def test_when_unsure_the_check_in_gives_the_line_first_then_asks(
    engine: Engine, catalog: Catalog
) -> None:
    turn = engine.respond(
        TextEvent("jsp si je vais tenir"), FR, crisis=UNSURE, understanding=understood("quit_help")
    )
    (reply,) = turn.replies
    first_line = reply.text.splitlines()[0]
    assert catalog.emergency[0].number in first_line
    assert {"do:in_danger", "do:not_in_danger"} == set(actions(turn.replies))
    assert turn.topic == "checkin"


def test_yes_to_the_check_in_gets_the_full_crisis_answer(engine: Engine, catalog: Catalog) -> None:
    asked = engine.respond(TextEvent("..."), FR, crisis=UNSURE, understanding=understood("greet"))
    turn = engine.respond(button_event("do:in_danger"), asked.state)
    assert turn.topic == "crisis.self_harm"
    assert catalog.emergency_block("fr") in turn.replies[0].text
    assert turn.state.pending is None
    assert turn.state.danger is None


def test_no_to_the_check_in_gets_the_answer_to_the_question(
    engine: Engine, catalog: Catalog
) -> None:
    asked = engine.respond(
        TextEvent("..."), FR, crisis=UNSURE, understanding=understood("drug_risks", drug="tramadol")
    )
    turn = engine.respond(button_event("do:not_in_danger"), asked.state)
    assert turn.replies[0].text == first_screen(catalog, "drug.tramadol.effects")
    typed_no = engine.respond(TextEvent("non"), asked.state, understanding=understood("deny"))
    assert typed_no.replies[0].text == turn.replies[0].text


def test_a_question_about_danger_is_answered_with_the_line_as_footer(
    engine: Engine, catalog: Catalog
) -> None:
    informational = Assessment(Verdict.NONE, Reason.INFORMATIONAL, Crisis.OVERDOSE, footer=True)
    turn = engine.respond(
        TextEvent("c quoi les signes d une overdose de trama"),
        FR,
        crisis=informational,
        understanding=understood("drug_risks", drug="tramadol"),
    )
    answer, footer, *_ = turn.replies
    assert answer.text == first_screen(catalog, "drug.tramadol.effects")
    assert footer.text.rstrip().endswith(catalog.emergency_line("fr"))
    assert turn.topic == "drug_risks"


def test_the_classifier_alone_can_raise_a_crisis(engine: Engine, catalog: Catalog) -> None:
    turn = engine.respond(TextEvent("aidez moi vite"), FR, understanding=understood("crisis"))
    assert catalog.emergency[0].number in turn.replies[0].text


def test_low_confidence_asks_with_the_likeliest_topics(engine: Engine) -> None:
    reading = Understanding(
        intent="nlu_fallback",
        confidence=0.3,
        ranking=(
            ("nlu_fallback", 0.4),
            ("drug_risks", 0.3),
            ("trafficking_info", 0.2),
            ("greet", 0.05),
            ("rights", 0.04),
            ("peer_pressure", 0.01),
        ),
    )
    turn = engine.respond(TextEvent("hmm ça"), FR, understanding=reading)
    found = actions(turn.replies)
    assert found[:3] == ["intent:drug_risks", "intent:trafficking_info", "intent:rights"]
    assert "do:menu" in found


def test_out_of_scope_gets_a_clarifying_menu(engine: Engine) -> None:
    turn = engine.respond(
        TextEvent("qui a gagné le match"), FR, understanding=understood("out_of_scope")
    )
    assert "show:drugs.menu" in actions(turn.replies)


def test_a_report_intent_is_confirmed_before_any_form(engine: Engine) -> None:
    turn = engine.respond(
        TextEvent("je veux denoncer un dealer"), FR, understanding=understood("report_tip")
    )
    assert "do:report" in actions(turn.replies)
    assert turn.state.pending == "confirm_report"
    no = engine.respond(TextEvent("non"), turn.state, understanding=understood("deny"))
    assert no.state.pending is None
    assert "do:report" not in [a for a in actions(no.replies) if a == "intent:report_tip"]


def test_forged_or_stale_buttons_get_a_kind_answer_and_the_menu(engine: Engine) -> None:
    for forged in [
        "",
        "show:nope",
        "lang:xx",
        "intent:../../etc",
        "do:rm -rf",
        "x" * 300,
        "show:key.menu",
        "intent:nlu_fallback",
    ]:
        turn = engine.respond(button_event(forged), FR)
        assert turn.replies, forged
        assert "do:menu" in actions(turn.replies), forged


def test_empty_emoji_and_unknown_inputs_are_answered_kindly(engine: Engine) -> None:
    for event in [
        TextEvent(""),
        TextEvent("   \x00\x07 "),
        TextEvent("😂😂🔥"),
        CommandEvent("nimportequoi"),
        UnsupportedEvent("sticker"),
        UnsupportedEvent("edited"),
        TextEvent("/start@otherbot x"),
    ]:
        turn = engine.respond(event, FR)
        assert turn.replies
        assert turn.replies[0].text


def test_nlu_outage_is_said_politely_with_buttons(engine: Engine) -> None:
    turn = engine.respond(TextEvent("c quoi le yamba"), FR, understanding=None)
    assert "do:menu" in actions(turn.replies)


def test_buttons_and_keyboard_labels_never_need_the_nlu(engine: Engine) -> None:
    assert not engine.needs_nlu(TextEvent("🆘 Urgence"), FR)
    assert not engine.needs_nlu(TextEvent("/start"), FR)
    assert not engine.needs_nlu(TextEvent("   "), FR)
    assert engine.needs_nlu(TextEvent("c quoi le yamba"), FR)
    reporting = ChatState(locale="fr", flow=Flow.REPORT, step=Step.WHAT)
    assert not engine.needs_nlu(TextEvent("le dealer vend du yamba au marché"), reporting)


def test_navigating_ends_a_flow_but_its_own_buttons_cancel_and_emergency_do_not(
    engine: Engine,
) -> None:
    menu_key = engine.catalog.render("key.menu", "fr").text
    emergency_key = engine.catalog.render("key.emergency", "fr").text
    for leaves in [ButtonEvent(Do.MENU), ButtonEvent(ServicesIn("Kayes")), CommandEvent("quiz")]:
        assert engine.leaves_flow(leaves), leaves
    assert engine.leaves_flow(TextEvent(menu_key))
    for stays in [
        ButtonEvent(ReportButton.SEND),
        ButtonEvent(FollowupButton.ADD),
        ButtonEvent(Do.CANCEL),
        ButtonEvent(Do.EMERGENCY),
        CommandEvent("annuler"),
        CommandEvent("nimportequoi"),  # a typo is answered, the report kept
        TextEvent(emergency_key),
        TextEvent("le dealer"),
        ExpiredButtonEvent(),
    ]:
        assert not engine.leaves_flow(stays), stays


def test_an_unreadable_button_in_a_report_is_refused_and_the_report_kept(engine: Engine) -> None:
    reporting = ChatState(locale="fr", flow=Flow.REPORT, step=Step.WHAT)
    turn = engine.respond(button_event("rep:when:tomorrow"), reporting)
    assert turn.topic == "bad_button"
    assert (turn.state.flow, turn.state.step) == (Flow.REPORT, Step.WHAT)


def test_only_a_flows_buttons_need_the_stored_draft(engine: Engine) -> None:
    assert engine.needs_storage(ButtonEvent(ReportButton.SEND))
    assert engine.needs_storage(ButtonEvent(ReportCategory(Category.CHILD_EXPLOITATION)))
    assert engine.needs_storage(ButtonEvent(FollowupButton.ADD))
    assert not engine.needs_storage(ButtonEvent(Do.MENU))
    assert not engine.needs_storage(TextEvent("rep:send"))


def test_a_flow_takes_text_places_and_files_but_not_the_keys(engine: Engine) -> None:
    assert engine.is_flow_input(TextEvent("le dealer"))
    assert engine.is_flow_input(LocationEvent(12.6, -8.0))
    assert not engine.is_flow_input(TextEvent(engine.catalog.render("key.emergency", "bm").text))
    assert not engine.is_flow_input(ButtonEvent(ReportButton.SEND))


def test_a_reading_is_unsure_below_the_threshold_or_as_the_fallback_intent(
    engine: Engine,
) -> None:
    assert engine.is_unsure(understood("nlu_fallback"))
    assert engine.is_unsure(understood("drug_info", confidence=engine.threshold / 2))
    assert not engine.is_unsure(understood("drug_info", confidence=engine.threshold))


def test_a_shared_location_lists_the_nearest_services_by_town_or_distance(
    engine: Engine,
) -> None:
    asked = engine.respond(button_event("svc:kind:treatment"), FR)
    assert asked.state.service_kind == "treatment"
    assert asked.replies[0].keyboard[0][0].request_location  # type: ignore[index]
    turn = engine.respond(LocationEvent(12.66, -7.99), asked.state)  # Bamako
    text = turn.replies[0].text
    assert "Point G, psychiatrie — à Bamako" in text  # a town-centre position: no "0,0 km"
    assert "à 13 km, à Kati" in text
    assert "do:emergency" in actions(turn.replies)
    anything = engine.respond(LocationEvent(12.66, -7.99), FR)
    assert "80 00 11 15" in anything.replies[0].text  # the emergency line closes every list


def test_a_region_named_in_text_lists_its_services(engine: Engine) -> None:
    turn = engine.respond(
        TextEvent("ou se faire soigner a segou"),
        FR,
        understanding=understood("find_treatment", place="Ségou"),
    )
    assert "Ségou" in turn.replies[0].text


def test_asking_for_help_without_a_place_asks_where(engine: Engine) -> None:
    turn = engine.respond(
        TextEvent("je cherche un centre pour victimes"),
        FR,
        understanding=understood("find_victim_help"),
    )
    assert turn.state.service_kind == "victim_assistance"
    assert any(b.action == "svc:reg:Bamako" for row in turn.replies[1].buttons for b in row)


def test_unverified_services_say_so(engine: Engine, catalog: Catalog) -> None:
    listing = engine.respond(button_event("svc:reg:Sikasso"), FR)
    assert "svc:info:assafe-sikasso" in actions(listing.replies)
    turn = engine.respond(button_event("svc:info:assafe-sikasso"), FR)
    assert catalog.render("services.unverified", "fr").text in turn.replies[-1].text


def test_every_answered_intent_has_a_message_in_every_locale(
    engine: Engine, catalog: Catalog
) -> None:
    for locale in ("fr", "bm", "en"):
        for intent in [
            "greet",
            "goodbye",
            "thanks",
            "bot_challenge",
            "privacy_question",
            "out_of_scope",
            "drug_info",
            "drug_risks",
            "help_friend",
            "parent_advice",
            "peer_pressure",
            "trafficking_info",
            "safe_migration",
            "rights",
            "find_legal_help",
        ]:
            turn = engine.respond(
                TextEvent("x y"), ChatState(locale=locale), understanding=understood(intent)
            )
            assert turn.topic == intent, (locale, intent)


def test_asking_for_a_person_leads_to_the_counselling_offer_in_every_locale(
    engine: Engine, catalog: Catalog
) -> None:
    for locale in ("fr", "bm", "en"):
        turn = engine.respond(
            TextEvent("x y"), ChatState(locale=locale), understanding=understood("talk_to_human")
        )
        assert turn.topic == "counsel.offer.intent", locale
        assert turn.replies, locale


@pytest.mark.parametrize(("text", "locale"), [("i ni su", "bm"), ("hey hi", "en")])
def test_a_short_greeting_is_answered_in_its_own_language(
    engine: Engine, text: str, locale: str
) -> None:
    turn = engine.respond(
        TextEvent(text), ChatState(), language_code="fr", understanding=understood("greet")
    )
    assert turn.state.locale == locale


def test_a_language_the_user_chose_wins_over_the_message(engine: Engine) -> None:
    chosen = ChatState(locale="fr", chosen_locale="fr")
    turn = engine.respond(TextEvent("hey hi"), chosen, understanding=understood("greet"))
    assert turn.state.locale == "fr"


def test_fear_of_prison_for_drugs_is_one_tap_from_the_rights_answer(
    engine: Engine, catalog: Catalog
) -> None:
    asked = engine.respond(
        TextEvent("si je demande de l'aide pour la drogue, je vais en prison ?"),
        FR,
        understanding=understood("rights"),
    )
    assert "show:rights.drug_help" in actions(asked.replies)
    card = engine.respond(button_event("show:rights.drug_help"), asked.state)
    assert card.replies[0].text == first_screen(catalog, "rights.drug_help")
    assert "intent:find_treatment" in actions(card.replies)
