"""The dashboard's application factory: `create_app(settings, redis_url)` → Starlette.

Redis and everything built on it are created in the lifespan, inside the event loop that
serves requests (redis-py's asyncio connections belong to one loop). Sessions — and with
them the unwrapped desk keys — die with the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from bot.content import load_catalog
from bot.services.directory import load_services
from sini.counselling.store import Counselling
from sini.logging import get_logger
from sini.redis import connect_redis, connect_tips
from sini.settings import Settings
from staff import retention, stats
from staff.accounts import Accounts
from staff.audit import SYSTEM, AuditLog
from staff.auth import Authenticator, Lockout
from staff.config import StaffConfig
from staff.errors import ANSWERS, Refused
from staff.formatting import Formatter
from staff.search import SearchIndex
from staff.sessions import SessionStore
from staff.views import admin, console, console_events, login, queue, tip
from staff.views import stats as stats_views
from staff.web import (
    BodyLimit,
    SecurityHeaders,
    StaffState,
    error_page,
    make_templates,
    refused,
    secure_headers,
)
from tips.desk import Desk
from tips.reindex import reindex

log = get_logger(__name__)
STATIC = Path(__file__).parent / "static"
ERROR_MESSAGES = {
    400: "Requête invalide : le formulaire envoyé n'a pas pu être lu.",
    404: "Page introuvable.",
    405: "Méthode non permise.",
    413: "Requête trop volumineuse.",
    500: "Erreur interne : réessayez dans un moment ; si cela continue, prévenez un administrateur.",
}


def build_state(
    settings: Settings,
    config: StaffConfig,
    redis: Redis[bytes],
    sessions: SessionStore,
    stats_redis: Redis[bytes] | None = None,
    search: SearchIndex | None = None,
    stopping: threading.Event | None = None,
) -> StaffState:
    """Wire the services around the tips Redis (`redis`: tips, desk keys, accounts, audit)
    and the dialogue Redis (`stats_redis`: the bot's topic counters; default: the same)."""
    accounts = Accounts(redis, config.kdf_limits, config.hash_parameters)
    lockout = Lockout(
        redis,
        settings.secret,
        config.lockout_attempts,
        config.lockout_minutes * 60,
        client_attempts=config.client_lockout_attempts,
    )
    formatter = Formatter(config.locale)
    services = load_services(settings.services_file)
    catalog = load_catalog(settings.responses_dir, settings.locales_dir, services)
    return StaffState(
        settings=settings,
        config=config,
        redis=redis,
        stats_redis=stats_redis or redis,
        desk=Desk(redis),
        accounts=accounts,
        authenticator=Authenticator(redis, accounts, lockout),
        sessions=sessions,
        audit=AuditLog(redis, settings.secret),
        formatter=formatter,
        templates=make_templates(formatter),
        topic_labels=stats.topic_labels(settings.responses_dir),
        counselling=Counselling.configured(stats_redis or redis, settings),
        referrals={s.id: s.label for s in services},
        quick_replies=console.quick_replies(catalog),
        cards=console.service_cards(catalog, services),
        directory=console.directory_entries(catalog, services),
        search=search if search is not None else SearchIndex(),
        stopping=stopping or threading.Event(),
    )


async def _purge_forever(staff: StaffState) -> None:
    """Retention as a scheduled job: purge, then sleep `purge_every_hours`."""
    while True:
        try:
            now = datetime.now(timezone.utc)
            purged = await retention.purge(
                staff.desk, staff.redis, staff.config.retention_days, now
            )
            if purged:
                await staff.audit.record(SYSTEM, "tips.purge", detail=f"{purged} signalements")
            log.info("staff.purge", purged=purged)
        except RedisError as error:
            log.warning("staff.purge_failed", error_type=type(error).__name__)
        await asyncio.sleep(staff.config.purge_every_hours * 3600)


def create_app(
    settings: Settings,
    redis_url: str,
    config: StaffConfig | None = None,
    *,
    session_clock: Callable[[], float] = time.monotonic,
    stopping: threading.Event | None = None,
) -> Starlette:
    """The dashboard. `redis_url` is the bot's Redis (topic counters); tips, desk keys and
    staff data live in `settings.tips_redis_url` when set (TIPS_REDIS_URL), else there too.
    `config` defaults to `StaffConfig.from_env()`; tests pass a cheaper one
    (cheap KDFs, http cookies) and may pass a fake clock. `stopping` is set by the server
    when it begins to stop (`staff.serving`): the console's event streams then end."""
    cfg = config or StaffConfig.from_env()
    search = SearchIndex()
    sessions = SessionStore(
        cfg.session_idle_minutes * 60,
        cfg.session_max_hours * 3600,
        clock=session_clock,
        on_empty=search.forget,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        main = connect_redis(redis_url)
        tips = connect_tips(settings, main)
        staff = build_state(
            settings, cfg, tips, sessions, stats_redis=main, search=search, stopping=stopping
        )
        app.state.staff = staff
        given = await reindex(tips, settings.secret)
        log.info("staff.reindexed", references_given=given)
        purger = asyncio.create_task(_purge_forever(staff)) if cfg.purge_every_hours > 0 else None
        log.info("staff.started", secure_cookies=cfg.secure_cookies)
        try:
            yield
        finally:
            if purger is not None:
                purger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await purger
            sessions.drop_all()
            for client in {id(main): main, id(tips): tips}.values():
                await client.close()

    async def http_error(request: Request, exc: Exception) -> Response:
        """Every HTTP error Starlette raises (404, 405, the 400 of an unreadable form…) as
        a French page; its own English detail is never shown."""
        code = exc.status_code if isinstance(exc, HTTPException) else 500
        response = error_page(request, code, ERROR_MESSAGES.get(code, "Erreur."))
        if isinstance(exc, HTTPException) and exc.headers:
            response.headers.update(exc.headers)  # e.g. Allow on a 405
        return response

    async def server_error(request: Request, exc: Exception) -> Response:
        """An unexpected exception: a French page. Starlette's ServerErrorMiddleware calls
        this outside the other middleware, so the security headers are added here."""
        log.error("staff.server_error", error_type=type(exc).__name__)
        try:
            response: Response = error_page(request, 500, ERROR_MESSAGES[500])
        except Exception:  # the page itself cannot be rendered (e.g. no state yet)
            response = PlainTextResponse(ERROR_MESSAGES[500], status_code=500)
        secure_headers(response.headers, cfg.secure_cookies)
        return response

    return Starlette(
        routes=[
            *login.routes,
            *queue.routes,
            *tip.routes,
            *stats_views.routes,
            *admin.routes,
            *console.routes,
            *console_events.routes,
            Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        ],
        middleware=[
            Middleware(SecurityHeaders, hsts=cfg.secure_cookies),
            Middleware(BodyLimit),
        ],
        exception_handlers={
            HTTPException: http_error,
            Refused: refused,
            **dict.fromkeys(ANSWERS, refused),
            Exception: server_error,
        },
        lifespan=lifespan,
    )
