"""Admin pages: accounts (add, disable, reset password), desk-key rotation, audit log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from staff.accounts import AccountError, AccountMissing, Role, generate_password
from staff.sessions import Session
from staff.web import redirect, render, staff_only, state_of
from tips.keys import DeskKeyError, accounts_with_access, rotate_desk_keys
from tips.model import TipValidationError

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
    name = str(form.get("account", "")).strip().lower()
    role_value = str(form.get("role", ""))
    if role_value not in {r.value for r in Role}:
        return await _users_page(request, session, 400, "Rôle inconnu.")
    password = generate_password()
    try:
        await staff.accounts.create(name, Role(role_value), password, session.keyring)
    except AccountError as error:
        return await _users_page(request, session, 400, str(error))
    except DeskKeyError:
        return redirect("/?msg=stale_key")
    await staff.audit.record(session.account, "user.add", name, role_value)
    return _password_shown(request, session, name, password)


@staff_only(Role.ADMIN)
async def disable_user(request: Request, session: Session) -> Response:
    staff = state_of(request)
    name = str(request.path_params["name"])
    if name == session.account:
        return redirect("/users?msg=self_disable")
    try:
        await staff.accounts.disable(name)
    except (AccountMissing, TipValidationError):
        return redirect("/users?msg=unknown_account")
    staff.sessions.drop_account(name)
    await staff.audit.record(session.account, "user.disable", name)
    return redirect("/users?msg=user_disabled")


@staff_only(Role.ADMIN)
async def reset_password(request: Request, session: Session) -> Response:
    """A new temporary password, re-wrapping the desk keys under it (needs this admin's
    keyring), re-enabling the account and ending its sessions."""
    staff = state_of(request)
    name = str(request.path_params["name"])
    password = generate_password()
    try:
        await staff.accounts.reset_password(name, password, session.keyring)
    except (AccountMissing, TipValidationError):
        return redirect("/users?msg=unknown_account")
    except DeskKeyError:
        return redirect("/?msg=stale_key")
    staff.sessions.drop_account(name)
    await staff.authenticator.lockout.clear(name)
    await staff.audit.record(session.account, "user.reset_password", name)
    return _password_shown(request, session, name, password)


@staff_only(Role.ADMIN)
async def rotate_keys(request: Request, session: Session) -> Response:
    """New desk keypair, granted to every enabled account that had access; everyone logs
    in again (the keyrings in memory no longer hold the current key)."""
    staff = state_of(request)
    granted = set(await accounts_with_access(staff.redis))
    keep = [a.name for a in await staff.accounts.list() if not a.disabled and a.name in granted]
    try:
        await rotate_desk_keys(staff.redis, session.keyring, keep)
    except DeskKeyError:
        return redirect("/?msg=stale_key")
    await staff.audit.record(session.account, "keys.rotate", detail=f"{len(keep)} comptes")
    staff.sessions.drop_all()
    response = redirect("/login?msg=keys_rotated")
    staff.clear_cookie(response, staff.session_cookie)
    return response


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
    )


routes = [
    Route("/users", users, methods=["GET"]),
    Route("/users", add_user, methods=["POST"]),
    Route("/users/{name}/disable", disable_user, methods=["POST"]),
    Route("/users/{name}/reset", reset_password, methods=["POST"]),
    Route("/keys/rotate", rotate_keys, methods=["POST"]),
    Route("/audit", audit_page, methods=["GET"]),
]
