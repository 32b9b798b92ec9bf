"""Redis GEO index of the service directory, for "nearest services to my location".

One GEO key per service kind plus one for all kinds; members are service ids and nothing
else — a user's shared location is only ever a query argument, never stored.

Why rebuild-then-rename: `index_services` runs at every start-up of every bot replica.
Building into fresh temporary keys and swapping them in with RENAME inside one MULTI
makes re-indexing idempotent (same file, same index), makes entries deleted from the
file disappear, and never shows a reader a half-built or empty index.

Needs Redis 6.2+ (GEOSEARCH).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from redis.asyncio import Redis

from bot.services.directory import KINDS, Service

KEY_PREFIX = "sini:services:geo"
ALL_KINDS = "all"
# Temporary keys expire on their own if the process dies between building and swapping.
BUILD_TTL_SECONDS = 300
DEFAULT_RADIUS_KM = 1500.0  # covers Mali from any point in it (Kayes–Ménaka ≈ 1 450 km)


def geo_key(kind: str | None = None) -> str:
    """The GEO key holding services of `kind` (all services when None)."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown service kind {kind!r}; expected one of {KINDS}")
    return f"{KEY_PREFIX}:{kind or ALL_KINDS}"


def _groups(services: Iterable[Service]) -> dict[str, list[Service]]:
    located = [service for service in services if service.coordinates is not None]
    groups = {geo_key(): located}
    for kind in KINDS:
        groups[geo_key(kind)] = [service for service in located if kind in service.kinds]
    return groups


async def index_services(redis: Redis[bytes], services: Iterable[Service]) -> None:
    """Replace the GEO index with exactly the located `services` (national lines have no
    position and are not indexed). Safe to run concurrently from several replicas: each
    builds its own temporary keys, and the last swap wins with a complete index."""
    token = secrets.token_hex(8)
    groups = _groups(services)
    staged: dict[str, str] = {}
    async with redis.pipeline(transaction=False) as build:
        for key, members in groups.items():
            if not members:
                continue
            temporary = f"{key}:building:{token}"
            values: list[float | str] = []
            for service in members:
                assert service.coordinates is not None
                values += [service.coordinates.lon, service.coordinates.lat, service.id]
            build.geoadd(temporary, values)
            build.expire(temporary, BUILD_TTL_SECONDS)
            staged[key] = temporary
        await build.execute()
    async with redis.pipeline(transaction=True) as swap:
        for key in groups:
            if key in staged:
                swap.rename(staged[key], key)
                swap.persist(key)  # RENAME carries the temporary key's TTL over
            else:
                swap.delete(key)
        await swap.execute()


async def nearest_ids(
    redis: Redis[bytes],
    lat: float,
    lon: float,
    kind: str | None = None,
    limit: int = 3,
    radius_km: float = DEFAULT_RADIUS_KM,
) -> list[tuple[str, float]]:
    """Ids of the `limit` indexed services nearest to (lat, lon), with distances in km,
    nearest first. Empty when nothing is indexed within `radius_km`."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    rows = await redis.geosearch(
        geo_key(kind),
        longitude=lon,
        latitude=lat,
        radius=radius_km,
        unit="km",
        sort="ASC",
        count=limit,
        withdist=True,
    )
    return [
        (member.decode() if isinstance(member, bytes) else str(member), float(distance))
        for member, distance in rows
    ]
