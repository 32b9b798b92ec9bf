"""The outbound scheduler end to end (bot/adapters/sending.py, issue 17): the real bot
process, polling the Bot API emulator, with the emulator answering 429 (retry_after 1 s) as
Telegram does whenever the bot sends more than 40 messages in a second, and the bot left to
find its own pace (no TELEGRAM_MAX_RATE ceiling, as in production).

- Hundreds of people say hello at once, then someone writes that they want to end their
  life: the emergency numbers reach them before most of the greetings' answers.
- Under the same flood control, a crowd's conversations are all answered: every message
  once, none lost or doubled, each person's answers in the order they asked — and the
  emulator did refuse many sends on the way.

The bot has its own token, Redis and var directory, so it never meets the session's bot.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.content import Catalog
from bot.nlu.safety import Crisis
from sini.redis_server import LocalRedis
from tests.conftest import TEST_SECRET
from tests.support.screens import first_screen
from tests.support.telegram_emulator import EmulatedUser, TelegramEmulator

TOKEN = "525252:SENDING-token-for-the-emulator-only-0"
FLOOD_CONTROL = 40  # messages/s the emulator accepts before answering 429
STARTUP_SECONDS = 180
WAIT = 120.0
GREETINGS = 300
CROWD = 150
CRISIS = "je veux me suicider ce soir"
_ids = iter(range(880_000_001, 890_000_000, 7))


class SendingBot:
    def __init__(self, emulator: TelegramEmulator, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        calls = emulator.call("bot/polling", {"token": TOKEN, "timeout": 0})
        with log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "bot"],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        polled = emulator.call(
            "bot/polling",
            {"token": TOKEN, "timeout": STARTUP_SECONDS, "after_calls": calls["get_updates_calls"]},
            wait=STARTUP_SECONDS,
        )
        assert polled["polling"], "the bot did not start polling"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def sending_bot(
    emulator: TelegramEmulator, model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SendingBot]:
    emulator.limit_rate(TOKEN, FLOOD_CONTROL, retry_after=1)
    with LocalRedis(tmp_path_factory.mktemp("sending-redis")) as redis:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": f"http://127.0.0.1:{emulator.port}",
            "REDIS_URL": redis.url,
            "SINI_SECRET": TEST_SECRET,
            "SINI_VAR_DIR": str(tmp_path_factory.mktemp("sending-var")),
            "LOG_FORMAT": "json",
            "METRICS_PORT": "0",
            "TELEGRAM_MAX_RATE": "0",  # no ceiling: the bot adapts to the 429s
            # Every greeting's handler waits for its answer to be sent: room for all of them,
            # so that the crisis is read as soon as it arrives.
            "TELEGRAM_CONCURRENT_UPDATES": "1024",
        }
        bot = SendingBot(emulator, env, tmp_path_factory.mktemp("sending-bot") / "bot.log")
        yield bot
        bot.process.terminate()
        bot.process.wait(timeout=30)
    emulator.reset(TOKEN)


def person(emulator: TelegramEmulator) -> EmulatedUser:
    return emulator.user(TOKEN, next(_ids), "Awa", None, "fr")


def texts(catalog: Catalog, *message_ids: str) -> set[str]:
    return {first_screen(catalog, message_id) for message_id in message_ids}


def test_a_crisis_answer_overtakes_hundreds_of_greetings_under_flood_control(
    emulator: TelegramEmulator, sending_bot: SendingBot, catalog: Catalog
) -> None:
    greeters = [person(emulator) for _ in range(GREETINGS)]
    someone = person(emulator)
    for greeter in greeters:
        greeter.send_command("start")
    greetings = greeters[0].replies(1, timeout=WAIT)  # answering them: the backlog is there
    someone.send_text(CRISIS)
    numbers = someone.reply(timeout=WAIT)
    greetings += greeters[0].replies(1, timeout=WAIT)
    for greeter in greeters[1:]:
        greetings += greeter.replies(2, timeout=WAIT)

    crisis_answers = texts(catalog, "crisis.general", *(f"crisis.{k.value}" for k in Crisis))
    assert numbers.text in crisis_answers
    before = [m for m in greetings if m.raw["seq"] < numbers.raw["seq"]]
    print(
        f"\ncrisis answer after {len(before)} of {len(greetings)} greeting messages; "
        f"emulator: {emulator.rate_limit_stats(TOKEN)}"
    )
    assert len(before) < len(greetings) / 4


def test_under_flood_control_every_message_is_answered_once_and_in_order(
    emulator: TelegramEmulator, sending_bot: SendingBot, catalog: Catalog
) -> None:
    refused_before = emulator.rate_limit_stats(TOKEN)["refused"]
    crowd = [person(emulator) for _ in range(CROWD)]
    steps = [("start", 2), ("langue", 1), ("annuler", 1), ("urgence", 1)]
    for command, _ in steps:  # round by round: everyone's first message, then the second…
        for member in crowd:
            member.send_command(command)
    expected = [
        texts(catalog, "welcome"),
        texts(catalog, "menu.main"),
        texts(catalog, "language.pick"),
        texts(catalog, "cancel.done"),
        texts(catalog, "emergency"),
    ]
    for member in crowd:
        member.replies(len(expected), timeout=WAIT)
    assert emulator.wait_drained(TOKEN, timeout=WAIT)

    for member in crowd:
        sent = [m for m in member.history() if m.event == "sent"]
        assert len(sent) == len(expected), [m.text[:40] for m in sent]  # none lost or doubled
        for message, allowed in zip(sent, expected, strict=True):
            assert message.text in allowed, message.text[:80]
    refused = emulator.rate_limit_stats(TOKEN)["refused"] - refused_before
    print(f"\n{CROWD * len(expected)} answers under flood control; {refused} sends refused (429)")
    assert refused > 0, "the emulator never pushed back: the test proves nothing"
    log = sending_bot.log()
    assert "Rate limit hit" not in log
    assert "telegram.handler_error" not in log
