"""The assistant around the engine: memory in Redis, anonymity, floods and outages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.assistant import Assistant
from bot.dialogue.engine import Engine
from bot.dialogue.events import CommandEvent, Event, TextEvent, button_event
from bot.dialogue.replies import Turn
from bot.dialogue.store import Arrival, chat_key
from bot.nlu import Entity, Understanding
from sini.redis import PREFIX
from sini.redis_server import LocalRedis
from tests.conftest import CHAT_ID, SECRET, ScriptedNLU, make_assistant, say
from tests.support.redis_scan import everything


async def test_language_choice_is_remembered_between_messages(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("greet"))
    await say(assistant, button_event("lang:bm"))
    again = await say(assistant, TextEvent("i ni ce"))
    bambara = engine.catalog.render("intent.greet", "bm").text
    assert again[0].text == bambara
    await assistant.close()


async def test_redis_holds_no_chat_id_and_no_message_text(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("drug_info"))
    await say(assistant, CommandEvent("start"))
    await say(assistant, TextEvent("c'est quoi le kush exactement"))
    dump = await everything(redis)
    assert str(CHAT_ID).encode() not in dump
    assert b"kush" not in dump
    assert await redis.dbsize() > 0
    await assistant.close()


async def test_buttons_and_commands_never_call_the_nlu(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    nlu = ScriptedNLU()
    assistant = make_assistant(engine, redis_server.url, nlu)
    await say(assistant, CommandEvent("start"))
    await say(assistant, button_event("do:menu"))
    await say(assistant, TextEvent("🆘 Urgence"))
    assert nlu.calls == 0
    await assistant.close()


async def test_a_flood_gets_one_slow_down_then_silence_but_crises_still_pass(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("greet"), flood_limit=3)
    answers = [await say(assistant, TextEvent(f"salut {i}")) for i in range(6)]
    assert [len(a) for a in answers] == [1, 1, 1, 1, 0, 0]
    assert answers[3][0].text == engine.catalog.render("error.flood", "fr").text
    crisis = await say(assistant, TextEvent("je veux mourir"))
    assert engine.catalog.emergency[0].number in crisis[0].text
    await assistant.close()


async def test_nlu_down_is_said_politely_and_crises_still_get_numbers(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU(down=True))
    answer = await say(assistant, TextEvent("c quoi le tramadol"))
    assert answer[0].text == engine.catalog.render("error.nlu_down", "fr").text
    crisis = await say(assistant, TextEvent("il respire plus apres le tramadol"))
    assert engine.catalog.emergency[0].number in crisis[0].text
    await assistant.close()


async def test_nlu_down_still_points_to_the_drug_and_the_place_a_message_names(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    """The keyword fallback: the NLU's own synonyms ("yamba") and the directory's place
    names ("segou", without its accent) become buttons under the polite message."""
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU(down=True))
    (answer,) = await say(
        assistant, TextEvent("ou trouver de l aide pour arreter le yamba a segou")
    )
    assert answer.text == engine.catalog.render("error.nlu_down", "fr").text
    actions = [button.action for row in answer.buttons for button in row]
    assert actions[:2] == ["show:drug.cannabis.about", "svc:reg:Ségou"]
    assert "do:menu" in actions
    (card,) = await say(assistant, button_event(actions[0]))
    assert engine.catalog.render("drug.cannabis.about", "fr").text.startswith(card.text)
    await assistant.close()


async def test_redis_outage_degrades_then_recovers_without_restart(
    engine: Engine, tmp_path: Path
) -> None:
    server = LocalRedis(tmp_path / "redis").start()
    assistant = make_assistant(engine, server.url, ScriptedNLU("greet"))
    await say(assistant, button_event("lang:en"))
    server.kill()
    during = await say(assistant, TextEvent("hello"))
    assert during
    assert during[0].text
    restarted = LocalRedis(tmp_path / "redis", port=server.port).start()
    try:
        after = await say(assistant, TextEvent("hello"))
        assert after[0].text == engine.catalog.render("intent.greet", "en").text
    finally:
        await assistant.close()
        restarted.stop()


@pytest.mark.parametrize(
    "text",
    ["x" * 50_000, "\x00\x01\x02", "\u202e RTL \u200f", "a\u0301" * 300],
    ids=["huge", "control", "rtl", "combining"],
)
async def test_odd_texts_never_crash(
    engine: Engine, redis_server: LocalRedis, redis: Redis, text: str
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("out_of_scope"))
    replies = await say(assistant, TextEvent(text))
    assert replies
    assert replies[0].text
    await assistant.close()


class GatedNLU(ScriptedNLU):
    """Reads every text as a question about cannabis, once `gate` is opened."""

    def __init__(self) -> None:
        super().__init__("drug_info")
        self.gate, self.waiting = asyncio.Event(), asyncio.Event()

    async def parse(self, text: str) -> Understanding:
        self.waiting.set()
        await self.gate.wait()
        return Understanding(
            "drug_info", 0.99, (("drug_info", 0.99),), (Entity("drug", "cannabis"),)
        )


async def test_two_replicas_answering_one_chat_at_once_lose_neither_change(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    """One person's question (slow to understand) reaches one replica while their
    language choice reaches another: the second waits for the first, and the chat ends
    up remembering both the drug and the language."""
    slow_nlu = GatedNLU()
    first, second = (
        make_assistant(engine, redis_server.url, slow_nlu),
        make_assistant(engine, redis_server.url, ScriptedNLU()),
    )
    question = asyncio.create_task(first.handle(CHAT_ID, TextEvent("c koi le yamba"), "fr"))
    await slow_nlu.waiting.wait()
    choice = asyncio.create_task(second.handle(CHAT_ID, button_event("lang:bm"), "fr"))
    await asyncio.wait({choice}, timeout=0.2)
    assert not choice.done(), "the second replica waits for the chat"
    slow_nlu.gate.set()
    await asyncio.gather(question, choice)
    chat = await first.store.open(chat_key(SECRET, CHAT_ID))
    await first.store.release(chat)
    assert (chat.state.drug, chat.state.locale) == ("cannabis", "bm")
    await first.close()
    await second.close()


async def test_a_chats_replies_leave_before_its_next_update_is_answered_on_another_replica(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    """The chat is held until the first update's replies were delivered: the second
    replica, given the next message meanwhile, waits, and its answer comes after."""
    first, second = (
        make_assistant(engine, redis_server.url, ScriptedNLU()),
        make_assistant(engine, redis_server.url, ScriptedNLU()),
    )
    delivered: list[str] = []
    saved, sending = asyncio.Event(), asyncio.Event()

    async def slowly(turn: Turn) -> None:
        saved.set()  # deliver runs once the turn is saved
        await sending.wait()
        delivered.append("first")

    async def at_once(turn: Turn) -> None:
        delivered.append("second")

    welcome = asyncio.create_task(first.handle(CHAT_ID, CommandEvent("start"), "fr", None, slowly))
    await saved.wait()
    numbers = asyncio.create_task(
        second.handle(CHAT_ID, CommandEvent("urgence"), "fr", None, at_once)
    )
    await asyncio.wait({numbers}, timeout=0.2)
    assert not numbers.done(), "the second replica waits for the replies to leave"
    sending.set()
    await asyncio.gather(welcome, numbers)
    assert delivered == ["first", "second"]
    assert await redis.keys("sini:lease:*") == [], "given back after delivery"
    await first.close()
    await second.close()


async def test_a_flooded_chat_is_given_back_for_its_next_message(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("greet"), flood_limit=1)
    await say(assistant, TextEvent("salut"))
    assert await say(assistant, TextEvent("salut")), "one 'slow down'"
    assert await say(assistant, TextEvent("salut")) == [], "then silence, not a wait"
    assert await redis.keys("sini:lease:*") == []
    await assistant.close()


class Telegram:
    """A `deliver` that records what reaches the chat, and can hang like a replica that
    stops while sending (its task is then cancelled) or fail like a refused message."""

    def __init__(self, hang: bool = False, refuse: bool = False) -> None:
        self.turns: list[Turn] = []
        self.reached = asyncio.Event()
        self.hang, self.refuse = hang, refuse

    async def __call__(self, turn: Turn) -> None:
        self.reached.set()
        if self.hang:
            await asyncio.Event().wait()
        if self.refuse:
            raise RuntimeError("Forbidden: bot was blocked by the user")
        self.turns.append(turn)

    @property
    def texts(self) -> list[str]:
        return [reply.text for turn in self.turns for reply in turn.replies]


async def stopped_while_sending(
    assistant: Assistant, event: Event, update_id: int | None = None
) -> None:
    """The replica saved the turn, then stopped before a reply left (a shutdown)."""
    hanging = Telegram(hang=True)
    task = asyncio.create_task(
        assistant.handle(CHAT_ID, event, "fr", deliver=hanging, update_id=update_id)
    )
    await hanging.reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_replies_a_stopped_replica_saved_go_first_in_the_chats_next_answer_elsewhere(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    replica_a = make_assistant(engine, redis_server.url, ScriptedNLU("drug_info"))
    replica_b = make_assistant(engine, redis_server.url, ScriptedNLU("greet"))
    await stopped_while_sending(replica_a, TextEvent("c'est quoi le kush exactement"))
    telegram = Telegram()
    await replica_b.handle(CHAT_ID, TextEvent("salut"), "fr", deliver=telegram)
    info = engine.catalog.render("intent.drug_info", "fr").text
    greeting = engine.catalog.render("intent.greet", "fr").text
    assert telegram.texts[0].startswith(info[:40]), "the unsent answer first"
    assert telegram.texts[-1] == greeting
    again = Telegram()
    await replica_b.handle(CHAT_ID, TextEvent("salut"), "fr", deliver=again)
    assert again.texts == [greeting], "sent once"
    await replica_a.close()
    await replica_b.close()


async def test_an_update_taken_over_after_its_answer_was_saved_is_only_sent_not_redone(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    nlu = ScriptedNLU("drug_info")
    replica_a = make_assistant(engine, redis_server.url, nlu)
    replica_b = make_assistant(engine, redis_server.url, nlu)
    await stopped_while_sending(replica_a, TextEvent("c quoi le kush"), update_id=4_200_001)
    assert await replica_b.store.arrival(4_200_001, "1-0") is Arrival.ANSWERED
    telegram = Telegram()
    await replica_b.resend(CHAT_ID, telegram)
    assert telegram.texts[0].startswith(engine.catalog.render("intent.drug_info", "fr").text[:40])
    assert nlu.calls == 1, "not understood a second time"
    nothing = Telegram()
    await replica_b.resend(CHAT_ID, nothing)
    assert nothing.texts == []
    await replica_a.close()
    await replica_b.close()


async def test_unsent_replies_wait_in_redis_sealed(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("drug_info"))
    await stopped_while_sending(assistant, TextEvent("salut"))
    assert await redis.keys(f"{PREFIX}:outbox:*"), "kept for the next answer"
    answer = engine.catalog.render("intent.drug_info", "fr").text
    dump = await everything(redis)
    assert answer[:30].encode() not in dump
    assert str(CHAT_ID).encode() not in dump
    await assistant.close()


async def test_a_report_step_is_never_kept_unsent_in_redis(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    """Report replies may show the tip's words or a receipt: they never wait in Redis."""
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("greet"))
    await stopped_while_sending(assistant, button_event("rep:start"))
    assert await redis.keys(f"{PREFIX}:outbox:*") == []
    await assistant.close()


async def test_a_reply_telegram_refuses_is_not_tried_again_before_later_answers(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("greet"))
    with pytest.raises(RuntimeError):
        await assistant.handle(CHAT_ID, TextEvent("salut"), "fr", deliver=Telegram(refuse=True))
    telegram = Telegram()
    await assistant.handle(CHAT_ID, TextEvent("salut"), "fr", deliver=telegram)
    assert telegram.texts == [engine.catalog.render("intent.greet", "fr").text]
    await assistant.close()
