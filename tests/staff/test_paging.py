"""The queue's pages from the desk's indexes show what filtering and sorting every record
would (`staff.queue.apply`), page after page, each tip once — for every sort, with time
moving the priority."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from sini.regions import Region
from staff import paging, queue, retention
from tests.conftest import Keys
from tests.tips.conftest import SECRET, WHEN, content, submit
from tips.crypto import MINIMUM_FOR_TESTS
from tips.desk import Desk
from tips.intake import Intake
from tips.model import Category, Status

FILTERS = [
    {},
    {"status": "new"},
    {"status": "closed"},
    {"category": "human_trafficking"},
    {"region": "segou", "age": "gt7d"},
    {"mine": "1"},
    {"age": "lt7d", "category": "other"},
    {"status": "in_review", "mine": "1", "region": "bamako"},
]


async def desk_of_many(intake: Intake, desk: Desk, keys: Keys) -> None:
    """30 tips over 60 days, in every status, some assigned, some awaiting a reply."""
    draw = random.Random(4)
    for n in range(30):
        tip = content(
            category=draw.choice(list(Category)),
            region=draw.choice([Region.BAMAKO, Region.SEGOU]),
        )
        moment = WHEN + timedelta(hours=draw.randrange(60 * 24))
        lookup = intake.lookup((await submit(intake, keys, tip, moment)).code)
        later = moment + timedelta(days=draw.randrange(5))
        path = draw.choice(
            [
                [],
                [Status.IN_REVIEW],
                [Status.REJECTED],
                [Status.IN_REVIEW, Status.FORWARDED],
                [Status.IN_REVIEW, Status.CLOSED],
            ]
        )
        for status in path:
            forward = "OCS" if status is Status.FORWARDED else None
            await desk.set_status(
                lookup,
                status,
                "r",
                "awa",
                now=later,
                forwarded_to=forward,
                desk_public_key=keys.public,
            )
        if n % 3 == 0:
            await desk.assign(lookup, "awa", now=later)


@pytest.mark.parametrize(("params", "sort"), itertools.product(FILTERS, queue.SORTS))
async def test_pages_show_what_the_filter_and_sort_select(
    redis: Redis[bytes], keys: Keys, params: dict[str, str], sort: str
) -> None:
    desk = Desk(redis)
    await desk_of_many(Intake(redis, SECRET, kdf_limits=MINIMUM_FOR_TESTS), desk, keys)
    wanted = queue.QueueFilter.parse({**params, "sort": sort})
    for now in (WHEN + timedelta(days=61), WHEN + timedelta(days=90, minutes=17)):
        expected = [r.lookup for r in queue.apply(await desk.records(), wanted, "awa", now)]
        shown: list[str] = []
        for offset in range(0, 35, 7):
            page = await paging.queue_page(desk, wanted, "awa", now, offset, 7)
            assert page.total == len(expected)
            shown += [r.lookup for r in page.records]
        assert shown == expected
        whole = await paging.queue_page(desk, wanted, "awa", now, 0, None)
        assert [r.lookup for r in whole.records] == expected


async def test_the_retention_warning_counts_from_the_index_of_changes(
    redis: Redis[bytes], keys: Keys
) -> None:
    desk = Desk(redis)
    await desk_of_many(Intake(redis, SECRET, kdf_limits=MINIMUM_FOR_TESTS), desk, keys)
    records = await desk.records()
    for days in (30, 60, 90):
        now = WHEN + timedelta(days=days, minutes=41)
        soon = [r for r in records if retention.expires_soon(r, 20, 72, now)]
        assert await retention.expiring(desk, 20, 72, now) == len(soon)
