"""The service directory: treatment, victim-assistance and emergency services in Mali.

`directory` is pure (loading, validation, distances; the regions are `sini.regions`): a
shared Telegram location finds the nearest services in memory, Redis or not.
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
