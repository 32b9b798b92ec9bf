"""Sini in webhook mode, end to end: the emulator POSTs updates to the real bot process as
Telegram does, and these tests check what a user — or someone forging updates — sees."""

from __future__ import annotations

import http.server
import itertools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.content import Catalog
from bot.dialogue.store import chat_key
from sini.redis_server import free_port
from tests.conftest import TEST_SECRET
from tests.e2e.conftest import WebhookBot
from tests.support.redis_scan import everything_at
from tests.support.screens import first_screen
from tests.support.telegram_emulator import EmulatorError, TelegramEmulator

_user_ids = itertools.count(1)


def new_user_id() -> int:
    """Chats no other test (nor the polling bot's tests) uses."""
    return 780_000_000 + next(_user_ids) * 7919


def forged_start(user_id: int) -> dict[str, Any]:
    """A well-formed /start update, as an attacker who found the webhook URL would send."""
    person = {"id": user_id, "is_bot": False, "first_name": "Forged", "language_code": "fr"}
    return {
        "update_id": 900_000_000 + user_id % 1_000_000,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Forged"},
            "from": person,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


def test_the_bot_registered_its_webhook_with_the_secret(
    webhook_bot: WebhookBot, emulator: TelegramEmulator
) -> None:
    hook = emulator.webhook(webhook_bot.token)["webhook"]
    assert hook["url"] == webhook_bot.webhook_url
    assert hook["secret_token"] == webhook_bot.secret
    info = emulator.bot_api(webhook_bot.token, "getWebhookInfo")
    assert info["url"] == webhook_bot.webhook_url
    assert "secret_token" not in info


def test_a_message_delivered_by_webhook_gets_the_normal_answer(
    webhook_bot: WebhookBot, emulator: TelegramEmulator, catalog: Catalog
) -> None:
    user = emulator.user(webhook_bot.token, new_user_id(), "Awa", "awa_w", "fr")
    welcome, menu = user.ask_command("start", n=2)
    assert welcome.text == first_screen(catalog, "welcome", "fr")
    assert menu.has_button("Les drogues")
    (answer,) = user.ask("c'est quoi le tramadol ?")
    assert answer.text == first_screen(catalog, "drug.tramadol.about", "fr")
    deliveries = [
        d for d in emulator.webhook(webhook_bot.token)["deliveries"] if d["type"] == "message"
    ]
    assert deliveries, "the emulator recorded its deliveries"
    assert all(d["secret_token_sent"] for d in deliveries)
    assert deliveries[-1]["status"] == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"}],
    ids=["no secret header", "wrong secret"],
)
def test_a_post_without_the_right_secret_is_refused_and_leaves_nothing(
    webhook_bot: WebhookBot,
    emulator: TelegramEmulator,
    catalog: Catalog,
    headers: dict[str, str],
) -> None:
    user = emulator.user(webhook_bot.token, new_user_id(), "Awa", None, "fr")
    response = httpx.post(webhook_bot.webhook_url, json=forged_start(user.user_id), headers=headers)
    assert response.status_code == 403
    pseudonym = chat_key(bytes.fromhex(TEST_SECRET), user.user_id).encode()
    assert pseudonym not in everything_at(webhook_bot.redis_url), "no state for the forged chat"
    # Replies in one chat keep their order: had the forged /start been taken, its answer
    # would come before the answer to this genuine one.
    welcome, _ = user.ask_command("start", n=2)
    assert welcome.text == first_screen(catalog, "welcome", "fr")
    assert len(user.history()) == 2, "nothing answered the forged update"


def test_the_same_post_with_the_secret_is_answered(
    webhook_bot: WebhookBot, emulator: TelegramEmulator, catalog: Catalog
) -> None:
    """The control for the refusals above: the forged update itself is well formed."""
    user = emulator.user(webhook_bot.token, new_user_id(), "Awa", None, "fr")
    response = httpx.post(
        webhook_bot.webhook_url,
        json=forged_start(user.user_id),
        headers={"X-Telegram-Bot-Api-Secret-Token": webhook_bot.secret},
    )
    assert response.status_code == 200
    welcome, _ = user.replies(2)
    assert welcome.text == first_screen(catalog, "welcome", "fr")


class _FlakyWebhook(http.server.BaseHTTPRequestHandler):
    """Answers 503 to the first POST and 200 to the rest, recording what it got."""

    received: list[tuple[int, str | None, int]]  # (update_id, secret header, status)

    def do_POST(self) -> None:
        update = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = 503 if not self.received else 200
        self.received.append(
            (update["update_id"], self.headers.get("X-Telegram-Bot-Api-Secret-Token"), status)
        )
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads `received` instead."""


@pytest.fixture
def flaky_webhook() -> Iterator[tuple[str, type[_FlakyWebhook]]]:
    handler = type("Handler", (_FlakyWebhook,), {"received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", handler
    server.shutdown()
    server.server_close()


def test_the_emulator_retries_a_refused_delivery_and_keeps_the_order(
    emulator: TelegramEmulator, flaky_webhook: tuple[str, type[_FlakyWebhook]]
) -> None:
    """What the webhook test above relies on, checked on the emulator alone: like
    Telegram, it retries an update its webhook refused, before sending the next one."""
    url, handler = flaky_webhook
    token = "454545:EMULATOR-webhook-retry-check-only-000"
    try:
        assert emulator.bot_api(token, "setWebhook", url=url, secret_token="s3cret_-")
        with pytest.raises(EmulatorError, match="Conflict"):
            emulator.bot_api(token, "getUpdates")
        user = emulator.user(token, new_user_id())
        user.send_text("un")
        user.send_text("deux")
        assert emulator.wait_drained(token, timeout=10)
        ids = [update_id for update_id, _, _ in handler.received]
        assert ids == [ids[0], ids[0], ids[0] + 1]
        assert [status for _, _, status in handler.received] == [503, 200, 200]
        assert {secret for _, secret, _ in handler.received} == {"s3cret_-"}
        info = emulator.bot_api(token, "getWebhookInfo")
        assert info["last_error_message"] == "Wrong response from the webhook: 503"
    finally:
        emulator.reset(token)
