"""Accounts and login against a real Redis: Argon2 hashes, the desk-key grant, lockout."""

from __future__ import annotations

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from staff.accounts import AccountExists, Accounts, Role, WeakPassword
from staff.auth import (
    AccountDisabled,
    AccountLocked,
    Authenticator,
    ClientLocked,
    InvalidCredentials,
    Lockout,
    LoginError,
    NoDeskAccess,
)
from tests.staff.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    MARKER,
    REVIEWER,
    REVIEWER_PASSWORD,
    arun,
    staff_config,
    submit_tip,
)
from tips.desk import Desk
from tips.keys import accounts_with_access

SECRET = bytes.fromhex("5e" * 32)


def services(client: Redis, attempts: int = 5) -> tuple[Accounts, Authenticator]:
    config = staff_config()
    accounts = Accounts(client, config.kdf_limits, config.hash_parameters)
    lockout = Lockout(client, SECRET, attempts, 900)
    return accounts, Authenticator(client, accounts, lockout)


def all_redis_bytes(url: str) -> bytes:
    """Every key and value in Redis, concatenated (to look for leaked secrets)."""
    sync = SyncRedis.from_url(url)
    chunks: list[bytes] = []
    for key in sync.scan_iter(count=1000):
        chunks.append(key)
        kind = sync.type(key)
        if kind == b"string":
            chunks.append(sync.get(key) or b"")
        elif kind == b"hash":
            for field, value in sync.hgetall(key).items():
                chunks += [field, value]
        elif kind == b"list":
            chunks += sync.lrange(key, 0, -1)
        elif kind in (b"set", b"zset"):
            chunks += list(sync.smembers(key) if kind == b"set" else sync.zrange(key, 0, -1))
    return b"\n".join(chunks)


def test_passwords_are_argon2id_hashes_and_never_stored(desk: str) -> None:
    async def job(client: Redis) -> None:
        accounts, _ = services(client)
        admin = await accounts.require(ADMIN)
        assert admin.role is Role.ADMIN
        assert admin.password_hash.startswith("$argon2id$")
        assert await accounts.verify_password(admin, ADMIN_PASSWORD)
        assert not await accounts.verify_password(admin, ADMIN_PASSWORD + "x")
        assert not await accounts.verify_password(None, ADMIN_PASSWORD)

    arun(desk, job)
    stored = all_redis_bytes(desk)
    assert ADMIN_PASSWORD.encode() not in stored
    assert REVIEWER_PASSWORD.encode() not in stored


def test_weak_or_duplicate_accounts_are_refused(desk: str) -> None:
    async def job(client: Redis) -> None:
        accounts, auth = services(client)
        keyring = (await auth.login(ADMIN, ADMIN_PASSWORD)).keyring
        with pytest.raises(WeakPassword):
            await accounts.create("court", Role.REVIEWER, "trop-court", keyring)
        with pytest.raises(AccountExists):
            await accounts.create(REVIEWER, Role.REVIEWER, "un-autre-mot-de-passe", keyring)
        assert await accounts.get("court") is None

    arun(desk, job)


def test_login_unwraps_the_desk_keyring_for_every_account(desk: str, settings: object) -> None:
    tip = submit_tip(desk, SECRET)

    async def job(client: Redis) -> None:
        _, auth = services(client)
        store = Desk(client)
        for name, password in ((ADMIN, ADMIN_PASSWORD), (REVIEWER, REVIEWER_PASSWORD)):
            result = await auth.login(name, password)
            content = await store.open(tip.lookup, result.keyring)
            assert content.text == MARKER
        assert await accounts_with_access(client) == sorted([ADMIN, REVIEWER])

    arun(desk, job)


def test_lockout_after_repeated_failures_even_with_the_right_password(desk: str) -> None:
    async def job(client: Redis) -> None:
        _, auth = services(client, attempts=3)
        for _ in range(2):
            with pytest.raises(InvalidCredentials):
                await auth.login(REVIEWER, "mauvais mot de passe")
        with pytest.raises(AccountLocked) as locked:
            await auth.login(REVIEWER, "mauvais mot de passe")
        assert 0 < locked.value.retry_after <= 900
        with pytest.raises(AccountLocked):
            await auth.login(REVIEWER, REVIEWER_PASSWORD)
        # Other accounts are not affected; clearing the lock lets the owner in.
        await auth.login(ADMIN, ADMIN_PASSWORD)
        await auth.lockout.clear(REVIEWER)
        assert (await auth.login(REVIEWER, REVIEWER_PASSWORD)).account.name == REVIEWER

    arun(desk, job)


def test_unknown_names_lock_too_and_are_not_stored(desk: str) -> None:
    typed = "MonMotDePasseTapéDansLeNom"

    async def job(client: Redis) -> None:
        _, auth = services(client, attempts=2)
        with pytest.raises(InvalidCredentials):
            await auth.login(typed, "x")
        with pytest.raises(AccountLocked):
            await auth.login(typed, "x")

    arun(desk, job)
    assert typed.lower().encode() not in all_redis_bytes(desk)


def test_a_success_resets_the_failure_count(desk: str) -> None:
    async def job(client: Redis) -> None:
        _, auth = services(client, attempts=3)
        for _ in range(2):
            with pytest.raises(InvalidCredentials):
                await auth.login(REVIEWER, "non")
        await auth.login(REVIEWER, REVIEWER_PASSWORD)
        for _ in range(2):
            with pytest.raises(InvalidCredentials):
                await auth.login(REVIEWER, "non")

    arun(desk, job)


def test_disabled_account_loses_login_and_desk_key(desk: str) -> None:
    async def job(client: Redis) -> None:
        accounts, auth = services(client)
        await accounts.disable(REVIEWER)
        with pytest.raises(AccountDisabled):
            await auth.login(REVIEWER, REVIEWER_PASSWORD)
        assert REVIEWER not in await accounts_with_access(client)
        # A reset by an admin that re-enables the account re-wraps the keyring.
        keyring = (await auth.login(ADMIN, ADMIN_PASSWORD)).keyring
        await accounts.reset_password(
            REVIEWER, "nouveau-mot-de-passe-temporaire", keyring, enable=True
        )
        result = await auth.login(REVIEWER, "nouveau-mot-de-passe-temporaire")
        assert result.account.must_change
        assert bytes(result.keyring.public_key) == bytes(keyring.public_key)

    arun(desk, job)


def test_account_without_grant_cannot_log_in(desk: str) -> None:
    async def job(client: Redis) -> None:
        _, auth = services(client)
        await client.delete(f"sini:desk:wrapped:{REVIEWER}")
        with pytest.raises(NoDeskAccess):
            await auth.login(REVIEWER, REVIEWER_PASSWORD)

    arun(desk, job)


def test_changing_ones_password_keeps_the_desk_key(desk: str) -> None:
    async def job(client: Redis) -> None:
        accounts, auth = services(client)
        before = (await auth.login(REVIEWER, REVIEWER_PASSWORD)).keyring
        await accounts.change_own_password(REVIEWER, REVIEWER_PASSWORD, "encore-un-autre-secret")
        with pytest.raises(InvalidCredentials):
            await auth.login(REVIEWER, REVIEWER_PASSWORD)
        after = (await auth.login(REVIEWER, "encore-un-autre-secret")).keyring
        assert bytes(after.public_key) == bytes(before.public_key)

    arun(desk, job)


def test_a_client_is_throttled_across_names(desk: str) -> None:
    async def job(client: Redis) -> None:
        config = staff_config()
        accounts = Accounts(client, config.kdf_limits, config.hash_parameters)
        lockout = Lockout(client, SECRET, 5, 900, client_attempts=3)
        auth = Authenticator(client, accounts, lockout)
        for name in ("ali", "awa"):
            with pytest.raises(InvalidCredentials):
                await auth.login(name, "123456789012", client="203.0.113.9")
        with pytest.raises(ClientLocked) as locked:
            await auth.login("moussa", "123456789012", client="203.0.113.9")
        assert 0 < locked.value.retry_after <= 900
        with pytest.raises(ClientLocked):
            await auth.login(REVIEWER, REVIEWER_PASSWORD, client="203.0.113.9")
        await auth.login(REVIEWER, REVIEWER_PASSWORD, client="198.51.100.7")

    arun(desk, job)


def test_device_tokens_belong_to_one_account_and_cannot_be_forged(desk: str) -> None:
    async def job(client: Redis) -> None:
        _, auth = services(client)
        cookie = auth.lockout.remember_device(ADMIN, None)
        assert auth.lockout.device_for(ADMIN, cookie)
        assert auth.lockout.device_for(REVIEWER, cookie) is None
        both = auth.lockout.remember_device(REVIEWER, cookie)
        assert auth.lockout.device_for(ADMIN, both)
        assert auth.lockout.device_for(REVIEWER, both)
        day, nonce, mac = cookie.split(".")
        assert auth.lockout.device_for(ADMIN, f"{int(day) + 1}.{nonce}.{mac}") is None
        other = Lockout(client, bytes.fromhex("77" * 32), 5, 900)
        assert other.device_for(ADMIN, cookie) is None

    arun(desk, job)


def test_the_command_line_is_not_locked_out_by_failures_on_the_web(desk: str) -> None:
    async def job(client: Redis) -> None:
        _, auth = services(client, attempts=2)
        for _ in range(3):
            with pytest.raises(LoginError):
                await auth.login(ADMIN, "devine-devine-2025", client="203.0.113.9")
        with pytest.raises(AccountLocked):
            await auth.login(ADMIN, ADMIN_PASSWORD, client="198.51.100.7")
        assert (await auth.login(ADMIN, ADMIN_PASSWORD, trusted=True)).account.name == ADMIN

    arun(desk, job)
