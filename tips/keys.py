"""The desk keys in Redis: one public key for the bot, private keys only for staff.

Layout (every value binary):

- ``sini:desk:public`` — the current desk public key (32 bytes). The bot reads only this.
- ``sini:desk:account:<account>`` — hash ``public`` / ``wrapped``: the staff account's own
  X25519 keypair, its private half wrapped under the account password (Argon2id +
  SecretBox, `crypto.wrap_private_key`).
- ``sini:desk:wrapped:<account>`` — the desk keyring (current desk private key + retired
  ones) sealed to that account's public key.

Why an account keypair between the password and the desk key (GlobaLeaks does the same
with its per-user keys): rotating the desk key must re-grant it to every remaining staff
member, and nobody knows their passwords at that moment. Sealing the new keyring to each
account's *public* key needs no password; logging in needs only the account's own password.
Rotation drops the grant of every account not listed (someone who left), and keeps retired
desk keys in the keyring so tips sealed before the rotation stay readable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from nacl.public import PrivateKey, PublicKey
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from sini.transactions import Writes, transaction
from tips.crypto import (
    INTERACTIVE,
    DeskKeyring,
    KdfLimits,
    MalformedSealed,
    NotARecipient,
    generate_keypair,
    open_sealed,
    seal,
    unwrap_private_key,
    wrap_private_key,
)
from tips.model import TipError, TipValidationError, validate_account

DESK_PUBLIC = "sini:desk:public"
_WRAPPED_PREFIX = "sini:desk:wrapped:"
_ACCOUNT_PREFIX = "sini:desk:account:"


class DeskKeyError(TipError):
    """Root of the desk-key errors."""


class DeskKeyExists(DeskKeyError):
    """`init_desk_keys` was called on an installation that already has a desk key."""


class DeskKeyMissing(DeskKeyError):
    """No desk key yet: run the staff set-up (`init_desk_keys`) first."""


class DeskKeyMismatch(DeskKeyError):
    """The private key given is not the current desk key (stale session after a rotation?)."""


class UnknownAccount(DeskKeyError):
    """No key material for this staff account (never created, or revoked)."""


class NoAccess(DeskKeyError):
    """The account exists but holds no grant of the desk key (revoked at a rotation)."""


def _wrapped_key(account: str) -> str:
    return _WRAPPED_PREFIX + validate_account(account)


def _account_key(account: str) -> str:
    return _ACCOUNT_PREFIX + validate_account(account)


async def desk_public_key(redis: Redis[bytes]) -> PublicKey:
    """The current desk public key: all the bot needs to write tips."""
    raw = await redis.get(DESK_PUBLIC)
    if raw is None:
        raise DeskKeyMissing("no desk key: initialise the staff desk first")
    if len(raw) != PublicKey.SIZE:
        raise MalformedSealed("stored desk public key has the wrong length")
    return PublicKey(raw)


async def _new_account_material(password: str, limits: KdfLimits) -> tuple[PublicKey, bytes]:
    account_key = generate_keypair()
    wrapped = await asyncio.to_thread(wrap_private_key, account_key, password, None, limits)
    return account_key.public_key, wrapped


async def init_desk_keys(
    redis: Redis[bytes],
    admin_account: str,
    admin_password: str,
    *,
    limits: KdfLimits = INTERACTIVE,
) -> PublicKey:
    """Create the desk keypair and grant it to the first admin; refuses to run twice.

    Overwriting a desk key would make every stored tip unreadable, so an existing key (or a
    concurrent initialisation) raises `DeskKeyExists`.
    """
    _wrapped_key(admin_account)
    desk = generate_keypair()
    account_public, account_wrapped = await _new_account_material(admin_password, limits)
    grant = seal(DeskKeyring(desk).to_bytes(), [account_public]).to_bytes()
    async def step(pipe: Pipeline[bytes]) -> tuple[None, Writes]:
        if await pipe.exists(DESK_PUBLIC):
            raise DeskKeyExists("a desk key already exists; use rotate_desk_keys")

        def writes(pipe: Pipeline[bytes]) -> None:
            pipe.set(DESK_PUBLIC, bytes(desk.public_key))
            pipe.hset(
                _account_key(admin_account),
                mapping={"public": bytes(account_public), "wrapped": account_wrapped},
            )
            pipe.set(_wrapped_key(admin_account), grant)

        return None, writes

    await transaction(
        redis,
        [DESK_PUBLIC],
        step,
        attempts=1,
        contended=lambda: DeskKeyExists("the desk key was created concurrently"),
    )
    return desk.public_key


async def _unwrap_account(redis: Redis[bytes], account: str, password: str) -> PrivateKey:
    wrapped = await redis.hget(_account_key(account), "wrapped")
    if wrapped is None:
        raise UnknownAccount("no key material for this account")
    return await asyncio.to_thread(unwrap_private_key, wrapped, password)


async def unwrap_desk_keyring(redis: Redis[bytes], account: str, password: str) -> DeskKeyring:
    """Every desk private key this account may use (current first), for a staff session.

    `crypto.WrongPassword` on a wrong password; `UnknownAccount`/`NoAccess` when the
    account has no grant. The staff login maps all of these to one "login failed".
    """
    account_key = await _unwrap_account(redis, account, password)
    grant = await redis.get(_wrapped_key(account))
    if grant is None:
        raise NoAccess("this account has no access to the desk key")
    try:
        keyring = DeskKeyring.from_bytes(open_sealed(grant, account_key))
    except NotARecipient as error:
        raise NoAccess("the desk grant was not made for this account's key") from error
    return keyring


async def _check_current(redis: Redis[bytes], keyring: DeskKeyring) -> None:
    current = await desk_public_key(redis)
    if bytes(current) != bytes(keyring.public_key):
        raise DeskKeyMismatch("this is not the current desk key")


async def wrap_for_account(
    redis: Redis[bytes],
    desk_keys: DeskKeyring,
    account: str,
    password: str,
    *,
    limits: KdfLimits = INTERACTIVE,
) -> None:
    """Give a staff account (new, or whose password an admin resets) the desk key.

    The caller is a logged-in admin holding the unwrapped desk keys. A whole `DeskKeyring`
    is required (not a bare private key) so the account can also read tips sealed before a
    rotation; before any rotation `DeskKeyring(private_key)` is the whole ring. The account
    gets a fresh keypair wrapped under `password`.
    """
    keyring = desk_keys
    _wrapped_key(account)
    account_public, account_wrapped = await _new_account_material(password, limits)
    grant = seal(keyring.to_bytes(), [account_public]).to_bytes()
    async def step(pipe: Pipeline[bytes]) -> tuple[None, Writes]:
        await _check_current(pipe, keyring)

        def writes(pipe: Pipeline[bytes]) -> None:
            pipe.hset(
                _account_key(account),
                mapping={"public": bytes(account_public), "wrapped": account_wrapped},
            )
            pipe.set(_wrapped_key(account), grant)

        return None, writes

    await transaction(
        redis,
        [DESK_PUBLIC],
        step,
        attempts=1,
        contended=lambda: DeskKeyMismatch("the desk key changed meanwhile; log in again"),
    )


async def change_password(
    redis: Redis[bytes],
    account: str,
    old_password: str,
    new_password: str,
    *,
    limits: KdfLimits = INTERACTIVE,
) -> None:
    """Re-wrap the account's own private key under a new password (the grant is unchanged)."""
    account_key = await _unwrap_account(redis, account, old_password)
    wrapped = await asyncio.to_thread(wrap_private_key, account_key, new_password, None, limits)
    await redis.hset(_account_key(account), "wrapped", wrapped)


async def accounts_with_access(redis: Redis[bytes]) -> list[str]:
    """The staff accounts currently granted the desk key."""
    found = [
        key.decode()[len(_WRAPPED_PREFIX) :]
        async for key in redis.scan_iter(match=_WRAPPED_PREFIX + "*", count=500)
    ]
    return sorted(found)


async def revoke_account(redis: Redis[bytes], account: str) -> None:
    """Remove an account's key material and grant. It may still have copied the desk key
    while it had access: follow with `rotate_desk_keys` so future tips are out of its reach."""
    await redis.delete(_wrapped_key(account), _account_key(account))


async def rotate_desk_keys(
    redis: Redis[bytes],
    desk_keys: DeskKeyring,
    accounts: Iterable[str],
) -> PublicKey:
    """Start a new desk keypair, granted to exactly `accounts`; return its public key.

    The new keyring keeps every older private key (old tips stay readable). Accounts not
    listed lose their grant. New tips are sealed to the new key as soon as the bot reads
    `sini:desk:public` again (it should read it per submission, or on a short cache).
    The whole keyring is required: rotating from a bare private key would silently drop
    the keys of earlier rotations for everyone.
    """
    keyring = desk_keys
    names = sorted({validate_account(a) for a in accounts})
    if not names:
        raise TipValidationError("a rotation must keep at least one account")
    new_ring = keyring.rotated(generate_keypair())
    publics: dict[str, PublicKey] = {}
    for name in names:
        raw = await redis.hget(_account_key(name), "public")
        if raw is None:
            raise UnknownAccount(f"no key material for account {name!r}")
        publics[name] = PublicKey(raw)
    payload = new_ring.to_bytes()
    grants = {name: seal(payload, [pk]).to_bytes() for name, pk in publics.items()}
    revoked = [a for a in await accounts_with_access(redis) if a not in publics]
    async def step(pipe: Pipeline[bytes]) -> tuple[None, Writes]:
        await _check_current(pipe, keyring)

        def writes(pipe: Pipeline[bytes]) -> None:
            pipe.set(DESK_PUBLIC, bytes(new_ring.public_key))
            for name, grant in grants.items():
                pipe.set(_wrapped_key(name), grant)
            for name in revoked:
                pipe.delete(_wrapped_key(name))

        return None, writes

    await transaction(
        redis,
        [DESK_PUBLIC, *(_account_key(n) for n in names)],
        step,
        attempts=1,
        contended=lambda: DeskKeyMismatch("the desk keys changed meanwhile; nothing was rotated"),
    )
    return new_ring.public_key
