"""Metrics move as a user sees things happen, the endpoints answer with the right codes,
and no label can ever carry who wrote what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from bot import metrics
from bot.assistant import Assistant
from bot.dialogue.engine import Engine
from bot.dialogue.events import CommandEvent, TextEvent, button_event
from bot.nlu import FALLBACK_INTENT
from bot.nlu.rasa_http import RasaHttpNLU
from bot.observability import (
    HEALTH_PATH,
    METRICS_PATH,
    READY_PATH,
    ObservabilityServer,
    Readiness,
)
from sini.redis import connect_redis
from sini.redis_server import LocalRedis, free_port
from tests.conftest import CHAT_ID, SECRET, ScriptedNLU, make_assistant, say
from tips.crypto import MINIMUM_FOR_TESTS
from tips.intake import Intake
from tips.keys import init_desk_keys

SECRET_TEXT = "Le passeur Moussa Traoré attend les filles à la gare de Kayes"


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@asynccontextmanager
async def served(readiness: Readiness) -> AsyncIterator[httpx.AsyncClient]:
    """The real server on a port the OS picks, and a client for it."""
    server = ObservabilityServer("127.0.0.1", 0, readiness)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            yield client
    finally:
        await server.stop()


async def send_a_tip(assistant: Assistant, text: str = SECRET_TEXT) -> None:
    """The whole report flow with buttons and one free text."""
    await say(assistant, CommandEvent("signaler"))
    await say(assistant, button_event("rep:start"))
    await say(assistant, button_event("rep:cat:human_trafficking"))
    await say(assistant, button_event("rep:reg:Kayes"))
    await say(assistant, button_event("rep:when:ongoing"))
    await say(assistant, TextEvent(text))
    await say(assistant, button_event("rep:review"))
    sent = await say(assistant, button_event("rep:send"))
    assert "Code" in sent[0].text


@pytest.fixture
async def desk(redis: Redis) -> None:
    await init_desk_keys(redis, "admin", "desk password", limits=MINIMUM_FOR_TESTS)


# ----------------------------------------------------------------- what a user does


async def test_a_question_records_its_confidence_and_a_vague_one_counts_as_fallback(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    readings = value("sini_nlu_confidence_count")
    confident = value("sini_nlu_confidence_bucket", le="0.9")
    fallbacks = value("sini_nlu_fallback_total")
    sure = make_assistant(engine, redis_server.url, ScriptedNLU("drug_info"))
    await say(sure, TextEvent("c'est quoi le tramadol"))
    assert value("sini_nlu_confidence_count") == readings + 1
    assert value("sini_nlu_confidence_bucket", le="0.9") == confident  # 0.99 is above 0.9
    assert value("sini_nlu_fallback_total") == fallbacks
    vague = make_assistant(engine, redis_server.url, ScriptedNLU(FALLBACK_INTENT))
    await say(vague, TextEvent("euh le truc la"))
    assert value("sini_nlu_fallback_total") == fallbacks + 1
    await sure.close()
    await vague.close()


async def test_buttons_and_commands_leave_the_nlu_metrics_alone(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    readings = value("sini_nlu_confidence_count")
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    await say(assistant, CommandEvent("start"))
    await say(assistant, button_event("do:menu"))
    assert value("sini_nlu_confidence_count") == readings
    await assistant.close()


async def test_the_nlu_being_down_is_counted(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    before = value("sini_nlu_unavailable_total")
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU(down=True))
    answer = await say(assistant, TextEvent("c quoi le tramadol"))
    assert answer[0].text == engine.catalog.render("error.nlu_down", "fr").text
    assert value("sini_nlu_unavailable_total") == before + 1
    await assistant.close()


async def test_a_tip_is_counted_by_its_category_only(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    trafficking = value("sini_tips_submitted_total", category="human_trafficking")
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    await send_a_tip(assistant)
    assert value("sini_tips_submitted_total", category="human_trafficking") == trafficking + 1
    await assistant.close()


async def test_every_message_over_the_flood_limit_is_counted(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    before = value("sini_flood_limited_total")
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("greet"), flood_limit=3)
    answers = [await say(assistant, TextEvent(f"salut {i}")) for i in range(6)]
    assert [len(a) for a in answers] == [1, 1, 1, 1, 0, 0]
    assert value("sini_flood_limited_total") == before + 3
    await assistant.close()


async def test_redis_down_is_counted_by_operation(engine: Engine, tmp_path: Path) -> None:
    server = LocalRedis(tmp_path / "redis").start()
    assistant = make_assistant(engine, server.url, ScriptedNLU("greet"))
    await say(assistant, TextEvent("salut"))
    loads = value("sini_redis_unavailable_total", operation="load")
    server.kill()
    assert await say(assistant, TextEvent("salut"))  # still answered
    assert value("sini_redis_unavailable_total", operation="load") == loads + 1
    await assistant.close()


# ----------------------------------------------------------------- the closed sets


def test_values_outside_the_closed_sets_are_recorded_as_other() -> None:
    leaked = type("mariam leaked 770000001", (Exception,), {})
    others = {
        "kind": value("sini_updates_total", kind="other", outcome="other"),
        "category": value("sini_tips_submitted_total", category="other"),
        "operation": value("sini_redis_unavailable_total", operation="other"),
        "error_type": value("sini_errors_total", error_type="other"),
    }
    metrics.update_handled("awa_t", "Bonjour je suis Awa", 0.01)
    metrics.tip_submitted("un réseau à Kayes")
    metrics.redis_unavailable("chat 987654321")
    metrics.error(leaked())
    assert value("sini_updates_total", kind="other", outcome="other") == others["kind"] + 1
    assert value("sini_tips_submitted_total", category="other") == others["category"] + 1
    assert value("sini_redis_unavailable_total", operation="other") == others["operation"] + 1
    assert value("sini_errors_total", error_type="other") == others["error_type"] + 1
    assert metrics.label_allowed("error_type", "RedisError")
    assert metrics.label_allowed("kind", "TextEvent")
    assert not metrics.label_allowed("kind", "awa_t")
    assert not metrics.label_allowed("unknown_label", "anything")


async def test_after_a_tip_every_label_value_is_in_a_closed_set(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    await send_a_tip(assistant)
    await say(assistant, TextEvent("merci beaucoup Moussa"))
    metrics.update_handled("TextEvent", "answered", 0.02)  # what the adapter records
    await assistant.close()
    forbidden = [str(CHAT_ID), "Moussa", "Traoré", "Kayes", "merci", "passeur"]
    seen = 0
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            for name, label_value in sample.labels.items():
                if name == "le":  # a histogram bucket's bound, a number
                    continue
                seen += 1
                assert metrics.label_allowed(name, label_value), (sample.name, name, label_value)
                assert not any(word in label_value for word in forbidden), label_value
    assert seen > 0
    exposed = (await _scrape_text()).lower()
    assert not any(word.lower() in exposed for word in forbidden)


async def _scrape_text() -> str:
    async with served(_always_ready) as client:
        return (await client.get(METRICS_PATH)).text


async def _always_ready() -> dict[str, bool]:
    return {"redis": True, "nlu": True}


# ----------------------------------------------------------------- the endpoints


async def test_metrics_and_liveness_answer(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    async with served(assistant.readiness) as client:
        scraped = await client.get(METRICS_PATH)
        alive = await client.get(HEALTH_PATH)
        ready = await client.get(READY_PATH)
    await assistant.close()
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(scraped.text)}
    assert {"sini_updates", "sini_update_duration_seconds", "sini_nlu_batch_size"} <= names
    assert {"sini_tips_submitted", "sini_errors", "sini_redis_unavailable"} <= names
    assert "python_gc_objects_collected" not in scraped.text  # a registry of our own
    assert "_created" not in scraped.text  # no stamp of when a label first moved
    assert alive.status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "down": [], "checks": {"redis": "up", "nlu": "up"}}


async def test_readiness_follows_redis_down_and_back(engine: Engine, tmp_path: Path) -> None:
    server = LocalRedis(tmp_path / "redis").start()
    assistant = make_assistant(engine, server.url, ScriptedNLU())
    restarted: LocalRedis | None = None
    try:
        async with served(assistant.readiness) as client:
            assert (await client.get(READY_PATH)).status_code == 200
            server.stop()
            down = await client.get(READY_PATH)
            assert down.status_code == 503
            assert down.json()["down"] == ["redis"]
            assert str(server.port) not in down.text  # names the part, not where it is
            assert (await client.get(HEALTH_PATH)).status_code == 200  # alive, not ready
            restarted = LocalRedis(tmp_path / "redis", port=server.port).start()
            assert (await client.get(READY_PATH)).status_code == 200
    finally:
        await assistant.close()
        if restarted is not None:
            restarted.stop()


async def test_a_rasa_server_that_is_down_makes_the_bot_not_ready(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    assistant.nlu = RasaHttpNLU(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    async with served(assistant.readiness) as client:
        response = await client.get(READY_PATH)
    await assistant.close()
    assert response.status_code == 503
    assert response.json() == {
        "ready": False,
        "down": ["nlu"],
        "checks": {"redis": "up", "nlu": "down"},
    }


async def test_a_separate_tips_redis_is_checked_too(
    engine: Engine, redis_server: LocalRedis, redis: Redis, tmp_path: Path
) -> None:
    tips_server = LocalRedis(tmp_path / "tips").start()
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    assistant.tips = Intake(connect_redis(tips_server.url), SECRET)
    assert await assistant.readiness() == {"redis": True, "tips_redis": True, "nlu": True}
    tips_server.stop()
    assert await assistant.readiness() == {"redis": True, "tips_redis": False, "nlu": True}
    await assistant.close()
