"""Finding known names in free text typed the way people in Mali type.

Place names and drug names arrive with or without accents and Bambara letters, in any
case, hyphenated or not ("Ségou"/"segou", "Mɔpti"/"Mopti", "marie-jeanne"/"marie jeanne").
Both the regions registry (`sini.regions`) and the NLU's keyword fallback compare folded
forms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")

_BAMBARA_LETTERS = str.maketrans(
    {"ɛ": "e", "Ɛ": "e", "ɔ": "o", "Ɔ": "o", "ɲ": "ny", "Ɲ": "ny", "ŋ": "ng", "Ŋ": "ng"}
)
_SEPARATORS = re.compile(r"[\s\-_'’.,]+")


def fold(text: str) -> str:
    """Compare-friendly form of a name: no case, accents, Bambara letters or hyphens.

    "Ségou", "SEGOU" and "segou" fold alike, so do "Mɔpti"/"Mopti" and
    "Gourma-Rharous"/"gourma rharous": users type without accents, the NLU may return
    either its canonical value or the text it saw.
    """
    text = text.translate(_BAMBARA_LETTERS)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char))
    return _SEPARATORS.sub(" ", text.casefold()).strip()


def find_named(text: str, table: Mapping[str, T], longest: int = 4) -> T | None:
    """The value of the first name of `table` (keys folded) found in `text`, trying
    longer word runs first so that "Commune II" wins over "II"."""
    words = fold(text).split()
    for size in range(min(longest, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            value = table.get(" ".join(words[start : start + size]))
            if value is not None:
                return value
    return None
