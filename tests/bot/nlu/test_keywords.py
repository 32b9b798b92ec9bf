"""The keyword fallback reads drug names the way people type them."""

from __future__ import annotations

import pytest

from bot.nlu.keywords import drug_in_text
from bot.runtime import drug_names
from sini.settings import Settings


@pytest.mark.parametrize(
    ("text", "drug"),
    [
        ("c koi le yamba", "cannabis"),
        ("KUSH c dangereux ?", "cannabis"),
        ("mon frère prend du trama", "tramadol"),
        ("sirop à la codéine", "codeine"),
        ("n bɛ dɔlɔ min", "alcohol"),
        ("la colle ça fait quoi", "solvents"),
        ("bonjour", None),
        ("", None),
    ],
)
def test_the_nlu_s_own_synonyms_name_the_drug(
    settings: Settings, text: str, drug: str | None
) -> None:
    assert drug_in_text(text, drug_names(settings)) == drug
