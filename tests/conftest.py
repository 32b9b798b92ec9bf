"""Shared fixtures: real Redis, a real trained Rasa model, the Bot API emulator, the bot.

Everything runs on 127.0.0.1 with free ports and temporary directories; nothing touches
the machine's own Redis or the network.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from nacl.public import PublicKey
from redis.asyncio import Redis
from telegram.ext import Application

from bot.adapters.telegram import build_application
from bot.assistant import Assistant
from bot.awareness import load_quizzes
from bot.content import Catalog, load_catalog
from bot.dialogue.engine import Engine
from bot.dialogue.events import Event
from bot.dialogue.replies import Reply
from bot.dialogue.store import DialogueStore
from bot.nlu import NLUUnavailable, Understanding
from bot.nlu.crisis import CrisisNet
from bot.nlu.crisis_classifier import load_classifier
from bot.nlu.rasa_local import RasaLocalNLU
from bot.nlu.training import train
from bot.runtime import drug_names
from bot.services import Service, load_services
from sini import logging as logs
from sini.redis import connect_redis
from sini.redis_server import LocalRedis, free_port
from sini.settings import PROJECT_ROOT, Settings
from tests.support.telegram_emulator import EmulatedUser, TelegramEmulator
from tips.crypto import MINIMUM_FOR_TESTS, DeskKeyring
from tips.intake import Intake
from tips.keys import init_desk_keys, unwrap_desk_keyring

CHAT_ID = 987654321
SECRET = b"k" * 32
TEST_SECRET = "5e" * 32
DESK_PASSWORD = "desk password for tests only"
STAFF_CHAT_ID = -1001234567
TEST_TOKEN = "424242:TEST-token-for-the-emulator-only-000"
REPLICAS_TOKEN = "535353:EXACTLY-once-token-for-tests-only-000"
_user_ids = itertools.count(1)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    os.environ["SINI_SECRET"] = TEST_SECRET
    os.environ["SINI_VAR_DIR"] = str(tmp_path_factory.mktemp("var"))
    logs.configure("DEBUG")
    return Settings.from_env()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    """A real redis-server on a free port with its own temp dir, for the whole session."""
    with LocalRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
async def redis(redis_server: LocalRedis) -> AsyncIterator[Redis]:
    """A client on an emptied database."""
    client = Redis.from_url(redis_server.url)
    await client.flushall()
    yield client
    await client.close()


@dataclass
class Keys:
    """The desk keyring an admin unwraps, and its public half (all the bot holds)."""

    ring: DeskKeyring

    @property
    def public(self) -> PublicKey:
        return self.ring.public_key


@pytest.fixture
async def keys(redis: Redis[bytes]) -> Keys:
    await init_desk_keys(redis, "admin", "admin password", limits=MINIMUM_FOR_TESTS)
    return Keys(await unwrap_desk_keyring(redis, "admin", "admin password"))


@pytest.fixture(scope="session")
def services(settings: Settings) -> list[Service]:
    return load_services(settings.services_file)


@pytest.fixture(scope="session")
def catalog(settings: Settings, services: list[Service]) -> Catalog:
    return load_catalog(settings.responses_dir, settings.locales_dir, services)


@pytest.fixture(scope="session")
def engine(catalog: Catalog, services: list[Service], settings: Settings) -> Engine:
    quizzes = load_quizzes(settings.responses_dir / "quizzes")
    return Engine(catalog, services, settings.confidence_threshold, quizzes, drug_names(settings))


@pytest.fixture(scope="session")
def model_path(settings: Settings) -> Path:
    """The real model for the current data (trained once; reused while the data is unchanged)."""
    return train(settings.nlu_project, settings.model_dir)


@pytest.fixture(scope="session")
def rasa_nlu(model_path: Path) -> Iterator[RasaLocalNLU]:
    nlu = RasaLocalNLU.load(model_path)
    yield nlu
    asyncio.run(nlu.close())


@pytest.fixture(scope="session")
def emulator() -> Iterator[TelegramEmulator]:
    """The telegram-test-api emulator (npm), patched for PTB 22, on a free loopback port."""
    with TelegramEmulator(PROJECT_ROOT / "tests" / "emulator") as server:
        yield server


class BotProcess:
    """`helpline bot` as a child process, talking to the emulator; its log is kept."""

    def __init__(self, env: dict[str, str], log_path: Path, emulator: TelegramEmulator) -> None:
        self.env = env
        self.log_path = log_path
        self.emulator = emulator
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        calls = self.emulator.call("bot/polling", {"token": TEST_TOKEN, "timeout": 0})
        with self.log_path.open("ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "bot"],
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        polled = self.emulator.call(  # blocks until this process polls: model load + start-up
            "bot/polling",
            {"token": TEST_TOKEN, "timeout": 180, "after_calls": calls["get_updates_calls"]},
            wait=180,
        )
        assert polled["polling"], "the bot did not start polling within 180 s"
        return process

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def restart(self) -> None:
        """Stop and start again: what a deployment or a crash does to the bot."""
        self.stop()
        self.process = self._spawn()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def bot_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    """The end-to-end bot's own redis-server, with the desk keys initialised (so other
    tests flushing the shared server cannot pull the floor from under the bot)."""
    with LocalRedis(tmp_path_factory.mktemp("bot-redis")) as server:

        async def init() -> None:
            client = connect_redis(server.url)
            await init_desk_keys(client, "admin", DESK_PASSWORD, limits=MINIMUM_FOR_TESTS)
            await client.close()

        asyncio.run(init())
        yield server


@pytest.fixture(scope="session")
def bot(
    emulator: TelegramEmulator,
    bot_redis: LocalRedis,
    model_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BotProcess]:
    """The real bot process (polling the emulator over HTTP) with LOG_LEVEL=DEBUG, so the
    anonymity tests see everything any logger would print."""
    log_path = tmp_path_factory.mktemp("bot") / "bot.log"
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{emulator.port}",
        "REDIS_URL": bot_redis.url,
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "SINI_SECRET": TEST_SECRET,
        "STAFF_CHAT_ID": str(STAFF_CHAT_ID),
        "METRICS_PORT": str(free_port()),  # /metrics, /healthz, /readyz (test_observability)
        "TELEGRAM_MAX_RATE": "100000",  # the emulator has no global limit (see test_load)
    }
    bot_process = BotProcess(env, log_path, emulator)
    yield bot_process
    bot_process.stop()


@pytest.fixture
def user_factory(emulator: TelegramEmulator, bot: BotProcess) -> Callable[..., EmulatedUser]:
    """Make emulated Telegram users; each gets a distinct id and chat."""

    def make(
        language_code: str = "fr", first_name: str = "Awa", username: str = "awa_t"
    ) -> EmulatedUser:
        user_id = 770_000_000 + next(_user_ids) * 7919
        return EmulatedUser(emulator, TEST_TOKEN, user_id, first_name, username, language_code)

    return make


# ----------------------------------------------------------------- assistant helpers


class ScriptedNLU:
    """Answers a fixed intent, or fails like a crashed Rasa server."""

    def __init__(self, intent: str = "drug_info", down: bool = False) -> None:
        self.intent = intent
        self.down = down
        self.calls = 0

    async def parse(self, text: str) -> Understanding:
        self.calls += 1
        if self.down:
            raise NLUUnavailable("ConnectError")
        return Understanding(self.intent, 0.99, ((self.intent, 0.99),))

    async def ready(self) -> bool:
        return not self.down

    async def close(self) -> None:
        return None


def make_assistant(engine: Engine, url: str, nlu: ScriptedNLU, flood_limit: int = 20) -> Assistant:
    redis = connect_redis(url)
    store = DialogueStore(
        redis, SECRET, state_ttl=3600, draft_ttl=1800, flood_limit=flood_limit, flood_window=60
    )
    tips = Intake(redis, SECRET, kdf_limits=MINIMUM_FOR_TESTS)
    return Assistant(engine, nlu, store, tips, SECRET, crisis_net())


Replica = Application  # type: ignore[type-arg]


@pytest.fixture
async def replicas(
    emulator: TelegramEmulator,
    engine: Engine,
    settings: Settings,
    redis_server: LocalRedis,
    redis: Redis,
    tmp_path: Path,
) -> AsyncIterator[list[Replica]]:
    """Two bot replicas (the real Application each, with its own assistant and Redis
    client) on one Redis, answering through the emulator with REPLICAS_TOKEN. Nothing
    polls for them: a test hands each update to the replica it chooses."""
    replica_settings = replace(
        settings,
        telegram_token=REPLICAS_TOKEN,
        telegram_api_url=emulator.base_url,
        telegram_max_rate=100_000.0,
        staff_chat_id=None,
        metrics_port=0,
        var_dir=tmp_path,
    )
    applications = []
    for _ in range(2):
        application = build_application(
            replica_settings, lambda: make_assistant(engine, redis_server.url, ScriptedNLU())
        )
        await application.initialize()
        assert application.post_init is not None
        await application.post_init(application)
        applications.append(application)
    yield applications
    for application in applications:
        assert application.post_shutdown is not None
        await application.post_shutdown(application)
        await application.shutdown()


def crisis_net() -> CrisisNet:
    """The crisis net as the bot builds it (its classifier is trained once per process)."""
    return CrisisNet(
        load_classifier(PROJECT_ROOT / "nlu" / "crisis", PROJECT_ROOT / "nlu" / "data")
    )


async def say(assistant: Assistant, event: Event, language_code: str = "fr") -> list[Reply]:
    return list((await assistant.handle(CHAT_ID, event, language_code)).replies)
