"""The service directory: treatment, victim-assistance and emergency services in Mali.

`directory` is pure (loading, validation, distances; the regions are `sini.regions`);
`geo` keeps a Redis GEO index of the same entries so a shared Telegram location finds the
nearest ones.
"""

from __future__ import annotations

from bot.services.directory import (
    KINDS,
    NATIONAL,
    PRECISIONS,
    Service,
    by_id,
    haversine_km,
    in_region,
    load_services,
    nearest,
)

__all__ = [
    "KINDS",
    "NATIONAL",
    "PRECISIONS",
    "Service",
    "by_id",
    "haversine_km",
    "in_region",
    "load_services",
    "nearest",
]
