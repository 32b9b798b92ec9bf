"""The crisis safety net: patterns that catch acute danger whatever the classifier says.

It runs before and beside the NLU on every free-text message, in French, Bambara and
English, on text normalised for accents, Bambara letters, SMS spelling and repeated
letters. A hit means the answer starts with emergency numbers. It is deliberately
generous: a false alarm costs one extra message, a miss can cost a life.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from enum import Enum


class Crisis(str, Enum):
    """Kinds of acute danger, each with its own first-aid message."""

    OVERDOSE = "overdose"
    SELF_HARM = "self_harm"
    HELD = "held"
    CHILD = "child"


_BAMBARA_LETTERS = str.maketrans({"ɛ": "e", "ɔ": "o", "ɲ": "ny", "ŋ": "ng", "Ɛ": "e", "Ɔ": "o"})
_SMS = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bjveu[xt]?\b|\bjve\b|\bje ve\b", "je veux"),
        (r"\bjpeu[xt]?\b|\bjpe\b", "je peux"),
        (r"\bjsui[s]?\b|\bchui\b", "je suis"),
        (r"\bwanna\b", "want to"),
        (r"\bcant\b", "can t"),
        (r"\bdont\b", "don t"),
        (r"\bwont\b", "won t"),
        (r"\bpa\b", "pas"),
        (r"\bpu\b", "plus"),
        (r"\bmwa\b|\bmoa\b", "moi"),
    )
)
# Compiled once: normalise runs twice on every message (safety net, language guess).
_APOSTROPHES = re.compile(r"[’'`´]")
_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9 ]+")
_REPEATED = re.compile(r"(.)\1{2,}")
_SPACES = re.compile(r"\s+")


@functools.lru_cache(maxsize=256)
def normalise(text: str) -> str:
    """Lower-case ASCII-ish text: accents and ɛ/ɔ/ɲ folded, SMS spellings expanded,
    letters repeated three times or more reduced, punctuation turned into spaces.

    Remembered for the last few texts: the safety net and the language guess both
    normalise every message, a few microseconds apart."""
    text = text.lower().translate(_BAMBARA_LETTERS)
    if not text.isascii():  # ASCII has nothing to decompose
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = _APOSTROPHES.sub(" ", text)
    text = _NOT_ALPHANUMERIC.sub(" ", text)
    text = _REPEATED.sub(r"\1", text)
    for pattern, replacement in _SMS:
        text = pattern.sub(replacement, text)
    return _SPACES.sub(" ", text).strip()


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_PATTERNS: tuple[tuple[Crisis, re.Pattern[str]], ...] = (
    (
        Crisis.SELF_HARM,
        _any(
            # French
            r"\bsuicid",
            r"\b(me|m) (tuer|suicider|pendre|jeter)\b",
            r"\b(veux|voudrais|vais|envie de|pense a|penser a) (mourir|en finir|disparaitre)",
            r"\bplus (envie|la force) de vivre\b",
            r"\b(mettre|mettrai|mets) fin a (ma vie|mes jours)",
            r"\bme (faire|fais|fait) du mal\b|\bme (couper|scarifier|bruler)\b",
            r"\bme suis (coupe|coupee|scarifie|brule)",
            r"\b(avale|pris) (toutes|tous) (mes|ses|les) (pilules|cachets|comprimes)",
            r"\bmarre de (la vie|vivre)\b",
            # English
            r"\bkill(ing)? (myself|my self)\b|\bend (it all|my life)\b|\bwant to die\b",
            r"\bwant to end it\b|\bswallow(ed)? (all|the whole)\b",
            r"\b(hurt|cut|harm) (myself|my self)\b|\bself ?harm",
            r"\bno reason to live\b|\bdon t want to (live|be alive)\b|\bbetter off dead\b",
            # Bambara: n yɛrɛ faga (kill myself), ka sa (to die), balo (to live)
            r"\byere (faga|tige)\b",
            r"\b(fe|fe ko) ka sa\b|\bn bena sa\b",
            r"\bt a fe ka (balo|ny?enamaya)\b|\bn ma diya ka balo\b",
        ),
    ),
    (
        Crisis.OVERDOSE,
        _any(
            # French
            r"\boverdose\b|\bsurdose\b|\bod\b",
            r"\b(respire|respir) (plus|pas|mal|presque plus)\b|\bne respire\b",
            r"\binconscient|\bevanoui|\bperdu connaissance\b|\bsans connaissance\b",
            r"\b(se reveille|reveille) pas\b|\bne se reveille\b|\bne bouge plus\b",
            r"\b(repond|reagit) (plus|pas)\b",
            r"\bconvuls|\bcrise d epilepsie\b|\b(mousse|ecume) (a|de|sur) la bouche\b",
            r"\bl[e]?vres? bleu",
            # English
            r"\boverdos|(\bnot|n t) breathing\b|\bstopped breathing\b|\bcan t breathe\b",
            r"\bunconscious\b|\bpassed out\b|\b(won t|can t|doesn t|not) wak",
            r"\bseizure|\bconvulsing\b|\bfoaming\b|\bblue lips\b",
            # Bambara: ninakili (breath), hakili tunun (faint), kunun (wake up), bin (fall)
            r"\bninakili\b.*\b(te|tununa|banna|jola)\b|\bte ninakili\b",
            r"\bhakili (tununa|tunun|bora)\b|\bkunnatunun",
            r"\byereyere\b|\bte kuma tugun\b",
            r"\b(te|ma) kunun\b",
            r"\ba binna\b.*\b(tramadol|trama|drogue|yamba|sirop|ka min|a tara)\b",
        ),
    ),
    (
        Crisis.CHILD,
        _any(
            # French
            r"\b(enfant|gamin|gamine|fillette|petit garcon|petite fille|bebe|talibe|mineur)"
            r"\w*\b.{0,40}\b(danger|frappe|battu|viole|abuse|enferme|vendu|enleve|kidnap|attache)",
            r"\b(viol|violee|viole par)\b|\babus sexuel",
            # English
            r"\b(child|kid|boy|girl|baby|minor)s?\b.{0,40}\b(in danger|beaten|abused|raped|locked|"
            r"sold|kidnapped|tied)",
            r"\brape(d)?\b|\bsexual(ly)? abus",
            # Bambara: denmisɛn (child), bugɔ (beat), bolo (hand)
            r"\bdenmisen\w*\b.{0,40}\b(bugo|gosi|datugu\w*|feere|faratilen|tooro)\b",
            r"\bden\b.{0,20}\b(bugo|gosi|datugu|feere)\b",
        ),
    ),
    (
        Crisis.HELD,
        _any(
            # French
            r"\b(enferme|sequestr|captive|prisonnier|prisonniere)",
            r"\b(pris|prit|confisque|garde|gardent|prennent) (mon|mes|nos|ses|son) (passeport|papiers)",
            r"\b(peux|peut|pouvons|peuvent|laisse|laissent) pas (partir|sortir|quitter|rentrer)",
            r"\bne (me|nous) laisse(nt)? pas (partir|sortir)",
            r"\b(oblige|force)(e|s|es)? (a|de) (travailler|me prostituer|coucher|mendier|rester)",
            r"\bretenu(e|s|es)? (de force|contre)|\b(me|nous) (retient|retiennent)\b",
            # English
            r"\block(ed)? (me|us|her|him|them)? ?(in|up)\b|\bheld (against|captive)\b",
            r"\b(took|take|kept|keep|taken) (my|our|her|his) (passport|papers|documents)\b",
            r"\bcan t (leave|escape|go home|get out)\b|\bwon t let (me|us) (leave|go)\b",
            r"\bforced (me|us|her|him) to\b|\b(i am|i m|we are|we re) (being )?forced\b",
            r"\btrapped\b",
            # Bambara: ka bo (to leave), datugu (lock), ka n minɛ (hold me)
            r"\b(te|ma) se ka (bo|taa)\b|\bt an to an ka bo\b|\bt u to u ka bo\b",
            r"\bdatugu|\b(passeport|pasipori|paspor) (ta|mine|minena)\b",
        ),
    ),
)


def detect_crisis(text: str) -> Crisis | None:
    """The first crisis kind whose patterns match the normalised text, if any."""
    normalised = normalise(text)
    for kind, pattern in _PATTERNS:
        if pattern.search(normalised):
            return kind
    return None
