"""One normalisation for everything that reads a user's words.

Two stages, because the NLU model and the patterns want different things:

- `fold_lookalikes` keeps the text as the user meant it but repairs what the phone typed:
  Greek and Cyrillic look-alikes of ɛ and ɔ (ε, є, ο, о…), invisible characters, and
  letters held down ("nooooon"). The NLU reads this, so Bambara typed with a Greek ε
  reaches the model as ɛ, the letter it was trained on.
- `normalise` goes on to lower-case ASCII words for the crisis net and the language guess:
  accents and Bambara letters folded (ɛ→e, ɔ→o, ɲ→ny, ŋ→ng, so è/é typed for ɛ meet it),
  SMS spellings expanded, punctuation turned into spaces.

Letters of other scripts are kept, never dropped: a word that had a letter keeps one.
Both functions are idempotent (property-tested).
"""

from __future__ import annotations

import functools
import re
import unicodedata

from bambara_normalizer.utils import normalize_unicode_variants

# Look-alikes bambara-text-normalizer leaves alone: Greek omicron and Cyrillic letters that
# Latin keyboards' neighbours offer, mapped to the Latin or Bambara letter they imitate.
_MORE_LOOKALIKES = str.maketrans(
    {
        "ο": "ɔ",
        "Ο": "Ɔ",
        "о": "o",
        "О": "O",
        "а": "a",
        "А": "A",
        "е": "e",
        "Е": "E",
        "і": "i",
        "І": "I",
        "с": "c",
        "С": "C",
        "р": "p",
        "Р": "P",
        "х": "x",
        "Х": "X",
        "у": "y",
        "У": "Y",
        "ɳ": "ɲ",
    }
)
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# A letter held down: three or more become two ("nooon" → "noon", "mdrrrr" → "mdrr"),
# which keeps real double letters ("ɲɔgɔn", "appelle") as they are.
_HELD = re.compile(r"(\w)\1{2,}")
# Bambara letters, and the ligatures NFKD leaves whole ("cœur" is "coeur").
_TO_ASCII = str.maketrans(
    {"ɛ": "e", "ɔ": "o", "ɲ": "ny", "ŋ": "ng", "œ": "oe", "æ": "ae", "ß": "ss", "ø": "o"}
)
_SMS = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bjveu[xt]?\b|\bjve\b|\bje ve\b", "je veux"),
        (r"\bjpeu[xt]?\b|\bjpe\b", "je peux"),
        (r"\bjsui[s]?\b|\bchui\b|\bjsu\b", "je suis"),
        (r"\bjai\b|\bgai\b", "j ai"),
        (r"\bjme\b", "je me"),
        (r"\bjen\b", "j en"),
        (r"\bwanna\b", "want to"),
        (r"\bgonna\b", "going to"),
        (r"\bcant\b", "can t"),
        (r"\bdont\b", "don t"),
        (r"\bwont\b", "won t"),
        (r"\bim\b", "i m"),
        (r"\bpa\b", "pas"),
        (r"\bpu\b", "plus"),
        (r"\bmwa\b|\bmoa\b", "moi"),
        (r"\bkoi\b", "quoi"),
        (r"\bcest\b", "c est"),
    )
)
_APOSTROPHES = re.compile(r"[’'`´ʼ]")
# Anything that is neither a letter, a digit nor a space; "_" counts as punctuation.
_NOT_WORD = re.compile(r"[^\w ]|_")
_REPEATED = re.compile(r"(.)\1{2,}")
_SPACES = re.compile(r"\s+")


def _lookalikes(text: str) -> str:
    return normalize_unicode_variants(text).translate(_MORE_LOOKALIKES)


def _repair(text: str) -> str:
    # NFKC first: styled and full-width letters ("𝝾", "ｅ") become the letters they show.
    text = _lookalikes(unicodedata.normalize("NFKC", text))
    return _INVISIBLE.sub("", text)


def fold_lookalikes(text: str) -> str:
    """The text as meant: look-alike letters repaired, invisible characters removed,
    held-down letters shortened; case, accents and punctuation kept."""
    return _HELD.sub(r"\1\1", _repair(text))


@functools.lru_cache(maxsize=256)
def normalise(text: str) -> str:
    """Lower-case words for matching: look-alikes repaired, accents and Bambara letters
    folded to ASCII, SMS spellings expanded, letters repeated three times or more
    reduced to one, punctuation turned into spaces.

    Remembered for the last few texts: the crisis net and the language guess both
    normalise every message, one right after the other."""
    text = _repair(text)
    if not text.isascii():  # ASCII has nothing to decompose
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
        text = _lookalikes(text)  # decomposing can reveal one ("ὀ" → "ο")
    text = text.lower().translate(_TO_ASCII)
    text = _APOSTROPHES.sub(" ", text)
    text = _NOT_WORD.sub(" ", text)
    text = _REPEATED.sub(r"\1", text)
    for pattern, replacement in _SMS:
        text = pattern.sub(replacement, text)
    return _SPACES.sub(" ", text).strip()
