"""Staff accounts: role, Argon2 password hash, and the desk-key grant that goes with them.

Two secrets hang off one password, on purpose separate:

- the login hash (argon2-cffi, `sini:staff:user:<name>` field ``hash``) says whether the
  password is right, cheaply and without touching key material;
- the desk-key grant (`tips.keys`: the account's own keypair wrapped under the password,
  the desk keyring sealed to that keypair) is what lets the session read tips.

Every change of password therefore updates both, and an account is only usable when both
exist. Creating an account or resetting a password needs a desk keyring in hand (an admin's
session, or the CLI after the admin typed their password): the grant is a copy of it.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from redis.asyncio import Redis

from tips.crypto import DeskKeyring, KdfLimits
from tips.keys import (
    change_password,
    init_desk_keys,
    revoke_account,
    wrap_for_account,
)
from tips.model import validate_account

USERS_INDEX = "sini:staff:users"
_USER_PREFIX = "sini:staff:user:"
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 256
# Unambiguous symbols (no 0/O, 1/l/I) for passwords read from a screen and typed once.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"  # noqa: S105


class Role(str, Enum):
    """Reviewers work the queue; admins also manage accounts, read the audit, export."""

    REVIEWER = "reviewer"
    ADMIN = "admin"


class AccountError(Exception):
    """Root of the account errors; the message is French, fit to show to staff."""


class AccountExists(AccountError):
    """An account with this name exists already."""


class AccountMissing(AccountError):
    """No such account."""


class WeakPassword(AccountError):
    """A password shorter than `MIN_PASSWORD_CHARS` (or absurdly long)."""


@dataclass(frozen=True)
class Account:
    """A staff member as stored; times are minutes (UTC), enough for staff bookkeeping."""

    name: str
    role: Role
    password_hash: str = field(repr=False)
    disabled: bool = False
    must_change: bool = False
    created: str = ""
    last_login: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def user_key(name: str) -> str:
    return _USER_PREFIX + validate_account(name)


def minute(now: datetime | None = None) -> str:
    """A UTC time to the minute, ISO 8601: how staff actions are stamped."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def check_password(password: str) -> str:
    """`password` if it is acceptable; length is what counts (NIST SP 800-63B)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise WeakPassword(f"Le mot de passe doit faire au moins {MIN_PASSWORD_CHARS} caractères.")
    if len(password) > MAX_PASSWORD_CHARS:
        raise WeakPassword("Mot de passe trop long.")
    return password


def generate_password(length: int = 16) -> str:
    """A temporary password an admin hands over; the account must change it at first login."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def _decode(data: dict[bytes, bytes], name: str) -> Account:
    def text(key: str) -> str:
        return data.get(key.encode(), b"").decode()

    return Account(
        name=name,
        role=Role(text("role")),
        password_hash=text("hash"),
        disabled=text("disabled") == "1",
        must_change=text("must_change") == "1",
        created=text("created"),
        last_login=text("last_login"),
    )


class Accounts:
    """Staff accounts in Redis, with their password hashes and desk-key grants."""

    def __init__(
        self, redis: Redis[bytes], kdf_limits: KdfLimits, hash_parameters: Parameters
    ) -> None:
        self.redis = redis
        self.kdf_limits = kdf_limits
        self.hasher = PasswordHasher.from_parameters(hash_parameters)
        # Verifying against this when the account does not exist keeps the time of a failed
        # login the same whether the name exists or not.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    async def get(self, name: str) -> Account | None:
        try:
            key = user_key(name)
        except ValueError:
            return None
        data = await self.redis.hgetall(key)
        return _decode(data, name) if data.get(b"role") else None

    async def require(self, name: str) -> Account:
        account = await self.get(name)
        if account is None:
            raise AccountMissing("Compte inconnu.")
        return account

    async def list(self) -> list[Account]:
        names = sorted(n.decode() for n in await self.redis.smembers(USERS_INDEX))
        found = [await self.get(name) for name in names]
        return [a for a in found if a is not None]

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def _claim(self, name: str, role: Role, password: str, must_change: bool) -> str:
        """Write the account record, refusing an existing name (HSETNX is the lock)."""
        try:
            key = user_key(name)
        except ValueError as error:
            raise AccountError(
                "Nom de compte invalide : 1 à 64 caractères parmi a-z, 0-9, « . », « _ », « - »."
            ) from error
        check_password(password)
        password_hash = await self._hash(password)
        if not await self.redis.hsetnx(key, "role", role.value):
            raise AccountExists("Ce compte existe déjà.")
        await self.redis.hset(
            key,
            mapping={
                "hash": password_hash,
                "disabled": 0,
                "must_change": int(must_change),
                "created": minute(),
            },
        )
        await self.redis.sadd(USERS_INDEX, name)
        return key

    async def create_first_admin(self, name: str, password: str) -> Account:
        """The installation's first account, which also creates the desk keypair.

        The desk key comes first: `init_desk_keys` refuses to overwrite an existing one, so
        running this twice fails before any account record is written.
        """
        validate_account(name)
        check_password(password)
        await init_desk_keys(self.redis, name, password, limits=self.kdf_limits)
        await self._claim(name, Role.ADMIN, password, must_change=False)
        return await self.require(name)

    async def create(
        self,
        name: str,
        role: Role,
        password: str,
        keyring: DeskKeyring,
        *,
        must_change: bool = True,
    ) -> Account:
        """A new account holding a copy of `keyring` wrapped under its password."""
        key = await self._claim(name, role, password, must_change)
        try:
            await wrap_for_account(self.redis, keyring, name, password, limits=self.kdf_limits)
        except BaseException:
            await self.redis.delete(key)
            await self.redis.srem(USERS_INDEX, name)
            raise
        return await self.require(name)

    async def verify_password(self, account: Account | None, password: str) -> bool:
        """Whether `password` is the account's; upgrades the hash if the cost was raised."""
        stored = account.password_hash if account else self._dummy_hash
        try:
            await asyncio.to_thread(self.hasher.verify, stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        if account is None:
            return False
        if self.hasher.check_needs_rehash(stored):
            await self.redis.hset(user_key(account.name), "hash", await self._hash(password))
        return True

    async def reset_password(self, name: str, password: str, keyring: DeskKeyring) -> None:
        """An admin gives the account a new (temporary) password: re-wraps the desk keyring
        under it, re-enables the account and asks for a change at next login."""
        await self.require(name)
        check_password(password)
        password_hash = await self._hash(password)
        await wrap_for_account(self.redis, keyring, name, password, limits=self.kdf_limits)
        await self.redis.hset(
            user_key(name),
            mapping={"hash": password_hash, "disabled": 0, "must_change": 1},
        )

    async def change_own_password(self, name: str, old: str, new: str) -> None:
        """The account holder changes their password: only their own key is re-wrapped."""
        check_password(new)
        password_hash = await self._hash(new)
        await change_password(self.redis, name, old, new, limits=self.kdf_limits)
        await self.redis.hset(user_key(name), mapping={"hash": password_hash, "must_change": 0})

    async def disable(self, name: str) -> None:
        """Block logins and drop the account's desk-key grant.

        The person may have kept a copy of the desk key while they had it: rotating the
        desk keys afterwards keeps new tips out of their reach. Re-enabling is a password
        reset by an admin (which grants the key again).
        """
        await self.require(name)
        await self.redis.hset(user_key(name), "disabled", 1)
        await revoke_account(self.redis, name)

    async def touch_login(self, name: str, now: datetime | None = None) -> None:
        await self.redis.hset(user_key(name), "last_login", minute(now))
