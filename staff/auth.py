"""Logging in: password check, lockout after repeated failures, and the desk keyring.

A successful login returns the desk keyring unwrapped with the password; the caller keeps
it in a server-side session (`sessions`), never on disk or in Redis.

Throttling, checked before any Argon2 work (so a locked name costs no CPU), counts failures
three ways:

- per client address: `client_attempts` failures, whatever the names typed, lock that
  address (spraying one password across many names);
- per typed account name, existing or not (so it does not reveal which names exist), for
  browsers that never logged in to that account;
- per known browser: a successful login leaves a device cookie (an HMAC'd token naming no
  one in clear) and, for that account, such a browser has a counter of its own instead of
  the account's. Failures from anywhere else can lock the account for strangers, never out
  of the browsers its owner already uses (OWASP's "device cookies"); the command line,
  run by whoever holds the server, is not subject to the account lock either.

Counter keys are HMACs: people type passwords into the name field, and a failed-login
counter must not keep those (or addresses) in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

from redis.asyncio import Redis

from staff.accounts import Account, Accounts
from tips.crypto import DecryptionFailed, DeskKeyring, MalformedSealed, derive_secret
from tips.keys import DeskKeyError, unwrap_desk_keyring

_FAILURES_PREFIX = "sini:staff:failures:"
_LOCK_PREFIX = "sini:staff:locked:"
_CLIENT = "client:"  # after a prefix: counters of a client address
_DEVICE = "device:"  # after a prefix: counters of a known browser (device token)
DEVICE_DAYS = 365  # a device token is honoured this long after the login that issued it
_DEVICES_PER_COOKIE = 5  # shared browsers: the last accounts that logged in on it


class LoginError(Exception):
    """Root of the login refusals; the message is French and safe to show."""


class InvalidCredentials(LoginError):
    """Unknown name or wrong password — deliberately one error."""


class Throttled(LoginError):
    """Too many failures; `retry_after` seconds to wait."""

    def __init__(self, message: str, retry_after: int) -> None:
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(f"{message} Réessayez dans {minutes} min.")
        self.retry_after = retry_after


class AccountLocked(Throttled):
    """Too many failures for this name (or from this known browser)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("Trop d'essais infructueux : compte verrouillé.", retry_after)


class ClientLocked(Throttled):
    """Too many failures from this client address, whatever the names."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("Trop d'essais infructueux depuis cette adresse.", retry_after)


class AccountDisabled(LoginError):
    """The password is right but the account was disabled by an admin."""


class NoDeskAccess(LoginError):
    """The password is right but the account holds no usable desk-key grant."""


@dataclass(frozen=True)
class LoginResult:
    account: Account
    keyring: DeskKeyring = field(repr=False)


class Lockout:
    """Failure counters: `attempts` failures within `seconds` lock a typed name (or a known
    browser) for `seconds`; `client_attempts` failures lock a client address."""

    def __init__(
        self,
        redis: Redis[bytes],
        secret: bytes,
        attempts: int,
        seconds: int,
        client_attempts: int = 20,
    ) -> None:
        self.redis = redis
        self.attempts = attempts
        self.seconds = seconds
        self.client_attempts = client_attempts
        self._key = derive_secret(secret, "staff:lockout")
        self._device_key = derive_secret(secret, "staff:device")

    def _id(self, typed_name: str) -> str:
        normalized = typed_name.strip().lower().encode()
        return hmac.new(self._key, normalized, hashlib.sha256).hexdigest()[:32]

    def _tagged(self, tag: str, value: str) -> str:
        return tag + hmac.new(self._key, (tag + value).encode(), hashlib.sha256).hexdigest()[:32]

    async def _retry_after(self, ident: str) -> int:
        ttl = await self.redis.ttl(_LOCK_PREFIX + ident)
        return max(int(ttl), 0)

    async def _fail(self, ident: str, attempts: int) -> bool:
        counter = _FAILURES_PREFIX + ident
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(counter)
            pipe.expire(counter, self.seconds, nx=True)
            count, _ = await pipe.execute()
        if int(count) < attempts:
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(_LOCK_PREFIX + ident, 1, ex=self.seconds)
            pipe.delete(counter)
            await pipe.execute()
        return True

    async def _clear(self, ident: str) -> None:
        await self.redis.delete(_FAILURES_PREFIX + ident, _LOCK_PREFIX + ident)

    async def retry_after(self, typed_name: str) -> int:
        """Seconds before this name may try again (0: not locked)."""
        return await self._retry_after(self._id(typed_name))

    async def fail(self, typed_name: str) -> bool:
        """Count one failure; True when it locks the name."""
        return await self._fail(self._id(typed_name), self.attempts)

    async def clear(self, typed_name: str) -> None:
        await self._clear(self._id(typed_name))

    async def client_retry_after(self, client: str) -> int:
        return await self._retry_after(self._tagged(_CLIENT, client))

    async def client_fail(self, client: str) -> bool:
        return await self._fail(self._tagged(_CLIENT, client), self.client_attempts)

    async def device_retry_after(self, token: str) -> int:
        return await self._retry_after(self._tagged(_DEVICE, token))

    async def device_fail(self, token: str) -> bool:
        return await self._fail(self._tagged(_DEVICE, token), self.attempts)

    async def device_clear(self, token: str) -> None:
        await self._clear(self._tagged(_DEVICE, token))

    # Device tokens: "<day>.<nonce>.<mac>", the MAC over the account name, day and nonce.

    def _device_mac(self, name: str, day: str, nonce: str) -> str:
        message = f"{name.strip().lower()}\n{day}\n{nonce}".encode()
        return hmac.new(self._device_key, message, hashlib.sha256).hexdigest()[:32]

    def _device_valid(self, name: str, token: str) -> bool:
        parts = token.split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            return False
        day, nonce, mac = parts
        if not 0 <= int(time.time() // 86400) - int(day) <= DEVICE_DAYS:
            return False
        return hmac.compare_digest(mac, self._device_mac(name, day, nonce))

    def device_for(self, name: str, cookie: str | None) -> str | None:
        """The token in this browser's device cookie that `name` logged in with, if any."""
        tokens = (cookie or "").split("~")[:_DEVICES_PER_COOKIE]
        return next((t for t in tokens if self._device_valid(name, t)), None)

    def remember_device(self, name: str, cookie: str | None) -> str:
        """The device cookie's new value after `name` logged in on this browser: a fresh
        token for `name` and the tokens of the other accounts seen on it (the last few)."""
        day = str(int(time.time() // 86400))
        nonce = secrets.token_urlsafe(12).replace(".", "_").replace("~", "_")
        fresh = f"{day}.{nonce}.{self._device_mac(name, day, nonce)}"
        others = [
            t
            for t in (cookie or "").split("~")[:_DEVICES_PER_COOKIE]
            if t and len(t) < 100 and not self._device_valid(name, t)
        ]
        return "~".join([*others[-(_DEVICES_PER_COOKIE - 1) :], fresh])


class Authenticator:
    """Checks a name and password and unwraps the desk keyring for the session."""

    def __init__(self, redis: Redis[bytes], accounts: Accounts, lockout: Lockout) -> None:
        self.redis = redis
        self.accounts = accounts
        self.lockout = lockout

    async def login(
        self,
        typed_name: str,
        password: str,
        *,
        client: str | None = None,
        device: str | None = None,
        trusted: bool = False,
    ) -> LoginResult:
        """The account and its desk keyring, or a `LoginError` saying why not.

        `client` is the address the attempt comes from, `device` the browser's device
        cookie; `trusted` (the command line) skips the account lock."""
        name = typed_name.strip().lower()
        lockout = self.lockout
        if client and (retry := await lockout.client_retry_after(client)):
            raise ClientLocked(retry)
        token = lockout.device_for(name, device)
        if token is not None:
            retry = await lockout.device_retry_after(token)
        else:
            retry = 0 if trusted else await lockout.retry_after(name)
        if retry:
            raise AccountLocked(retry)
        account = await self.accounts.get(name)
        if not await self.accounts.verify_password(account, password) or account is None:
            client_locked = bool(client) and await lockout.client_fail(client or "")
            if token is not None:
                if await lockout.device_fail(token):
                    raise AccountLocked(await lockout.device_retry_after(token))
            elif await lockout.fail(name) and not trusted:
                raise AccountLocked(await lockout.retry_after(name))
            if client_locked:
                raise ClientLocked(await lockout.client_retry_after(client or ""))
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
        if token is not None:
            await lockout.device_clear(token)  # the name's counter is the strangers' one
        elif not trusted:
            await lockout.clear(name)
        await self.accounts.touch_login(name)
        return LoginResult(account, keyring)
