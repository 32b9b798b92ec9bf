"""The assistant around the engine: memory in Redis, anonymity, floods and outages."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.assistant import Assistant
from bot.dialogue.engine import Engine
from bot.dialogue.events import ButtonEvent, CommandEvent, TextEvent
from bot.dialogue.store import DialogueStore
from bot.nlu import NLUUnavailable, Understanding
from bot.redis_server import LocalRedis
from bot.runtime import connect_redis

CHAT_ID = 987654321


class ScriptedNLU:
    """Answers a fixed intent, or fails like a crashed Rasa server."""

    def __init__(self, intent: str = "drug_info", down: bool = False) -> None:
        self.intent = intent
        self.down = down
        self.calls = 0

    async def parse(self, text: str) -> Understanding:
        self.calls += 1
        if self.down:
            raise NLUUnavailable("ConnectError")
        return Understanding(self.intent, 0.99, ((self.intent, 0.99),))

    async def close(self) -> None:
        return None


def make_assistant(engine: Engine, url: str, nlu: ScriptedNLU, flood_limit: int = 20) -> Assistant:
    store = DialogueStore(
        connect_redis(url), state_ttl=3600, flood_limit=flood_limit, flood_window=60
    )
    return Assistant(engine, nlu, store, secret=b"k" * 32)


async def test_language_choice_is_remembered_between_messages(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("greet"))
    await assistant.handle(CHAT_ID, ButtonEvent("lang:bm"), "fr")
    again = await assistant.handle(CHAT_ID, TextEvent("i ni ce"), "fr")
    bambara = engine.catalog.render("intent.greet", "bm").text
    assert again[0].text == bambara
    await assistant.close()


async def test_redis_holds_no_chat_id_and_no_message_text(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("drug_info"))
    await assistant.handle(CHAT_ID, CommandEvent("start"), "fr")
    await assistant.handle(CHAT_ID, TextEvent("c'est quoi le kush exactement"), "fr")
    dump = b""
    async for key in redis.scan_iter():
        dump += key + (await redis.dump(key) or b"")
    assert str(CHAT_ID).encode() not in dump
    assert b"kush" not in dump
    assert await redis.dbsize() > 0
    await assistant.close()


async def test_buttons_and_commands_never_call_the_nlu(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    nlu = ScriptedNLU()
    assistant = make_assistant(engine, redis_server.url, nlu)
    await assistant.handle(CHAT_ID, CommandEvent("start"), "fr")
    await assistant.handle(CHAT_ID, ButtonEvent("do:menu"), "fr")
    await assistant.handle(CHAT_ID, TextEvent("🆘 Urgence"), "fr")
    assert nlu.calls == 0
    await assistant.close()


async def test_a_flood_gets_one_slow_down_then_silence_but_crises_still_pass(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("greet"), flood_limit=3)
    answers = [await assistant.handle(CHAT_ID, TextEvent(f"salut {i}"), "fr") for i in range(6)]
    assert [len(a) for a in answers] == [1, 1, 1, 1, 0, 0]
    assert answers[3][0].text == engine.catalog.render("error.flood", "fr").text
    crisis = await assistant.handle(CHAT_ID, TextEvent("je veux mourir"), "fr")
    assert engine.catalog.emergency[0].number in crisis[0].text
    await assistant.close()


async def test_nlu_down_is_said_politely_and_crises_still_get_numbers(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU(down=True))
    answer = await assistant.handle(CHAT_ID, TextEvent("c quoi le tramadol"), "fr")
    assert answer[0].text == engine.catalog.render("error.nlu_down", "fr").text
    crisis = await assistant.handle(CHAT_ID, TextEvent("il respire plus apres le tramadol"), "fr")
    assert engine.catalog.emergency[0].number in crisis[0].text
    await assistant.close()


async def test_redis_outage_degrades_then_recovers_without_restart(
    engine: Engine, tmp_path: Path
) -> None:
    server = LocalRedis(tmp_path / "redis").start()
    assistant = make_assistant(engine, server.url, ScriptedNLU("greet"))
    await assistant.handle(CHAT_ID, ButtonEvent("lang:en"), "fr")
    server.kill()
    during = await assistant.handle(CHAT_ID, TextEvent("hello"), "fr")
    assert during
    assert during[0].text
    restarted = LocalRedis(tmp_path / "redis", port=server.port).start()
    try:
        after = await assistant.handle(CHAT_ID, TextEvent("hello"), "fr")
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
    replies = await assistant.handle(CHAT_ID, TextEvent(text), "fr")
    assert replies
    assert replies[0].text
    await assistant.close()
