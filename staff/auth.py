"""Logging in: password check, lockout after repeated failures, and the desk keyring.

A successful login returns the desk keyring unwrapped with the password; the caller keeps
it in a server-side session (`sessions`), never on disk or in Redis.

Lockout is per typed account name, existing or not (so it does not reveal which names
exist), and checked before any Argon2 work (so a locked name costs no CPU). The counter's
Redis key is an HMAC of the typed name: people type passwords into the name field, and a
failed-login counter must not keep those in clear.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from redis.asyncio import Redis

from staff.accounts import Account, Accounts
from tips.crypto import DecryptionFailed, DeskKeyring, MalformedSealed, derive_secret
from tips.keys import DeskKeyError, unwrap_desk_keyring

_FAILURES_PREFIX = "sini:staff:failures:"
_LOCK_PREFIX = "sini:staff:locked:"


class LoginError(Exception):
    """Root of the login refusals; the message is French and safe to show."""


class InvalidCredentials(LoginError):
    """Unknown name or wrong password — deliberately one error."""


class AccountLocked(LoginError):
    """Too many failures for this name; `retry_after` seconds to wait."""

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(
            f"Trop d'essais infructueux : compte verrouillé. Réessayez dans {minutes} min."
        )
        self.retry_after = retry_after


class AccountDisabled(LoginError):
    """The password is right but the account was disabled by an admin."""


class NoDeskAccess(LoginError):
    """The password is right but the account holds no usable desk-key grant."""


@dataclass(frozen=True)
class LoginResult:
    account: Account
    keyring: DeskKeyring = field(repr=False)


class Lockout:
    """Failure counters per typed name: `attempts` failures within `seconds` lock for
    `seconds`."""

    def __init__(self, redis: Redis[bytes], secret: bytes, attempts: int, seconds: int) -> None:
        self.redis = redis
        self.attempts = attempts
        self.seconds = seconds
        self._key = derive_secret(secret, "staff:lockout")

    def _id(self, typed_name: str) -> str:
        normalized = typed_name.strip().lower().encode()
        return hmac.new(self._key, normalized, hashlib.sha256).hexdigest()[:32]

    async def retry_after(self, typed_name: str) -> int:
        """Seconds before this name may try again (0: not locked)."""
        ttl = await self.redis.ttl(_LOCK_PREFIX + self._id(typed_name))
        return max(int(ttl), 0)

    async def fail(self, typed_name: str) -> bool:
        """Count one failure; True when it locks the name."""
        ident = self._id(typed_name)
        counter = _FAILURES_PREFIX + ident
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(counter)
            pipe.expire(counter, self.seconds, nx=True)
            count, _ = await pipe.execute()
        if int(count) < self.attempts:
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(_LOCK_PREFIX + ident, 1, ex=self.seconds)
            pipe.delete(counter)
            await pipe.execute()
        return True

    async def clear(self, typed_name: str) -> None:
        ident = self._id(typed_name)
        await self.redis.delete(_FAILURES_PREFIX + ident, _LOCK_PREFIX + ident)


class Authenticator:
    """Checks a name and password and unwraps the desk keyring for the session."""

    def __init__(self, redis: Redis[bytes], accounts: Accounts, lockout: Lockout) -> None:
        self.redis = redis
        self.accounts = accounts
        self.lockout = lockout

    async def login(self, typed_name: str, password: str) -> LoginResult:
        """The account and its desk keyring, or a `LoginError` saying why not."""
        name = typed_name.strip().lower()
        retry = await self.lockout.retry_after(name)
        if retry:
            raise AccountLocked(retry)
        account = await self.accounts.get(name)
        if not await self.accounts.verify_password(account, password) or account is None:
            if await self.lockout.fail(name):
                raise AccountLocked(await self.lockout.retry_after(name))
            raise InvalidCredentials("Identifiant ou mot de passe incorrect.")
        if account.disabled:
            raise AccountDisabled("Ce compte est désactivé. Demandez à un administrateur.")
        try:
            keyring = await unwrap_desk_keyring(self.redis, name, password)
        except (DeskKeyError, DecryptionFailed, MalformedSealed) as error:
            raise NoDeskAccess(
                "Ce compte n'a pas accès à la clé du bureau. Demandez à un administrateur "
                "de réinitialiser votre mot de passe."
            ) from error
        await self.lockout.clear(name)
        await self.accounts.touch_login(name)
        return LoginResult(account, keyring)
