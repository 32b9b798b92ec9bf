"""The crisis patterns: words that describe acute danger, in French, Bambara and English.

They read text normalised for accents, Bambara letters, look-alikes, SMS spelling and
repeated letters (`bot.nlu.normalise`), after idioms that only sound dangerous ("mourir de
rire", "this exam is killing me") have been taken out. `scan` reports three signals for
the crisis net (`bot.nlu.crisis`), which decides:

- *acute*: a kind of danger described as happening ("il respire plus", "j'ai avalé 10
  comprimés", "je veux plus vivre");
- *topical*: a danger word without a situation ("overdose", "suicide", "convulsions");
- *informational*: the message asks about danger in general ("c'est quoi les signes…",
  "can tramadol cause…") or tells of one that is over ("il y a 2 ans on m'a enfermé…"),
  and says nothing of now.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum

from bot.nlu.normalise import normalise


class Crisis(str, Enum):
    """Kinds of acute danger, each with its own first-aid message."""

    OVERDOSE = "overdose"
    SELF_HARM = "self_harm"
    HELD = "held"
    CHILD = "child"
    VIOLENCE = "violence"


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_PILLS = r"(comprimes?|cachets?|pilules?|plaquettes?|pills?|tablets?|kise|fura)"
_DRUGS = r"(tramadol|trama|tapentadol|codeine|sirop|drogue|yamba|diluant|colle|alcool|pills?)"

# Acute: a kind of danger described as happening. Order matters: the first kind wins
# (someone who "wants to kill me" is violence before "me tuer" reads as self-harm).
_ACUTE: tuple[tuple[Crisis, re.Pattern[str]], ...] = (
    (
        Crisis.VIOLENCE,
        _any(
            # French
            r"\b(il|ils|elle|on|mon mari|mon patron|quelqu un) (me|nous) "
            r"(frappe|frappent|bat|battent|tabasse|tabassent|agresse|poursuit|poursuivent)\b",
            r"\b(veut|veulent|vont|va) (me|nous) (tuer|frapper|battre|egorger|attaquer)\b"
            r"(?! si)",
            r"\b(menace|menacent|menaces?) .{0,30}\b(couteau|machette|arme|fusil|pistolet|tuer)",
            r"\b(couteau|machette|arme|fusil|pistolet)\b.{0,40}\b(menace|frappe|attaque|tuer)",
            r"\b(ils|il) (sont|est) (devant|derriere) (la|ma) porte\b",
            # English
            r"\b(he|they|she|someone|my husband|my boss) (is|are|s|re) (beating|attacking|hitting"
            r"|chasing) (me|us)\b",
            r"\b(going to|gonna|want to|wants to|will) (kill|beat|hurt|stab) (me|us)\b",
            r"\b(knife|gun|machete|cutlass)\b.{0,40}\b(threat|attack|kill|beat)",
            r"\bthreaten(ed|ing)? (me|us|to kill)\b",
            # Bambara: faga (kill), bugɔ (beat)
            r"\b(fe|fe ka|bena|be) (n|an) (faga|bugo)\b|\b(be|bi) (n|an) bugo\b",
        ),
    ),
    (
        Crisis.SELF_HARM,
        _any(
            # French
            r"\b(me|m) (tuer|suicider|pendre|jeter|noyer)\b|\bsuicidaire\b",
            r"\b(je|j) (pense|pensais|veux|voudrais|vais|ai envie de?) (au|a me) suicid",
            r"\b(veux|voudrais|vais|envie de|pense a|penser a) (mourir|en finir|disparaitre)",
            r"\b(veux|voudrais|ai) (plus|pas|plus envie de|pas envie de) (vivre|rester en vie)",
            r"\bplus (envie|la force|de raison) de vivre\b|\bsans moi (ce serait|c est) mieux",
            r"\b(mettre|mettrai|mets|mettre) fin a (ma vie|mes jours|tout)",
            r"\bme (faire|fais|fait) du mal\b|\bme (couper|scarifier|bruler|taillader)\b",
            r"\bme suis (coupe|coupee|scarifie|brule|taillade)",
            r"\b(avale|pris) (toutes|tous) (mes|ses|les) " + _PILLS,
            r"\bmarre de (la vie|vivre)\b|\bc est (fini|la fin) pour moi\b",
            r"\bvous (ne|n) (me )?(verrez|reverrez) plus\b|\blettre d adieu",
            r"\bje (vais|veux) (en finir|partir pour (toujours|de bon))",
            # English
            r"\bkill(ing)? (myself|my self)\b|\bend (it all|my life)\b|\bwant(ed)? to die\b",
            r"\bwant to end it\b|\bswallow(ed)? (all|the whole)\b|\bsuicidal\b",
            r"\b(hurt|cut|harm|burn)(ing)? (myself|my self)\b|\bself ?harm",
            r"\bno reason to live\b|\bdon t want to (live|be alive|wake up)\b|\bbetter off dead\b",
            r"\b(tired|sick) of (living|life|being alive)\b|\bgoodbye (letter|note)\b",
            r"\b(he|she|they) (says?|said) (he|she|they) (will|ll|wants? to) kill (him|her|them)sel",
            # Bambara: n yɛrɛ faga (kill myself), ka sa (to die), balo (to live)
            r"\byere (faga|tige|jeni)\b",
            # n ye n bolo tigɛ (I cut my arm): the body part the person cut themselves
            r"\bn ye n (bolo|bolokala|sen|kan|farikolo|kalama)\w* (tige|jeni)\b",
            r"\b(fe|fe ko) ka sa\b|\bn bena sa\b|\b(fe|fe ka) ban\b",
            r"\bt a fe ka (balo|ny?enamaya)\b|\bn ma diya ka balo\b|\bbalo (man|ma) diya\b",
        ),
    ),
    (
        Crisis.OVERDOSE,
        _any(
            # French
            r"\b(fait|fais|faire) une (overdose|surdose|od)\b|\ben (overdose|surdose)\b",
            r"\b(respire|respir) (plus|pas|mal|presque plus)\b|\bne respire\b",
            r"\binconscient|\bevanoui|\bperdu connaissance\b|\bsans connaissance\b",
            r"\b(se reveille|reveille) pas\b|\bne se reveille\b|\bne bouge plus\b",
            r"\b(repond|reagit) (plus|pas)\b",
            r"\bconvulse|\bil convuls|\belle convuls|\b(fait|fais) des convulsions\b|\b(mousse|ecume) (a|de|sur) la bouche\b",
            r"\bl[e]?vres? bleu",
            r"\b(j ai|il a|elle a|on a|ils ont|j|a) (pris|avale|bu|pri) (\w+ ){0,2}\d+ " + _PILLS,
            r"\b(pris|avale|bu) trop de\b|\btrop (pris|bu|avale)\b",
            r"\b(pris|avale|bu) (beaucoup|plein|toute une boite|toute la boite) (de |d )?" + _PILLS,
            r"\b(son|mon|ton) corps (est|devient) (froid|tout froid|glace)\b|\bbody (is|dey) cold\b",
            r"\b(pris|avale|pri) .{0,30}\b(mal|malade|vomi|coeur|tourne)\b",
            r"\bje me sens (tres |trop )?mal\b.{0,40}\b" + _DRUGS,
            _DRUGS + r"\b.{0,60}\b(coeur|heart) (bat|tape|is racing|is pounding|dey beat)",
            _DRUGS + r"\b.{0,60}\bmy heart\b.{0,10}\b(racing|pounding)",
            _DRUGS + r"\b.{0,40}\bje me sens (tres |trop |super )?mal\b",
            # English
            r"\boverdosed\b|\boverdosing\b|\b(is|s) (having|in) an? (overdose|od)\b",
            r"(\bnot|n t) breathing\b|\bstopped breathing\b|\bcan t breathe\b",
            r"\bunconscious\b|\bpassed out\b|\b(won t|can t|doesn t|not) wak",
            r"\b(having|has|had|is in) (a )?(seizures?|convulsions?|fits?)\b|\bconvulsing\b",
            r"\bfoaming\b|\bblue lips\b",
            r"\b(took|swallowed|taken|ate) (\w+ ){0,2}\d+ " + _PILLS,
            r"\b(took|taken|drank|swallowed) (too much|too many|a lot of|plenty)\b",
            # Bambara: ninakili (breath), hakili tunun (faint), kunun (wake up), bin (fall)
            r"\bninakili\b.*\b(te|tununa|banna|jola)\b|\bte ninakili\b",
            r"\bhakili (tununa|tunun|bora)\b|\bkunnatunun",
            r"\byereyere\b|\bte kuma tugun\b",
            r"\b(te|ma) kunun\b",
            r"\ba binna\b.*\b(tramadol|trama|drogue|yamba|sirop|ka min|a tara)\b",
            r"\b(ye|y) .{0,20}\b(caman|caaman|ca)\b.{0,10}\b(ta|min|kunu)\b",
        ),
    ),
    (
        Crisis.CHILD,
        _any(
            # French
            r"\b(enfant|gamin|gamine|fillette|petit garcon|petite fille|bebe|talibe|mineur)"
            r"\w*\b.{0,40}\b(danger|frappe|battu|viole|abuse|enferme|vendu|enleve|kidnap|attache"
            r"|brule|marie de force)",
            r"\b(viol|violee|viole par)\b|\babus sexuel",
            # English
            r"\b(child|kid|boy|girl|baby|minor)s?\b.{0,40}\b(in danger|beaten|abused|raped|locked|"
            r"sold|kidnapped|tied|burn)",
            r"\brape(d)?\b|\bsexual(ly)? abus",
            # Bambara: denmisɛn (child), bugɔ (beat), bolo (hand)
            r"\bdenmisen\w*\b.{0,40}\b(bugo|gosi|datugu\w*|feere|faratilen|tooro|siri)\b",
            r"\b(den|denmuso|denke|talibe)\b.{0,40}\b(bugo|gosi|datugu|feere|siri)\b"
            r"(?!.{0,4}\bwa\b)",
        ),
    ),
    (
        Crisis.HELD,
        _any(
            # French
            r"\b(enferme|sequestr|captive|prisonnier|prisonniere)",
            r"\b(pris|prit|confisque|garde|gardent|prennent) (mon|mes|nos|ses|son|leurs?) "
            r"(passeport|papiers|carte)",
            r"\b(peux|peut|pouvons|peuvent|laisse|laissent) pas (partir|sortir|quitter|rentrer)",
            r"\bne (me|nous) laisse(nt)? pas (partir|sortir)",
            r"\b(oblige|force)(e|s|es)? (a|de) (travailler|me prostituer|coucher|mendier|rester)",
            r"\bretenu(e|s|es)? (de force|contre)|\b(me|nous) (retient|retiennent)\b",
            r"\brancon\b",
            # English
            r"\block(ed)? (me|us|her|him|them)? ?(in|up)\b|\bheld (against|captive|for ransom)\b",
            r"\b(took|take|kept|keep|taken) (my|our|her|his|their) (passport|papers|documents)\b",
            r"\bcan t (leave|escape|go home|get out)\b|\bwon t let (me|us|her|him) (leave|go)\b",
            r"\bforced (me|us|her|him) to\b|\b(i am|i m|we are|we re) (being )?forced\b",
            r"\btrapped\b|\bransom\b",
            r"\b(collect|collected|seize|seized|hold|dey hold) (my|our|her|his) (passport|papers)\b",
            r"\b(i|we|she|he) no fit (comot|leave|go|commot|escape)\b",
            # Bambara: ka bo (to leave), datugu (lock), ka n minɛ (hold me)
            r"\b(te|ma) se ka (bo|taa)\b",
            r"\b(te|t|ma) (n|an|u|a|anw) to ((n|an|u|a|anw) )?ka (bo|taa)\b",
            r"\bdatugu|\b(passeport|pasipori|paspor|papiye) (ta|mine|minena)\b",
        ),
    ),
    (Crisis.VIOLENCE, _any(r"\bau secours\b|\bsauvez moi\b|\bsave me\b")),
)

# Danger words without a situation: a question about them, or a check-in.
_TOPICAL: tuple[tuple[Crisis, re.Pattern[str]], ...] = (
    (Crisis.SELF_HARM, _any(r"\bsuicid", r"\bse (tuer|suicider)\b", r"\bkill (him|her|them)sel")),
    (
        Crisis.OVERDOSE,
        _any(r"\boverdos|\bsurdose\b|\bod\b", r"\bconvulsion|\bseizure|\bconvuls"),
    ),
    (Crisis.HELD, _any(r"\bkidnap|\benlev|\bsequestr|\bforced labou?r\b")),
    (Crisis.VIOLENCE, _any(r"\b(me|nous) (tuer|frapper)\b|\bkill me\b")),
)

# Said of something else than danger; taken out before any pattern is read.
_IDIOMS = _any(
    r"\b(mourir|mort|morte|meurs|meurt|creve|crever|failli mourir|faillis mourir) "
    r"(de )?(rire|sommeil|faim|chaud|froid|fatigue|honte|ennui)\b",
    r"\b(m a|m ont|nous a|nous ont|ca me|tu me|vous me|il me|elle me) (tue|tues|tuent|acheve)\b",
    r"\b(va|vont) me tuer si\b|\bmdr\b|\bptdr\b|\blol\b|\bhaha\w*\b",
    r"\b(killing|killed|kill) (me|us)\b(?=.{0,30}\b(exam|heat|match|song|test|lol|school|work"
    r"|homework|laugh|traffic)\b)",
    r"\b(exam|heat|match|song|test|school|work|homework|traffic|this|that)\b.{0,20}\b(is|was) "
    r"killing (me|us)\b",
    r"\bi m (dead|dying)\b(?=.{0,20}\b(lol|laugh|haha|funny)\b)",
    r"\bsauve la vie\b|\bsaved my life\b",
    # Bambara: hunger, heat, cold, laughter, work… "is killing me"; "dying of laughter"
    r"\b(kongo|funteni|nene|yele|minnogo|sunogo|baara|kalan|sigarete|sigareti|dimi|segen)\b"
    r".{0,12}\b(be|bi|b) n faga\b",
    r"\bsa yele (fe|la|kosonn?)\b|\byele (fe|kosonn?) .{0,10}\bsa\b",
    r"\b(homework|exam|work|school|hunger|heat|cold|sun|traffic|this|dis) dey kill (me|us)\b",
)

# Asking about danger in general.
_INFORMATIONAL = _any(
    r"\b(c est quoi|qu est ce|quels? (sont )?(les )?|comment|pourquoi|est ce que?)\b",
    r"\b(signes?|symptomes?|risques?|dangers?|dangereux|effets?|definition)\b",
    r"\b(que faire|quoi faire|comment (aider|reagir|reconnaitre|savoir|eviter|prevenir))\b",
    r"\b(si un jour|un jour|en cas d|au cas ou|si quelqu un)\b",
    r"^(what|how|why|which|can|could|does|do|is|are|should)\b|\b(signs?|symptoms?|risks?)\b",
    r"\b(cause|causer|provoquer|provoque|donne|donner|lead to)\b",
    r"\b(what to do|how to help|someday|in case|if someone|if a friend)\b",
    r"\b(film|movie|serie|series|news|journal|actualite|histoire|expose|exposé|devoir)\b",
    r"\b(mun|mun ye|di)\b.{0,30}\b(ye|wa)\b",
    r"\b(juste une question|just asking|na question|ni mogo)\b",
)
# Told as over: a danger in the past is a story, not an emergency.
_PAST = _any(
    r"\bil y a \d+ (ans?|mois|semaines?)\b|\b(l annee|le mois) (derniere?|passee?)\b",
    r"\b(je suis|on est|il est|elle est) (rentre|rentree|revenu|revenue|sorti|sortie)\b",
    r"\b\d+ (years?|months?) ago\b|\blast (year|month)\b|\b(i m|i am) (back|home|safe) now\b",
    r"\b(san|kalo) \d+ (ye nin ye|ye)\b|\bsan (tEmEnen|temenen)\b",
)
# Something happening now or to a person named: a question that says this is not general.
_NOW = _any(
    r"\b(maintenant|tout de suite|en ce moment|ce soir|cette nuit|vite|urgent|urgence)\b",
    r"\b(now|right now|tonight|hurry|urgent|please help)\b",
    r"\b(sisan|joona|bi su)\b",
)


@dataclass(frozen=True)
class Signals:
    """What the patterns saw in one message."""

    acute: Crisis | None = None
    topical: Crisis | None = None
    informational: bool = False


def _first(patterns: tuple[tuple[Crisis, re.Pattern[str]], ...], text: str) -> Crisis | None:
    return next((kind for kind, pattern in patterns if pattern.search(text)), None)


# Remembered for the last few texts: the net reads each message two or three times
# (the patterns before the NLU, then every signal with its reading, the classifier).
@functools.lru_cache(maxsize=256)
def words(text: str) -> str:
    """What the crisis net reads: the normalised text without its idioms."""
    return _IDIOMS.sub(" ", normalise(text))


@functools.lru_cache(maxsize=256)
def scan(text: str) -> Signals:
    """The pattern signals of `text` (any text; normalised here)."""
    read = words(text)
    acute = _first(_ACUTE, read)
    topical = None if acute else _first(_TOPICAL, read)
    asked = bool(_INFORMATIONAL.search(read)) and not _NOW.search(read)
    informational = asked or bool(_PAST.search(read))
    return Signals(acute, topical, informational)


def detect_crisis(text: str) -> Crisis | None:
    """The kind of danger the text describes as happening, if any."""
    return scan(text).acute
