"""Login, logout and changing one's own password.

The login form has no session yet, so its CSRF protection is a double-submit token: a
random value in a SameSite=Strict, HttpOnly cookie that the form must repeat. It carries
the page to return to (`next`, checked by `return_to.safe_page`) from the session guard's
redirect to the redirect after a successful login.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sini.logging import get_logger
from staff import fields
from staff.accounts import AccountError
from staff.audit import UNKNOWN
from staff.auth import DEVICE_DAYS, AccountLocked, ClientLocked, LoginError, Throttled
from staff.errors import Forbidden
from staff.return_to import safe_page
from staff.sessions import Session, new_token, tokens_match
from staff.web import CSRF_REFUSED, redirect, render, staff_only, state_of
from tips.crypto import WrongPassword
from tips.keys import DeskKeyError

log = get_logger(__name__)
_LOGIN_COOKIE_SECONDS = 3600
_DEVICE_COOKIE_SECONDS = DEVICE_DAYS * 86400


async def login_form(request: Request) -> Response:
    staff = state_of(request)
    back_to = safe_page(request.query_params.get("next"))
    if staff.sessions.get(request.cookies.get(staff.session_cookie)):
        return redirect(back_to)
    return _login_page(request, back_to)


def _login_page(
    request: Request, back_to: str, error: str = "", status_code: int = 200, name: str = ""
) -> Response:
    staff = state_of(request)
    # Reuse this browser's token if it has one: two login tabs must not invalidate each other.
    token = request.cookies.get(staff.login_cookie) or new_token()
    response = render(
        request,
        "login.html",
        status_code=status_code,
        login_csrf=token,
        next=back_to,
        error=error,
        name=name,
        attempts=staff.config.lockout_attempts,
    )
    staff.set_cookie(response, staff.login_cookie, token, _LOGIN_COOKIE_SECONDS)
    return response


async def login(request: Request) -> Response:
    staff = state_of(request)
    form = await request.form()
    if not tokens_match(request.cookies.get(staff.login_cookie, ""), form.get("csrf")):
        await staff.audit.record(UNKNOWN, "csrf.refused", request.url.path)
        raise Forbidden(CSRF_REFUSED)
    name = fields.one_line(form.get("account"))[:100].lower()
    back_to = safe_page(form.get("next"))
    password = fields.raw(form.get("password"))
    device = request.cookies.get(staff.device_cookie)
    try:
        result = await staff.authenticator.login(
            name,
            password,
            client=request.client.host if request.client else None,
            device=device,
        )
    except LoginError as error:
        known = await staff.accounts.get(name)
        action = (
            "login.throttled"
            if isinstance(error, ClientLocked)
            else "login.locked"
            if isinstance(error, AccountLocked)
            else "login.failed"
        )
        await staff.audit.record(known.name if known else UNKNOWN, action)
        log.info("staff.login_refused", reason=type(error).__name__)
        code = 429 if isinstance(error, Throttled) else 401
        return _login_page(request, back_to, str(error), code, name)
    account = result.account
    previous = request.cookies.get(staff.session_cookie)
    if previous:
        staff.sessions.delete(previous)
    session = staff.sessions.create(
        account.name,
        account.role,
        result.keyring,
        must_change=account.must_change,
        epoch=account.epoch,
    )
    await staff.audit.record(account.name, "login.ok")
    log.info("staff.login", role=account.role.value)
    response = redirect("/account/password" if account.must_change else back_to)
    # No Max-Age: the cookie ends with the browser; the server ends the session after the
    # idle time and the absolute maximum anyway.
    staff.set_cookie(response, staff.session_cookie, session.id)
    staff.clear_cookie(response, staff.login_cookie)
    devices = staff.authenticator.lockout.remember_device(account.name, device)
    staff.set_cookie(response, staff.device_cookie, devices, _DEVICE_COOKIE_SECONDS)
    return response


@staff_only(None)
async def logout(request: Request, session: Session) -> Response:
    staff = state_of(request)
    staff.sessions.delete(session.id)
    await staff.audit.record(session.account, "logout")
    response = redirect("/login")
    staff.clear_cookie(response, staff.session_cookie)
    return response


@staff_only(None)
async def password_form(request: Request, session: Session) -> Response:
    return render(request, "password.html", session)


@staff_only(None)
async def change_password(request: Request, session: Session) -> Response:
    staff = state_of(request)
    form = await request.form()
    # Passwords are not cleaned: one holding a control character is refused by the policy.
    old, new, again = (fields.raw(form.get(k)) for k in ("old", "new", "again"))
    error = ""
    if new != again:
        error = "Les deux nouveaux mots de passe diffèrent."
    elif new == old:
        error = "Le nouveau mot de passe doit être différent de l'ancien."
    else:
        try:
            epoch = await staff.accounts.change_own_password(session.account, old, new)
        except AccountError as failure:
            error = str(failure)
        except (WrongPassword, DeskKeyError):
            error = "Mot de passe actuel incorrect."
    if error:
        return render(request, "password.html", session, status_code=400, error=error)
    # This browser stays logged in; every other session of the account ends.
    session.must_change = False
    session.epoch = epoch
    staff.sessions.drop_account(session.account, keep=session.id)
    await staff.audit.record(session.account, "password.change")
    return redirect("/?msg=password_changed")


routes = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/account/password", password_form, methods=["GET"]),
    Route("/account/password", change_password, methods=["POST"]),
]
