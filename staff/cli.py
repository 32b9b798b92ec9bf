"""Staff subcommands of `helpline`: serve the dashboard, manage accounts and desk keys,
purge old tips.

`register(subparsers)` adds them to the `helpline` parser; each sets `func(settings, args)
-> exit code`, like the bot's own subcommands. Passwords are asked with getpass on a
terminal; without one (a container, a script) each is read as one line of standard
input, or taken from the environment (`STAFF_PASSWORD` for the account being created or
reset, `STAFF_ADMIN_PASSWORD` for the admin whose desk keys are copied) — never from the
command line, where `ps` and shell history would show them.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from sini.redis import configured_url, connect_redis
from sini.settings import MAX_RETENTION_DAYS, STAFF_ADMIN_PASSWORD, STAFF_PASSWORD, Settings
from staff.accounts import AccountError, Role, generate_password
from staff.audit import SYSTEM
from staff.auth import LoginError
from staff.config import StaffConfig
from staff.sessions import SessionStore
from staff.web import StaffState
from tips.keys import DeskKeyError, DeskKeyExists, accounts_with_access, rotate_desk_keys
from tips.model import TipValidationError, validate_account

PASSWORD_ENV = STAFF_PASSWORD.name
ADMIN_PASSWORD_ENV = STAFF_ADMIN_PASSWORD.name
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class CliError(Exception):
    """A refusal to print on one line (exit code 1)."""


def _password(env: str, prompt: str, *, confirm: bool, allow_empty: bool = False) -> str:
    """`env` when set; else asked twice on a terminal; else one line of standard input
    (a container: `kubectl exec -i … < file`), each password its own line in the order
    the command asks for them."""
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin or not sys.stdin.isatty():
        line = sys.stdin.readline() if sys.stdin else ""
        if not line.strip() and not (allow_empty and line):
            raise CliError(
                f"aucun mot de passe : donnez-le dans {env} ou sur l'entrée standard "
                "(une ligne), ou lancez la commande dans un terminal."
            )
        return line.rstrip("\r\n")
    try:
        first = getpass.getpass(prompt)
        if not first and allow_empty:
            return ""
        if confirm and getpass.getpass("Encore une fois : ") != first:
            raise CliError("Les deux saisies diffèrent.")
    except EOFError as error:
        raise CliError("saisie interrompue : aucun mot de passe.") from error
    return first


def _run(
    settings: Settings, config: StaffConfig, job: Callable[[StaffState], Awaitable[int]]
) -> int:
    """Run `job` against the configured Redis (or a local one), printing refusals."""
    from staff.app import build_state

    async def main(url: str) -> int:
        redis = connect_redis(url)
        try:
            staff = build_state(settings, config, redis, SessionStore(0, 0))
            return await job(staff)
        finally:
            await redis.close()

    try:
        # Accounts, desk keys and tips live in the tips Redis (see `staff.app.create_app`).
        if settings.tips_redis_url:
            return asyncio.run(main(settings.tips_redis_url))
        with configured_url(settings) as url:
            return asyncio.run(main(url))
    except (CliError, AccountError, LoginError, DeskKeyError) as error:
        print(f"erreur : {error}", file=sys.stderr)
        return 1


async def _admin_keyring(staff: StaffState, admin: str) -> Any:
    """The desk keyring, unwrapped with an admin's password (counted by the lockout)."""
    password = _password(ADMIN_PASSWORD_ENV, f"Mot de passe de {admin} : ", confirm=False)
    # The command line is run by whoever holds the server: failed web logins for this
    # admin (from anyone) must not lock it out.
    result = await staff.authenticator.login(admin, password, trusted=True)
    if not result.account.is_admin:
        raise CliError(f"{admin} n'est pas administrateur.")
    return result.keyring


# --------------------------------------------------------------------------- commands


def cmd_staff(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the dashboard with uvicorn: one worker, the desk keys live in its memory."""
    import uvicorn

    from staff.app import create_app
    from staff.serving import Server

    config = args.staff_config or StaffConfig.from_env()
    if not config.secure_cookies and config.host not in _LOCAL_HOSTS:
        print(
            "attention : STAFF_INSECURE_COOKIES=1 hors de la machine locale — les cookies "
            "de session circuleront sans HTTPS.",
            file=sys.stderr,
        )
    with configured_url(settings) as url:
        print(f"Tableau de bord : http://{config.host}:{config.port}/", file=sys.stderr)
        stopping = threading.Event()
        served = uvicorn.Config(
            create_app(settings, url, config, stopping=stopping),
            host=config.host,
            port=config.port,
            log_config=None,
            access_log=False,
            server_header=False,
            # No websockets here; and Rasa pins a `websockets` too old for uvicorn's.
            ws="none",
        )
        Server(served, stopping).run()
    return 0


def cmd_keys_init(settings: Settings, args: argparse.Namespace) -> int:
    config = args.staff_config or StaffConfig.from_env()

    async def job(staff: StaffState) -> int:
        password = _password(
            PASSWORD_ENV, f"Mot de passe du premier administrateur {args.admin} : ", confirm=True
        )
        try:
            await staff.accounts.create_first_admin(args.admin, password)
        except DeskKeyExists as error:
            raise CliError("la clé du bureau existe déjà (voir « keys rotate »).") from error
        await staff.audit.record(SYSTEM, "keys.init", args.admin)
        print(f"Clé du bureau créée ; compte administrateur « {args.admin} » prêt.")
        return 0

    return _run(settings, config, job)


def cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    config = args.staff_config or StaffConfig.from_env()

    async def job(staff: StaffState) -> int:
        keyring = await _admin_keyring(staff, args.admin)
        granted = set(await accounts_with_access(staff.redis))
        keep = [a.name for a in await staff.accounts.list() if not a.disabled and a.name in granted]
        await rotate_desk_keys(staff.redis, keyring, keep)
        await staff.audit.record(args.admin, "keys.rotate", detail=f"{len(keep)} comptes")
        print(
            f"Nouvelle clé du bureau, donnée à {len(keep)} compte(s). Redémarrez le tableau de bord."
        )
        return 0

    return _run(settings, config, job)


def _temporary_password(prompt: str) -> tuple[str, bool]:
    """A password to hand over (asked, or generated when left empty) and whether it was
    generated (then it is printed once for the admin to pass on)."""
    password = _password(
        PASSWORD_ENV, f"{prompt} (vide : en générer un) : ", confirm=True, allow_empty=True
    )
    return (password, False) if password else (generate_password(), True)


def cmd_users_add(settings: Settings, args: argparse.Namespace) -> int:
    config = args.staff_config or StaffConfig.from_env()

    async def job(staff: StaffState) -> int:
        keyring = await _admin_keyring(staff, args.admin)
        password, generated = _temporary_password(f"Mot de passe temporaire de {args.name}")
        await staff.accounts.create(args.name, Role(args.role), password, keyring)
        await staff.audit.record(args.admin, "user.add", args.name, args.role)
        print(f"Compte « {args.name} » ({args.role}) créé ; mot de passe à changer à la connexion.")
        if generated:
            print(f"Mot de passe temporaire (affiché une seule fois) : {password}")
        return 0

    return _run(settings, config, job)


def cmd_users_list(settings: Settings, args: argparse.Namespace) -> int:
    config = args.staff_config or StaffConfig.from_env()

    async def job(staff: StaffState) -> int:
        granted = set(await accounts_with_access(staff.redis))
        accounts = await staff.accounts.list()
        print(f"{'compte':<24} {'rôle':<9} {'état':<12} {'clé':<4} dernière connexion")
        for a in accounts:
            state = "désactivé" if a.disabled else ("temporaire" if a.must_change else "actif")
            key = "oui" if a.name in granted else "non"
            print(f"{a.name:<24} {a.role.value:<9} {state:<12} {key:<4} {a.last_login or '—'}")
        return 0

    return _run(settings, config, job)


def cmd_users_disable(settings: Settings, args: argparse.Namespace) -> int:
    config = args.staff_config or StaffConfig.from_env()

    async def job(staff: StaffState) -> int:
        await staff.accounts.disable(args.name)
        await staff.audit.record(SYSTEM, "user.disable", args.name)
        print(
            f"Compte « {args.name} » désactivé (ses sessions se ferment à sa prochaine "
            "requête) et privé de la clé du bureau. Renouvelez la clé : "
            "« helpline keys rotate --admin NOM »."
        )
        return 0

    return _run(settings, config, job)


def cmd_users_reset(settings: Settings, args: argparse.Namespace) -> int:
    config = args.staff_config or StaffConfig.from_env()

    async def job(staff: StaffState) -> int:
        if args.name == args.admin:
            raise CliError(
                "pas de réinitialisation de votre propre mot de passe : changez-le depuis "
                "« Mon mot de passe » du tableau de bord."
            )
        account = await staff.accounts.require(args.name)
        keyring = await _admin_keyring(staff, args.admin)
        password, generated = _temporary_password(f"Nouveau mot de passe temporaire de {args.name}")
        await staff.accounts.reset_password(args.name, password, keyring, enable=args.enable)
        await staff.authenticator.lockout.clear(args.name)
        reenabled = account.disabled and args.enable
        await staff.audit.record(
            args.admin, "user.reset_password", args.name, "réactivé" if reenabled else ""
        )
        state = (
            " et compte réactivé"
            if reenabled
            else " ; le compte reste désactivé (--enable pour le réactiver)"
            if account.disabled
            else ""
        )
        print(f"Mot de passe de « {args.name} » réinitialisé (à changer à la connexion){state}.")
        if generated:
            print(f"Mot de passe temporaire (affiché une seule fois) : {password}")
        return 0

    return _run(settings, config, job)


def account_name(text: str) -> str:
    """An account name argument: a-z, 0-9, ".", "_", "-" only — no control character, not
    even the trailing newline a pasted name brings (argparse type)."""
    try:
        return validate_account(text) if text.isprintable() else validate_account("")
    except TipValidationError as error:
        raise argparse.ArgumentTypeError(
            f"nom de compte invalide : {text!r} (1 à 64 caractères parmi a-z, 0-9, . _ -)"
        ) from error


def retention_days(text: str) -> int:
    """`--days`: a whole number of days from 1 to `MAX_RETENTION_DAYS` (argparse type)."""
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise argparse.ArgumentTypeError(
            f"nombre de jours invalide : {text!r} (un entier de 1 à {MAX_RETENTION_DAYS})"
        )
    return days


def cmd_tips_purge(settings: Settings, args: argparse.Namespace) -> int:
    from staff import retention

    config = args.staff_config or StaffConfig.from_env()
    days = args.days if args.days is not None else config.retention_days

    async def job(staff: StaffState) -> int:
        now = datetime.now(timezone.utc)
        if args.dry_run:
            due = await retention.due(staff.desk, days, now)
            print(
                f"{len(due)} signalement(s) seraient supprimé(s) (clos ou rejetés depuis plus "
                f"de {days} jours) ; rien n'a été supprimé."
            )
            return 0
        purged = await retention.purge(staff.desk, staff.redis, days, now)
        await staff.audit.record(SYSTEM, "tips.purge", detail=f"{purged} signalements")
        print(f"{purged} signalement(s) clos ou rejeté(s) depuis plus de {days} jours supprimé(s).")
        return 0

    return _run(settings, config, job)


# --------------------------------------------------------------------------- parser


def register(subparsers: Any) -> None:
    """Add `staff`, `users`, `keys` and `tips` to the `helpline` command."""
    staff = subparsers.add_parser(
        "staff", help="serve the staff dashboard (STAFF_HOST:STAFF_PORT, default 127.0.0.1:8080)"
    )
    staff.set_defaults(func=cmd_staff, staff_config=None)

    users = subparsers.add_parser(
        "users", help="staff accounts: add, list, disable, reset-password"
    )
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add an account (copies the desk keys of --admin)")
    add.add_argument("name", type=account_name)
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.REVIEWER.value)
    add.add_argument(
        "--admin", required=True, type=account_name, help="an admin account (its password is asked)"
    )
    add.set_defaults(func=cmd_users_add, staff_config=None)
    listing = users_sub.add_parser("list", help="list accounts")
    listing.set_defaults(func=cmd_users_list, staff_config=None)
    disable = users_sub.add_parser("disable", help="disable an account and revoke its desk key")
    disable.add_argument("name", type=account_name)
    disable.set_defaults(func=cmd_users_disable, staff_config=None)
    reset = users_sub.add_parser("reset-password", help="new temporary password (re-wraps keys)")
    reset.add_argument("name", type=account_name)
    reset.add_argument(
        "--admin", required=True, type=account_name, help="an admin account (its password is asked)"
    )
    reset.add_argument(
        "--enable", action="store_true", help="also re-enable a disabled account (else it stays so)"
    )
    reset.set_defaults(func=cmd_users_reset, staff_config=None)

    keys = subparsers.add_parser("keys", help="the desk keypair: init, rotate")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    init = keys_sub.add_parser("init", help="create the desk keypair and the first admin")
    init.add_argument(
        "--admin", default="admin", type=account_name, help="first admin account (default: admin)"
    )
    init.set_defaults(func=cmd_keys_init, staff_config=None)
    rotate = keys_sub.add_parser("rotate", help="new desk keypair for the enabled accounts")
    rotate.add_argument(
        "--admin", required=True, type=account_name, help="an admin account (its password is asked)"
    )
    rotate.set_defaults(func=cmd_keys_rotate, staff_config=None)

    tips = subparsers.add_parser("tips", help="tip retention")
    tips_sub = tips.add_subparsers(dest="tips_command", required=True)
    purge = tips_sub.add_parser(
        "purge", help="delete closed/rejected tips older than the retention"
    )
    purge.add_argument(
        "--days",
        type=retention_days,
        default=None,
        help=f"retention in days, 1 to {MAX_RETENTION_DAYS} (default: RETENTION_DAYS or 90)",
    )
    purge.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
    )
    purge.set_defaults(func=cmd_tips_purge, staff_config=None)
