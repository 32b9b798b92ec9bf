"""The indexes the paged queue reads (status, category, region, assignee, label, important,
last change) and
the short references, kept consistent with the tip hashes by every write, against a real
Redis; and paging through them."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from sini.regions import Region
from tests.conftest import Keys
from tests.tips.conftest import (
    WHEN,
    content,
    indexes,
    indexes_from_hashes,
    references,
    submit,
)
from tips.desk import Desk, Order, TipQuery
from tips.intake import Intake
from tips.model import Category, Status
from tips.references import Reference

ACCOUNTS = ("awa", "moussa", "fatou")
LABELS = ("Tramadol", "tramadol ", "Gare routière", "déjà  signalé")
REGIONS = (Region.BAMAKO, Region.SEGOU, Region.MOPTI)


async def submit_many(intake: Intake, keys: Keys, count: int, seed: int) -> list[str]:
    """`count` tips over three years of hours, categories and regions drawn from `seed`."""
    draw = random.Random(seed)
    lookups = []
    for _ in range(count):
        tip = content(category=draw.choice(list(Category)), region=draw.choice(REGIONS))
        moment = WHEN + timedelta(hours=draw.randrange(3 * 365 * 24))
        lookups.append(intake.lookup((await submit(intake, keys, tip, moment)).code))
    return lookups


async def assert_consistent(redis: Redis[bytes]) -> None:
    assert await indexes(redis) == await indexes_from_hashes(redis)
    indexed, held = await references(redis)
    assert indexed == {ref: lookup for lookup, ref in held.items()}


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_every_write_keeps_the_indexes_equal_to_the_tips(
    redis: Redis[bytes], intake: Intake, desk: Desk, keys: Keys, seed: int
) -> None:
    draw = random.Random(seed)
    lookups = await submit_many(intake, keys, 12, seed)
    later = WHEN + timedelta(days=4 * 365)
    for step in range(80):
        alive = [lk for lk in lookups if await redis.exists(f"sini:tip:{lk}")]
        if not alive:
            break
        lookup = draw.choice(alive)
        record = await desk.get(lookup)
        action = draw.choice(["status", "assign", "label", "important", "reply", "purge", "submit"])
        now = later + timedelta(hours=step)
        if action == "status":
            allowed = [s for s in Status if record.status.can_become(s)]
            target = draw.choice(allowed)
            forward = "OCS" if target is Status.FORWARDED else None
            await desk.set_status(
                lookup,
                target,
                "r",
                "awa",
                now=now,
                forwarded_to=forward,
                desk_public_key=keys.public,
            )
        elif action == "assign":
            await desk.assign(lookup, draw.choice([*ACCOUNTS, None]), now=now)
        elif action == "label":
            await desk.label(lookup, draw.choice(LABELS), remove=draw.random() < 0.3)
        elif action == "important":
            await desk.mark_important(lookup, draw.random() < 0.6)
        elif action == "reply":
            await desk.reply_to_tipster(lookup, "merci", keys.public, now=now)
        elif action == "purge":
            await desk.purge_closed(draw.choice([0, 30]), now)
        else:
            lookups += await submit_many(intake, keys, 1, seed * 1000 + step)
        await assert_consistent(redis)


async def test_paging_returns_each_tip_once_in_order(
    redis: Redis[bytes], intake: Intake, desk: Desk, keys: Keys
) -> None:
    lookups = await submit_many(intake, keys, 23, seed=7)
    for lookup in lookups[::3]:
        await desk.assign(lookup, "awa")
    everything = await desk.records()
    for order in Order:
        query = TipQuery()
        seen = []
        for offset in range(0, 30, 5):
            page = await desk.page(query, order, offset, 5)
            assert page.total == 23
            seen += [r.lookup for r in page.records]
        newest = [r.lookup for r in everything]  # records(): newest first
        assert seen == (newest if order is Order.NEWEST else newest[::-1])
    mine = await desk.page(TipQuery(assignee="awa"), Order.OLDEST)
    assert sorted(r.lookup for r in mine.records) == sorted(lookups[::3])
    assert mine.total == 8


async def test_a_query_intersects_its_indexes(
    redis: Redis[bytes], intake: Intake, desk: Desk, keys: Keys
) -> None:
    await submit_many(intake, keys, 30, seed=11)
    everything = await desk.records()
    query = TipQuery(
        statuses=frozenset({Status.NEW}),
        categories=frozenset({Category.HUMAN_TRAFFICKING, Category.DRUG_TRAFFICKING}),
        region=Region.SEGOU,
        created_after=WHEN + timedelta(days=100),
        created_before=WHEN + timedelta(days=800),
    )
    page = await desk.page(query, Order.NEWEST)
    assert [r.lookup for r in page.records] == [
        r.lookup
        for r in everything
        if r.category in query.categories  # type: ignore[operator]
        and r.region is Region.SEGOU
        and WHEN + timedelta(days=100) < r.created_hour < WHEN + timedelta(days=800)
    ]
    assert page.total == len(page.records) > 0
    assert (await desk.page(TipQuery(statuses=frozenset()), Order.NEWEST)).total == 0
    assert not await redis.keys("sini:tips:paging:*")  # temporary keys die with the script


async def test_counts_come_from_the_indexes(intake: Intake, desk: Desk, keys: Keys) -> None:
    lookups = await submit_many(intake, keys, 5, seed=3)
    await desk.set_status(lookups[0], Status.REJECTED, "spam", "awa", desk_public_key=keys.public)
    total, each = await desk.counts()
    assert total == 5
    assert each[Status.NEW] == 4
    assert each[Status.REJECTED] == 1
    assert each[Status.CLOSED] == 0


async def test_references_are_unique_under_concurrent_submissions(
    redis: Redis[bytes], intake: Intake, desk: Desk, keys: Keys
) -> None:
    receipts = await asyncio.gather(*(submit(intake, keys) for _ in range(40)))
    indexed, held = await references(redis)
    assert len(indexed) == len(set(held.values())) == 40
    for receipt in receipts:
        lookup = intake.lookup(receipt.code)
        record = await desk.get(lookup)
        assert record.reference is not None
        assert str(record.reference).startswith("T-25-")
        assert await desk.find(record.reference) == lookup
        assert receipt.code not in str(record.reference)
    assert await desk.find(Reference(25, 99999)) is None
