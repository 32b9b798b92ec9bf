"""Awareness over the Bot API: campaign deep links, a whole quiz, weekly messages."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from bot.content import Catalog
from sini.redis_server import LocalRedis
from tests.conftest import TEST_SECRET, TEST_TOKEN, BotProcess
from tests.support.screens import first_screen
from tests.support.telegram_emulator import EmulatedUser, TelegramEmulator

UserFactory = Callable[..., EmulatedUser]


def helpline(*args: str, emulator: TelegramEmulator, redis: LocalRedis) -> str:
    env = {
        **os.environ,
        "REDIS_URL": redis.url,
        "SINI_SECRET": TEST_SECRET,
        "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{emulator.port}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_poster_deep_link_opens_the_tramadol_quiz_in_bambara_and_scores_it(
    user_factory: UserFactory,
    catalog: Catalog,
    bot: BotProcess,
    bot_redis: LocalRedis,
    emulator: TelegramEmulator,
) -> None:
    out = helpline(
        "campaigns",
        "add",
        "--label",
        "Affiche lycée Ségou",
        "--target",
        "tramadol",
        "--lang",
        "bm",
        "--bot-username",
        "SiniTestBot",
        emulator=emulator,
        redis=bot_redis,
    )
    assert "https://t.me/SiniTestBot?start=affiche-lycee-segou" in out
    user = user_factory("fr")  # a French Telegram, a Bambara poster: the poster decides
    welcome, question = user.ask_command("start", "affiche-lycee-segou", n=2)
    assert welcome.text == first_screen(catalog, "welcome", "bm")
    assert catalog.gettext("Tramadol : vrai ou faux ?", "bm") in question.text
    for _ in range(5):
        feedback, question = user.press_and_wait(
            question, question.buttons[0][0].callback_data or "", n=2
        )
        assert feedback.text
    assert "/5" in question.text  # the score
    assert question.has_button(first_screen(catalog, "quiz.replay_button", "bm"))
    stats = helpline("stats", "--days", "1", emulator=emulator, redis=bot_redis)
    assert "affiche-lycee-segou" in stats


def test_subscribers_get_the_weekly_message_until_they_stop(
    user_factory: UserFactory,
    catalog: Catalog,
    bot: BotProcess,
    bot_redis: LocalRedis,
    emulator: TelegramEmulator,
) -> None:
    user = user_factory("fr")
    (consent,) = user.ask_command("abonner")
    (done,) = user.press_and_wait(consent, "do:subscribe_yes")
    assert done.text == first_screen(catalog, "subscribe.done", "fr")
    helpline("broadcast", "--week", "2026-W01", emulator=emulator, redis=bot_redis)
    (weekly,) = user.replies()
    assert first_screen(catalog, "weekly.footer", "fr") in weekly.text
    helpline(
        "broadcast", "--week", "2026-W01", emulator=emulator, redis=bot_redis
    )  # resumed: nothing twice
    (stopped,) = user.ask_command("stop")
    assert stopped.text == first_screen(catalog, "unsubscribe.done", "fr")
    helpline("broadcast", "--week", "2026-W02", emulator=emulator, redis=bot_redis)
    (menu,) = user.ask_command("menu")  # the next message here is the menu, not a broadcast
    assert menu.text == first_screen(catalog, "menu.main", "fr")
    texts = [m.text for m in user.history()]
    assert texts.count(weekly.text) == 1
    assert not any(
        first_screen(catalog, "weekly.footer", "fr") in t for t in texts if t != weekly.text
    )
