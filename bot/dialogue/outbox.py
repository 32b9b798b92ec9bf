"""Replies saved with the state they lead to, until they are handed to Telegram.

A turn's new state and its replies are written in the same save: if the replica dies
before sending them, the state is not ahead of what the person was told. Whoever holds
the chat next — the chat's next update on any replica, or the replica that takes the
update over — sends them first (`Assistant.handle`, `Assistant.resend`), and the update
itself is not worked out a second time (the save marks it answered).

Sending is at least once: a replica that dies halfway through a turn's replies leaves
all of them, so the ones already sent go again.

A turn of the report or follow-up flows (`Reply.protect`) is never kept: its replies
may show the tip's words or a receipt's passphrase, which must not reach Redis, even
sealed. Those flows recover by themselves: a second "send" of a stored tip says it is
stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from bot.dialogue.replies import Reply, Turn


@dataclass(frozen=True)
class Unsent:
    """One turn's replies and its topic (which decides how urgently they go)."""

    replies: tuple[Reply, ...]
    topic: str | None = None


Outbox = tuple[Unsent, ...]

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Outbox)


def keep(turn: Turn) -> Outbox:
    """What of `turn` waits in the outbox: its replies, unless there are none or they
    belong to the report flow."""
    if not turn.replies or any(reply.protect for reply in turn.replies):
        return ()
    return (Unsent(turn.replies, turn.topic),)


def encode(outbox: Outbox) -> bytes:
    return _ENCODER.encode(outbox)


def decode(raw: bytes | None) -> Outbox:
    """The stored outbox; unreadable data (another version's) is dropped, not resent."""
    if not raw:
        return ()
    try:
        return _DECODER.decode(raw)
    except msgspec.DecodeError:
        return ()
