"""The organisations tips are forwarded to: one spelling each, a list admins manage."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from staff.forwarding import DEFAULTS, ForwardTargets, TargetNameInvalid, spelling, tally, tidy
from tests.staff.conftest import arun

LISTED = ["OCS", "Police nationale"]


def test_a_typed_name_is_tidied() -> None:
    assert tidy("  Brigade   des\tmineurs ") == "Brigade des mineurs"


@pytest.mark.parametrize("typed", ["ocs", "OCS ", " Ocs", "OCS"])
def test_a_name_matching_a_listed_one_takes_its_spelling(typed: str) -> None:
    assert spelling(typed, LISTED) == "OCS"


def test_an_unlisted_name_is_kept_tidied() -> None:
    assert spelling(" Croix  Rouge ", LISTED) == "Croix Rouge"
    assert spelling("police  NATIONALE", LISTED) == "Police nationale"


def test_the_statistics_count_one_organisation_once() -> None:
    counts = [("OCS", 3), ("ocs", 1), ("OCS ", 1), ("croix rouge", 1), ("Croix Rouge", 2)]
    assert tally(counts, LISTED) == [("OCS", 5), ("croix rouge", 3)]


def test_admins_add_and_remove_organisations(redis_url: str) -> None:
    async def job(redis: Redis) -> list[list[str] | str]:
        targets = ForwardTargets(redis)
        first = await targets.list()
        added = await targets.add("  Croix   Rouge ")
        again = await targets.add("croix rouge")
        await targets.remove("OCS")
        return [first, added, again, await targets.list()]

    first, added, again, after = arun(redis_url, job)
    assert first == list(DEFAULTS)
    assert added == again == "Croix Rouge"
    assert after == [*(t for t in DEFAULTS if t != "OCS"), "Croix Rouge"]


def test_an_emptied_list_stays_empty(redis_url: str) -> None:
    async def job(redis: Redis) -> list[str]:
        targets = ForwardTargets(redis)
        for name in DEFAULTS:
            await targets.remove(name)
        return await targets.list()

    assert arun(redis_url, job) == []


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_an_empty_or_too_long_name_is_refused(redis_url: str, name: str) -> None:
    async def job(redis: Redis) -> str:
        return await ForwardTargets(redis).add(name)

    with pytest.raises(TargetNameInvalid):
        arun(redis_url, job)
