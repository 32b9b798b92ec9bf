"""The staff subcommands (`helpline keys|users|tips`) against the real Redis."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from redis.asyncio import Redis

from sini.settings import Settings
from staff.accounts import Accounts
from staff.cli import register
from staff.stats import ARCHIVE_PREFIX, week_start
from tests.staff.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    REVIEWER,
    REVIEWER_PASSWORD,
    arun,
    staff_config,
    submit_tip,
)
from tips.desk import Desk
from tips.keys import accounts_with_access, desk_public_key, unwrap_desk_keyring
from tips.model import Status

Cli = Callable[..., int]


@pytest.fixture
def cli(staff_settings: Settings) -> Cli:
    def run(*argv: str) -> int:
        root = argparse.ArgumentParser(prog="helpline")
        register(root.add_subparsers(dest="command", required=True))
        args = root.parse_args(argv)
        args.staff_config = staff_config()
        return int(args.func(staff_settings, args))

    return run


def test_register_adds_the_staff_commands() -> None:
    root = argparse.ArgumentParser(prog="helpline")
    register(root.add_subparsers(dest="command", required=True))
    assert root.parse_args(["staff"]).func.__name__ == "cmd_staff"
    assert root.parse_args(["tips", "purge", "--days", "30"]).days == 30
    assert root.parse_args(["users", "add", "awa", "--admin", "amadou"]).role == "reviewer"


def test_keys_init_creates_the_desk_key_and_first_admin_once(
    cli: Cli, redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STAFF_PASSWORD", ADMIN_PASSWORD)
    assert cli("keys", "init", "--admin", ADMIN) == 0

    async def check(client: Redis) -> None:
        keyring = await unwrap_desk_keyring(client, ADMIN, ADMIN_PASSWORD)
        assert bytes(keyring.public_key) == bytes(await desk_public_key(client))

    arun(redis_url, check)
    assert cli("keys", "init", "--admin", "autre") == 1
    assert "clé du bureau existe déjà" in capsys.readouterr().err


def test_keys_init_in_a_container_reads_the_password_from_standard_input(
    staff_settings: Settings, redis_url: str, tmp_path: Path
) -> None:
    """`kubectl exec -i deploy/staff -- helpline keys init --admin NAME < file`: no
    terminal, the password is one line of standard input; no input is one line of refusal."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STAFF_")},
        "REDIS_URL": redis_url,
        "SINI_VAR_DIR": str(tmp_path),
        "SINI_SECRET": staff_settings.secret.hex(),
    }
    helpline = [sys.executable, "-m", "bot", "keys", "init", "--admin", ADMIN]
    nothing = subprocess.run(
        helpline, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    assert nothing.returncode == 1
    assert nothing.stderr.splitlines() == [
        "erreur : aucun mot de passe : donnez-le dans STAFF_PASSWORD ou sur l'entrée standard "
        "(une ligne), ou lancez la commande dans un terminal."
    ]
    done = subprocess.run(
        helpline,
        env=env,
        input=ADMIN_PASSWORD + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    async def check(client: Redis) -> None:
        await unwrap_desk_keyring(client, ADMIN, ADMIN_PASSWORD)

    arun(redis_url, check)


def test_users_add_list_reset_disable(
    cli: Cli, desk: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STAFF_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("STAFF_PASSWORD", "mot-de-passe-de-awa-1")
    assert cli("users", "add", "awa", "--role", "admin", "--admin", ADMIN) == 0

    # Without STAFF_PASSWORD, an empty answer generates a temporary password, shown once.
    monkeypatch.delenv("STAFF_PASSWORD")
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert cli("users", "add", "ibrahim", "--admin", ADMIN) == 0
    out = capsys.readouterr().out
    generated = out.rsplit(": ", 1)[1].strip()
    assert len(generated) == 16

    async def can_log_in(client: Redis) -> list[str]:
        await unwrap_desk_keyring(client, "awa", "mot-de-passe-de-awa-1")
        await unwrap_desk_keyring(client, "ibrahim", generated)
        return await accounts_with_access(client)

    assert arun(desk, can_log_in) == sorted([ADMIN, REVIEWER, "awa", "ibrahim"])

    assert cli("users", "list") == 0
    listing = capsys.readouterr().out
    assert "awa" in listing
    assert "admin" in listing
    assert "temporaire" in listing

    monkeypatch.setenv("STAFF_PASSWORD", "encore-un-mot-de-passe")
    assert cli("users", "reset-password", REVIEWER, "--admin", ADMIN) == 0
    assert cli("users", "disable", "ibrahim") == 0

    async def after(client: Redis) -> list[str]:
        await unwrap_desk_keyring(client, REVIEWER, "encore-un-mot-de-passe")
        return await accounts_with_access(client)

    assert "ibrahim" not in arun(desk, after)


def test_adding_needs_a_real_admin(
    cli: Cli, desk: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STAFF_PASSWORD", "mot-de-passe-de-awa-1")
    monkeypatch.setenv("STAFF_ADMIN_PASSWORD", "pas-le-bon")
    assert cli("users", "add", "awa", "--admin", ADMIN) == 1
    assert "incorrect" in capsys.readouterr().err
    monkeypatch.setenv("STAFF_ADMIN_PASSWORD", REVIEWER_PASSWORD)
    assert cli("users", "add", "awa", "--admin", REVIEWER) == 1
    assert "pas administrateur" in capsys.readouterr().err


def test_keys_rotate_keeps_old_tips_readable_and_drops_disabled(
    cli: Cli, desk: str, staff_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_tip = submit_tip(desk, staff_settings.secret, "avant la rotation")
    monkeypatch.setenv("STAFF_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("STAFF_PASSWORD", "mot-de-passe-de-awa-1")
    assert cli("users", "add", "awa", "--admin", ADMIN) == 0
    assert cli("users", "disable", "awa") == 0
    assert cli("keys", "rotate", "--admin", ADMIN) == 0
    new_tip = submit_tip(desk, staff_settings.secret, "après la rotation")

    async def check(client: Redis) -> None:
        assert await accounts_with_access(client) == sorted([ADMIN, REVIEWER])
        keyring = await unwrap_desk_keyring(client, REVIEWER, REVIEWER_PASSWORD)
        store = Desk(client)
        assert (await store.open(old_tip.lookup, keyring)).text == "avant la rotation"
        assert (await store.open(new_tip.lookup, keyring)).text == "après la rotation"

    arun(desk, check)


def test_tips_purge_deletes_old_closed_tips_and_keeps_them_in_statistics(
    cli: Cli, desk: str, staff_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    long_ago = datetime.now(timezone.utc) - timedelta(days=120)
    closed = submit_tip(desk, staff_settings.secret, "vieux", now=long_ago)
    open_tip = submit_tip(desk, staff_settings.secret, "encore ouvert", now=long_ago)
    recent = submit_tip(desk, staff_settings.secret, "fermé hier")

    async def close(client: Redis) -> None:
        store = Desk(client)
        for tip, when in ((closed, long_ago), (recent, datetime.now(timezone.utc))):
            await store.set_status(tip.lookup, Status.IN_REVIEW, "vu", ADMIN, now=when)
            await store.set_status(tip.lookup, Status.CLOSED, "fini", ADMIN, now=when)

    arun(desk, close)
    assert cli("tips", "purge") == 0  # default retention: 90 days
    assert "1 signalement" in capsys.readouterr().out

    async def remaining(client: Redis) -> tuple[set[str], dict[bytes, bytes]]:
        store = Desk(client)
        archive = await client.hgetall(ARCHIVE_PREFIX + week_start(long_ago.date()).isoformat())
        return {r.lookup for r in await store.records()}, archive

    left, archive = arun(desk, remaining)
    assert left == {open_tip.lookup, recent.lookup}
    assert archive == {b"category:drug_trafficking": b"1", b"region:bamako": b"1"}


def test_purge_can_be_told_a_retention(cli: Cli, desk: str, staff_settings: Settings) -> None:
    tip = submit_tip(desk, staff_settings.secret)

    async def reject(client: Redis) -> None:
        store = Desk(client)
        await store.set_status(
            tip.lookup,
            Status.REJECTED,
            "spam",
            ADMIN,
            now=datetime.now(timezone.utc) - timedelta(days=2),
        )

    arun(desk, reject)
    assert cli("tips", "purge", "--days", "3") == 0

    async def count(client: Redis) -> int:
        return len(await Desk(client).records())

    assert arun(desk, count) == 1
    assert cli("tips", "purge", "--days", "1") == 0
    assert arun(desk, count) == 0


def test_reset_password_keeps_a_disabled_account_disabled_unless_enable(
    cli: Cli, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAFF_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("STAFF_PASSWORD", "temporaire-bien-solide-2026")
    assert cli("users", "disable", REVIEWER) == 0
    assert cli("users", "reset-password", REVIEWER, "--admin", ADMIN) == 0

    async def state(client: Redis) -> tuple[bool, list[str]]:
        config = staff_config()
        accounts = Accounts(client, config.kdf_limits, config.hash_parameters)
        return (await accounts.require(REVIEWER)).disabled, await accounts_with_access(client)

    disabled, granted = arun(desk, state)
    assert disabled
    assert REVIEWER not in granted
    assert cli("users", "reset-password", REVIEWER, "--admin", ADMIN, "--enable") == 0
    disabled, granted = arun(desk, state)
    assert not disabled
    assert REVIEWER in granted


def test_an_admin_cannot_reset_their_own_password(
    cli: Cli, desk: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STAFF_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("STAFF_PASSWORD", "temporaire-bien-solide-2026")
    assert cli("users", "reset-password", ADMIN, "--admin", ADMIN) == 1
    assert "votre propre" in capsys.readouterr().err


def test_weak_passwords_are_refused_on_the_command_line(
    cli: Cli, desk: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STAFF_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("STAFF_PASSWORD", "123456789012")
    assert cli("users", "add", "awa", "--admin", ADMIN) == 1
    assert "trop facile à deviner" in capsys.readouterr().err


@pytest.mark.parametrize("days", ["-1", "0", "abc", "100000"])
def test_purge_refuses_a_meaningless_retention_without_a_traceback(
    cli: Cli, desk: str, days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli("tips", "purge", "--days", days)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "nombre de jours" in err


def test_purge_dry_run_counts_without_deleting(
    cli: Cli, desk: str, staff_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    tip = submit_tip(desk, staff_settings.secret)

    async def reject(client: Redis) -> None:
        store = Desk(client)
        await store.set_status(
            tip.lookup,
            Status.REJECTED,
            "spam",
            ADMIN,
            now=datetime.now(timezone.utc) - timedelta(days=10),
        )

    async def count(client: Redis) -> int:
        return len(await Desk(client).records())

    arun(desk, reject)
    assert cli("tips", "purge", "--days", "5", "--dry-run") == 0
    assert "1 signalement(s) seraient supprimé(s)" in capsys.readouterr().out
    assert arun(desk, count) == 1
    assert cli("tips", "purge", "--days", "5") == 0
    assert arun(desk, count) == 0


@pytest.mark.parametrize("name", ["awa\n", "awa\x00", "Awa Traoré"])
def test_account_names_with_control_characters_are_refused(
    cli: Cli, desk: str, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli("users", "add", name, "--admin", ADMIN)
    assert exit_.value.code == 2
    assert "nom de compte invalide" in capsys.readouterr().err
