"""Which of French, Bambara or English a short message is written in.

Telegram offers no Bambara interface, so a Bambara speaker's `language_code` says "fr";
only the text tells. The guess counts distinctive function words of each language
(after the same normalisation as the safety net) and any Bambara letter ɛ ɔ ɲ ŋ, and
answers only when one language clearly leads — by two words, or by one in a message of
three words or fewer ("i ni su", "hey hi"), whose own language then wins over the phone's.
Mixed messages with no clear leader keep the current language.
"""

from __future__ import annotations

import re

from bot.nlu.normalise import normalise

_BAMBARA_LETTERS = re.compile(r"[ɛɔɲŋƐƆƝŊ]")
_BAMBARA_GREETING = re.compile(r"^(i|aw) (ni|ka) ")
_WORDS: dict[str, frozenset[str]] = {
    "bm": frozenset(
        "ka ye be bee te fe kan mun jon ke kelen soro soron deme kunnafoni furakeli yere "
        "nye tugun sisan barika ayi awo owo ko taa tun nka ani walima dogotoro dogotoroso "
        "ne ale olu aw an u kono bolo muso ce denmisen jamana baara wari ja kosebe dow "
        "dow doron kuma kalan kasi jigi min sen mogo mogow cogo di diya jugu ninakili "
        "hakili sigi bamanankan nin nunu foyi fen dumuni sababu faso kanu kele tile wula "
        "su sogoma tilegan wa dun ce muso kenene hera somogo".split()
    ),
    "fr": frozenset(
        "je j tu il elle on nous vous ils le la les des du est suis c ce cest quoi "
        "comment pourquoi mon ma mes ton ta tes que qui pas avec pour dans une un et ou "
        "sur mais veux peux fait faire aide aider arreter drogue ami amie copain parents "
        "travail bonjour salut merci oui non quand combien quel quelle trop tres aussi "
        "jai hier mal slt stp svp bjr koi pk moi toi lui".split()
    ),
    "en": frozenset(
        "the is are what how my i you to of and it can do does with for in about help "
        "friend why want stop job offer who where when this that he she they we your "
        "hello hi hey thanks thank yes no please am was have has get know good morning "
        "evening night bye "
        # Nigerian and Ghanaian Pidgin: its own function words, none of them Bambara or French
        "dey wetin abi abeg dem una wey sabi wan comot oga chale pls plz fit anybody "
        "somebody person wahala".split()
    ),
}
MIN_LEAD = 2
SHORT_MESSAGE_WORDS = 3


def guess_language(text: str) -> str | None:
    """ "fr", "bm" or "en" when the text clearly reads as one of them, else None."""
    scores = dict.fromkeys(_WORDS, 0)
    if _BAMBARA_LETTERS.search(text):
        scores["bm"] += 2
    normalised = normalise(text)
    if _BAMBARA_GREETING.match(normalised):
        scores["bm"] += 2
    for word in normalised.split():
        for language, words in _WORDS.items():
            if word in words:
                scores[language] += 1
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    lead = 1 if len(normalised.split()) <= SHORT_MESSAGE_WORDS else MIN_LEAD
    return best if top >= 1 and top - second >= lead else None
