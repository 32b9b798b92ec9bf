"""A young person on Telegram talks with a counsellor in the dashboard, every part real:
the bot process polling the Bot API emulator (its own Redis, AOF on, LOG_LEVEL=DEBUG), the
dashboard under uvicorn, and the counsellor in Debian's Chromium. Then nothing that names
the young person, nothing they wrote and nothing of their photo's metadata is anywhere:
not in Redis, its AOF, the bot's log or the dashboard's output."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from redis.asyncio import Redis

from bot.content import Catalog
from bot.dialogue.actions import CounselJoin, Do, encode
from sini.counselling.model import Origin
from sini.redis import connect_redis
from sini.redis_server import LocalRedis
from sini.settings import Settings
from staff.accounts import Accounts, Role
from tests.conftest import DESK_PASSWORD, TEST_SECRET
from tests.staff.conftest import CHROMIUM, browser, csp_violations, log_in, serve, staff_config
from tests.support.log_privacy import (
    COORDINATES,
    EXIF_STRINGS,
    IdentifiedUser,
    Identity,
    PrivateBot,
    hits,
    init_desk,
    portrait_with_exif,
    start_private_bot,
    stored_files,
)
from tests.support.redis_scan import everything_at
from tests.support.screens import first_screen
from tests.support.telegram_emulator import TelegramEmulator
from tips.keys import unwrap_desk_keyring

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed"
)
__all__ = ["browser"]  # the staff specs' Chromium, shared

TOKEN = "494949:COUNSEL-live-token-for-tests-only-0"
PERSON = Identity(6_150_427_555, "Fatoumatadia", "Traoréssouba", "fatou_counsel_4471")
COUNSELLOR = "e2e-mariam"
COUNSELLOR_PASSWORD = "a counsellor's password for tests"
WORDS = "MARQUEUR-7730 je n'arrive plus à dormir, j'ai peur"
ANSWER = "MARQUEUR-REPONSE Je suis là, je t'écoute."


def add_counsellor(redis_url: str) -> None:
    """A counsellor's account holding the desk keys, as an admin creates it."""

    async def job() -> None:
        client: Redis = connect_redis(redis_url)  # type: ignore[type-arg]
        try:
            config = staff_config()
            keyring = await unwrap_desk_keyring(client, "admin", DESK_PASSWORD)
            accounts = Accounts(client, config.kdf_limits, config.hash_parameters)
            await accounts.create(
                COUNSELLOR, Role.COUNSELLOR, COUNSELLOR_PASSWORD, keyring, must_change=False
            )
        finally:
            await client.close()

    asyncio.run(job())


@pytest.fixture(scope="module")
def counselling_bot(
    emulator: TelegramEmulator, model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivateBot]:
    with LocalRedis(tmp_path_factory.mktemp("counselling-redis")) as redis:
        init_desk(redis.url, DESK_PASSWORD)
        add_counsellor(redis.url)
        bot = start_private_bot(
            emulator,
            "polling",
            TOKEN,
            redis,
            tmp_path_factory.mktemp("counselling-var"),
            tmp_path_factory.mktemp("counselling-bot") / "bot.log",
            TEST_SECRET,
        )
        try:
            yield bot
        finally:
            bot.stop()
            emulator.reset(TOKEN)


@pytest.fixture
def console(browser: Browser, counselling_bot: PrivateBot, settings: Settings) -> Iterator[Page]:
    """The counsellor signed in on the dashboard, the console open (which puts them on
    duty); fails the test on any Content-Security-Policy violation."""
    dashboard = serve(
        replace(settings, redis_url=counselling_bot.redis.url), counselling_bot.redis.url
    )
    context = browser.new_context(base_url=dashboard.base_url, locale="fr-FR")
    context.set_default_timeout(15_000)
    page = context.new_page()
    violations = csp_violations(page)
    log_in(page, COUNSELLOR, COUNSELLOR_PASSWORD)
    expect(page.get_by_role("heading", name="Écoute", exact=True)).to_be_visible()
    yield page
    context.close()
    dashboard.stop()
    assert violations == []


def test_a_conversation_with_a_counsellor_from_telegram_to_the_console_leaves_no_trace(
    capfd: pytest.CaptureFixture[str],  # first: the dashboard's output from its start
    console: Page,
    counselling_bot: PrivateBot,
    emulator: TelegramEmulator,
    catalog: Catalog,
) -> None:
    young = IdentifiedUser(emulator, TOKEN, PERSON)
    _welcome, menu = young.ask_command("start", n=2, timeout=60)
    (consent,) = young.press_and_wait(menu, encode(Do.COUNSEL))
    (place,) = young.press_and_wait(consent, encode(CounselJoin(Origin.MENU)))
    assert "place n° 1" in place.text
    young.send_text(WORDS)

    waiting = console.locator("#waiting tbody tr")
    expect(waiting).to_have_count(1)  # live: no reload
    waiting.get_by_role("button", name="Prendre").click()
    conversation = console.locator("article.conversation")
    expect(conversation).to_contain_text(WORDS)
    conversation.get_by_label("Votre réponse").fill(ANSWER)
    conversation.get_by_role("button", name="Envoyer", exact=True).click()
    (answer,) = young.replies(1, timeout=30)
    assert answer.text == f"💬 Sini : {ANSWER}"

    young.send_photo(portrait_with_exif())
    photo = conversation.locator("img")
    expect(photo).to_have_count(1)
    source = photo.get_attribute("src")
    assert source is not None
    served = console.request.get(source)
    assert served.status == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert hits(EXIF_STRINGS, photo=served.body()) == []

    young.send_command("stop")
    ended = young.replies(3, timeout=30)
    assert ended[0].text == first_screen(catalog, "counsel.ended", "fr")
    expect(console.locator("article.conversation")).to_have_count(0)

    counselling_bot.stop()
    redis_files = stored_files(counselling_bot.redis.data_dir)
    assert b"sini.aof" in redis_files, "the scan reads the AOF (its manifest names it)"
    log = counselling_bot.log()
    assert b'"counsel.requested"' in log, "the scan reads the bot's whole log"
    dashboard = capfd.readouterr()
    leaks = hits(
        PERSON.needles() + EXIF_STRINGS + COORDINATES + ["MARQUEUR"],
        log=log,
        redis=everything_at(counselling_bot.redis.url),
        redis_files=redis_files,
        dashboard=(dashboard.out + dashboard.err).encode(),
    )
    assert leaks == [], leaks
