"""The web app through Starlette's TestClient, against the real Redis: the session guard on
every route, roles, CSRF, cookies, headers, expiry, exports, attachments, audit, logs."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import date

import pytest
from markupsafe import escape
from redis.asyncio import Redis
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from bot import logs
from bot.awareness import CampaignStore
from bot.config import Settings
from staff.accounts import Accounts
from staff.app import create_app
from staff.audit import AUDIT_KEY, AuditLog
from tests.staff.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    MARKER,
    REVIEWER,
    REVIEWER_PASSWORD,
    Clock,
    arun,
    csrf_of,
    login,
    make_accounts,
    staff_config,
    submit_tip,
)
from tips.model import Category, Status

PUBLIC = {"/login"}


def test_every_route_but_login_needs_a_session(client: TestClient) -> None:
    app = client.app
    checked = 0
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Mount) or route.path in PUBLIC:
            continue
        assert isinstance(route, Route)
        assert hasattr(route.endpoint, "staff_role"), f"{route.path} is not guarded"
        path = route.path.replace("{lookup}", "0" * 32).replace("{index}", "0")
        path = path.replace("{name}", REVIEWER)
        for method in route.methods or ():
            if method == "HEAD":
                continue
            response = client.request(method, path, follow_redirects=False)
            assert response.status_code == 303, (method, path)
            assert response.headers["location"] == "/login"
            checked += 1
    assert checked >= 15


def test_security_headers_on_every_page(client: TestClient) -> None:
    login(client, ADMIN, ADMIN_PASSWORD)
    for path in ("/login", "/", "/stats", "/users", "/audit", "/nope"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert csp.startswith("default-src 'self'")
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
    page = client.get("/stats").text
    assert "<script" not in page
    assert "style=" not in page


def test_cookies_are_httponly_samesite_strict_and_secure_by_default(
    staff_settings: Settings, desk: str
) -> None:
    app = create_app(staff_settings, desk, staff_config(secure_cookies=True))
    with TestClient(app, base_url="https://127.0.0.1") as secure:
        page = secure.get("/login")
        login_cookie = page.headers["set-cookie"]
        assert login_cookie.startswith("__Host-sini-login=")
        response = secure.post(
            "/login",
            data={"csrf": csrf_of(page.text), "account": ADMIN, "password": ADMIN_PASSWORD},
            follow_redirects=False,
        )
        assert response.status_code == 303
        cookies = response.headers.get_list("set-cookie")
        session_cookie = next(c for c in cookies if c.startswith("__Host-sini-session="))
        for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
            assert flag.lower() in session_cookie.lower()
        assert "domain" not in session_cookie.lower()
        assert response.headers["strict-transport-security"].startswith("max-age=")


def test_login_form_needs_its_csrf_token(client: TestClient) -> None:
    client.get("/login")
    refused = client.post("/login", data={"account": ADMIN, "password": ADMIN_PASSWORD})
    assert refused.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 303


def test_posts_without_the_session_csrf_token_are_refused(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret)
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    for data in ({"text": "forgée"}, {"text": "forgée", "csrf": "x" * 43}):
        response = client.post(f"/tips/{tip.lookup}/note", data=data)
        assert response.status_code == 403
        assert "jeton CSRF" in response.text
    ok = client.post(f"/tips/{tip.lookup}/note", data={"text": "vraie note", "csrf": csrf})
    assert ok.status_code == 200
    assert "vraie note" in ok.text
    assert "forgée" not in ok.text


def test_reviewers_are_refused_admin_routes(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    for path in ("/users", "/audit"):
        assert client.get(path).status_code == 403
    for path in (
        "/export",
        "/users",
        f"/users/{ADMIN}/disable",
        f"/users/{ADMIN}/reset",
        "/keys/rotate",
    ):
        response = client.post(path, data={"csrf": csrf, "account": "intrus", "role": "admin"})
        assert response.status_code == 403, path
    assert "Comptes" not in client.get("/").text
    # Nothing happened.
    login(client, ADMIN, ADMIN_PASSWORD)
    users = client.get("/users").text
    assert "intrus" not in users
    assert "désactivé" not in users


def test_session_idle_and_absolute_expiry(client: TestClient, clock: Clock) -> None:
    config = staff_config()
    login(client, REVIEWER, REVIEWER_PASSWORD)
    clock.now += config.session_idle_minutes * 60 - 5
    assert client.get("/", follow_redirects=False).status_code == 200
    clock.now += config.session_idle_minutes * 60 + 5
    expired = client.get("/", follow_redirects=False)
    assert expired.status_code == 303
    assert expired.headers["location"] == "/login?msg=session_expired"

    login(client, REVIEWER, REVIEWER_PASSWORD)
    for _ in range(config.session_max_hours * 2 + 1):  # active every 30 min, past the maximum
        clock.now += 1800 - 1
        response = client.get("/", follow_redirects=False)
    assert response.status_code == 303


def test_logout_ends_the_server_side_session(client: TestClient) -> None:
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    cookie = client.cookies.get("sini-session")
    assert cookie
    client.post("/logout", data={"csrf": csrf})
    client.cookies.set("sini-session", cookie)  # replaying the old cookie does not work
    assert client.get("/", follow_redirects=False).status_code == 303


def test_wrong_password_message_and_lockout(client: TestClient) -> None:
    for attempt in range(5):
        page = client.get("/login")
        response = client.post(
            "/login", data={"csrf": csrf_of(page.text), "account": REVIEWER, "password": "non"}
        )
        assert response.status_code == (429 if attempt == 4 else 401)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "account": REVIEWER, "password": REVIEWER_PASSWORD},
    )
    assert response.status_code == 429
    assert "verrouillé" in response.text


def test_queue_filters_counts_and_mine(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    drug = submit_tip(desk, staff_settings.secret, "un", Category.DRUG_TRAFFICKING, "bamako")
    child = submit_tip(desk, staff_settings.secret, "deux", Category.CHILD_EXPLOITATION, "gao")
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    client.post(f"/tips/{child.lookup}/assign", data={"csrf": csrf, "account": REVIEWER})
    page = client.get("/").text
    assert re.search(r'data-count="new">2<', page)
    assert client.get("/?category=child_exploitation").text.count("/tips/") == 1
    assert drug.lookup in client.get("/?region=bamako").text
    mine = client.get("/?mine=1").text
    assert child.lookup in mine
    assert drug.lookup not in mine
    assert "Aucun signalement" in client.get("/?status=closed").text
    # Priority sort puts the child-exploitation tip first.
    assert page.index(child.lookup) < page.index(drug.lookup)


def test_status_rules_and_csv_export_is_escaped(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret)
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    base = f"/tips/{tip.lookup}/status"
    # A reason is required; a forward needs its organisation; the life cycle is enforced.
    assert "Indiquez le motif" in client.post(base, data={"csrf": csrf, "status": "in_review"}).text
    assert (
        "pas permis"
        in client.post(
            base, data={"csrf": csrf, "status": "forwarded", "reason": "r", "forwarded_to": "OCS"}
        ).text
    )
    client.post(base, data={"csrf": csrf, "status": "in_review", "reason": "vu"})
    missing = client.post(base, data={"csrf": csrf, "status": "forwarded", "reason": "r"})
    assert "Indiquez à quel organisme" in missing.text
    client.post(
        base,
        data={
            "csrf": csrf,
            "status": "forwarded",
            "reason": "envoyé",
            "forwarded_to": "__other__",
            "forwarded_other": '=HYPERLINK("http://x")',
        },
    )

    async def status(client_: Redis) -> Status:
        from tips.store import TipStore

        return (await TipStore(client_, staff_settings.secret).get(tip.lookup)).status

    assert arun(desk, status) is Status.FORWARDED
    export = client.post("/export", data={"csrf": csrf, "status": "forwarded"})
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 2
    assert rows[1][7] == '\'=HYPERLINK("http://x")'
    assert MARKER not in export.text
    assert "Export CSV" in client.get("/audit?action=export.csv").text


def test_attachments_need_a_session_and_are_not_cached(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret, photo=True, voice=True)
    url = f"/tips/{tip.lookup}/attachments/0"
    assert client.get(url, follow_redirects=False).status_code == 303
    login(client, REVIEWER, REVIEWER_PASSWORD)
    photo = client.get(url)
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["cache-control"] == "no-store"
    assert photo.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert photo.content.startswith(b"\xff\xd8")
    download = client.get(url + "?download=1")
    assert download.headers["content-disposition"].startswith("attachment;")
    assert client.get(f"/tips/{tip.lookup}/attachments/9").status_code == 404
    assert client.get("/tips/not-a-lookup").status_code == 404


def test_audit_log_is_chained_and_shows_tampering(desk: str, staff_settings: Settings) -> None:
    async def job(client: Redis) -> int | None:
        audit = AuditLog(client, staff_settings.secret)
        for action in ("login.ok", "tip.view", "logout"):
            await audit.record(ADMIN, action, "a" * 32 if action == "tip.view" else "")
        assert await audit.verify() is None
        entries, total = await audit.page()
        assert total == 3
        assert [e.action for e in entries] == ["logout", "tip.view", "login.ok"]
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", e.at) for e in entries)
        forged = entries[1].to_json().replace(ADMIN.encode(), b"quelquun")
        await client.lset(AUDIT_KEY, 1, forged)
        return await audit.verify()

    assert arun(desk, job) == 1


def test_admin_adds_and_resets_accounts_on_the_web(client: TestClient) -> None:
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    created = client.post("/users", data={"csrf": csrf, "account": "awa", "role": "reviewer"})
    password = re.search(r'id="temporary-password">([^<]+)<', created.text)
    assert password
    bad = client.post("/users", data={"csrf": csrf, "account": "Awa Traoré", "role": "reviewer"})
    assert bad.status_code == 400
    reset = client.post("/users/awa/reset", data={"csrf": csrf})
    new_password = re.search(r'id="temporary-password">([^<]+)<', reset.text)
    assert new_password
    assert new_password.group(1) != password.group(1)
    client.post("/logout", data={"csrf": csrf})
    login(client, "awa", new_password.group(1))
    assert client.get("/", follow_redirects=False).headers["location"] == "/account/password"


def test_logs_never_contain_tip_content(staff_settings: Settings, desk: str, clock: Clock) -> None:
    stream = io.StringIO()
    logs.configure("DEBUG", "json", stream=stream)
    try:
        tip = submit_tip(desk, staff_settings.secret)
        app = create_app(replace(staff_settings), desk, staff_config(), session_clock=clock)
        with TestClient(app, base_url="http://127.0.0.1") as web:
            csrf = login(web, ADMIN, ADMIN_PASSWORD)
            web.get(f"/tips/{tip.lookup}")
            web.post(f"/tips/{tip.lookup}/note", data={"csrf": csrf, "text": "NOTE-SECRETE-42"})
            web.post(f"/tips/{tip.lookup}/reply", data={"csrf": csrf, "text": "REPONSE-SECRETE-43"})
    finally:
        logs.configure("DEBUG")
    output = stream.getvalue()
    assert "staff.login" in output
    for secret in (MARKER, "NOTE-SECRETE-42", "REPONSE-SECRETE-43", ADMIN_PASSWORD):
        assert secret not in output


@pytest.mark.parametrize("path", ["/tips/" + "f" * 32, "/users/personne/disable"])
def test_unknown_things_give_french_errors(client: TestClient, path: str) -> None:
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    if path.endswith("disable"):
        assert "Compte inconnu" in client.post(path, data={"csrf": csrf}).text
    else:
        response = client.get(path)
        assert response.status_code == 404
        assert "introuvable" in response.text


def test_audit_pages_newest_first(desk: str, staff_settings: Settings) -> None:
    async def job(client: Redis) -> None:
        audit = AuditLog(client, staff_settings.secret)
        for n in range(60):
            await audit.record(ADMIN, "tip.view", f"{n:032d}")
        await audit.record(REVIEWER, "logout")
        first, total = await audit.page(0, 50)
        assert total == 61
        assert first[0].action == "logout"
        assert first[1].target == f"{59:032d}"
        second, _ = await audit.page(50, 50)
        assert [e.target for e in second] == [f"{n:032d}" for n in range(10, -1, -1)]
        assert await audit.page(100, 50) == ([], 61)
        views, matching = await audit.page(0, 5, action="tip.view", actor=ADMIN)
        assert matching == 60
        assert len(views) == 5

    arun(desk, job)


def test_tips_may_live_in_their_own_redis(redis_url: str, settings: Settings) -> None:
    """TIPS_REDIS_URL: tips, keys and accounts in one database, the bot's counters in another."""
    tips_url = redis_url.rsplit("/", 1)[0] + "/1"
    staff_settings = replace(settings, redis_url=redis_url, tips_redis_url=tips_url)
    make_accounts(tips_url)
    tip = submit_tip(tips_url, staff_settings.secret)

    async def topics(client: Redis) -> None:
        await client.hset(f"sini:stats:topics:{date.today().isoformat()}", "fr:rights", 7)

    arun(redis_url, topics)
    app = create_app(staff_settings, redis_url, staff_config())
    with TestClient(app, base_url="http://127.0.0.1") as web:
        login(web, REVIEWER, REVIEWER_PASSWORD)
        assert str(escape(MARKER)) in web.get(f"/tips/{tip.lookup}").text
        assert "Mes droits" in web.get("/stats").text


def test_oversized_bodies_are_refused(client: TestClient) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "account": "x", "password": "p" * 300_000},
    )
    assert response.status_code == 413


def test_an_account_disabled_from_the_cli_loses_its_live_session(
    client: TestClient, desk: str
) -> None:
    login(client, REVIEWER, REVIEWER_PASSWORD)
    assert client.get("/", follow_redirects=False).status_code == 200

    async def disable(redis: Redis) -> None:
        config = staff_config()
        await Accounts(redis, config.kdf_limits, config.hash_parameters).disable(REVIEWER)

    arun(desk, disable)
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_statistics_show_campaigns_and_quizzes_without_identifiers(
    client: TestClient, desk: str
) -> None:
    async def counters(redis: Redis) -> None:
        store = CampaignStore(redis)
        today = date.today()
        await store.add_campaign(
            "affiche-segou", "tramadol", "Affiche Ségou", today, targets={"tramadol"}
        )
        await store.open("affiche-segou", today, "bm")
        await store.quiz_started(today, "tramadol", "bm")
        await store.quiz_completed(today, "tramadol", "bm", 4, campaign="affiche-segou")

    arun(desk, counters)
    login(client, REVIEWER, REVIEWER_PASSWORD)
    page = client.get("/stats").text
    assert "affiche-segou" in page
    assert "tramadol" in page
