"""The dashboard's configuration: its environment variables (`sini.settings.StaffSettings`)
and the costs that are not read from the environment.

`kdf_limits` is the Argon2id cost of the desk-key wrapping (libsodium) and
`hash_parameters` the cost of the login password hash (argon2-cffi). Both default to
production costs; the test suite lowers them so it can log in hundreds of times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from argon2 import Parameters, profiles

from sini.settings import StaffSettings
from tips.crypto import INTERACTIVE, KdfLimits


@dataclass(frozen=True, kw_only=True)
class StaffConfig(StaffSettings):
    """How the dashboard behaves; `StaffConfig.from_env()` in production."""

    retention_warning_hours: int = 72
    kdf_limits: KdfLimits = INTERACTIVE
    hash_parameters: Parameters = field(default=profiles.RFC_9106_LOW_MEMORY)
