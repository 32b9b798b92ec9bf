"""Fixtures for the staff dashboard: a clean real Redis, staff accounts with the desk keys,
tips submitted through the real `Intake.submit`, and a logged-in Starlette TestClient.

Tests here are synchronous (Starlette's TestClient and Playwright's sync API run their own
event loops); Redis set-up runs through `arun`, one short event loop per call. Browser and
event-stream tests run the dashboard under uvicorn as `helpline staff` does (`serve`), and
Debian's headless Chromium (`browser`).
"""

from __future__ import annotations

import asyncio
import io
import re
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from argon2 import profiles
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from starlette.testclient import TestClient

from sini.redis_server import LocalRedis
from sini.regions import Region
from sini.settings import Settings
from staff.accounts import Accounts, Role
from staff.app import create_app
from staff.config import StaffConfig
from staff.serving import Server
from tips.crypto import MINIMUM_FOR_TESTS
from tips.intake import Intake
from tips.keys import desk_public_key, unwrap_desk_keyring
from tips.media import prepare_attachment
from tips.model import MAX_TEXT_CHARS, AttachmentKind, Category, Draft, TipRegion
from tips.receipts import Receipt

T = TypeVar("T")

ADMIN, ADMIN_PASSWORD = "amadou", "mot-de-passe-admin-2025"
REVIEWER, REVIEWER_PASSWORD = "fatou", "mot-de-passe-analyste-2025"
COUNSELLOR, COUNSELLOR_PASSWORD = "mariam", "mot-de-passe-ecoute-2025"
MARKER = "ZEBRA-7731 le dealer vend du tramadol derrière l'école"
PDF_BYTES = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def arun(url: str, job: Callable[[Redis], Awaitable[T]]) -> T:
    """Run `job(client)` with its own Redis client, in a fresh event loop on a worker
    thread (Playwright's sync API keeps a loop registered on the main thread)."""

    async def main() -> T:
        client: Redis = Redis.from_url(url)
        try:
            return await job(client)
        finally:
            await client.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


def staff_config(**overrides: Any) -> StaffConfig:
    """Cheap KDFs, plain-http cookies and no background purge: what tests need."""
    cheap = StaffConfig(
        insecure_cookies=True,
        purge_every_hours=0,
        kdf_limits=MINIMUM_FOR_TESTS,
        hash_parameters=profiles.CHEAPEST,
    )
    return replace(cheap, **overrides)


@pytest.fixture
def redis_url(redis_server: LocalRedis) -> str:
    """The session's real redis-server, emptied for this test."""
    SyncRedis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture
def staff_settings(settings: Settings, redis_url: str) -> Settings:
    return replace(settings, redis_url=redis_url)


def make_accounts(url: str) -> None:
    """The desk keypair, an admin and a reviewer (both with the desk keys)."""

    async def job(client: Redis) -> None:
        config = staff_config()
        accounts = Accounts(client, config.kdf_limits, config.hash_parameters)
        await accounts.create_first_admin(ADMIN, ADMIN_PASSWORD)

    arun(url, job)
    add_account(url, REVIEWER, Role.REVIEWER, REVIEWER_PASSWORD)


def add_account(url: str, name: str, role: Role, password: str) -> None:
    """An account the admin creates with the desk keys, its password already chosen."""

    async def job(client: Redis) -> None:
        config = staff_config()
        accounts = Accounts(client, config.kdf_limits, config.hash_parameters)
        keyring = await unwrap_desk_keyring(client, ADMIN, ADMIN_PASSWORD)
        await accounts.create(name, role, password, keyring, must_change=False)

    arun(url, job)


@pytest.fixture
def desk(redis_url: str) -> str:
    make_accounts(redis_url)
    return redis_url


@pytest.fixture
def counsellor(desk: str) -> str:
    """A counsellor's account, besides the desk's admin and reviewer."""
    add_account(desk, COUNSELLOR, Role.COUNSELLOR, COUNSELLOR_PASSWORD)
    return COUNSELLOR


@dataclass(frozen=True)
class Served:
    """A dashboard served by uvicorn in a thread, with the server `helpline staff` runs."""

    base_url: str
    server: Server
    thread: threading.Thread

    def stop(self) -> None:
        """What SIGTERM does; returns once the server has stopped."""
        self.server.handle_exit(signal.SIGTERM, None)
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the dashboard did not stop"


def serve(settings: Settings, redis_url: str, config: StaffConfig | None = None) -> Served:
    """The dashboard on a socket that is already listening: a client may connect at once
    (the kernel queues the connection until the server accepts), so no waiting."""
    stopping = threading.Event()
    app = create_app(settings, redis_url, config or staff_config(), stopping=stopping)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    served = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", ws="none")
    server = Server(served, stopping)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    return Served(f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread)


def csp_violations(page: Page) -> list[str]:
    """The Content-Security-Policy violations `page` reports from now on (a list that
    fills as they come)."""
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return violations


def open_console(
    browser: Browser, base_url: str, account: str, password: str, timeout_ms: int = 15_000
) -> tuple[BrowserContext, Page, list[str]]:
    """A counsellor signed in, the console open (which puts them on duty): the browser
    context, its page and the page's CSP violations (`csp_violations`)."""
    context = browser.new_context(base_url=base_url, locale="fr-FR")
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    violations = csp_violations(page)
    log_in(page, account, password)
    expect(page.get_by_role("heading", name="Écoute", exact=True)).to_be_visible()
    return context, page, violations


def log_in(page: Page, account: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Identifiant").fill(account)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass(frozen=True)
class Submitted:
    receipt: Receipt
    lookup: str


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 40)).save(out, format="JPEG")
    return out.getvalue()


def submit_tip(
    url: str,
    secret: bytes,
    text: str = MARKER,
    category: Category = Category.DRUG_TRAFFICKING,
    region: TipRegion = Region.BAMAKO,
    *,
    photo: bool = False,
    voice: bool = False,
    pdf: bool = False,
    now: datetime | None = None,
) -> Submitted:
    """A tip submitted the way the bot does it: draft → content → `Intake.submit`."""

    async def job(client: Redis) -> Submitted:
        store = Intake(client, secret, kdf_limits=MINIMUM_FOR_TESTS)
        prepared = []
        if photo:
            prepared.append(prepare_attachment(AttachmentKind.PHOTO, jpeg_bytes()))
        if voice:
            prepared.append(prepare_attachment(AttachmentKind.VOICE, b"OggS" + b"\0" * 200))
        if pdf:
            prepared.append(
                prepare_attachment(AttachmentKind.DOCUMENT, PDF_BYTES, "application/pdf")
            )
        draft = Draft().with_category(category).with_region(region)
        for start in range(0, max(len(text), 1), MAX_TEXT_CHARS):  # a long tip: several parts
            draft = draft.add_text(text[start : start + MAX_TEXT_CHARS])
        content = draft.to_content([p.meta for p in prepared])
        receipt = await store.submit(
            content,
            await desk_public_key(client),
            now or datetime.now(timezone.utc),
            [p.data for p in prepared],
        )
        return Submitted(receipt, store.lookup(receipt.code))

    return arun(url, job)


class Clock:
    """A monotonic clock tests move by hand (session expiry)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def login(client: httpx.Client, account: str, password: str) -> str:
    """Log in through the form (as a new visitor); returns the session's CSRF token."""
    client.cookies.clear()
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "account": account, "password": password},
    )
    assert response.status_code == 200, response.text
    return csrf_of(response.text)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(staff_settings: Settings, desk: str, clock: Clock) -> Iterator[TestClient]:
    app = create_app(staff_settings, desk, staff_config(), session_clock=clock)
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client
