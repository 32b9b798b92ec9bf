"""One normalisation for the crisis net, the language guess and the NLU input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.nlu.normalise import fold_lookalikes, normalise


def test_bambara_typed_with_greek_or_cyrillic_letters_reads_as_bambara() -> None:
    assert normalise("n b'a fε ka n yεrε faga") == "n b a fe ka n yere faga"
    assert normalise("n b'a fє ka n yєrє faga") == "n b a fe ka n yere faga"
    assert fold_lookalikes("n b'a fε ka ο dεmε") == "n b'a fɛ ka ɔ dɛmɛ"


def test_accents_sms_and_held_letters_are_folded() -> None:
    assert normalise("Jveu  MOURIIIR!!") == "je veux mourir"
    assert normalise("n b'a fɛ ka ɲɔgɔn dɛmɛ") == "n b a fe ka nyogon deme"
    assert normalise("jai pris 10 comprimés") == "j ai pris 10 comprimes"
    assert normalise("ŋaani") == "ngaani"


def test_invisible_characters_are_removed_and_held_letters_shortened_for_the_nlu() -> None:
    assert fold_lookalikes("tra\u200bma\u200bdol") == "tramadol"
    assert fold_lookalikes("nooooon") == "noon"
    assert fold_lookalikes("appelle") == "appelle"


def test_other_scripts_are_kept() -> None:
    assert normalise("مرحبا") == "مرحبا"


# ʼ (U+02BC) is a letter to Unicode but an apostrophe to anyone typing "bʼa".
words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12
).filter(lambda word: any(c.isalnum() and c != "ʼ" for c in word))


@given(st.text(max_size=80))
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@given(st.text(max_size=80))
def test_folding_lookalikes_is_idempotent(text: str) -> None:
    once = fold_lookalikes(text)
    assert fold_lookalikes(once) == once


@given(words)
def test_a_word_with_a_letter_or_digit_never_normalises_to_nothing(word: str) -> None:
    assert normalise(word)
