"""Settings of the staff dashboard, read from the environment in one place.

Kept apart from `bot.config.Settings` (owned by the bot) so the dashboard's knobs do not
leak into the bot; the installation secret and paths still come from `Settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from argon2 import Parameters, profiles

from tips.crypto import INTERACTIVE, MINIMUM_FOR_TESTS, KdfLimits


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass(frozen=True)
class StaffConfig:
    """How the dashboard behaves; `StaffConfig.from_env()` in production.

    `kdf_limits` is the Argon2id cost of the desk-key wrapping (libsodium) and
    `hash_parameters` the cost of the login password hash (argon2-cffi). Both default to
    production costs; `for_tests()` lowers them so a test suite can log in hundreds of times.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    secure_cookies: bool = True
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    client_lockout_attempts: int = 20
    retention_days: int = 90
    retention_warning_hours: int = 72
    purge_every_hours: int = 24
    locale: str = "fr"
    kdf_limits: KdfLimits = INTERACTIVE
    hash_parameters: Parameters = field(default=profiles.RFC_9106_LOW_MEMORY)

    @classmethod
    def from_env(cls) -> StaffConfig:
        return cls(
            host=os.environ.get("STAFF_HOST", "127.0.0.1"),
            port=_int("STAFF_PORT", 8080),
            secure_cookies=os.environ.get("STAFF_INSECURE_COOKIES", "") != "1",
            session_idle_minutes=_int("STAFF_SESSION_MINUTES", 30),
            session_max_hours=_int("STAFF_SESSION_MAX_HOURS", 12),
            lockout_attempts=_int("STAFF_LOCKOUT_ATTEMPTS", 5),
            lockout_minutes=_int("STAFF_LOCKOUT_MINUTES", 15),
            client_lockout_attempts=_int("STAFF_CLIENT_LOCKOUT_ATTEMPTS", 20),
            retention_days=_int("RETENTION_DAYS", 90),
            purge_every_hours=_int("STAFF_PURGE_EVERY_HOURS", 24),
            locale=os.environ.get("STAFF_LOCALE", "fr"),
        )

    @classmethod
    def for_tests(cls, **overrides: object) -> StaffConfig:
        """Cheap KDFs, plain-http cookies and no background purge: what tests need."""
        base: dict[str, object] = {
            "secure_cookies": False,
            "purge_every_hours": 0,
            "kdf_limits": MINIMUM_FOR_TESTS,
            "hash_parameters": profiles.CHEAPEST,
        }
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]
