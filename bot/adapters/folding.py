"""Fewer messages per answer when the bot is behind: an answer's text-only parts are folded
into the part that follows them, so the answer costs one message of the budget instead of
several. What the user reads is the same text, in the same order, under the same buttons.

Never folded: crisis answers and check-ins (the caller does not ask), protected parts
(receipts and everything in the report flow keep their own messages), and a part with
buttons or a reply keyboard (its buttons belong right under its own text)."""

from __future__ import annotations

from dataclasses import replace

from bot.dialogue.replies import Reply

# Telegram's limit for one message's text, in UTF-16 code units (an emoji counts two).
MAX_TEXT = 4096
SEPARATOR = "\n\n"


def fold(replies: tuple[Reply, ...]) -> tuple[Reply, ...]:
    """`replies` with each plain part joined to the next one where the result fits."""
    folded: list[Reply] = []
    for reply in replies:
        if folded and _plain(folded[-1]) and not reply.protect:
            joined = folded[-1].text + SEPARATOR + reply.text
            if _length(joined) <= MAX_TEXT:
                folded[-1] = replace(reply, text=joined)
                continue
        folded.append(reply)
    return tuple(folded)


def _plain(reply: Reply) -> bool:
    return not reply.buttons and reply.keyboard is None and not reply.protect


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
