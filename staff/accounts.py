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
from zxcvbn import zxcvbn

from staff import fields
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
# zxcvbn's estimate, 0-4: 3 is "safely unguessable" (about 10^8 guesses or more) — what an
# online attacker slowed by Argon2 and the login throttle cannot reach.
MIN_PASSWORD_SCORE = 3
# zxcvbn refuses longer inputs (its matching is quadratic); the rest only adds strength.
_SCORED_CHARS = 72
# Words of this installation an attacker would try first, besides the account's own name.
_LOCAL_WORDS = (
    "sini",
    "mali",
    "bamako",
    "bureau",
    "signalement",
    "signalements",
    "motdepasse",
    "helpline",
    "tramadol",
    "admin",
    "administrateur",
)
# Unambiguous symbols (no 0/O, 1/l/I) for passwords read from a screen and typed once.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"  # noqa: S105


class Role(str, Enum):
    """Reviewers work the queue; counsellors talk with young people on the console; admins
    also manage accounts, read the audit, export, and may counsel."""

    REVIEWER = "reviewer"
    COUNSELLOR = "counsellor"
    ADMIN = "admin"


class AccountError(Exception):
    """Root of the account errors; the message is French, fit to show to staff."""


class AccountExists(AccountError):
    """An account with this name exists already."""


class AccountMissing(AccountError):
    """No such account."""


class WeakPassword(AccountError):
    """A password too short, too long, easy to guess (common, derived from the account's
    name, a pattern) or holding control characters."""


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
    # Moves at every password change, reset and disable: a session opened under another
    # epoch is over (`web.staff_only`), wherever the change was made (web or CLI).
    epoch: int = 0

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def user_key(name: str) -> str:
    return _USER_PREFIX + validate_account(name)


def minute(now: datetime | None = None) -> str:
    """A UTC time to the minute, ISO 8601: how staff actions are stamped."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def check_password(password: str, name: str = "") -> str:
    """`password` if it is acceptable for account `name` (NIST SP 800-63B): long enough,
    without control characters, and not guessable — zxcvbn's score (common passwords,
    keyboard patterns, repeats, dates, the account's name and this installation's words)
    at least `MIN_PASSWORD_SCORE`."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise WeakPassword(f"Le mot de passe doit faire au moins {MIN_PASSWORD_CHARS} caractères.")
    if len(password) > MAX_PASSWORD_CHARS:
        raise WeakPassword("Mot de passe trop long.")
    if fields.has_controls(password):
        raise WeakPassword("Le mot de passe contient un caractère de contrôle.")
    words = [w for w in (name, *name.replace("_", ".").replace("-", ".").split(".")) if w]
    estimate = zxcvbn(password[:_SCORED_CHARS], user_inputs=[*words, *_LOCAL_WORDS])
    if int(estimate["score"]) < MIN_PASSWORD_SCORE:
        raise WeakPassword(
            "Mot de passe trop facile à deviner (mot courant, suite, répétition ou nom du "
            "compte) : choisissez plusieurs mots sans rapport entre eux."
        )
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
        epoch=int(text("epoch") or 0),
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
        check_password(password, name)
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
        check_password(password, name)
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

    async def reset_password(
        self, name: str, password: str, keyring: DeskKeyring, *, enable: bool = False
    ) -> int:
        """An admin gives the account a new (temporary) password, to change at next login,
        and every session of the account ends (its epoch moves; returned).

        A disabled account stays disabled, without the desk key, unless `enable` says to
        re-enable it; an enabled one (or one re-enabled) gets the desk keyring re-wrapped
        under the new password."""
        account = await self.require(name)
        check_password(password, name)
        password_hash = await self._hash(password)
        disabled = account.disabled and not enable
        if disabled:
            await revoke_account(self.redis, name)
        else:
            await wrap_for_account(self.redis, keyring, name, password, limits=self.kdf_limits)
        key = user_key(name)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={"hash": password_hash, "disabled": int(disabled), "must_change": 1},
            )
            pipe.hincrby(key, "epoch", 1)
            _, epoch = await pipe.execute()
        return int(epoch)

    async def change_own_password(self, name: str, old: str, new: str) -> int:
        """The account holder changes their password: only their own key is re-wrapped.
        Returns the account's new epoch (the other sessions of the account end)."""
        check_password(new, name)
        password_hash = await self._hash(new)
        await change_password(self.redis, name, old, new, limits=self.kdf_limits)
        key = user_key(name)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"hash": password_hash, "must_change": 0})
            pipe.hincrby(key, "epoch", 1)
            _, epoch = await pipe.execute()
        return int(epoch)

    async def disable(self, name: str) -> None:
        """Block logins and drop the account's desk-key grant.

        The person may have kept a copy of the desk key while they had it: rotating the
        desk keys afterwards keeps new tips out of their reach. Re-enabling is a password
        reset by an admin (which grants the key again).
        """
        await self.require(name)
        key = user_key(name)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, "disabled", 1)
            pipe.hincrby(key, "epoch", 1)
            await pipe.execute()
        await revoke_account(self.redis, name)

    async def touch_login(self, name: str, now: datetime | None = None) -> None:
        await self.redis.hset(user_key(name), "last_login", minute(now))
