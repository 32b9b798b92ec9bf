"""The Bambara glossary is well-formed and the Bambara catalog follows it."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.content import ContentError
from bot.content.glossary import Term, french_left, load_glossary
from bot.services import Service
from sini.settings import PROJECT_ROOT

GLOSSARY = PROJECT_ROOT / "responses" / "glossary.bm.yml"
BM_CATALOG = PROJECT_ROOT / "locales" / "bm" / "LC_MESSAGES" / "messages.po"


@pytest.fixture(scope="module")
def glossary() -> tuple[Term, ...]:
    return load_glossary(GLOSSARY)


def test_every_entry_names_its_french_words_its_choice_and_why(glossary: tuple[Term, ...]) -> None:
    assert len(glossary) > 20
    for term in glossary:
        assert term.french
        assert term.why
        assert term.keep or term.bambara
    forms = [form.casefold() for term in glossary for form in term.french]
    assert len(forms) == len(set(forms)), "a French word listed twice"


def test_the_bambara_catalog_uses_the_glossary_words(
    glossary: tuple[Term, ...], services: list[Service]
) -> None:
    names = {n for s in services for n in (s.name, s.short_name) if n}
    with BM_CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="bm")
    problems = []
    for entry in catalog:
        if not entry.id:
            continue
        msgid = entry.id if isinstance(entry.id, str) else entry.id[0]
        texts = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        for text in texts:
            for hit in french_left(text, glossary, names):
                problems.append(f"{msgid[:40]!r}: {hit.word!r} → {hit.term.bambara}")
    assert problems == [], f"{len(problems)} French words in Bambara messages:\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("I kana wari di « recruteur » ma.", ["recruteur"]),  # a scare-quoted word is checked
        ("Ni i ye numérow sɔrɔ", ["numérow"]),  # with a Bambara plural
        ("Taa centre de santé la", ["centre de santé"]),  # a phrase, not « santé » again
        ("« drogue synthétique » tɔgɔ don", []),  # a quotation
        ("Ni farati bɛ yen: /urgence", []),  # a command
        ("Tɛmɛ Comité national de lutte contre la traite fɛ", []),  # a kept name
        ("Tramadol ye fura ye, Telegram, MILD", []),  # kept words, acronyms
        ("Police secours walima polisi", []),  # a service name
    ],
)
def test_what_the_check_counts_as_french_left(
    glossary: tuple[Term, ...], text: str, found: list[str]
) -> None:
    hits = french_left(text, glossary, names=["Police secours"])
    assert [hit.word for hit in hits] == found


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ("- {french: [drogue], why: x}", "bambara"),  # neither bambara nor keep
        ("- {french: [drogue], bambara: dɔrɔgu, keep: true, why: x}", "bambara"),  # both
        ("- {french: [drogue], bambara: dɔrɔgu}", "why"),
        ("- {french: [], bambara: dɔrɔgu, why: x}", "french"),
        ("- {french: [drogue], bambara: dɔrɔgu, why: x, uncertain: true}", "note"),
    ],
)
def test_a_malformed_entry_is_reported_at_its_line(tmp_path: Path, entry: str, field: str) -> None:
    path = tmp_path / "glossary.bm.yml"
    path.write_text(f"terms:\n  {entry}\n", encoding="utf-8")
    with pytest.raises(ContentError, match=rf"glossary\.bm\.yml:2: {field}:"):
        load_glossary(path)
