"""The crisis net: numbers first when sure, a check-in when unsure, and the ordinary
answer (with the line as footer) for questions about danger."""

from __future__ import annotations

import pytest

from bot.nlu import Understanding
from bot.nlu.crisis import CrisisNet, Reason, Verdict
from bot.nlu.safety import Crisis
from tests.conftest import crisis_net


@pytest.fixture(scope="module")
def net() -> CrisisNet:
    return crisis_net()


def reading(intent: str, confidence: float) -> Understanding:
    return Understanding(intent, confidence, ((intent, confidence),))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("jai pris 10 comprimés de tramadol je me sens tres mal", Crisis.OVERDOSE),
        ("je veux plus vivre franchement", Crisis.SELF_HARM),
        ("n b'a fε ka n yεrε faga", Crisis.SELF_HARM),
        ("ils m'ont enfermée et pris mon passeport", Crisis.HELD),
        ("he has a knife and says he will kill me", Crisis.VIOLENCE),
    ],
)
def test_danger_described_as_happening_is_a_crisis_before_the_nlu_is_asked(
    net: CrisisNet, text: str, kind: Crisis
) -> None:
    screened = net.screen(text)
    assert screened is not None
    assert (screened.verdict, screened.kind, screened.reason) == (
        Verdict.CRISIS,
        kind,
        Reason.PATTERN,
    )


@pytest.mark.parametrize(
    "text",
    ["c'est quoi les signes d'une overdose de tramadol", "can tramadol cause seizures?"],
)
def test_a_question_about_danger_gets_its_answer_with_the_line_as_footer(
    net: CrisisNet, text: str
) -> None:
    assert net.screen(text) is None
    assessment = net.assess(text, reading("drug_risks", 0.9))
    assert assessment.verdict is Verdict.NONE
    assert assessment.footer


@pytest.mark.parametrize(
    "text", ["j'ai failli mourir de rire avec cette vidéo", "ce quiz m'a tué 😂", "bonjour"]
)
def test_idioms_and_small_talk_are_never_taken_over(net: CrisisNet, text: str) -> None:
    assert net.assess(text, reading("out_of_scope", 0.9)).verdict is not Verdict.CRISIS


def test_a_danger_word_without_a_situation_gets_a_check_in(net: CrisisNet) -> None:
    assessment = net.assess("overdose", None)
    assert assessment.verdict is Verdict.CHECK_IN
    assert assessment.kind is Crisis.OVERDOSE


def test_the_nlu_alone_can_raise_a_crisis_or_a_check_in(net: CrisisNet) -> None:
    quiet = "ok"
    assert net.assess(quiet, reading("crisis", 0.95)).reason is Reason.NLU
    assert net.assess(quiet, reading("crisis", 0.95)).verdict is Verdict.CRISIS
    assert net.assess(quiet, reading("crisis", 0.5)).verdict is Verdict.CHECK_IN


def test_the_decision_is_the_same_every_time(net: CrisisNet) -> None:
    text = "mon frere dit qu il en a marre de tout"
    assert len({net.assess(text) for _ in range(5)}) == 1


@pytest.mark.parametrize("text", ["", "🙂🙂", "x" * 5000, "a\u200bb", "ναι", "٣٣٣"])
def test_odd_texts_are_assessed_without_error(net: CrisisNet, text: str) -> None:
    net.assess(text)
