"""Long messages are read passage by passage.

The intent classifier sums evidence over every word, so a long story ("I have used
tramadol for two years at the market… I want to stop") drifts away from its point as the
words pile up. A message longer than a passage is cut at sentence ends into passages of
about PASSAGE_CHARACTERS, each is read, and the most confident reading of a topic wins.
A passage read as `crisis` does not outvote the topic of the others: danger in a long
message is the crisis net's to judge, on the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.nlu import CRISIS_INTENT, FALLBACK_INTENT, Understanding

PASSAGE_CHARACTERS = 280
_SENTENCE_END = re.compile(r"(?<=[.!?…\n])\s+")


def passages(text: str) -> list[str]:
    """`text` itself when short; otherwise its sentences packed into passages of at most
    PASSAGE_CHARACTERS (a longer sentence is cut between words)."""
    if len(text) <= PASSAGE_CHARACTERS:
        return [text]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        pieces.extend(_cut(sentence.strip()))
    packed: list[str] = []
    for piece in pieces:
        if packed and len(packed[-1]) + 1 + len(piece) <= PASSAGE_CHARACTERS:
            packed[-1] = f"{packed[-1]} {piece}"
        elif piece:
            packed.append(piece)
    return packed or [text[:PASSAGE_CHARACTERS]]


def _cut(sentence: str) -> list[str]:
    words, lines = sentence.split(), [""]
    for word in words:
        if lines[-1] and len(lines[-1]) + 1 + len(word) > PASSAGE_CHARACTERS:
            lines.append("")
        lines[-1] = f"{lines[-1]} {word}".strip()[:PASSAGE_CHARACTERS]
    return [line for line in lines if line]


def most_confident(readings: Sequence[Understanding]) -> Understanding:
    """The reading to answer: the most confident topic, else the most confident crisis
    reading, else the first."""
    for wanted in (_topic, _real):
        found = [r for r in readings if wanted(r)]
        if found:
            return max(found, key=lambda r: r.confidence)
    return readings[0]


def _real(reading: Understanding) -> bool:
    return reading.intent != FALLBACK_INTENT


def _topic(reading: Understanding) -> bool:
    return _real(reading) and reading.intent != CRISIS_INTENT
