"""What a replica keeps in memory through a Redis outage: bounded, in order, expiring."""

from __future__ import annotations

from bot.dialogue.events import TextEvent
from bot.dialogue.state import ChatState, Flow
from bot.dialogue.state import Step as DialogueStep
from bot.outage import MAX_HELD, OutageMemory, Step


def test_the_last_saved_flow_step_is_known_until_the_flow_ends() -> None:
    memory = OutageMemory(hold_seconds=60)
    memory.saved("k", ChatState(flow=Flow.REPORT, step=DialogueStep.WHAT))
    assert memory.step("k") == Step("report", "what")
    memory.saved("k", ChatState())
    assert memory.step("k") is None


def test_held_events_come_back_once_in_order_and_expire_with_their_draft() -> None:
    memory = OutageMemory(hold_seconds=60)
    assert memory.hold("k", TextEvent("one"), now=0)
    assert memory.hold("k", TextEvent("two"), now=30)
    assert memory.take("k", now=70) == [TextEvent("two")]
    assert memory.take("k", now=70) == []


def test_memory_is_bounded_per_chat_and_in_chats() -> None:
    memory = OutageMemory(hold_seconds=60, max_chats=2)
    held = [memory.hold("a", TextEvent(str(i)), now=0) for i in range(MAX_HELD + 1)]
    assert held.count(False) == 1
    for key in "bc":
        memory.hold(key, TextEvent(key), now=0)
        memory.saved(key, ChatState(flow=Flow.REPORT, step=DialogueStep.WHAT))
    assert memory.take("a", now=0) == []  # the oldest chat was dropped
    assert memory.take("c", now=0) == [TextEvent("c")]
