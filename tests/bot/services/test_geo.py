"""The Redis GEO index agrees with the pure haversine reference, rebuilds idempotently,
forgets deleted entries, and holds nothing but service ids."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.config import PROJECT_ROOT
from bot.services import KINDS, Service, load_services, nearest
from bot.services.geo import KEY_PREFIX, geo_key, index_services, nearest_ids
from tests.bot.services import BAMAKO, MOPTI, SEVARE, SIKASSO, small_directory

SERVICES_FILE = PROJECT_ROOT / "responses" / "services.yml"
POINTS = {"Bamako": BAMAKO, "Sikasso": SIKASSO, "Mopti": MOPTI, "Sévaré": SEVARE}
TIE_KM = 0.01  # Redis stores positions as 52-bit geohashes: well under a metre of error


@pytest.fixture(scope="module")
def services() -> list[Service]:
    return load_services(SERVICES_FILE)


def grouped(pairs: list[tuple[str, float]]) -> list[tuple[float, frozenset[str]]]:
    """Consecutive results at the same distance, as (distance, ids): many entries share a
    town centre, and Redis may return equidistant members in any order."""
    groups: list[tuple[float, set[str]]] = []
    for service_id, distance in pairs:
        if groups and distance - groups[-1][0] <= TIE_KM:
            groups[-1][1].add(service_id)
        else:
            groups.append((distance, {service_id}))
    return [(round(distance, 1), frozenset(ids)) for distance, ids in groups]


async def snapshot(redis: Redis) -> dict[str, list[tuple[bytes, float]]]:
    keys = sorted(key.decode() for key in await redis.keys(f"{KEY_PREFIX}:*"))
    return {key: await redis.zrange(key, 0, -1, withscores=True) for key in keys}


async def test_the_test_redis_supports_geosearch(redis: Redis) -> None:
    info = await redis.info("server")
    version = tuple(int(part) for part in str(info["redis_version"]).split(".")[:2])
    assert version >= (6, 2), "GEOSEARCH needs redis-server 6.2 or newer"


@pytest.mark.parametrize("place", sorted(POINTS))
async def test_redis_and_the_pure_fallback_agree_on_the_real_directory(
    redis: Redis, services: list[Service], place: str
) -> None:
    lat, lon = POINTS[place]
    await index_services(redis, services)
    for kind in (None, *KINDS):
        pure = [(s.id, d) for s, d in nearest(services, lat, lon, kind, limit=len(services))]
        found = await nearest_ids(redis, lat, lon, kind, limit=len(services), radius_km=3000)
        assert grouped(found) == grouped(pure), (place, kind)


@pytest.mark.parametrize("place", sorted(POINTS))
async def test_redis_and_the_pure_fallback_agree_exactly_without_ties(
    redis: Redis, place: str
) -> None:
    directory = small_directory()
    lat, lon = POINTS[place]
    await index_services(redis, directory)
    for kind in (None, "shelter", "treatment"):
        pure = nearest(directory, lat, lon, kind, limit=3)
        found = await nearest_ids(redis, lat, lon, kind, limit=3)
        assert [service_id for service_id, _ in found] == [s.id for s, _ in pure]
        for (_, redis_km), (_, pure_km) in zip(found, pure, strict=True):
            assert redis_km == pytest.approx(pure_km, abs=TIE_KM)


async def test_the_radius_bounds_the_search(redis: Redis) -> None:
    await index_services(redis, small_directory())
    found = await nearest_ids(redis, *BAMAKO, limit=10, radius_km=50)
    assert [service_id for service_id, _ in found] == ["hopital-bamako", "foyer-bamako"]


async def test_indexing_twice_gives_the_same_index(redis: Redis, services: list[Service]) -> None:
    await index_services(redis, services)
    first = await snapshot(redis)
    await index_services(redis, services)
    assert await snapshot(redis) == first
    assert geo_key() in first
    for key in first:
        assert "building" not in key
        assert await redis.ttl(key) == -1, f"{key} would expire"


async def test_entries_removed_from_the_file_disappear_from_the_index(redis: Redis) -> None:
    directory = small_directory()
    await index_services(redis, directory)
    assert await redis.exists(geo_key("legal_aid"))
    remaining = [s for s in directory if s.id not in {"foyer-gao", "aide-sikasso"}]
    await index_services(redis, remaining)
    for members in (await snapshot(redis)).values():
        ids = {member.decode() for member, _ in members}
        assert not ids & {"foyer-gao", "aide-sikasso"}
    assert not await redis.exists(geo_key("legal_aid")), "a kind with no service left"
    found = await nearest_ids(redis, 16.27, -0.04, "shelter", limit=1)
    assert found[0][0] == "foyer-mopti"


async def test_the_index_holds_only_located_service_ids(redis: Redis) -> None:
    directory = small_directory()
    await index_services(redis, directory)
    located = {s.id for s in directory if s.coordinates is not None}
    index = await snapshot(redis)
    assert set(index) <= {geo_key(), *(geo_key(kind) for kind in KINDS)}
    for members in index.values():
        assert {member.decode() for member, _ in members} <= located
    assert {member.decode() for member, _ in index[geo_key()]} == located


async def test_an_empty_index_finds_nothing(redis: Redis) -> None:
    assert await nearest_ids(redis, *BAMAKO) == []
    await index_services(redis, [])
    assert await snapshot(redis) == {}


async def test_unknown_kinds_and_limits_are_refused(redis: Redis) -> None:
    with pytest.raises(ValueError, match="unknown service kind"):
        await nearest_ids(redis, *BAMAKO, kind="rehab")
    with pytest.raises(ValueError, match="limit"):
        await nearest_ids(redis, *BAMAKO, limit=0)
