"""A message's own language is the reply language, short messages included."""

from __future__ import annotations

import pytest

from bot.nlu.language import guess_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("i ni su", "bm"),
        ("i ni sɔgɔma", "bm"),
        ("barika", "bm"),
        ("n b'a fε ka n yεrε faga", "bm"),
        ("hey hi", "en"),
        ("good morning", "en"),
        ("How far, anybody dey here?", "en"),
        ("Wetin be kush? Dem dey talk am for area", "en"),
        ("bonjour", "fr"),
        ("slt cv", "fr"),
        ("comment arrêter le tramadol", "fr"),
    ],
)
def test_the_language_a_message_is_written_in(text: str, language: str) -> None:
    assert guess_language(text) == language


@pytest.mark.parametrize("text", ["ok", "🙂", "", "tramadol", "yamba cannabis kush"])
def test_no_guess_without_a_clear_lead(text: str) -> None:
    assert guess_language(text) is None
