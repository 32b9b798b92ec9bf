"""Finding help never dead-ends: every region answers every kind asked with a local service
or the nearest ones elsewhere and what to do locally, ranked for the person asking, in
answers that fit a phone."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bot.content import LOCALES, Catalog
from bot.dialogue.cards import PHONE_TEXT_LIMIT
from bot.dialogue.engine import ASKED_KINDS, MAX_BUTTONS, Engine
from bot.dialogue.events import LocationEvent, button_event
from bot.dialogue.replies import Reply, Turn
from bot.dialogue.state import ChatState
from bot.services import Service
from bot.services.ranking import offers_exactly
from sini.regions import Region

ZERO_KM = re.compile(r"(?<![\d,.])0[,.]0 km")
# A grid over Mali (and its towns): where people share their location from.
GRID = [
    (lat, lon)
    for lat in (10.5, 11.3167, 12.6392, 13.45, 14.4958, 16.264, 18.44, 22.68)
    for lon in (-11.4453, -8.0029, -5.6667, -4.1986, -0.028, 2.40)
]


def buttons(reply: Reply) -> list[str]:
    return [button.action for row in reply.buttons for button in row]


def region_answer(engine: Engine, region: Region, kind: str | None, locale: str = "fr") -> Turn:
    state = ChatState(locale=locale, service_kind=kind)
    return engine.respond(button_event(f"svc:reg:{region.label}"), state)


def all_pages(engine: Engine, region: Region, kind: str | None, locale: str) -> Iterator[Reply]:
    """The region's answer and every "Plus…" page after it."""
    state = ChatState(locale=locale, service_kind=kind)
    reply = region_answer(engine, region, kind, locale).replies[0]
    yield reply
    while more := [a for a in buttons(reply) if a.startswith("svc:more:")]:
        reply = engine.respond(button_event(more[0]), state).replies[0]
        yield reply


def listed(reply: Reply, services: list[Service]) -> list[Service]:
    by_id = {service.id: service for service in services}
    return [by_id[a.removeprefix("svc:info:")] for a in buttons(reply) if a.startswith("svc:info:")]


# --- no dead ends -----------------------------------------------------------------------


@pytest.mark.parametrize("region", list(Region))
@pytest.mark.parametrize("kind", ASKED_KINDS)
def test_every_region_gets_a_service_of_the_kind_or_the_nearest_elsewhere(
    engine: Engine, catalog: Catalog, services: list[Service], region: Region, kind: str
) -> None:
    reply = region_answer(engine, region, kind).replies[0]
    offered = listed(reply, services)
    assert any(offers_exactly(s, kind) for s in offered), (region, kind, reply.text)
    local = [s for s in offered if s.region is region and offers_exactly(s, kind)]
    if not local:
        assert catalog.render("services.nearest_elsewhere", "fr").text in reply.text
        far = next(s for s in offered if offers_exactly(s, kind))
        assert re.search(rf"à \d[\d\u00a0\u202f ]* km, à {re.escape(str(far.town))}", reply.text), (
            reply.text
        )
        assert "Sur place" in reply.text  # what to do locally
        assert "CSCom" in reply.text


def test_sikasso_asking_for_rehab_is_told_about_point_g_and_how_far_it_is(
    engine: Engine, catalog: Catalog
) -> None:
    text = region_answer(engine, Region.SIKASSO, "treatment").replies[0].text
    assert "Point G" in text
    assert re.search(r"à 29\d km, à Bamako", text)
    assert "imam" in text
    assert "80 00 11 15" in text  # the emergency line still closes the answer
    assert catalog.render("services.none_in_region", "fr", kind="x", region="y").text not in text


@pytest.mark.parametrize("locale", LOCALES)
def test_the_nearest_elsewhere_answer_is_written_in_every_language(
    engine: Engine, catalog: Catalog, locale: str
) -> None:
    text = region_answer(engine, Region.MOPTI, "treatment", locale).replies[0].text
    local_help = catalog.render("services.local_help", locale).text
    elsewhere = catalog.render("services.nearest_elsewhere", locale).text
    assert local_help in text
    assert elsewhere in text
    assert "Point G" in text
    if locale != "fr":
        assert local_help != catalog.render("services.local_help", "fr").text


def test_victims_far_from_any_shelter_are_told_what_to_do_locally(
    engine: Engine, catalog: Catalog
) -> None:
    text = region_answer(engine, Region.KIDAL, "shelter").replies[0].text
    assert catalog.render("services.local_help_victims", "fr").text in text
    assert "80 00 11 32" in text  # the national victims' line fits this need


def test_a_region_with_the_kind_lists_its_own_services_first(
    engine: Engine, services: list[Service]
) -> None:
    reply = region_answer(engine, Region.GAO, "shelter").replies[0]
    assert all(s.region is Region.GAO for s in listed(reply, services))
    assert "Sur place" not in reply.text


# --- ranking for the person asking -----------------------------------------------------


def test_a_location_in_bamako_without_a_kind_never_starts_with_the_drug_squad(
    engine: Engine, services: list[Service]
) -> None:
    reply = engine.respond(LocationEvent(12.6392, -8.0029), ChatState(locale="fr")).replies[0]
    offered = listed(reply, services)
    assert offered[0].id == "chu-point-g-psychiatrie"
    assert not any(s.enforcement for s in offered)
    assert "OCS" not in reply.text


@pytest.mark.parametrize("kind", [*ASKED_KINDS, None])
def test_the_police_is_never_offered_as_care(
    engine: Engine, services: list[Service], kind: str | None
) -> None:
    for region in Region:
        for reply in all_pages(engine, region, kind, "fr"):
            assert not any(s.enforcement for s in listed(reply, services)), (region, kind)


def test_the_drug_squad_is_listed_when_emergency_services_are_asked_for(
    engine: Engine, services: list[Service]
) -> None:
    offered = [
        s.id
        for reply in all_pages(engine, Region.BAMAKO, "emergency", "fr")
        for s in listed(reply, services)
    ]
    assert "ocs-direction-bamako" in offered


def test_for_drug_use_treatment_comes_first_then_listening(
    engine: Engine, services: list[Service]
) -> None:
    state = ChatState(locale="fr", service_kind="treatment")
    reply = engine.respond(LocationEvent(12.6392, -8.0029), state).replies[0]
    kinds = [s.kinds for s in listed(reply, services)]
    assert "treatment" in kinds[0]
    assert all("treatment" in k or "psychosocial" in k for k in kinds)


def test_for_trafficking_victim_assistance_comes_first(
    engine: Engine, services: list[Service]
) -> None:
    state = ChatState(locale="fr", service_kind="victim_assistance")
    reply = engine.respond(LocationEvent(12.6392, -8.0029), state).replies[0]
    assert "victim_assistance" in listed(reply, services)[0].kinds


def test_far_from_everything_the_answer_gives_distances_and_local_help(
    engine: Engine, catalog: Catalog
) -> None:
    state = ChatState(locale="fr", service_kind="treatment")
    text = engine.respond(LocationEvent(16.7666, -3.0026), state).replies[0].text  # Tombouctou
    assert re.search(r"à \d[\d\u00a0\u202f ]* km, à Bamako", text)
    assert catalog.render("services.local_help", "fr").text in text


# --- distances only where precision allows ----------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_no_answer_ever_says_zero_km(engine: Engine, locale: str) -> None:
    for kind in [*ASKED_KINDS, None, "emergency"]:
        state = ChatState(locale=locale, service_kind=kind)
        for lat, lon in GRID:
            text = engine.respond(LocationEvent(lat, lon), state).replies[0].text
            assert not ZERO_KM.search(text), (lat, lon, kind, text)
        for region in Region:
            for reply in all_pages(engine, region, kind, locale):
                assert not ZERO_KM.search(reply.text), (region, kind)


def test_in_the_same_town_the_answer_names_the_town(engine: Engine, catalog: Catalog) -> None:
    state = ChatState(locale="fr", service_kind="treatment")
    text = engine.respond(LocationEvent(12.6392, -8.0029), state).replies[0].text
    assert "CHU du Point G, psychiatrie — à Bamako" in text
    english = engine.respond(LocationEvent(12.6392, -8.0029), replace_locale(state, "en"))
    assert "in Bamako" in english.replies[0].text


def replace_locale(state: ChatState, locale: str) -> ChatState:
    return ChatState(locale=locale, service_kind=state.service_kind)


# --- answers that fit a phone -------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_every_service_answer_fits_a_phone(engine: Engine, locale: str) -> None:
    for kind in [*ASKED_KINDS, None, "emergency"]:
        state = ChatState(locale=locale, service_kind=kind)
        replies = [engine.respond(LocationEvent(lat, lon), state).replies[0] for lat, lon in GRID]
        for region in Region:
            replies.extend(all_pages(engine, region, kind, locale))
        for reply in replies:
            assert len(reply.text) <= PHONE_TEXT_LIMIT, (kind, len(reply.text), reply.text)
            assert len(buttons(reply)) <= MAX_BUTTONS, (kind, buttons(reply))


@pytest.mark.parametrize("locale", LOCALES)
def test_every_service_card_opens_in_messages_that_fit_a_phone(
    engine: Engine, catalog: Catalog, services: list[Service], locale: str
) -> None:
    for service in services:
        turn = engine.respond(button_event(f"svc:info:{service.id}"), ChatState(locale=locale))
        assert turn.topic == "services.info"
        assert service.name in turn.replies[0].text
        for reply in turn.replies:
            assert len(reply.text) <= PHONE_TEXT_LIMIT
            assert len(buttons(reply)) <= MAX_BUTTONS
        if not service.verified:
            unverified = catalog.render("services.unverified", locale).text
            assert unverified in "\n".join(r.text for r in turn.replies)


def test_the_region_picker_pages_through_all_regions_six_buttons_at_a_time(
    engine: Engine,
) -> None:
    asked = engine.respond(button_event("svc:kind:treatment"), ChatState(locale="fr"))
    picker = asked.replies[1]
    assert buttons(picker)[0] == "svc:reg:Bamako"
    seen: list[str] = []
    while True:
        assert len(buttons(picker)) <= MAX_BUTTONS
        seen += [a.removeprefix("svc:reg:") for a in buttons(picker) if a.startswith("svc:reg:")]
        (more,) = [a for a in buttons(picker) if a.startswith("svc:regs:")]
        if more == "svc:regs:0":
            break
        picker = engine.respond(button_event(more), asked.state).replies[0]
    assert sorted(seen) == sorted(region.label for region in Region)
    assert engine.respond(button_event("svc:regs:99"), asked.state).topic == "bad_button"


def test_plus_pages_through_every_service_once(engine: Engine, services: list[Service]) -> None:
    pages = list(all_pages(engine, Region.BAMAKO, None, "fr"))
    assert len(pages) > 1
    shown = [s.id for page in pages for s in listed(page, services)]
    assert len(shown) == len(set(shown))
    bamako_care = [s for s in services if s.region is Region.BAMAKO and not s.enforcement]
    assert set(shown) == {s.id for s in bamako_care}


def test_forged_pages_and_cards_get_the_expired_button_answer(engine: Engine) -> None:
    for action in ("svc:more:Atlantis:2", "svc:more:Bamako:x", "svc:info:nope", "svc:more:"):
        turn = engine.respond(button_event(action), ChatState(locale="fr"))
        assert turn.topic == "bad_button", action
