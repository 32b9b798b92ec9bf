"""Long messages are read passage by passage, so their point is not lost."""

from __future__ import annotations

import pytest

from bot.nlu import Understanding
from bot.nlu.passages import PASSAGE_CHARACTERS, most_confident, passages
from bot.nlu.rasa_local import RasaLocalNLU

STORY = (
    "Bonjour, je prends du tramadol depuis deux ans pour travailler au marché et maintenant "
    "je veux arrêter mais j'ai peur du manque, comment faire pour arrêter le tramadol ? "
)
DAY = "Mes journées sont longues, je porte des sacs, je rentre tard et je suis fatigué. "


def test_a_short_message_is_one_passage() -> None:
    assert passages("comment arrêter le tramadol") == ["comment arrêter le tramadol"]


@pytest.mark.parametrize("length", [300, 1000, 5000])
def test_passages_keep_every_word_and_stay_short(length: int) -> None:
    text = (STORY + DAY * 80)[:length]
    cut = passages(text)
    assert all(len(p) <= PASSAGE_CHARACTERS for p in cut)
    assert " ".join(cut).split() == text.split()


def test_one_endless_word_is_still_cut() -> None:
    assert all(len(p) <= PASSAGE_CHARACTERS for p in passages("a" * 2000))


def test_a_topic_outvotes_a_passage_read_as_danger() -> None:
    readings = [
        Understanding("crisis", 0.7, (("crisis", 0.7),)),
        Understanding("quit_help", 0.6, (("quit_help", 0.6),)),
        Understanding("nlu_fallback", 0.9, (("nlu_fallback", 0.9),)),
    ]
    assert most_confident(readings).intent == "quit_help"


def test_a_thousand_character_message_about_quitting_is_understood(
    rasa_nlu: RasaLocalNLU,
) -> None:
    text = (STORY + DAY * 12)[:1000]
    reading = most_confident([rasa_nlu.parse_sync(p) for p in passages(text)])
    assert reading.intent == "quit_help"
