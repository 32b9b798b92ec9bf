"""The crisis safety net catches acute danger in every language, however it is typed."""

from __future__ import annotations

import pytest

from bot.nlu.safety import Crisis, detect_crisis, normalise


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
        ("on m'a pris mon passeport et je ne peux pas partir", Crisis.HELD),
        ("they locked us in the house and took our passports", Crisis.HELD),
        ("n tɛ se ka bɔ, u ye n ka passeport ta", Crisis.HELD),
        ("un enfant est battu et enfermé chez le voisin", Crisis.CHILD),
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
        "bonjour",
    ],
)
def test_ordinary_questions_are_not_crises(text: str) -> None:
    assert detect_crisis(text) is None


def test_normalise_folds_accents_bambara_letters_and_sms() -> None:
    assert normalise("Jveu  MOURIIIR!!") == "je veux mourir"
    assert normalise("n b'a fɛ ka ɲɔgɔn dɛmɛ") == "n b a fe ka nyogon deme"
