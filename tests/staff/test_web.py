"""The web app through Starlette's TestClient, against the real Redis: the session guard on
every route, roles, CSRF, cookies, headers, expiry, exports, attachments, audit, logs."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from bot.awareness import CampaignStore
from sini import logging as logs
from sini.regions import Region
from sini.settings import Settings
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
from tips.desk import Desk
from tips.keys import unwrap_desk_keyring
from tips.model import Category, Status

PUBLIC = {"/login"}
PATH_PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")
SAMPLE_PARAMETERS = {"lookup": "0" * 32, "index": "0", "name": REVIEWER, "conversation": "0" * 32}


def test_every_route_but_login_needs_a_session(client: TestClient) -> None:
    app = client.app
    checked = 0
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Mount) or route.path in PUBLIC:
            continue
        assert isinstance(route, Route)
        assert hasattr(route.endpoint, "staff_role"), f"{route.path} is not guarded"
        path = PATH_PARAMETER.sub(lambda m: SAMPLE_PARAMETERS[m[1]], route.path)
        for method in route.methods or ():
            if method == "HEAD":
                continue
            response = client.request(method, path, follow_redirects=False)
            assert response.status_code == 303, (method, path)
            location = urlsplit(response.headers["location"])
            assert location.path == "/login"
            # Back to the page after logging in: this one, or for a form the page it is on.
            assert parse_qs(location.query).get("next", [path])[0].startswith("/")
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
    # Scripts are files of this origin only (the drafts), never inline code.
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/drafts.js" defer>']
    assert "style=" not in page


def test_cookies_are_httponly_samesite_strict_and_secure_by_default(
    staff_settings: Settings, desk: str
) -> None:
    app = create_app(staff_settings, desk, staff_config(insecure_cookies=False))
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
    drug = submit_tip(desk, staff_settings.secret, "un", Category.DRUG_TRAFFICKING, Region.BAMAKO)
    child = submit_tip(desk, staff_settings.secret, "deux", Category.CHILD_EXPLOITATION, Region.GAO)
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    client.post(f"/tips/{child.lookup}/assign", data={"csrf": csrf, "account": REVIEWER})
    page = client.get("/").text
    assert re.search(r'data-count="new">2<', page)
    assert client.get("/?category=child_exploitation").text.count('href="/tips/') == 1
    assert drug.lookup in client.get("/?region=bamako").text
    mine = client.get("/?mine=1").text
    assert child.lookup in mine
    assert drug.lookup not in mine
    assert "Aucun signalement" in client.get("/?status=closed").text
    # Priority sort puts the child-exploitation tip first.
    assert page.index(child.lookup) < page.index(drug.lookup)
    # Each tip has a short reference that opens it.
    reference = arun(desk, lambda c: Desk(c).get(child.lookup)).reference
    assert str(reference) in page
    typed = str(reference).lower().replace("-", " ")
    opened = client.get(f"/ref?ref={typed}", follow_redirects=False)
    assert opened.headers["location"] == f"/tips/{child.lookup}"
    assert (
        "unknown_reference"
        in client.get("/ref?ref=T-99-9", follow_redirects=False).headers["location"]
    )


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
        return (await Desk(client_).get(tip.lookup)).status

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
    reset = client.post("/users/awa/reset", data={"csrf": csrf, "confirm": "1"})
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
    assert_french_error_page(response, 413, "Requête trop volumineuse")


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


def test_a_nul_in_an_organisation_name_cannot_break_the_export(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret)

    async def forward(redis: Redis) -> None:
        store = Desk(redis)
        await store.set_status(tip.lookup, Status.IN_REVIEW, "vu", ADMIN)
        await store.set_status(
            tip.lookup, Status.FORWARDED, "envoyé", ADMIN, forwarded_to="OC\x00S"
        )

    arun(desk, forward)  # written before the dashboard cleaned what staff type
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    export = client.post("/export", data={"csrf": csrf})
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[1][7] == "OCS"


def test_control_characters_typed_by_staff_are_never_stored(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret)
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    base = f"/tips/{tip.lookup}"
    client.post(
        f"{base}/status", data={"csrf": csrf, "status": "in_review", "reason": "vu\x00\x1b"}
    )
    client.post(
        f"{base}/status",
        data={
            "csrf": csrf,
            "status": "forwarded",
            "reason": "envoyé\x07",
            "forwarded_to": "__other__",
            "forwarded_other": "O\x00C\u202eS",
        },
    )
    client.post(f"{base}/note", data={"csrf": csrf, "text": "note\x00 une\r\ndeux"})
    client.post(f"{base}/reply", data={"csrf": csrf, "text": "réponse\x00"})
    client.post(f"{base}/assign", data={"csrf": csrf, "account": f"{REVIEWER}\x00"})
    created = client.post("/users", data={"csrf": csrf, "account": "awa\x00", "role": "reviewer"})
    assert created.status_code == 200

    async def stored(redis: Redis) -> list[str]:
        store = Desk(redis)
        keyring = await unwrap_desk_keyring(redis, ADMIN, ADMIN_PASSWORD)
        record = await store.get(tip.lookup)
        history = await store.history(tip.lookup, keyring)
        notes = await store.notes(tip.lookup, keyring)
        thread = await store.thread(tip.lookup, keyring)
        assert record.assigned_to == REVIEWER
        return [
            record.forwarded_to or "",
            *(change.reason for change in history),
            *(note.text for note in notes),
            *(message.text for message in thread),
            *(n.decode() for n in await redis.smembers("sini:staff:users")),
        ]

    texts = arun(desk, stored)
    assert texts[:3] == ["OCS", "vu", "envoyé"]
    assert "note une\ndeux" in texts
    assert "réponse" in texts
    assert "awa" in texts
    for text in texts:
        assert all(c in "\n" or c.isprintable() for c in text), repr(text)


def test_a_password_change_ends_the_accounts_other_sessions(client: TestClient) -> None:
    login(client, REVIEWER, REVIEWER_PASSWORD)
    elsewhere = client.cookies.get("sini-session")
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    here = client.cookies.get("sini-session")
    new = "un-nouveau-secret-bien-long-2026"
    changed = client.post(
        "/account/password",
        data={"csrf": csrf, "old": REVIEWER_PASSWORD, "new": new, "again": new},
    )
    assert "Mot de passe changé" in changed.text
    assert client.get("/", follow_redirects=False).status_code == 200  # this browser stays in
    client.cookies.clear()
    client.cookies.set("sini-session", elsewhere or "")
    ended = client.get("/", follow_redirects=False)
    assert ended.headers["location"] == "/login?msg=session_expired"
    client.cookies.clear()
    client.cookies.set("sini-session", here or "")
    assert client.get("/", follow_redirects=False).status_code == 200


def test_a_password_reset_from_the_command_line_ends_the_web_sessions(
    client: TestClient, desk: str
) -> None:
    login(client, REVIEWER, REVIEWER_PASSWORD)
    assert client.get("/", follow_redirects=False).status_code == 200

    async def reset(redis: Redis) -> None:
        config = staff_config()
        keyring = await unwrap_desk_keyring(redis, ADMIN, ADMIN_PASSWORD)
        accounts = Accounts(redis, config.kdf_limits, config.hash_parameters)
        await accounts.reset_password(REVIEWER, "temporaire-bien-solide-2026", keyring)

    arun(desk, reset)
    response = client.get("/", follow_redirects=False)
    assert response.headers["location"] == "/login?msg=session_expired"


def test_a_reset_keeps_a_disabled_account_disabled_unless_re_enabled(
    client: TestClient,
) -> None:
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    client.post(f"/users/{REVIEWER}/disable", data={"csrf": csrf, "confirm": "1"})
    reset = client.post(f"/users/{REVIEWER}/reset", data={"csrf": csrf, "confirm": "1"})
    password = re.search(r'id="temporary-password">([^<]+)<', reset.text)
    assert password
    client.post("/logout", data={"csrf": csrf})
    page = client.get("/login")
    refused = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "account": REVIEWER, "password": password.group(1)},
    )
    assert refused.status_code == 401
    assert "désactivé" in refused.text

    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    enabled = client.post(
        f"/users/{REVIEWER}/reset", data={"csrf": csrf, "confirm": "1", "enable": "1"}
    )
    password = re.search(r'id="temporary-password">([^<]+)<', enabled.text)
    assert password
    client.post("/logout", data={"csrf": csrf})
    login(client, REVIEWER, password.group(1))
    assert client.get("/", follow_redirects=False).headers["location"] == "/account/password"


def test_an_admin_cannot_reset_their_own_password_from_the_accounts_page(
    client: TestClient,
) -> None:
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    assert f'action="/users/{ADMIN}/reset"' not in client.get("/users").text
    refused = client.post(f"/users/{ADMIN}/reset", data={"csrf": csrf, "confirm": "1"})
    assert "temporary-password" not in refused.text
    assert "Changez votre propre mot de passe" in refused.text
    login(client, ADMIN, ADMIN_PASSWORD)  # the password is unchanged


@pytest.mark.parametrize("weak", ["123456789012", "fatoufatoufatou", "motdepasse2025"])
def test_common_and_name_derived_passwords_are_refused(client: TestClient, weak: str) -> None:
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    response = client.post(
        "/account/password",
        data={"csrf": csrf, "old": REVIEWER_PASSWORD, "new": weak, "again": weak},
    )
    assert response.status_code == 400
    assert "trop facile à deviner" in response.text
    login(client, REVIEWER, REVIEWER_PASSWORD)  # unchanged


@pytest.mark.parametrize(
    ("path", "question"),
    [
        (f"/users/{REVIEWER}/disable", "Désactiver le compte « fatou » ?"),
        (f"/users/{REVIEWER}/reset", "Nouveau mot de passe pour « fatou » ?"),
        ("/keys/rotate", "Renouveler la clé du bureau ?"),
    ],
)
def test_disable_reset_and_key_rotation_ask_for_confirmation_first(
    client: TestClient, desk: str, path: str, question: str
) -> None:
    csrf = login(client, ADMIN, ADMIN_PASSWORD)

    async def state(redis: Redis) -> tuple[object, ...]:
        config = staff_config()
        accounts = Accounts(redis, config.kdf_limits, config.hash_parameters)
        return await accounts.require(REVIEWER), await redis.get("sini:desk:public")

    before = arun(desk, state)
    asked = client.post(path, data={"csrf": csrf})
    assert asked.status_code == 200
    assert str(escape(question)) in asked.text
    assert f'action="{path}"' in asked.text
    assert 'name="confirm" value="1"' in asked.text
    assert "temporary-password" not in asked.text
    assert arun(desk, state) == before  # nothing happened yet
    assert client.get("/", follow_redirects=False).status_code == 200  # still logged in
    client.post(path, data={"csrf": csrf, "confirm": "1"})
    assert arun(desk, state) != before


def test_the_audit_page_reports_removed_newest_entries(client: TestClient, desk: str) -> None:
    login(client, ADMIN, ADMIN_PASSWORD)
    client.get("/stats")
    assert "Chaîne d'intégrité vérifiée" in client.get("/audit").text

    async def remove_newest(redis: Redis) -> None:
        await redis.rpop(AUDIT_KEY)

    arun(desk, remove_newest)
    page = client.get("/audit").text
    assert "Chaîne d'intégrité vérifiée" not in page
    assert "Intégrité rompue" in page


def test_csrf_and_role_refusals_are_audited(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret)
    client.get("/login")
    assert client.post("/login", data={"account": ADMIN, "password": "x"}).status_code == 403
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    forged = client.post(f"/tips/{tip.lookup}/note", data={"text": "x", "csrf": "faux"})
    assert forged.status_code == 403
    assert client.get("/users").status_code == 403
    assert client.post("/keys/rotate", data={"csrf": csrf}).status_code == 403

    async def entries(redis: Redis) -> set[tuple[str, str, str]]:
        found, _ = await AuditLog(redis, staff_settings.secret).page(0, 50)
        return {(e.actor, e.action, e.target) for e in found}

    found = arun(desk, entries)
    assert ("?", "csrf.refused", "/login") in found
    assert (REVIEWER, "csrf.refused", f"/tips/{tip.lookup}/note") in found
    assert (REVIEWER, "access.refused", "/users") in found
    assert (REVIEWER, "access.refused", "/keys/rotate") in found
    login(client, ADMIN, ADMIN_PASSWORD)
    assert "Accès refusé" in client.get("/audit?action=access.refused").text


def test_the_session_cookie_ends_with_the_browser(staff_settings: Settings, desk: str) -> None:
    app = create_app(staff_settings, desk, staff_config(insecure_cookies=False))
    with TestClient(app, base_url="https://127.0.0.1") as secure:
        page = secure.get("/login")
        response = secure.post(
            "/login",
            data={"csrf": csrf_of(page.text), "account": ADMIN, "password": ADMIN_PASSWORD},
            follow_redirects=False,
        )
        cookies = response.headers.get_list("set-cookie")
        session_cookie = next(c for c in cookies if c.startswith("__Host-sini-session="))
        assert "max-age" not in session_cookie.lower()
        assert "expires" not in session_cookie.lower()


def assert_french_error_page(response: Any, status: int, words: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert words in response.text
    assert '<html lang="fr">' in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


def test_unreadable_forms_get_a_french_400_page(client: TestClient) -> None:
    client.get("/login")
    no_boundary = client.post(
        "/login", content=b"x", headers={"content-type": "multipart/form-data"}
    )
    assert_french_error_page(no_boundary, 400, "Requête invalide")
    assert "boundary" not in no_boundary.text
    login(client, REVIEWER, REVIEWER_PASSWORD)
    too_many = client.post(
        "/logout",
        content="&".join(f"f{n}=1" for n in range(1001)),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_french_error_page(too_many, 400, "Requête invalide")


def test_the_queue_shows_fifty_tips_a_page_and_keeps_the_filters(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    lookups = [
        submit_tip(desk, staff_settings.secret, f"n° {n}", Category.OTHER, Region.KAYES).lookup
        for n in range(52)
    ]
    submit_tip(desk, staff_settings.secret, "ailleurs", Category.OTHER, Region.GAO)
    login(client, REVIEWER, REVIEWER_PASSWORD)
    first = client.get("/?region=kayes&sort=newest").text
    assert "52 signalements, page 1 / 2" in first
    assert 'href="/?region=kayes&amp;sort=newest&amp;page=2"' in first
    second = client.get("/?region=kayes&sort=newest&page=2").text
    shown = [lk for lk in lookups if f"/tips/{lk}" in first] + [
        lk for lk in lookups if f"/tips/{lk}" in second
    ]
    assert sorted(shown) == sorted(lookups)  # each tip once
    assert second.count('href="/tips/') == 2
    assert "page=1" in second
    assert client.get("/?page=zero").status_code == 200  # an unreadable page: the first


def test_server_errors_get_a_french_page_with_the_security_headers(
    staff_settings: Settings, desk: str
) -> None:
    app = create_app(staff_settings, desk, staff_config())
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as web:
        login(web, REVIEWER, REVIEWER_PASSWORD)

        async def broken() -> None:
            raise RuntimeError("ZEBRA-boom")

        web.app.state.staff.desk.counts = broken  # type: ignore[attr-defined]
        response = web.get("/")
        assert_french_error_page(response, 500, "Erreur interne")
        assert "ZEBRA-boom" not in response.text


def try_login(web: TestClient, account: str, password: str) -> int:
    page = web.get("/login")
    response = web.post(
        "/login",
        data={"csrf": csrf_of(page.text), "account": account, "password": password},
        follow_redirects=False,
    )
    return response.status_code


def test_spraying_one_password_across_names_is_throttled_per_client(
    staff_settings: Settings, desk: str
) -> None:
    config = staff_config(client_lockout_attempts=6)
    attacker = create_app(staff_settings, desk, config)
    office = create_app(staff_settings, desk, config)
    with TestClient(attacker, base_url="http://127.0.0.1", client=("203.0.113.9", 4000)) as web:
        for name in ("ali", "awa", "moussa", "binta", "issa"):
            assert try_login(web, name, "123456789012") == 401
        assert try_login(web, "oumar", "123456789012") == 429  # the sixth name
        page = web.get("/login")
        locked = web.post(
            "/login",
            data={"csrf": csrf_of(page.text), "account": REVIEWER, "password": REVIEWER_PASSWORD},
        )
        assert locked.status_code == 429
        assert "depuis cette adresse" in locked.text
    with TestClient(office, base_url="http://127.0.0.1", client=("198.51.100.7", 4000)) as web:
        assert try_login(web, REVIEWER, REVIEWER_PASSWORD) == 303


def test_failed_logins_from_elsewhere_do_not_lock_an_admin_out_of_a_known_browser(
    staff_settings: Settings, desk: str
) -> None:
    config = staff_config()
    browser_app = create_app(staff_settings, desk, config)
    attacker_app = create_app(staff_settings, desk, config)
    with TestClient(
        browser_app, base_url="http://127.0.0.1", client=("198.51.100.7", 4000)
    ) as browser:
        assert try_login(browser, ADMIN, ADMIN_PASSWORD) == 303  # this browser is now known
        with TestClient(
            attacker_app, base_url="http://127.0.0.1", client=("203.0.113.9", 4000)
        ) as attacker:
            for _ in range(config.lockout_attempts + 3):
                attacker.cookies.clear()
                try_login(attacker, ADMIN, "devine-devine-2025")
            assert try_login(attacker, ADMIN, ADMIN_PASSWORD) == 429  # locked for strangers
        browser.cookies.delete("sini-session")
        assert try_login(browser, ADMIN, ADMIN_PASSWORD) == 303  # not for the admin's browser
        # The known browser still has a limit of its own.
        browser.cookies.delete("sini-session")
        for _ in range(config.lockout_attempts):
            try_login(browser, ADMIN, "encore-raté-2025")
        assert try_login(browser, ADMIN, ADMIN_PASSWORD) == 429


# Coming back after a session expiry, and form errors where the form is.


def test_login_returns_to_the_page_the_session_ended_on(
    client: TestClient, clock: Clock, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret)
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    clock.now += staff_config().session_idle_minutes * 60 + 5
    expired = client.get(f"/tips/{tip.lookup}?msg=note_added&at=notes", follow_redirects=False)
    assert expired.headers["location"] == (
        f"/login?msg=session_expired&next=%2Ftips%2F{tip.lookup}"
    )
    form = client.get(expired.headers["location"])
    assert "Session expirée" in form.text
    assert f'name="next" value="/tips/{tip.lookup}"' in form.text
    # A note sent after the expiry: back to the notes of that tip.
    sent = client.post(
        f"/tips/{tip.lookup}/note", data={"csrf": csrf, "text": "perdue ?"}, follow_redirects=False
    )
    assert parse_qs(urlsplit(sent.headers["location"]).query)["next"] == [
        f"/tips/{tip.lookup}#notes"
    ]
    back = client.post(
        "/login",
        data={
            "csrf": csrf_of(form.text),
            "account": REVIEWER,
            "password": REVIEWER_PASSWORD,
            "next": f"/tips/{tip.lookup}#notes",
        },
        follow_redirects=False,
    )
    assert back.headers["location"] == f"/tips/{tip.lookup}#notes"


@pytest.mark.parametrize(
    "elsewhere",
    ["//evil.example", "https:evil", "https://evil.example/", "/\\evil.example", "/login"],
)
def test_login_never_sends_to_another_site(client: TestClient, elsewhere: str) -> None:
    form = client.get("/login", params={"next": elsewhere})
    assert 'name="next"' not in form.text
    response = client.post(
        "/login",
        data={
            "csrf": csrf_of(form.text),
            "account": REVIEWER,
            "password": REVIEWER_PASSWORD,
            "next": elsewhere,
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_a_refused_status_change_says_so_next_to_its_form(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret)
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    page = client.post(f"/tips/{tip.lookup}/status", data={"csrf": csrf, "status": "in_review"})
    status_section = page.text[page.text.index('id="status"') : page.text.index("Historique")]
    assert "Indiquez le motif du changement de statut." in status_section
    assert 'role="alert"' in status_section
    assert "Indiquez le motif" not in page.text[: page.text.index('id="status"')]
    # The browser keeps what was typed in that form (static/drafts.js): it is marked for it,
    # and not as sent.
    assert f'data-draft="{tip.lookup}:status"' in status_section
    assert "data-draft-sent" not in page.text


def test_a_successful_form_tells_the_drafts_to_forget_it(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret)
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    page = client.post(f"/tips/{tip.lookup}/note", data={"csrf": csrf, "text": "vue"}).text
    assert re.search(rf'data-draft="{tip.lookup}:note" data-draft-sent', page)
    assert page.count("data-draft-sent") == 1
    notes = page[page.index('id="notes"') : page.index('id="status"')]
    assert "Note ajoutée." in notes


def test_the_drafts_script_is_served_from_this_origin(client: TestClient) -> None:
    script = client.get("/static/drafts.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "sessionStorage" in script.text
    assert "script-src 'self'" in script.headers["content-security-policy"]


# The listed wording and display defects (issue 19).


def test_deletion_dates_and_plurals_in_french(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    now = datetime.now(timezone.utc)
    tip = submit_tip(desk, staff_settings.secret, now=now - timedelta(days=200))

    async def close_long_ago(redis: Redis) -> None:
        # Last changed longer ago than the retention, and the purge has not run yet.
        await Desk(redis).set_status(
            tip.lookup, Status.REJECTED, "spam", ADMIN, now=now - timedelta(days=100)
        )

    arun(desk, close_long_ago)
    login(client, REVIEWER, REVIEWER_PASSWORD)
    queue_page = client.get("/").text
    assert "1 signalement clos ou rejeté sera supprimé dans moins de 72 h" in queue_page
    assert "suppression en attente" in queue_page
    assert "supprimé le" not in queue_page
    tip_page = client.get(f"/tips/{tip.lookup}").text
    assert "Conservation : suppression en attente." in tip_page


def test_the_audit_names_roles_and_attachments_as_people_do(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret, photo=True)
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    client.post("/users", data={"csrf": csrf, "account": "awa", "role": "reviewer"})
    client.get(f"/tips/{tip.lookup}/attachments/0")
    added = client.get("/audit?action=user.add").text
    assert 'dir="auto">analyste</td>' in added
    assert "reviewer" not in added.split("<tbody>")[1]
    seen = client.get("/audit?action=attachment.view").text
    assert "pièce 1<" in seen
    assert "Pièce n° 1 · Photo" in client.get(f"/tips/{tip.lookup}").text


def test_photos_open_full_size_and_a_pdf_downloads_as_one(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret, photo=True, pdf=True)
    login(client, REVIEWER, REVIEWER_PASSWORD)
    page = client.get(f"/tips/{tip.lookup}").text
    photo = f"/tips/{tip.lookup}/attachments/0"
    assert f'<a href="{photo}" class="full-size"><img src="{photo}"' in page
    assert f'<a href="{photo}">Voir en taille réelle</a>' in page
    pdf = client.get(f"/tips/{tip.lookup}/attachments/1")
    assert pdf.headers["content-disposition"] == (
        f'attachment; filename="signalement-{tip.lookup[:8]}-2.pdf"'
    )
    # Still never rendered from this origin: a neutral type, unsniffed, sandboxed.
    assert pdf.headers["content-type"] == "application/octet-stream"
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.headers["content-security-policy"] == "default-src 'none'; sandbox"


def test_typed_text_keeps_its_direction_and_a_long_tip_is_folded(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    arabic = "المخدرات تباع قرب المدرسة"
    long_tip = submit_tip(desk, staff_settings.secret, (arabic + " ") * 700)
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    client.post(f"/tips/{long_tip.lookup}/note", data={"csrf": csrf, "text": arabic})
    page = client.get(f"/tips/{long_tip.lookup}").text
    assert page.count('<div class="tip-text" dir="auto">') == 2  # the tip and the note
    content = page[page.index('id="content"') : page.index('id="thread"')]
    assert '<details class="more"><summary>Lire la suite</summary>' in content
    short = submit_tip(desk, staff_settings.secret, arabic)
    assert "Lire la suite" not in client.get(f"/tips/{short.lookup}").text


def test_a_tip_pulled_back_from_forwarded_no_longer_shows_where_it_went(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret)

    async def forward_then_close(redis: Redis) -> None:
        store = Desk(redis)
        await store.set_status(tip.lookup, Status.IN_REVIEW, "vu", ADMIN)
        await store.set_status(tip.lookup, Status.FORWARDED, "envoyé", ADMIN, forwarded_to="OCS")

    arun(desk, forward_then_close)
    login(client, REVIEWER, REVIEWER_PASSWORD)
    assert "→ OCS" in client.get(f"/tips/{tip.lookup}").text
    assert "→ OCS" in client.get("/").text

    async def close(redis: Redis) -> None:
        await Desk(redis).set_status(tip.lookup, Status.CLOSED, "traité", ADMIN)

    arun(desk, close)
    assert "→ OCS" not in client.get(f"/tips/{tip.lookup}").text
    assert "→ OCS" not in client.get("/").text


def test_forwarding_targets_come_from_the_admins_list(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    assert (
        client.post("/forwarding", data={"csrf": csrf, "name": "  Croix   Rouge "}).status_code
        == 200
    )
    client.post("/forwarding/remove", data={"csrf": csrf, "name": "ONG"})
    listed = client.get("/forwarding").text
    assert "Croix Rouge" in listed
    assert "ONG" not in listed
    audit = client.get("/audit?action=forward.add").text
    assert escape("Ajout d'un organisme destinataire") in audit
    refused = client.post("/forwarding", data={"csrf": csrf, "name": "   "})
    assert refused.status_code == 400

    # On a tip: the list, then "autre"; typed names take the listed spelling.
    spellings = ["OCS", "ocs", "  OCS ", "croix  rouge"]
    for typed in spellings:
        tip = submit_tip(desk, staff_settings.secret)
        base = f"/tips/{tip.lookup}"
        page = client.get(base).text
        assert '<option value="Croix Rouge">Croix Rouge</option>' in page
        assert '<option value="ONG">' not in page
        client.post(f"{base}/status", data={"csrf": csrf, "status": "in_review", "reason": "vu"})
        client.post(
            f"{base}/status",
            data={
                "csrf": csrf,
                "status": "forwarded",
                "reason": "envoyé",
                "forwarded_to": "__other__",
                "forwarded_other": typed,
            },
        )
    stats_page = client.get("/stats").text
    forwarded = stats_page[stats_page.index('id="forward-title"') :]
    assert re.search(r"<th scope=\"row\">OCS</th><td>3</td>", forwarded)
    assert re.search(r"<th scope=\"row\">Croix Rouge</th><td>1</td>", forwarded)


def test_reviewers_cannot_change_the_forwarding_list(client: TestClient) -> None:
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    assert client.get("/forwarding").status_code == 403
    assert client.post("/forwarding", data={"csrf": csrf, "name": "X"}).status_code == 403


def test_labels_the_important_flag_and_a_longer_retention_from_the_tip_page(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret)
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    client.post(f"/tips/{tip.lookup}/label", data={"csrf": csrf, "label": "Kati  nord"})
    client.post(f"/tips/{tip.lookup}/important", data={"csrf": csrf, "important": "1"})
    page = client.get(f"/tips/{tip.lookup}").text
    assert '<span class="badge label">Kati nord</span>' in page
    assert '<span class="badge danger">important</span>' in page
    assert "Prolonger la conservation" not in page  # admins only
    client.post(
        f"/tips/{tip.lookup}/label", data={"csrf": csrf, "label": "KATI NORD", "remove": "1"}
    )
    assert "badge label" not in client.get(f"/tips/{tip.lookup}").text
    for status in ("in_review", "closed"):
        client.post(
            f"/tips/{tip.lookup}/status", data={"csrf": csrf, "status": status, "reason": "r"}
        )
    refused = client.post(
        f"/tips/{tip.lookup}/keep",
        data={"csrf": csrf, "until": "2099-01-01", "reason": "enquête"},
        follow_redirects=False,
    )
    assert refused.status_code == 403

    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    past = client.post(
        f"/tips/{tip.lookup}/keep",
        data={"csrf": csrf, "until": "2020-01-01", "reason": "enquête"},
        follow_redirects=False,
    )
    assert "msg=keep_date" in past.headers["location"]
    client.post(
        f"/tips/{tip.lookup}/keep",
        data={"csrf": csrf, "until": "2099-01-01", "reason": "ENQUETE-JUDICIAIRE-5"},
    )
    page = client.get(f"/tips/{tip.lookup}").text
    assert "prolongée par un administrateur" in page
    assert "ENQUETE-JUDICIAIRE-5" in page  # the reason, as a sealed note
    entries = b"".join(SyncRedis.from_url(desk).lrange(AUDIT_KEY, 0, -1)).decode()
    for action in ("tip.label", "tip.unlabel", "tip.important", "tip.keep"):
        assert f'"{action}"' in entries
    assert "jusqu'au 2099-01-01" in entries
    assert "ENQUETE-JUDICIAIRE-5" not in entries
