"""The dashboard's configuration: its environment variables (`sini.settings.StaffSettings`)
and the costs that are not read from the environment.

`kdf_limits` is the Argon2id cost of the desk-key wrapping (libsodium) and
`hash_parameters` the cost of the login password hash (argon2-cffi). Both default to
production costs; `for_tests()` lowers them so a test suite can log in hundreds of times.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from argon2 import Parameters, profiles

from sini.settings import StaffSettings
from tips.crypto import INTERACTIVE, MINIMUM_FOR_TESTS, KdfLimits


@dataclass(frozen=True, kw_only=True)
class StaffConfig(StaffSettings):
    """How the dashboard behaves; `StaffConfig.from_env()` in production."""

    retention_warning_hours: int = 72
    kdf_limits: KdfLimits = INTERACTIVE
    hash_parameters: Parameters = field(default=profiles.RFC_9106_LOW_MEMORY)

    @classmethod
    def for_tests(cls, **overrides: Any) -> StaffConfig:
        """Cheap KDFs, plain-http cookies and no background purge: what tests need."""
        cheap = cls(
            insecure_cookies=True,
            purge_every_hours=0,
            kdf_limits=MINIMUM_FOR_TESTS,
            hash_parameters=profiles.CHEAPEST,
        )
        return replace(cheap, **overrides)
