"""Short references: what staff can type, and the numbers the store gives."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from tips.references import Reference
from tips.stored import REFERENCE_LUA


@pytest.mark.parametrize("typed", ["T-26-0172", "t-26-172", " T 26 0172 ", "26-172", "t26-0172"])
def test_staff_may_type_a_reference_loosely(typed: str) -> None:
    assert Reference.typed(typed) == Reference(26, 172)
    assert str(Reference.typed(typed)) == "T-26-0172"


@pytest.mark.parametrize("typed", ["", "T-2026-0172", "abc", "T-26-", "0172", "T-26-01a2"])
def test_anything_else_is_not_a_reference(typed: str) -> None:
    assert Reference.typed(typed) is None


def test_stored_references_read_back() -> None:
    assert Reference.stored("T-26-12345") == Reference(26, 12345)
    with pytest.raises(ValueError, match="not a stored reference"):
        Reference.stored("t-26-172")


# Gives `ARGV[1]` references in one go and returns them.
_GIVE_MANY = (
    REFERENCE_LUA
    + """
local given = {}
for i = 1, tonumber(ARGV[1]) do
  table.insert(given, give_reference(KEYS[1], KEYS[2], KEYS[3], 'x' .. i, '26', 'secret'))
end
return given
"""
)


async def test_a_year_block_of_numbers_is_a_shuffled_permutation(redis: Redis[bytes]) -> None:
    give = redis.register_script(_GIVE_MANY)
    keys = ["sini:tips:refcount:26", "sini:tips:refs", "scratch"]
    numbers = [Reference.stored(r.decode()).number for r in await give(keys=keys, args=[10_000])]
    assert sorted(numbers) == list(range(10_000))  # unique: every number of the block once
    assert numbers[:50] != sorted(numbers[:50])  # not the order of arrival
    after = [Reference.stored(r.decode()).number for r in await give(keys=keys, args=[3])]
    assert all(10_000 <= n < 20_000 for n in after)  # the next block, one digit more
