"""The Bambara glossary (`responses/glossary.bm.yml`) and the check that applies it.

The glossary names the Bambara word for each recurring French word of the domain, or says
the French word is kept on purpose (a name, an acronym, a drug's international name).
`french_left` finds the listed French words still written in a Bambara text; the content
tests run it over the whole `bm` catalog, so a translation that slips back into French fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.yamlfile import ContentError, line_of, load_yaml


@dataclass(frozen=True)
class Term:
    """One glossary entry: French forms, and the Bambara word to use or `keep`."""

    french: tuple[str, ...]
    bambara: str | None  # None when the French word is kept
    why: str
    uncertain: bool = False

    @property
    def keep(self) -> bool:
        return self.bambara is None


@dataclass(frozen=True)
class Hit:
    """A listed French word found in a Bambara text."""

    word: str
    term: Term


# Spans that are not Bambara prose and may hold French words: a quotation of two words or
# more («…», "…": a saying, a button's label, a French name; a single quoted word is a term
# in scare quotes and is checked), a /command the user types, a {placeholder}, and an acronym.
_QUOTED = re.compile(r"«\s*[^»\s]+(?:\s+[^»\s]+)+\s*»|\"[^\"\s]+(?:\s+[^\"\s]+)+\"")
_NOT_PROSE = re.compile(r"/\w+|\{\w+\}|\b[A-Z][A-Z0-9-]+\b")
_SPACES = r"\s+"


def load_glossary(path: Path) -> tuple[Term, ...]:
    """Parse the glossary; a malformed entry is a ContentError at its line."""
    data = load_yaml(path)
    entries = data.get("terms") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ContentError(path, line_of(data), "terms", "must be a non-empty list")
    return tuple(_term(entry, path) for entry in entries)


def _term(entry: Any, path: Path) -> Term:
    line = line_of(entry)
    if not isinstance(entry, dict):
        raise ContentError(path, line, "terms", "each entry is a mapping")
    french = entry.get("french")
    forms = [_text(f) for f in french] if isinstance(french, list) else []
    if not forms or None in forms:
        raise ContentError(path, line, "french", "must be a non-empty list of words")
    bambara, keep = entry.get("bambara"), entry.get("keep")
    if (keep is True) == (bambara is not None) or (bambara is not None and not _text(bambara)):
        raise ContentError(path, line, "bambara", "give either `bambara: <word>` or `keep: true`")
    why = _text(entry.get("why"))
    if why is None:
        raise ContentError(path, line, "why", "say why this word was chosen or kept")
    uncertain = entry.get("uncertain", False) is True
    if uncertain and _text(entry.get("note")) is None:
        raise ContentError(path, line, "note", "an uncertain entry says what is unsure")
    return Term(tuple(f for f in forms if f), _text(bambara), why, uncertain)


def _text(value: Any) -> str | None:
    """A non-empty string, stripped, or None."""
    return value.strip() or None if isinstance(value, str) else None


def french_left(text: str, glossary: Sequence[Term], names: Iterable[str] = ()) -> list[Hit]:
    """The listed French words in a Bambara `text`, outside `names` (e.g. the directory's
    service names), the glossary's kept phrases, quotations, commands and acronyms."""
    exempt = sorted(
        {*names, *(f for term in glossary if term.keep for f in term.french)}, key=len, reverse=True
    )
    for phrase in exempt:  # longest first, so a name is masked before the words inside it
        text = re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", " ", text, flags=re.IGNORECASE)
    text = _NOT_PROSE.sub(" ", _QUOTED.sub(" ", text))
    forms = [(form, term) for term in glossary if not term.keep for form in term.french]
    hits = []
    # Longest first, so "centre de santé" is one hit and not also "santé".
    for form, term in sorted(forms, key=lambda pair: len(pair[0]), reverse=True):
        # A Bambara plural -w may be glued to the French word (numérow, recruteurw).
        words = _SPACES.join(map(re.escape, form.split()))
        pattern = rf"(?<!\w){words}w?(?!\w)"
        hits += [Hit(match.group(), term) for match in re.finditer(pattern, text, re.IGNORECASE)]
        text = re.sub(pattern, " ", text, flags=re.IGNORECASE)
    return hits
