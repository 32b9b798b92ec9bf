"""Desk keys in Redis: one public key for the bot, the private key only for staff."""

from __future__ import annotations

import pytest
from nacl.public import PrivateKey
from redis.asyncio import Redis

from tips.crypto import (
    MINIMUM_FOR_TESTS,
    DeskKeyring,
    NotARecipient,
    WrongPassword,
    open_sealed,
    seal,
)
from tips.keys import (
    DESK_PUBLIC,
    DeskKeyExists,
    DeskKeyMismatch,
    DeskKeyMissing,
    NoAccess,
    UnknownAccount,
    accounts_with_access,
    change_password,
    desk_public_key,
    init_desk_keys,
    revoke_account,
    rotate_desk_keys,
    unwrap_desk_keyring,
    wrap_for_account,
)
from tips.model import InvalidAccount, TipValidationError

FAST = MINIMUM_FOR_TESTS
ADMIN_PW = "ADMIN-PASSWORD-MARKER correct horse"


async def all_bytes(redis: Redis[bytes]) -> bytes:
    """Every key and value in the database, concatenated."""
    chunks: list[bytes] = []
    async for key in redis.scan_iter(count=1000):
        chunks.append(key)
        kind = await redis.type(key)  # type: ignore[no-untyped-call]
        if kind == b"string":
            chunks.append(await redis.get(key) or b"")
        elif kind == b"hash":
            for field, value in (await redis.hgetall(key)).items():
                chunks += [field, value]
        else:
            raise AssertionError(f"unexpected type {kind!r}")
    return b"\n".join(chunks)


async def test_init_publishes_the_public_key_and_wraps_the_private_one(redis: Redis[bytes]) -> None:
    with pytest.raises(DeskKeyMissing):
        await desk_public_key(redis)
    public = await init_desk_keys(redis, "admin", ADMIN_PW, limits=FAST)
    assert await redis.get(DESK_PUBLIC) == bytes(public)
    assert bytes(await desk_public_key(redis)) == bytes(public)
    private = (await unwrap_desk_keyring(redis, "admin", ADMIN_PW)).current
    assert bytes(private.public_key) == bytes(public)
    dump = await all_bytes(redis)
    assert bytes(private) not in dump
    assert b"ADMIN-PASSWORD-MARKER" not in dump
    assert await accounts_with_access(redis) == ["admin"]


async def test_init_refuses_to_overwrite_a_desk_key(redis: Redis[bytes]) -> None:
    public = await init_desk_keys(redis, "admin", ADMIN_PW, limits=FAST)
    with pytest.raises(DeskKeyExists):
        await init_desk_keys(redis, "other", "pw", limits=FAST)
    assert bytes(await desk_public_key(redis)) == bytes(public)
    with pytest.raises(UnknownAccount):
        await unwrap_desk_keyring(redis, "other", "pw")


async def test_wrong_password_and_unknown_account(redis: Redis[bytes]) -> None:
    await init_desk_keys(redis, "admin", ADMIN_PW, limits=FAST)
    with pytest.raises(WrongPassword):
        await unwrap_desk_keyring(redis, "admin", "guess")
    with pytest.raises(UnknownAccount):
        await unwrap_desk_keyring(redis, "nobody", ADMIN_PW)
    with pytest.raises(InvalidAccount):
        await unwrap_desk_keyring(redis, "sini:desk:public", ADMIN_PW)


async def test_adding_staff_wraps_the_same_desk_key(redis: Redis[bytes]) -> None:
    await init_desk_keys(redis, "admin", ADMIN_PW, limits=FAST)
    desk = await unwrap_desk_keyring(redis, "admin", ADMIN_PW)
    await wrap_for_account(redis, desk, "awa", "awa-password", limits=FAST)
    assert bytes((await unwrap_desk_keyring(redis, "awa", "awa-password")).current) == bytes(
        desk.current
    )
    assert await accounts_with_access(redis) == ["admin", "awa"]
    with pytest.raises(DeskKeyMismatch):
        await wrap_for_account(redis, DeskKeyring(PrivateKey.generate()), "eve", "pw", limits=FAST)


async def test_change_password_keeps_the_grant(redis: Redis[bytes]) -> None:
    await init_desk_keys(redis, "admin", ADMIN_PW, limits=FAST)
    desk = (await unwrap_desk_keyring(redis, "admin", ADMIN_PW)).current
    await change_password(redis, "admin", ADMIN_PW, "new password", limits=FAST)
    assert bytes((await unwrap_desk_keyring(redis, "admin", "new password")).current) == bytes(desk)
    with pytest.raises(WrongPassword):
        await unwrap_desk_keyring(redis, "admin", ADMIN_PW)
    with pytest.raises(WrongPassword):
        await change_password(redis, "admin", "wrong", "x", limits=FAST)


async def test_rotation_keeps_old_tips_readable_and_drops_leavers(redis: Redis[bytes]) -> None:
    old_public = await init_desk_keys(redis, "admin", ADMIN_PW, limits=FAST)
    ring = await unwrap_desk_keyring(redis, "admin", ADMIN_PW)
    await wrap_for_account(redis, ring, "awa", "awa-pw", limits=FAST)
    await wrap_for_account(redis, ring, "leaver", "leaver-pw", limits=FAST)
    old_tip = seal(b"tip before rotation", [old_public])

    # No password of the remaining staff is needed to re-grant them the new key.
    new_public = await rotate_desk_keys(redis, ring, ["admin", "awa"])
    assert bytes(new_public) != bytes(old_public)
    assert bytes(await desk_public_key(redis)) == bytes(new_public)
    new_tip = seal(b"tip after rotation", [new_public])

    for account, password in [("admin", ADMIN_PW), ("awa", "awa-pw")]:
        keys = await unwrap_desk_keyring(redis, account, password)
        assert bytes(keys.public_key) == bytes(new_public)
        assert open_sealed(old_tip, keys) == b"tip before rotation"
        assert open_sealed(new_tip, keys) == b"tip after rotation"
    with pytest.raises(NoAccess):
        await unwrap_desk_keyring(redis, "leaver", "leaver-pw")
    # Even a copy of the old desk key taken before leaving opens nothing new.
    with pytest.raises(NotARecipient):
        open_sealed(new_tip, ring)
    assert await accounts_with_access(redis) == ["admin", "awa"]


async def test_rotation_refuses_stale_keys_and_unknown_accounts(redis: Redis[bytes]) -> None:
    await init_desk_keys(redis, "admin", ADMIN_PW, limits=FAST)
    ring = await unwrap_desk_keyring(redis, "admin", ADMIN_PW)
    with pytest.raises(UnknownAccount):
        await rotate_desk_keys(redis, ring, ["admin", "ghost"])
    with pytest.raises(TipValidationError):
        await rotate_desk_keys(redis, ring, [])
    await rotate_desk_keys(redis, ring, ["admin"])
    with pytest.raises(DeskKeyMismatch):
        await rotate_desk_keys(redis, ring, ["admin"])  # the keyring of before the rotation


async def test_revoked_accounts_lose_their_material(redis: Redis[bytes]) -> None:
    await init_desk_keys(redis, "admin", ADMIN_PW, limits=FAST)
    ring = await unwrap_desk_keyring(redis, "admin", ADMIN_PW)
    await wrap_for_account(redis, ring, "awa", "awa-pw", limits=FAST)
    await revoke_account(redis, "awa")
    with pytest.raises(UnknownAccount):
        await unwrap_desk_keyring(redis, "awa", "awa-pw")
    assert await accounts_with_access(redis) == ["admin"]
