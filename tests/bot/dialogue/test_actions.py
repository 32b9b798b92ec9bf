"""Buttons' callback data: every action is written and read back in one module, in the
strings earlier versions wrote, within Telegram's 64 bytes; anything else is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.awareness import AnswerChoice, QuizProgress, StartQuiz, choice_buttons, start_callback
from bot.content import Catalog
from bot.dialogue.actions import (
    MAX_CALLBACK_BYTES,
    Action,
    AskIntent,
    Confirm,
    Do,
    FollowupButton,
    MoreServices,
    PickKind,
    RegionPage,
    ReportButton,
    ReportCategory,
    ReportRegion,
    ReportWhen,
    ServiceInfo,
    ServicesIn,
    SetLanguage,
    Show,
    UnknownAction,
    decode,
    encode,
)
from bot.dialogue.engine import Engine
from bot.dialogue.events import button_event as decode_button
from bot.dialogue.state import ChatState
from bot.services import Service
from sini.regions import Region
from tests.support.callbacks import KNOWN_ACTIONS
from tips.model import Category, When

# What buttons already sitting in people's chats carry, and what they must still mean.
TODAYS_STRINGS: dict[str, Action] = {
    "do:menu": Do.MENU,
    "do:subscribe_yes": Do.SUBSCRIBE_YES,
    "confirm:report": Confirm.REPORT,
    "show:drug.tramadol.about": Show("drug.tramadol.about"),
    "lang:bm": SetLanguage("bm"),
    "intent:drug_risks": AskIntent("drug_risks"),
    "svc:kind:treatment": PickKind("treatment"),
    "svc:kind:any": PickKind(None),
    "svc:reg:Nioro du Sahel": ServicesIn("Nioro du Sahel"),
    "svc:regs:5": RegionPage(5),
    "svc:more:Bamako:3": MoreServices("Bamako", 3),
    "svc:info:chu-point-g-psychiatrie": ServiceInfo("chu-point-g-psychiatrie"),
    "rep:start": ReportButton.START,
    "rep:send": ReportButton.SEND,
    "rep:cat:drug_trafficking": ReportCategory(Category.DRUG_TRAFFICKING),
    "rep:reg:Kayes": ReportRegion("Kayes"),
    "rep:reg:unknown": ReportRegion(None),
    "rep:when:ongoing": ReportWhen(When.ONGOING),
    "fol:add": FollowupButton.ADD,
    "quiz:tramadol": StartQuiz("tramadol"),
    "quiz:tramadol:0:3:1": AnswerChoice("tramadol", 0, 3, 1),
}
# One of every kind of action, with each value its field can take.
EVERY_ACTION: list[Action] = [
    *Do,
    *Confirm,
    *ReportButton,
    *FollowupButton,
    *(ReportCategory(category) for category in Category),
    *(ReportWhen(when) for when in When),
    *(ReportRegion(label) for label in (*(r.label for r in Region), None)),
    *(ServicesIn(region.label) for region in Region),
    *(MoreServices(region.label, 999) for region in Region),
    PickKind(None),
    RegionPage(0),
    Show("drug.tramadol.about"),
    SetLanguage("fr"),
    AskIntent("find_treatment"),
    StartQuiz("tramadol"),
    AnswerChoice("tramadol", 9, 9, 3),
]


@pytest.mark.parametrize(("data", "action"), TODAYS_STRINGS.items())
def test_the_strings_earlier_versions_wrote_still_decode(data: str, action: Action) -> None:
    assert decode(data) == action
    assert encode(action) == data


def test_actions_of_different_kinds_are_never_equal() -> None:
    """The engine matches actions by value (`case Confirm.REPORT:`): "do:report" and
    "confirm:report" share the word "report" and must still be two actions."""
    for first in EVERY_ACTION:
        for second in EVERY_ACTION:
            if type(first) is not type(second):
                assert first != second, (first, second)


def test_the_menus_report_button_opens_the_report_not_the_question_asked_after_a_typed_one(
    engine: Engine,
) -> None:
    turn = engine.respond(decode_button("do:report"), ChatState(), language_code="fr")
    assert turn.topic == "report"
    assert turn.state.pending is None


@pytest.mark.parametrize("action", EVERY_ACTION, ids=repr)
def test_every_action_round_trips_within_telegrams_limit(action: Action) -> None:
    data = encode(action)
    assert len(data.encode()) <= MAX_CALLBACK_BYTES
    assert decode(data) == action


def test_every_service_and_its_kinds_have_buttons_that_round_trip(
    services: list[Service],
) -> None:
    for service in services:
        assert decode(encode(ServiceInfo(service.id))) == ServiceInfo(service.id)
        for kind in service.kinds:
            assert decode(encode(PickKind(kind))) == PickKind(kind)


def test_the_content_and_the_quizzes_write_readable_buttons(
    catalog: Catalog, engine: Engine
) -> None:
    for message_id in catalog.ids:
        for row in catalog.message(message_id).buttons:
            for button in row:
                decode(button.action)
    for quiz in engine.quizzes.quizzes.values():
        assert decode(start_callback(quiz.id)) == StartQuiz(quiz.id)
        progress = QuizProgress(quiz.id, tuple(range(len(quiz.questions))), 0, 0)
        for _, data in choice_buttons(quiz, progress):
            assert isinstance(decode(data), AnswerChoice)


@pytest.mark.parametrize(
    "data",
    [
        "",
        ":",
        "do:nothing",
        "do:menu:extra",
        "rep",
        "rep:cat",
        "rep:cat:bogus",
        "rep:when:tomorrow",
        "svc:regs:-5",
        "svc:regs:²",  # a digit to str.isdigit, not to Sini
        "svc:more:Bamako:x",
        "svc:more:",
        "svc:info:",
        "quiz:x:1:2",
        "show:",
        "show:a:b",
        "x" * 300,
        "svc:reg:" + "é" * 30,  # 68 bytes
    ],
)
def test_data_sini_never_writes_is_refused_with_one_error(data: str) -> None:
    with pytest.raises(UnknownAction):
        decode(data)


@given(st.one_of(st.sampled_from(KNOWN_ACTIONS), st.text(max_size=80)))
def test_decoding_anything_gives_an_action_that_encodes_back_or_unknown_action(
    data: str,
) -> None:
    try:
        action = decode(data)
    except UnknownAction:
        return
    assert decode(encode(action)) == action


def test_an_action_that_cannot_travel_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="64-byte"):
        encode(Show("x" * 70))
    with pytest.raises(ValueError, match="cannot be written"):
        encode(ServicesIn("a:b"))
    with pytest.raises(ValueError, match="cannot be written"):
        encode(Show(""))
