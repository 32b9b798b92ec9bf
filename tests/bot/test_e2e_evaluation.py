"""The blind evaluation scores what a user gets, and the blind set is fit to judge."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.dialogue.replies import Reply, Turn
from bot.dialogue.state import ChatState
from bot.e2e_evaluation import BlindMessage, figures, judge, load_blind_set
from sini.settings import PROJECT_ROOT

NUMBER = "80 00 11 15"


def turn(topic: str, first: str = "…", locale: str = "fr") -> Turn:
    return Turn((Reply(first),), ChatState(locale=locale), topic=topic)


@pytest.mark.parametrize("folder", ["blind", "blind3"])  # blind2 has few mixed messages
def test_every_blind_set_is_large_varied_and_well_formed(folder: str) -> None:
    messages = load_blind_set(PROJECT_ROOT / "nlu" / folder)
    languages = Counter(m.language for m in messages)
    crises = [m for m in messages if m.crisis]
    assert len(messages) >= 300
    assert len(crises) >= 60
    assert {m.crisis for m in crises} == {"overdose", "self_harm", "held", "child", "violence"}
    assert sum(m.lookalike for m in messages) >= 30
    assert languages["bm"] >= 0.25 * len(messages)
    assert languages["mixed"] >= 0.20 * len(messages)


def test_a_crisis_is_answered_when_the_first_reply_carries_the_number() -> None:
    crisis = BlindMessage(text="…", language="fr", expect="crisis", crisis="overdose")
    full = judge(crisis, turn("crisis.overdose", f"🆘 … {NUMBER}"), NUMBER)
    check_in = judge(crisis, turn("checkin", f"🆘 … {NUMBER}\n…?"), NUMBER)
    silent = judge(crisis, turn("peer_pressure"), NUMBER)
    assert full.right
    assert check_in.right
    assert not silent.right
    numbers = figures([full, check_in, silent])
    assert numbers["silent_misses"] == 1
    assert numbers["crisis_check_in"] == 1 / 3


def test_an_ordinary_message_must_get_its_topic_without_a_takeover() -> None:
    question = BlindMessage(
        text="…", language="en", expect="drug_risks", also=("help_friend",), lookalike=True
    )
    assert judge(question, turn("drug_risks", locale="en"), NUMBER).right
    assert judge(question, turn("help_friend", locale="en"), NUMBER).right
    taken_over = judge(question, turn("crisis.overdose", NUMBER, "en"), NUMBER)
    asked = judge(question, turn("checkin", NUMBER, "en"), NUMBER)
    french = judge(question, turn("drug_risks", locale="fr"), NUMBER)
    numbers = figures([taken_over, asked, french])
    assert numbers["ordinary_takeovers"] == 1 / 3
    assert numbers["lookalike_takeovers"] == 1
    assert numbers["ordinary_check_ins"] == 1 / 3
    assert numbers["reply_language_right"] == 2 / 3


def test_asking_for_a_person_is_answered_by_the_counselling_consent() -> None:
    message = BlindMessage(text="…", language="bm", expect="talk_to_human")
    assert judge(message, turn("counsel.offer.intent", locale="bm"), NUMBER).right


def test_a_report_flow_opened_unasked_is_counted() -> None:
    message = BlindMessage(text="…", language="fr", expect="rights")
    numbers = figures([judge(message, turn("report"), NUMBER)])
    assert numbers["report_opened_unasked"] == 1
