"""Admin pages: accounts (add, disable, reset password), desk-key rotation, the
organisations tips are forwarded to, audit log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from staff import fields
from staff.accounts import AccountError, Role, generate_password
from staff.errors import FormRefused
from staff.forwarding import ForwardTargets, TargetNameInvalid
from staff.sessions import Session
from staff.web import redirect, render, staff_only, state_of
from tips.keys import accounts_with_access, rotate_desk_keys

AUDIT_PAGE = 50


async def _users_page(
    request: Request, session: Session, status_code: int = 200, error: str = ""
) -> Response:
    staff = state_of(request)
    granted = set(await accounts_with_access(staff.redis))
    return render(
        request,
        "users.html",
        session,
        status_code=status_code,
        accounts=await staff.accounts.list(),
        granted=granted,
        roles=list(Role),
        error=error,
    )


@staff_only(Role.ADMIN)
async def users(request: Request, session: Session) -> Response:
    return await _users_page(request, session)


def _password_shown(request: Request, session: Session, name: str, password: str) -> Response:
    return render(request, "user_password.html", session, name=name, password=password)


@staff_only(Role.ADMIN)
async def add_user(request: Request, session: Session) -> Response:
    """A new account with a temporary password (shown once) and a copy of the desk keys."""
    staff = state_of(request)
    form = await request.form()
    name = fields.one_line(form.get("account")).lower()
    role_value = fields.one_line(form.get("role"))
    if role_value not in {r.value for r in Role}:
        return await _users_page(request, session, 400, "Rôle inconnu.")
    password = generate_password()
    try:
        await staff.accounts.create(name, Role(role_value), password, session.keyring)
    except AccountError as error:  # the form again, saying what the name or role lacks
        return await _users_page(request, session, 400, str(error))
    await staff.audit.record(session.account, "user.add", name, role_value)
    return _password_shown(request, session, name, password)


def _confirm(
    request: Request,
    session: Session,
    title: str,
    warning: str,
    button: str,
    extra: dict[str, str] | None = None,
) -> Response:
    """The step before an action that cannot be undone: the same POST again, with
    `confirm=1` (no JavaScript dialog: the page says what will happen)."""
    return render(
        request,
        "confirm.html",
        session,
        title=title,
        warning=warning,
        button=button,
        action=request.url.path,
        extra=extra or {},
    )


async def _confirmed(request: Request) -> bool:
    return (await request.form()).get("confirm") == "1"


@staff_only(Role.ADMIN, back="/users")
async def disable_user(request: Request, session: Session) -> Response:
    staff = state_of(request)
    name = str(request.path_params["name"])
    if name == session.account:
        raise FormRefused("self_disable")
    await staff.accounts.require(name)
    if not await _confirmed(request):
        return _confirm(
            request,
            session,
            f"Désactiver le compte « {name} » ?",
            "Ses sessions se ferment tout de suite et il perd sa copie de la clé du bureau. "
            "Pour le réactiver, il faudra lui donner un nouveau mot de passe.",
            "Désactiver le compte",
        )
    await staff.accounts.disable(name)
    staff.sessions.drop_account(name)
    await staff.audit.record(session.account, "user.disable", name)
    return redirect("/users?msg=user_disabled")


@staff_only(Role.ADMIN, back="/users")
async def reset_password(request: Request, session: Session) -> Response:
    """A new temporary password, re-wrapping the desk keys under it (needs this admin's
    keyring) and ending the account's sessions. A disabled account stays disabled unless
    the form says `enable=1` (the "Réactiver" button). Never one's own account: that is
    "Mon mot de passe", which asks for the current password."""
    staff = state_of(request)
    name = str(request.path_params["name"])
    if name == session.account:
        raise FormRefused("self_reset")
    account = await staff.accounts.require(name)
    enable = (await request.form()).get("enable") == "1"
    if not await _confirmed(request):
        reenable = account.disabled and enable
        return _confirm(
            request,
            session,
            f"{'Réactiver' if reenable else 'Nouveau mot de passe pour'} « {name} » ?",
            "Un mot de passe temporaire remplace l'actuel et ses sessions se ferment. "
            + (
                "Le compte retrouve l'accès à la clé du bureau."
                if reenable
                else "Le compte reste désactivé."
                if account.disabled
                else ""
            ),
            "Réactiver le compte" if reenable else "Donner un nouveau mot de passe",
            {"enable": "1"} if enable else None,
        )
    password = generate_password()
    await staff.accounts.reset_password(name, password, session.keyring, enable=enable)
    staff.sessions.drop_account(name)
    await staff.authenticator.lockout.clear(name)
    detail = "réactivé" if account.disabled and enable else ""
    await staff.audit.record(session.account, "user.reset_password", name, detail)
    return _password_shown(request, session, name, password)


@staff_only(Role.ADMIN)
async def rotate_keys(request: Request, session: Session) -> Response:
    """New desk keypair, granted to every enabled account that had access; everyone logs
    in again (the keyrings in memory no longer hold the current key)."""
    staff = state_of(request)
    if not await _confirmed(request):
        return _confirm(
            request,
            session,
            "Renouveler la clé du bureau ?",
            "Les nouveaux signalements seront chiffrés avec une nouvelle clé, donnée aux seuls "
            "comptes actifs. Tout le monde, vous compris, devra se reconnecter.",
            "Renouveler la clé",
        )
    granted = set(await accounts_with_access(staff.redis))
    keep = [a.name for a in await staff.accounts.list() if not a.disabled and a.name in granted]
    await rotate_desk_keys(staff.redis, session.keyring, keep)
    await staff.audit.record(session.account, "keys.rotate", detail=f"{len(keep)} comptes")
    staff.sessions.drop_all()
    response = redirect("/login?msg=keys_rotated")
    staff.clear_cookie(response, staff.session_cookie)
    return response


async def _targets_page(
    request: Request, session: Session, status_code: int = 200, error: str = ""
) -> Response:
    return render(
        request,
        "forwarding.html",
        session,
        status_code=status_code,
        targets=await ForwardTargets(state_of(request).redis).list(),
        error=error,
    )


@staff_only(Role.ADMIN)
async def targets(request: Request, session: Session) -> Response:
    return await _targets_page(request, session)


@staff_only(Role.ADMIN)
async def add_target(request: Request, session: Session) -> Response:
    """Offer one more organisation (a name already listed, in any case, is not added)."""
    staff = state_of(request)
    name = fields.one_line((await request.form()).get("name"))
    try:
        listed = await ForwardTargets(staff.redis).add(name)
    except TargetNameInvalid:
        return await _targets_page(
            request, session, 400, "Indiquez un nom d'organisme (100 caractères au plus)."
        )
    await staff.audit.record(session.account, "forward.add", listed)
    return redirect("/forwarding?msg=target_added")


@staff_only(Role.ADMIN)
async def remove_target(request: Request, session: Session) -> Response:
    """Stop offering an organisation; tips already forwarded to it keep its name."""
    staff = state_of(request)
    name = fields.one_line((await request.form()).get("name"))
    await ForwardTargets(staff.redis).remove(name)
    await staff.audit.record(session.account, "forward.remove", name)
    return redirect("/forwarding?msg=target_removed")


@staff_only(Role.ADMIN)
async def audit_page(request: Request, session: Session) -> Response:
    staff = state_of(request)
    try:
        page = max(int(request.query_params.get("page", "1")), 1)
    except ValueError:
        page = 1
    action = request.query_params.get("action") or None
    actor = request.query_params.get("actor") or None
    entries, total = await staff.audit.page((page - 1) * AUDIT_PAGE, AUDIT_PAGE, action, actor)
    broken = await staff.audit.verify()
    size = await staff.audit.count()
    return render(
        request,
        "audit.html",
        session,
        entries=entries,
        total=total,
        page=page,
        pages=max((total + AUDIT_PAGE - 1) // AUDIT_PAGE, 1),
        action=action or "",
        actor=actor or "",
        broken=broken,
        truncated=broken is not None and broken >= size,
    )


routes = [
    Route("/users", users, methods=["GET"]),
    Route("/users", add_user, methods=["POST"]),
    Route("/users/{name}/disable", disable_user, methods=["POST"]),
    Route("/users/{name}/reset", reset_password, methods=["POST"]),
    Route("/keys/rotate", rotate_keys, methods=["POST"]),
    Route("/forwarding", targets, methods=["GET"]),
    Route("/forwarding", add_target, methods=["POST"]),
    Route("/forwarding/remove", remove_target, methods=["POST"]),
    Route("/audit", audit_page, methods=["GET"]),
]
