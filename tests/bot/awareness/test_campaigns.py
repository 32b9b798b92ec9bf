"""Campaign deep links: payloads, the registry, QR codes, and counters without identities."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.awareness.campaigns import (
    REGISTRY_KEY,
    CampaignError,
    CampaignStore,
    StatsRow,
    format_stats,
    link,
    payload_from_label,
    qr_png,
    valid_payload,
)
from bot.dialogue.store import chat_key
from sini.redis import STATS_TTL_SECONDS
from tests.bot.awareness import redis_dump
from tests.conftest import CHAT_ID, SECRET

DAY = date(2025, 3, 14)
TARGETS = {"tramadol", "cannabis", "drug.tramadol.about", "trafficking.tricks"}


@pytest.fixture
def store(redis: Redis) -> CampaignStore:
    return CampaignStore(redis)


@pytest.mark.parametrize(
    "payload",
    ["a", "segou-lycee_2025", "A" * 64, "radio-KLEDU", "0123456789"],
)
def test_valid_payloads(payload: str) -> None:
    assert valid_payload(payload)


@pytest.mark.parametrize(
    "payload",
    [None, "", "A" * 65, "lycée", "a b", "a:b", "a/b", "a.b", "a+b", "%41", "a\nb", "ａ"],
)
def test_malformed_payloads(payload: str | None) -> None:
    assert not valid_payload(payload)


def test_a_link_opens_the_bot_with_the_payload() -> None:
    assert link("@SiniMaliBot", "segou-lycee") == "https://t.me/SiniMaliBot?start=segou-lycee"
    with pytest.raises(CampaignError):
        link("Sini Bot", "segou")
    with pytest.raises(CampaignError):
        link("SiniMaliBot", "ségou")


def test_a_payload_is_suggested_from_a_label() -> None:
    assert payload_from_label("Affiche lycée Ségou (2025)") == "affiche-lycee-segou-2025"
    assert valid_payload(payload_from_label("Émission radio " * 10))
    with pytest.raises(CampaignError):
        payload_from_label("«»")


def test_the_qr_code_is_a_png(tmp_path: Path) -> None:
    path = qr_png(link("SiniMaliBot", "segou-lycee"), tmp_path / "segou.png")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 200


async def test_a_campaign_is_registered_listed_and_resolved(store: CampaignStore) -> None:
    added = await store.add_campaign(
        "segou-lycee", "tramadol", "  Affiche   lycée Ségou ", DAY, targets=TARGETS
    )
    assert added.label == "Affiche lycée Ségou"
    await store.add_campaign(
        "radio-kledu", "drug.tramadol.about", "Spot radio", date(2025, 1, 2), targets=TARGETS
    )
    listed = await store.list_campaigns()
    assert [c.payload for c in listed] == ["radio-kledu", "segou-lycee"]
    assert listed[1] == added
    assert await store.resolve("segou-lycee") == "tramadol"
    assert await store.resolve("radio-kledu") == "drug.tramadol.about"


@pytest.mark.parametrize("payload", [None, "", "unknown", "bad payload!", "x" * 65])
async def test_unknown_or_malformed_payloads_resolve_to_nothing(
    store: CampaignStore, payload: str | None
) -> None:
    await store.add_campaign("segou-lycee", "tramadol", "Ségou", DAY, targets=TARGETS)
    assert await store.resolve(payload) is None
    assert await store.open(payload, DAY, "fr") is None


async def test_a_campaign_must_lead_somewhere_and_never_changes_meaning(
    store: CampaignStore, redis: Redis
) -> None:
    with pytest.raises(CampaignError, match="neither a quiz nor a message"):
        await store.add_campaign("segou", "nowhere", "Ségou", DAY, targets=TARGETS)
    with pytest.raises(CampaignError, match="valid payload"):
        await store.add_campaign("ségou", "tramadol", "Ségou", DAY, targets=TARGETS)
    with pytest.raises(CampaignError, match="label"):
        await store.add_campaign("segou", "tramadol", "   ", DAY, targets=TARGETS)
    await store.add_campaign("segou", "tramadol", "Ségou", DAY, targets=TARGETS)
    with pytest.raises(CampaignError, match="already exists"):
        await store.add_campaign("segou", "cannabis", "Autre", DAY, targets=TARGETS)
    assert await store.resolve("segou") == "tramadol"
    assert await redis.hlen(REGISTRY_KEY) == 1


async def test_an_unreadable_registry_entry_is_ignored(store: CampaignStore, redis: Redis) -> None:
    await redis.hset(REGISTRY_KEY, "broken", b"not json")
    await store.add_campaign("segou", "tramadol", "Ségou", DAY, targets=TARGETS)
    assert [c.payload for c in await store.list_campaigns()] == ["segou"]
    assert await store.resolve("broken") is None


async def test_counters_per_campaign_quiz_day_and_language(store: CampaignStore) -> None:
    await store.add_campaign("segou", "tramadol", "Ségou", DAY, targets=TARGETS)
    for locale in ("bm", "bm", "fr"):
        assert await store.open("segou", DAY, locale) is not None
        await store.quiz_started(DAY, "tramadol", locale)
    await store.quiz_completed(DAY, "tramadol", "bm", 4, campaign="segou")
    await store.quiz_completed(DAY, "tramadol", "bm", 3, campaign="segou")
    await store.quiz_completed(DAY, "tramadol", "fr", 5)  # a conversation without campaign
    await store.open("unknown", DAY, "fr")  # not registered: not counted

    campaigns = await store.campaign_stats([DAY, date(2025, 3, 15)])
    assert campaigns == [
        StatsRow(DAY, "segou", "bm", started=2, completed=2, score_sum=7),
        StatsRow(DAY, "segou", "fr", started=1),
    ]
    assert campaigns[0].average_score == 3.5
    assert campaigns[1].average_score is None
    quizzes = await store.quiz_stats([DAY])
    assert quizzes == [
        StatsRow(DAY, "tramadol", "bm", started=2, completed=2, score_sum=7),
        StatsRow(DAY, "tramadol", "fr", started=1, completed=1, score_sum=5),
    ]
    table = format_stats(campaigns)
    assert "segou" in table
    assert "3.5" in table
    assert table.count("\n") == 2


async def test_counters_hold_no_identifiers(store: CampaignStore, redis: Redis) -> None:
    """What a campaign conversation leaves in Redis: the registry and bare numbers."""
    await store.add_campaign("segou", "tramadol", "Ségou", DAY, targets=TARGETS)
    await store.open("segou", DAY, "bm")
    await store.quiz_started(DAY, "tramadol", "bm")
    await store.quiz_completed(DAY, "tramadol", "bm", 4, campaign="segou")

    dump = await redis_dump(redis)
    assert str(CHAT_ID).encode() not in dump
    assert chat_key(SECRET, CHAT_ID).encode() not in dump
    field_shape = re.compile(
        rb"[A-Za-z0-9_-]{1,64}:[a-z]{2,3}:(started|quiz_completed|completed|score_sum)"
    )
    stats_keys = [key async for key in redis.scan_iter(match="sini:stats:*")]
    assert sorted(stats_keys) == [
        b"sini:stats:campaigns:2025-03-14",
        b"sini:stats:quizzes:2025-03-14",
    ]
    for key in stats_keys:
        assert 0 < await redis.ttl(key) <= STATS_TTL_SECONDS
        for field, value in (await redis.hgetall(key)).items():
            assert field_shape.fullmatch(field), field
            assert value.isdigit()
    assert {key async for key in redis.scan_iter()} == {REGISTRY_KEY.encode(), *stats_keys}


async def test_counters_refuse_anything_shaped_unlike_a_counter(store: CampaignStore) -> None:
    with pytest.raises(ValueError, match="locale"):
        await store.count_campaign(DAY, "segou", "fr:x", "started")
    with pytest.raises(ValueError, match="payload"):
        await store.count_campaign(DAY, "se:gou", "fr", "started")
    with pytest.raises(ValueError, match="quiz"):
        await store.count_quiz(DAY, "Tramadol 123", "fr", "started")
