"""The bot in webhook mode: `python -m bot bot` with WEBHOOK_URL, fed by the emulator's POSTs.

It has its own token, Redis, var directory and port, so it never meets the polling bot of
`tests/conftest.py` (both may run in one session against the same emulator).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sini.redis_server import LocalRedis, free_port
from tests.conftest import TEST_SECRET
from tests.support.telegram_emulator import TelegramEmulator

WEBHOOK_TOKEN = "434343:WEBHOOK-token-for-the-emulator-only-0"
STARTUP_SECONDS = 180  # model load + start-up, as for the polling bot


@dataclass
class WebhookBot:
    """A running webhook bot and what a test needs to reach it or forge requests to it."""

    process: subprocess.Popen[bytes]
    token: str
    secret: str
    base_url: str
    redis_url: str
    log_path: Path
    metrics_url: str  # /metrics, /healthz, /readyz (tests/e2e/test_observability.py)

    @property
    def webhook_url(self) -> str:
        """Where the bot serves its webhook (and so the URL it must register)."""
        return f"{self.base_url}/telegram"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_webhook_bot(
    emulator: TelegramEmulator,
    redis_url: str,
    var_dir: Path,
    log_path: Path,
    token: str = WEBHOOK_TOKEN,
    env: dict[str, str] | None = None,
) -> WebhookBot:
    """Start the bot and return once it has registered its webhook and its server has
    accepted a first update: a warm-up /start from a user no test looks at. Without
    that, a test's own POST could reach the port before the server listens (PTB sets the
    webhook before it serves). Replicas of one bot share a `token`; `env` adds to or
    overrides the bot's environment."""
    port = free_port()
    metrics_port = free_port()
    secret = secrets.token_urlsafe(32)
    base_url = f"http://127.0.0.1:{port}"
    metrics_url = f"http://127.0.0.1:{metrics_port}"
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{emulator.port}",
        "WEBHOOK_URL": base_url,
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": secret,
        "METRICS_PORT": str(metrics_port),
        "REDIS_URL": redis_url,
        "SINI_SECRET": TEST_SECRET,
        "SINI_VAR_DIR": str(var_dir),
        "LOG_FORMAT": "json",
        **(env or {}),
    }
    set_calls = emulator.webhook(token)["set_webhook_calls"]
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "bot"],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    emulator.wait_webhook(token, set_calls, timeout=STARTUP_SECONDS)
    emulator.user(token, 760_000_001).send_command("start")
    assert emulator.wait_drained(token, timeout=60), "the webhook server never answered"
    return WebhookBot(process, token, secret, base_url, redis_url, log_path, metrics_url)


@pytest.fixture(scope="session")
def webhook_bot(
    emulator: TelegramEmulator, model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebhookBot]:
    """The real bot process in webhook mode, with its own redis-server. `model_path`
    makes sure the model is trained before the bot looks for it."""
    with LocalRedis(tmp_path_factory.mktemp("webhook-redis")) as redis:
        bot = start_webhook_bot(
            emulator,
            redis.url,
            tmp_path_factory.mktemp("webhook-var"),
            tmp_path_factory.mktemp("webhook-bot") / "bot.log",
        )
        yield bot
        bot.process.terminate()
        bot.process.wait(timeout=30)
        emulator.reset(WEBHOOK_TOKEN)  # no delivery retries towards a stopped bot
