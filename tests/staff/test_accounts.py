"""Staff accounts (`staff.accounts`): the password policy, and what a reset does to a
disabled account, against the real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from staff.accounts import Accounts, Role, WeakPassword, check_password
from tests.staff.conftest import ADMIN, ADMIN_PASSWORD, REVIEWER, arun, staff_config
from tips.keys import accounts_with_access, unwrap_desk_keyring


def accounts_on(redis: Redis) -> Accounts:
    config = staff_config()
    return Accounts(redis, config.kdf_limits, config.hash_parameters)


@pytest.mark.parametrize(
    ("password", "name"),
    [
        ("123456789012", "awa"),
        ("fatoufatoufatou", "fatou"),
        ("fatou.fatou.fatou", "fatou"),
        ("azertyuiop12", "awa"),
        ("motdepasse2025", "awa"),
        ("bamakobamako2025", "awa"),
    ],
)
def test_common_and_name_derived_passwords_are_refused(password: str, name: str) -> None:
    with pytest.raises(WeakPassword, match="trop facile à deviner"):
        check_password(password, name)


@pytest.mark.parametrize(
    "password",
    [
        "mot-de-passe-admin-2025",
        "baobab violet sous la pluie",
        "Kq7r-Vw2m-Zt9x",
        "le baobab de la cour a vu passer trois hivers et deux saisons des pluies, en silence",
    ],
)
def test_long_unpredictable_passwords_are_accepted(password: str) -> None:
    assert check_password(password, "fatou") == password


@pytest.mark.parametrize("password", ["court-2025", "y" * 257, "un-mot\x00de-passe-solide-2026"])
def test_short_overlong_or_control_character_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword):
        check_password(password, "fatou")


def test_the_policy_holds_for_new_accounts_and_resets(desk: str) -> None:
    async def job(redis: Redis) -> None:
        accounts = accounts_on(redis)
        keyring = await unwrap_desk_keyring(redis, ADMIN, ADMIN_PASSWORD)
        with pytest.raises(WeakPassword):
            await accounts.create("awa", Role.REVIEWER, "awa-awa-awa-awa", keyring)
        with pytest.raises(WeakPassword):
            await accounts.reset_password(REVIEWER, "123456789012", keyring)
        assert await accounts.get("awa") is None

    arun(desk, job)


def test_a_reset_leaves_a_disabled_account_disabled_and_without_the_desk_key(desk: str) -> None:
    async def job(redis: Redis) -> None:
        accounts = accounts_on(redis)
        keyring = await unwrap_desk_keyring(redis, ADMIN, ADMIN_PASSWORD)
        await accounts.disable(REVIEWER)
        await accounts.reset_password(REVIEWER, "temporaire-bien-solide-2026", keyring)
        account = await accounts.require(REVIEWER)
        assert account.disabled
        assert account.must_change
        assert REVIEWER not in await accounts_with_access(redis)

        await accounts.reset_password(REVIEWER, "temporaire-bien-solide-2027", keyring, enable=True)
        assert not (await accounts.require(REVIEWER)).disabled
        assert REVIEWER in await accounts_with_access(redis)

    arun(desk, job)


def test_password_changes_and_resets_move_the_accounts_session_epoch(desk: str) -> None:
    async def job(redis: Redis) -> None:
        accounts = accounts_on(redis)
        keyring = await unwrap_desk_keyring(redis, ADMIN, ADMIN_PASSWORD)
        first = (await accounts.require(REVIEWER)).epoch
        await accounts.reset_password(REVIEWER, "temporaire-bien-solide-2026", keyring)
        second = (await accounts.require(REVIEWER)).epoch
        await accounts.change_own_password(
            REVIEWER, "temporaire-bien-solide-2026", "le-mien-maintenant-2026"
        )
        third = (await accounts.require(REVIEWER)).epoch
        await accounts.disable(REVIEWER)
        fourth = (await accounts.require(REVIEWER)).epoch
        assert len({first, second, third, fourth}) == 4

    arun(desk, job)
