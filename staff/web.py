"""What every page shares: the app's state, rendering, the session guard, security headers.

The guard (`staff_only`) is the single place where sessions, roles and CSRF are enforced:
every route but the login page is wrapped in it, and a test walks the route table to make
sure of that.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from redis.asyncio import Redis
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sini.counselling.store import Counselling
from sini.logging import get_logger
from sini.settings import Settings
from staff import attachments, labels
from staff.accounts import Accounts, Role
from staff.audit import AuditLog
from staff.auth import Authenticator
from staff.config import StaffConfig
from staff.errors import Forbidden, Notice, Page, answer_for
from staff.formatting import Formatter, fold
from staff.return_to import login_url
from staff.search import SearchIndex
from staff.sessions import Session, SessionStore, tokens_match
from tips.desk import Desk

log = get_logger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
CSRF_REFUSED = "Requête refusée : jeton CSRF absent ou invalide."
# The query parameters of a notice shown after a redirect (`render`, `notice_url`).
_NOTICE_PARAMS = {"msg", "at"}
# Reachable while a temporary password must still be changed.
_PASSWORD_CHANGE_PATHS = {"/account/password", "/logout"}

# Fixed messages shown after a redirect (?msg=…): no user text ever travels in a URL.
MESSAGES: dict[str, tuple[str, str]] = {
    "note_added": ("ok", "Note ajoutée."),
    "status_changed": ("ok", "Statut modifié."),
    "assigned": ("ok", "Attribution enregistrée."),
    "replied": ("ok", "Réponse envoyée à l'informateur."),
    "password_changed": ("ok", "Mot de passe changé."),
    "user_disabled": ("ok", "Compte désactivé. Pensez à renouveler la clé du bureau."),
    "keys_rotated": ("ok", "Clé du bureau renouvelée : reconnectez-vous."),
    "target_added": ("ok", "Organisme ajouté à la liste."),
    "target_removed": ("ok", "Organisme retiré de la liste."),
    "labelled": ("ok", "Étiquette ajoutée."),
    "label_removed": ("ok", "Étiquette retirée."),
    "important_set": ("ok", "Signalement marqué important."),
    "important_unset": ("ok", "Signalement plus marqué important."),
    "kept": ("ok", "Conservation prolongée."),
    "keep_date": ("error", "Indiquez une date à venir."),
    "too_many_labels": ("error", "Un signalement porte au plus 10 étiquettes."),
    "bulk_done": ("ok", "Action appliquée aux signalements cochés."),
    "bulk_partial": (
        "ok",
        "Action appliquée ; les signalements où elle n'était pas permise n'ont pas changé.",
    ),
    "bulk_none": ("error", "Cochez au moins un signalement."),
    "bulk_reason": ("error", "Indiquez le motif de l'action groupée."),
    "bulk_argument": ("error", "Choisissez à qui attribuer, ou l'étiquette à ajouter."),
    "empty_text": ("error", "Le texte est vide."),
    "text_too_long": ("error", "Le texte est trop long."),
    "reason_required": ("error", "Indiquez le motif du changement de statut."),
    "forward_required": ("error", "Indiquez à quel organisme le signalement est transmis."),
    "transition": ("error", "Ce changement de statut n'est pas permis."),
    "conflict": ("error", "Le signalement a été modifié entre-temps : réessayez."),
    "stale_key": ("error", "La clé du bureau a changé : reconnectez-vous."),
    "unknown_account": ("error", "Compte inconnu."),
    "unknown_reference": ("error", "Aucun signalement ne porte cette référence."),
    "self_disable": ("error", "Vous ne pouvez pas désactiver votre propre compte."),
    "self_reset": ("error", "Changez votre propre mot de passe depuis « Mon mot de passe »."),
    "session_expired": ("error", "Session expirée : reconnectez-vous."),
    "claimed": ("ok", "Conversation prise : elle est à vous."),
    "sent": ("ok", "Message envoyé."),
    "ended": ("ok", "Conversation terminée, son résumé compté."),
    "transferred": ("ok", "Conversation passée à l'autre conseiller."),
    "requeued": ("ok", "Conversation remise dans la file, à sa place."),
    "unavailable": (
        "error",
        "Ce conseiller ne peut plus la prendre (hors permanence ou au maximum) : "
        "choisissez-en un autre.",
    ),
    "card_sent": ("ok", "Adresse envoyée au jeune, dans sa langue."),
    "card_unknown": ("error", "Choisissez un service de l'annuaire."),
    "summary_missing": ("error", "Choisissez le sujet, le risque évalué et l'orientation."),
    "alias_set": ("ok", "Prénom affiché enregistré."),
    "duty_on": ("ok", "Vous êtes de permanence : les jeunes peuvent vous joindre."),
    "duty_off": ("ok", "Vous êtes hors permanence : les jeunes ne vous attendent pas."),
    "already_claimed": ("error", "Un autre conseiller a pris cette conversation."),
    "at_limit": ("error", "Vous tenez déjà le nombre maximal de conversations."),
    "not_held": ("error", "Cette conversation n'est plus la vôtre (terminée par le jeune ?)."),
    "conversation_gone": ("error", "Cette conversation n'existe plus."),
}


@dataclass
class StaffState:
    """Everything the views need, built once by `create_app` and kept on `app.state`."""

    settings: Settings
    config: StaffConfig
    redis: Redis[bytes]  # tips, desk keys, accounts, audit (TIPS_REDIS_URL or REDIS_URL)
    stats_redis: Redis[bytes]  # the bot's anonymous topic counters (REDIS_URL)
    desk: Desk
    accounts: Accounts
    authenticator: Authenticator
    sessions: SessionStore
    audit: AuditLog
    formatter: Formatter
    templates: Environment
    topic_labels: dict[str, str]
    counselling: Counselling  # the conversations, in the dialogue Redis (REDIS_URL)
    referrals: dict[str, str]  # the directory's services a conversation may refer to: id → name
    quick_replies: dict[str, tuple[str, ...]]  # the console's ready answers, per language
    cards: dict[tuple[str, str], str]  # (service id, locale) → its card as the bot shows it
    directory: tuple[tuple[str, str], ...]  # the console's directory search: (id, what it offers)
    search: SearchIndex  # the opened text of the tips, in this process only
    # Set when the server begins to stop: the console's event streams end at it.
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def session_cookie(self) -> str:
        # "__Host-" makes browsers refuse the cookie unless Secure, path=/ and host-only.
        return "__Host-sini-session" if self.config.secure_cookies else "sini-session"

    @property
    def login_cookie(self) -> str:
        return "__Host-sini-login" if self.config.secure_cookies else "sini-login"

    @property
    def device_cookie(self) -> str:
        """The browser's device tokens (`auth.Lockout.remember_device`): long-lived on
        purpose, it holds no session, only proof of past logins for the throttle."""
        return "__Host-sini-device" if self.config.secure_cookies else "sini-device"

    def set_cookie(
        self, response: Response, name: str, value: str, max_age: int | None = None
    ) -> None:
        """An HttpOnly, SameSite=Strict cookie; without `max_age` it ends with the browser."""
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.config.secure_cookies,
            httponly=True,
            samesite="strict",
        )

    def clear_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(
            name, path="/", secure=self.config.secure_cookies, httponly=True, samesite="strict"
        )


def make_templates(formatter: Formatter) -> Environment:
    """Jinja2 with autoescaping everywhere and the French label/format filters."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        category=labels.category,
        status=labels.status,
        region=labels.region,
        when=labels.when,
        attachment_kind=labels.attachment_kind,
        shown=lambda meta: attachments.shown(meta.mime_type).show,
        locale_name=labels.locale_name,
        role=labels.role,
        audit_action=labels.audit_action,
        origin=labels.origin,
        risk=labels.risk,
        topic=labels.topic,
        datetime=formatter.datetime,
        timestamp=lambda epoch: formatter.datetime(datetime.fromtimestamp(epoch, timezone.utc)),
        date=formatter.date,
        number=formatter.number,
        decimal1=formatter.decimal1,
        duration=formatter.duration,
        plural=formatter.plural,
        deletion=lambda moment: formatter.deletion(moment, datetime.now(timezone.utc)),
        fold=fold,
    )
    env.globals["labels"] = labels
    return env


def state_of(request: Request) -> StaffState:
    staff: StaffState = request.app.state.staff
    return staff


def render(
    request: Request,
    template: str,
    session: Session | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page, with the session (for the menu and the CSRF token) and the ?msg= notice."""
    staff = state_of(request)
    notice = MESSAGES.get(request.query_params.get("msg", ""))
    html = staff.templates.get_template(template).render(
        request=request,
        session=session,
        csrf=session.csrf if session else "",
        notice=notice,
        # The section whose form the notice is about: shown there, not at the page's top.
        notice_at=request.query_params.get("at", ""),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def error_page(
    request: Request, status_code: int, message: str, session: Session | None = None
) -> HTMLResponse:
    return render(request, "error.html", session, status_code=status_code, message=message)


def redirect(url: str) -> RedirectResponse:
    """After a POST: 303 so the browser follows with a GET (no resubmission on reload)."""
    return RedirectResponse(url, status_code=303)


Handler = Callable[[Request, Session], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def staff_only(
    role: Role | None = Role.REVIEWER, *, back: str | None = None
) -> Callable[[Handler], Endpoint]:
    """Require a live session (and `role`), and a valid CSRF token on every POST.

    `role`: REVIEWER (the default: the tips) admits reviewers and admins, COUNSELLOR
    counsellors and admins, ADMIN admins only, None any signed-in account (its password,
    logging out, the statistics). A counsellor sent to the queue ("/") goes to the console.

    Order matters: no session → login page; then CSRF (a forged request learns nothing
    else); then the role; a temporary password must be changed before anything else.
    `back` is the page a refused form returns to, with the route's path parameters
    (`"/tips/{lookup}#notes"`); the session and that page are kept on `request.state`
    for the error handlers (`staff.errors`).
    """

    def decorate(handler: Handler) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            staff = state_of(request)
            cookie = request.cookies.get(staff.session_cookie)
            form_page = _fill(back, request.path_params) if back else None
            # After logging in again, back to this page (a refused POST: its form's page).
            here = form_page if request.method == "POST" else _page_of(request)
            session = await live_session(staff, cookie)
            if session is None:
                return redirect(login_url(here, expired=bool(cookie)))
            request.state.session = session
            request.state.back = form_page
            if request.method == "POST":
                form = await request.form()
                if not tokens_match(session.csrf, form.get("csrf")):
                    await staff.audit.record(session.account, "csrf.refused", request.url.path)
                    raise Forbidden(CSRF_REFUSED)
            if session.must_change and request.url.path not in _PASSWORD_CHANGE_PATHS:
                return redirect("/account/password")
            if role is Role.REVIEWER and not session.reviews:
                if request.method == "GET" and request.url.path == "/":
                    return redirect("/console")
                await staff.audit.record(session.account, "access.refused", request.url.path)
                raise Forbidden("Page réservée à l'équipe des signalements.")
            if role is Role.ADMIN and not session.is_admin:
                await staff.audit.record(session.account, "access.refused", request.url.path)
                raise Forbidden("Page réservée aux administrateurs.")
            if role is Role.COUNSELLOR and not session.counsels:
                await staff.audit.record(session.account, "access.refused", request.url.path)
                raise Forbidden("Page réservée aux conseillers.")
            return await handler(request, session)

        endpoint.staff_role = role  # type: ignore[attr-defined]
        return endpoint

    return decorate


async def live_session(staff: StaffState, cookie: str | None) -> Session | None:
    """The session `cookie` names, unless it has ended: expired, or its account disabled
    elsewhere (the CLI, another admin) or its password changed or reset since it began —
    such a session is ended at once."""
    session = staff.sessions.get(cookie)
    if session is None:
        return None
    account = await staff.accounts.get(session.account)
    if account is None or account.disabled or account.epoch != session.epoch:
        staff.sessions.delete(session.id)
        return None
    return session


def _page_of(request: Request) -> str:
    """The path and query of `request`, as a page to come back to (without its notice:
    what it announced is not news after a login)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in _NOTICE_PARAMS]
    return request.url.path + (f"?{urlencode(kept)}" if kept else "")


def _fill(page: str, params: dict[str, Any]) -> str:
    """`page` with the path parameters in, each quoted (they come from the URL)."""
    return page.format(**{name: quote(str(value), safe="") for name, value in params.items()})


async def refused(request: Request, error: Exception) -> Response:
    """The answer `staff.errors` gives to `error` (a view or the guard raised it)."""
    session: Session | None = getattr(request.state, "session", None)
    match answer_for(error):
        case Page(status, message):
            if status >= 500:
                log.error("staff.unreadable", error_type=type(error).__name__)
            return error_page(request, status, message, session)
        case Notice(key, page):
            path, _, anchor = (page or getattr(request.state, "back", None) or "/").partition("#")
            return redirect(notice_url(path, key, anchor))
    raise error  # registered only for the exceptions `staff.errors` answers


def notice_url(path: str, key: str, anchor: str = "") -> str:
    """`path` showing the notice `key`, by the form of the section `anchor` when given."""
    if not anchor:
        return f"{path}?msg={key}"
    return f"{path}?msg={key}&at={anchor}#{anchor}"


def secure_headers(headers: MutableHeaders, hsts: bool, static: bool = False) -> None:
    """Add the security headers (those a response set itself stay) and, but for static
    files, forbid caching."""
    for name, value in SECURITY_HEADERS.items():
        if name not in headers:
            headers[name] = value
    if hsts:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    if not static:
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"


class SecurityHeaders:
    """Pure ASGI middleware: security headers on every response, and no caching of anything
    but static files (pages hold decrypted tips; a shared or back-button cache must not)."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                secure_headers(MutableHeaders(scope=message), self.hsts, static)
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Answered before the app (and its templates) sees the request: a minimal French page.
_TOO_LARGE_PAGE = (
    '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
    "<title>Erreur · Bureau des signalements</title></head><body><main>"
    "<h1>Impossible d'afficher cette page</h1><p>Requête trop volumineuse.</p>"
    '<p><a href="/">Retour à la file</a></p></main></body></html>'
)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    await HTMLResponse(_TOO_LARGE_PAGE, status_code=413)(scope, receive, send)


class BodyLimit:
    """Pure ASGI middleware refusing request bodies over `max_bytes` (413).

    Every form here is small (a note is at most 4,000 characters); the login form is public,
    and Starlette would otherwise buffer a URL-encoded body of any size.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = 256 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except BodyTooLarge:
            await _too_large(scope, receive, send)


class BodyTooLarge(Exception):
    """A streamed body went over the limit (raised inside `BodyLimit`)."""
