"""A young person on Telegram talks with a counsellor in the dashboard, every part real:
the bot process polling the Bot API emulator (its own Redis, AOF on, LOG_LEVEL=DEBUG), the
dashboard under uvicorn, and the counsellor in Debian's Chromium. Then nothing that names
the young person, nothing they wrote and nothing of their photo's metadata is anywhere:
not in Redis, its AOF, the bot's log or the dashboard's output."""

from __future__ import annotations

import asyncio
import io
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from redis.asyncio import Redis

from bot.content import Catalog
from bot.dialogue.actions import CounselJoin, Do, encode
from sini import logging as logs
from sini.counselling.model import Origin
from sini.redis import connect_redis
from sini.redis_server import LocalRedis
from sini.settings import Settings
from staff.accounts import Accounts, Role
from tests.conftest import DESK_PASSWORD, TEST_SECRET
from tests.staff.conftest import CHROMIUM, browser, open_console, serve, staff_config
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
LATER = Identity(6_150_427_777, "Boubacarini", "Keïtassou", "bouba_later_5582")
COUNSELLOR = "e2e-mariam"
COUNSELLOR_PASSWORD = "a counsellor's password for tests"
WORDS = "MARQUEUR-7730 je n'arrive plus à dormir, j'ai peur"
ANSWER = "MARQUEUR-REPONSE Je suis là, je t'écoute."
LEFT = "MARQUEUR-PLUS-TARD je voulais parler de mon grand frère"


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
def dashboard_log() -> Iterator[io.StringIO]:
    """What the dashboard (this process) logs at DEBUG while the test runs."""
    stream = io.StringIO()
    logs.configure("DEBUG", stream=stream)
    yield stream
    logs.configure("DEBUG")


@pytest.fixture
def console(
    browser: Browser,
    counselling_bot: PrivateBot,
    settings: Settings,
    dashboard_log: io.StringIO,
) -> Iterator[Page]:
    """The counsellor signed in on the dashboard, the console open (which puts them on
    duty); fails the test on any Content-Security-Policy violation."""
    dashboard = serve(
        replace(settings, redis_url=counselling_bot.redis.url), counselling_bot.redis.url
    )
    context, page, violations = open_console(
        browser, dashboard.base_url, COUNSELLOR, COUNSELLOR_PASSWORD
    )
    yield page
    context.close()
    dashboard.stop()
    assert violations == []


def restart(bot: PrivateBot, emulator: TelegramEmulator, name: str) -> PrivateBot:
    """The bot process stopped and started again on the same Redis (a deployment)."""
    bot.stop()
    folder = bot.log_path.parent
    (folder / f"{name}-var").mkdir()
    return start_private_bot(
        emulator, "polling", TOKEN, bot.redis, folder / f"{name}-var", folder / f"{name}.log",
        TEST_SECRET,
    )  # fmt: skip


def test_a_conversation_with_a_counsellor_from_telegram_to_the_console_leaves_no_trace(
    console: Page,
    dashboard_log: io.StringIO,
    counselling_bot: PrivateBot,
    emulator: TelegramEmulator,
    catalog: Catalog,
) -> None:
    """Request, the place in the queue, a live claim, messages both ways, a photo, the bot
    restarted mid-conversation, the conversation put back in the queue and taken again,
    /stop and "did it help?"; then, with nobody on duty, a message left and answered
    later. Then the anonymity scan."""
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

    bots = [counselling_bot, restart(counselling_bot, emulator, "restarted")]
    try:
        young.send_text(f"{WORDS} (encore)")
        expect(conversation).to_contain_text(f"{WORDS} (encore)")
        conversation.get_by_label("Votre réponse").fill(f"{ANSWER} (encore)")
        conversation.get_by_role("button", name="Envoyer", exact=True).click()
        (again,) = young.replies(1, timeout=30)
        assert again.text == f"💬 Sini : {ANSWER} (encore)"

        conversation.get_by_role("button", name="Passer", exact=True).click()  # back in the queue
        expect(console.locator("article.conversation")).to_have_count(0)
        expect(waiting).to_have_count(1)
        waiting.get_by_role("button", name="Prendre").click()
        expect(conversation).to_contain_text(f"{WORDS} (encore)")

        young.send_command("stop")
        ended, question, _erase = young.replies(3, timeout=30)
        assert ended.text == first_screen(catalog, "counsel.ended", "fr")
        expect(console.locator("article.conversation")).to_have_count(0)
        (thanks,) = young.press_and_wait(question, question.button_data("Oui"))
        assert thanks.text == first_screen(catalog, "counsel.thanks", "fr")

        console.get_by_role("button", name="Quitter la permanence").click()
        later = IdentifiedUser(emulator, TOKEN, LATER)
        _welcome, menu = later.ask_command("start", n=2, timeout=30)
        (consent,) = later.press_and_wait(menu, encode(Do.COUNSEL))
        (unstaffed,) = later.press_and_wait(consent, encode(CounselJoin(Origin.MENU)))
        assert unstaffed.text == first_screen(catalog, "counsel.unstaffed", "fr")
        (left,) = later.press_and_wait(unstaffed, encode(CounselJoin(Origin.MESSAGE)))
        assert left.text == first_screen(catalog, "counsel.message_left", "fr")
        later.send_text(LEFT)
        console.get_by_role("button", name="Prendre la permanence").click()
        waiting.get_by_role("button", name="Prendre").click()
        expect(conversation).to_contain_text(LEFT)
        conversation.get_by_label("Votre réponse").fill(ANSWER)
        conversation.get_by_role("button", name="Envoyer", exact=True).click()
        (answered,) = later.replies(1, timeout=30)
        assert answered.text == f"💬 Sini : {ANSWER}"
    finally:
        for bot in bots:
            bot.stop()

    redis_files = stored_files(counselling_bot.redis.data_dir)
    assert b"sini.aof" in redis_files, "the scan reads the AOF (its manifest names it)"
    logs = [bot.log() for bot in bots]
    assert all(b'"counsel.requested"' in log for log in logs), "the scan reads both whole logs"
    dashboard = dashboard_log.getvalue()
    assert "staff.login" in dashboard, "the scan reads the dashboard's log"
    leaks = hits(
        PERSON.needles() + LATER.needles() + EXIF_STRINGS + COORDINATES + ["MARQUEUR"],
        log=b"\n".join(logs),
        redis=everything_at(counselling_bot.redis.url),
        redis_files=redis_files,
        dashboard=dashboard.encode(),
    )
    assert leaks == [], leaks
