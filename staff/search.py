"""Search over what tipsters wrote, where the desk key is: in this process's memory.

The content of a tip is sealed to the desk, so Redis cannot search it. The dashboard opens
each tip once with a signed-in staff member's keyring and keeps its text, folded (lower
case, accents removed), in a dictionary that never leaves the process: no Redis key, no
file, no log. It is bounded (`MAX_INDEXED_CHARS` per tip), caught up with Redis at each
search (new tips opened, purged ones dropped), and forgotten when no one is signed in any
more or the desk key is rotated — it lives no longer than the keyrings it was opened with.
`staff/README.md` says why this and not a blind index in Redis.

Also the preview: the first words of each tip in the queue, from the same memory.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from redis.asyncio import Redis

from tips.crypto import DeskKeyring, open_sealed
from tips.model import TipContent, TipError, TipRecord
from tips.references import Reference
from tips.stored import ALL_INDEX, tip_key

MAX_INDEXED_CHARS = 4000  # of each tip's text (one Telegram message): searched, held in memory
PREVIEW_WORDS = 24
MAX_QUERY_CHARS = 200
_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """`text` as search compares it: lower case, without accents ("Ségou" → "segou")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def terms(query: str) -> list[str]:
    """The words of a query, folded; a tip matches when it holds every one."""
    return _WORD.findall(fold(query[:MAX_QUERY_CHARS]))


def preview(text: str, words: int = PREVIEW_WORDS) -> str:
    """The first `words` words of `text` on one line, "…" when there is more."""
    split = text.split()
    return " ".join(split[:words]) + (" …" if len(split) > words else "")


@dataclass(frozen=True)
class _Opened:
    reference: str
    text: str  # the tip's text and place, at most MAX_INDEXED_CHARS
    folded: str

    @classmethod
    def of(cls, sealed: bytes, reference: str, keyring: DeskKeyring) -> _Opened | None:
        """A tip's sealed content opened; None when this keyring cannot read it (damaged,
        or sealed to none of its keys): not kept, so a keyring that can may open it later."""
        try:
            content = TipContent.from_json(open_sealed(sealed, keyring))
        except TipError:
            return None
        text = "\n".join(p for p in (content.text, content.place or "") if p)
        text = text[:MAX_INDEXED_CHARS]
        return cls(reference, text, fold(text))


class SearchIndex:
    """The opened text of the tips, by lookup id, in this process only."""

    def __init__(self) -> None:
        self._opened: dict[str, _Opened] = {}

    def __len__(self) -> int:
        return len(self._opened)

    def forget(self) -> None:
        """Drop every opened text (no one signed in, or the desk key rotated)."""
        self._opened.clear()

    def text(self, record: TipRecord, keyring: DeskKeyring) -> str:
        """The tip's text (opened once, then from memory); "" when it cannot be opened."""
        opened = self._opened.get(record.lookup)
        if opened is None:
            opened = _Opened.of(record.sealed, str(record.reference or ""), keyring)
            if opened is None:
                return ""
            self._opened[record.lookup] = opened
        return opened.text

    async def catch_up(self, redis: Redis[bytes], keyring: DeskKeyring) -> None:
        """Open the tips stored since the last search, forget the purged ones."""
        stored = {m.decode() for m in await redis.zrange(ALL_INDEX, 0, -1)}
        for gone in self._opened.keys() - stored:
            del self._opened[gone]
        new = sorted(stored - self._opened.keys())
        async with redis.pipeline(transaction=False) as pipe:
            for lookup in new:
                pipe.hget(tip_key(lookup), "sealed")
                pipe.hget(tip_key(lookup), "ref")
            rows = await pipe.execute()
        for index, lookup in enumerate(new):
            sealed, ref = rows[2 * index], rows[2 * index + 1]
            if sealed is None:
                continue  # purged between the two reads
            opened = _Opened.of(sealed, ref.decode() if ref else "", keyring)
            if opened is not None:
                self._opened[lookup] = opened

    def matching(self, query: str) -> set[str]:
        """The lookups of the tips whose text holds every word of `query`, or whose
        reference is the one typed."""
        reference = Reference.typed(query)
        if reference is not None:
            wanted = str(reference)
            return {lk for lk, o in self._opened.items() if o.reference == wanted}
        words = terms(query)
        if not words:
            return set()
        return {lk for lk, o in self._opened.items() if all(w in o.folded for w in words)}
