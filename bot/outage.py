"""What a replica remembers, in memory only, so that a Redis outage loses no typed word.

While Redis is down the assistant cannot read a chat's state, so it would take a tip's
next part for a new conversation. Two bounded maps fill the gap, keyed by the chat key
(an HMAC, never an identity) and never written anywhere:

- the flow and step each chat was last saved in, so a message typed in a report or a
  follow-up is recognised as part of it;
- the events typed in a flow during the outage, replayed in order — before the next
  update of that chat — once Redis answers again. They expire with the draft they belong
  to, and a chat holds at most MAX_HELD of them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TypeVar

from bot.dialogue.events import Event
from bot.dialogue.state import ChatState

MAX_CHATS = 10_000
MAX_HELD = 20


@dataclass(frozen=True)
class Step:
    flow: str
    step: str | None


class OutageMemory:
    def __init__(self, hold_seconds: float, max_chats: int = MAX_CHATS) -> None:
        self.hold_seconds = hold_seconds
        self.max_chats = max_chats
        self._steps: OrderedDict[str, Step] = OrderedDict()
        self._held: OrderedDict[str, list[tuple[float, Event]]] = OrderedDict()

    def saved(self, key: str, state: ChatState) -> None:
        """The chat was saved in `state`."""
        self._steps.pop(key, None)
        if state.flow is not None:
            self._steps[key] = Step(state.flow, state.step)
            _bound(self._steps, self.max_chats)

    def step(self, key: str) -> Step | None:
        """The flow step the chat was last saved in, if it was in one."""
        return self._steps.get(key)

    def hold(self, key: str, event: Event, now: float) -> bool:
        """Keep `event` for replay; False when the chat already holds MAX_HELD."""
        held = self._held.setdefault(key, [])
        if len(held) >= MAX_HELD:
            return False
        held.append((now, event))
        self._held.move_to_end(key)
        _bound(self._held, self.max_chats)
        return True

    def take(self, key: str, now: float) -> list[Event]:
        """The events held for the chat, oldest first, that have not expired."""
        held = self._held.pop(key, [])
        return [event for since, event in held if now - since <= self.hold_seconds]


V = TypeVar("V")


def _bound(mapping: OrderedDict[str, V], size: int) -> None:
    while len(mapping) > size:
        mapping.popitem(last=False)
