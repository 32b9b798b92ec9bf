"""Quizzes in the conversation: every answer teaches, the end gives a score."""

from __future__ import annotations

from bot.awareness import QuizProgress
from bot.content import Catalog
from bot.dialogue.engine import Engine
from bot.dialogue.events import CommandEvent, button_event
from bot.dialogue.state import ChatState

FR = ChatState(locale="fr")


def test_quiz_lists_every_quiz(engine: Engine) -> None:
    (reply,) = engine.respond(CommandEvent("quiz"), FR).replies
    starts = [b.action for row in reply.buttons for b in row if b.action.startswith("quiz:")]
    assert len(starts) == 6


def test_a_full_quiz_explains_every_answer_and_ends_with_a_score(
    engine: Engine, catalog: Catalog
) -> None:
    turn = engine.respond(button_event("quiz:tramadol"), FR)
    assert turn.quiz == ("started", "tramadol", 0)
    right = wrong = 0
    for _ in range(5):
        question = turn.replies[-1]
        first = question.buttons[0][0].action
        turn = engine.respond(button_event(first), turn.state)
        feedback = turn.replies[0].text
        right += catalog.render("quiz.right", "fr").text in feedback
        wrong += feedback.startswith("❌")
    assert right + wrong == 5
    assert turn.quiz == ("completed", "tramadol", right)
    assert f"{right}/5" in turn.replies[-1].text


def test_a_replay_asks_in_a_new_order(engine: Engine) -> None:
    first = engine.respond(button_event("quiz:cannabis"), FR)
    again = engine.respond(button_event("quiz:cannabis"), first.state)
    order = lambda turn: QuizProgress.loads(turn.state.quiz).order  # noqa: E731
    assert order(first) != order(again)


def test_stale_or_forged_quiz_buttons_are_refused_kindly(engine: Engine, catalog: Catalog) -> None:
    turn = engine.respond(button_event("quiz:alcohol"), FR)
    answer = turn.replies[-1].buttons[0][0].action
    moved_on = engine.respond(button_event(answer), turn.state)
    for data in [answer, "quiz:nope", "quiz:alcohol:9:9:9", "quiz:alcohol:x"]:
        reply = engine.respond(button_event(data), moved_on.state).replies[0]
        assert reply.text == catalog.render("error.expired_button", "fr").text


def test_a_campaign_link_opens_its_quiz(engine: Engine, catalog: Catalog) -> None:
    turn = engine.respond(
        CommandEvent("start", "radio-kayes"), FR, campaign=("radio-kayes", "rights", None)
    )
    assert turn.state.campaign == "radio-kayes"
    assert turn.replies[0].text == catalog.render("welcome", "fr").text
    assert turn.quiz == ("started", "rights", 0)


def test_subscribing_asks_for_consent_first(engine: Engine) -> None:
    (consent,) = engine.respond(CommandEvent("abonner"), FR).replies
    assert "do:subscribe_yes" in [b.action for row in consent.buttons for b in row]
    assert engine.respond(button_event("do:subscribe_yes"), FR).effect is not None


def test_a_bambara_poster_opens_its_quiz_in_bambara(engine: Engine, catalog: Catalog) -> None:
    turn = engine.respond(
        CommandEvent("start", "affiche-bm"), FR, campaign=("affiche-bm", "tramadol", "bm")
    )
    assert turn.state.locale == "bm"
    assert turn.replies[0].text == catalog.render("welcome", "bm").text
