"""The crisis patterns see acute danger in every language, however it is typed, and tell
it from idioms and from questions about danger in general."""

from __future__ import annotations

import pytest

from bot.nlu.safety import Crisis, detect_crisis, scan


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mon ami a pris trop de tramadol il respire plus", Crisis.OVERDOSE),
        ("il est inconscient apres la drogue", Crisis.OVERDOSE),
        ("my friend took pills and is not breathing", Crisis.OVERDOSE),
        ("a te ninakili tugun, a ye tramadol caaman ta", Crisis.OVERDOSE),
        ("jveu mourir", Crisis.SELF_HARM),
        ("Je veux me suicider", Crisis.SELF_HARM),
        ("i wanna kill myself", Crisis.SELF_HARM),
        ("n b'a fɛ ka n yɛrɛ faga", Crisis.SELF_HARM),
        ("n b'a fe ka n yere faga", Crisis.SELF_HARM),
        ("n ye n bolo tigɛ ni lamu ye", Crisis.SELF_HARM),
        ("on m'a pris mon passeport et je ne peux pas partir", Crisis.HELD),
        ("they locked us in the house and took our passports", Crisis.HELD),
        ("n tɛ se ka bɔ, u ye n ka passeport ta", Crisis.HELD),
        ("baara tigi tɛ n to ka taa so", Crisis.HELD),
        ("un enfant est battu et enfermé chez le voisin", Crisis.CHILD),
        ("jai pris 10 comprimés de tramadol je me sens tres mal", Crisis.OVERDOSE),
        ("i took 12 pills an hour ago", Crisis.OVERDOSE),
        ("je veux plus vivre franchement", Crisis.SELF_HARM),
        ("n b'a fε ka n yεrε faga", Crisis.SELF_HARM),
        ("my husband is beating me right now", Crisis.VIOLENCE),
        ("ils veulent me tuer, ils sont devant la porte", Crisis.VIOLENCE),
    ],
)
def test_crisis_messages_are_caught(text: str, kind: Crisis) -> None:
    assert detect_crisis(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "c'est quoi le tramadol",
        "what are the effects of cannabis",
        "yamba ka jugu wa?",
        "comment arrêter l'alcool",
        "mon cousin a une offre de travail en Libye",
        "n ye jiri tigɛ kunun",  # I cut a tree yesterday
        "bonjour",
    ],
)
def test_ordinary_questions_are_not_crises(text: str) -> None:
    assert detect_crisis(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "j'ai failli mourir de rire avec cette vidéo",
        "ce quiz m'a tué",
        "ça me tue ce prof",
        "this exam is killing me",
        "ma mère va me tuer si je rentre tard",
    ],
)
def test_idioms_are_not_danger(text: str) -> None:
    assert scan(text).acute is None
    assert scan(text).topical is None


@pytest.mark.parametrize(
    "text",
    [
        "c'est quoi les signes d'une overdose de tramadol",
        "can tramadol cause seizures?",
        "comment aider quelqu'un qui pense au suicide ?",
    ],
)
def test_questions_about_danger_are_informational(text: str) -> None:
    signals = scan(text)
    assert signals.informational
    assert signals.acute is None
    assert signals.topical is not None


def test_a_question_that_says_now_is_not_general() -> None:
    assert not scan("que faire, il respire plus maintenant").informational
