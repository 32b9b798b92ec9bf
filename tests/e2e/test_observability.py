"""The real bot process's metrics, health and readiness endpoints, scraped over HTTP
while a user sends an anonymous tip through the Telegram emulator."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import label_allowed
from bot.observability import HEALTH_PATH, METRICS_PATH, READY_PATH
from tests.conftest import BotProcess
from tests.e2e.conftest import WebhookBot
from tests.support.telegram_emulator import EmulatedUser

UserFactory = Callable[..., EmulatedUser]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def base_url(bot: BotProcess) -> str:
    return f"http://127.0.0.1:{bot.env['METRICS_PORT']}"


def scrape(bot: BotProcess) -> tuple[str, Samples]:
    """The exposition text and every sample, keyed by name and sorted labels."""
    response = httpx.get(base_url(bot) + METRICS_PATH, timeout=10)
    assert response.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return response.text, samples


def grown(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_the_bot_is_alive_and_ready(bot: BotProcess) -> None:
    alive = httpx.get(base_url(bot) + HEALTH_PATH, timeout=10)
    ready = httpx.get(base_url(bot) + READY_PATH, timeout=10)
    assert alive.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"redis": "up", "nlu": "up"}


def test_in_webhook_mode_the_same_server_runs_beside_the_webhook(webhook_bot: WebhookBot) -> None:
    alive = httpx.get(webhook_bot.metrics_url + HEALTH_PATH, timeout=10)
    ready = httpx.get(webhook_bot.metrics_url + READY_PATH, timeout=10)
    scraped = httpx.get(webhook_bot.metrics_url + METRICS_PATH, timeout=10)
    assert alive.status_code == 200
    assert ready.status_code == 200
    assert scraped.status_code == 200
    assert "# TYPE sini_updates_total counter" in scraped.text


def test_a_tip_shows_in_the_metrics_and_no_label_names_the_tipster(
    user_factory: UserFactory, bot: BotProcess
) -> None:
    user = user_factory("fr", first_name="Kadiatou", username="kadi_hidden_77")
    secret = "Des enfants travaillent la nuit dans la mine d'or de Kéniéba"
    _, before = scrape(bot)
    (intro,) = user.ask_command("signaler")
    (category,) = user.press_and_wait(intro, "rep:start")
    _, regions = user.press_and_wait(category, "rep:cat:child_exploitation", n=2)
    (when,) = user.press_and_wait(regions, "rep:reg:Kayes")
    user.press_and_wait(when, "rep:when:ongoing", n=2)
    (noted,) = user.ask(secret)
    (review,) = user.press_and_wait(noted, "rep:review")
    receipt, _ = user.press_and_wait(review, "rep:send", n=2)
    assert "Code :" in receipt.text
    text, after = scrape(bot)

    assert grown(before, after, "sini_tips_submitted_total", category="child_exploitation") == 1
    # Each update is counted once its last reply is sent; the very last one may still be
    # finishing when the user reads that reply, hence "at least all but one".
    assert grown(before, after, "sini_updates_total", kind="CommandEvent", outcome="answered") >= 1
    assert grown(before, after, "sini_updates_total", kind="TextEvent", outcome="answered") >= 1
    assert grown(before, after, "sini_updates_total", kind="ButtonEvent", outcome="answered") >= 5
    assert grown(before, after, "sini_update_duration_seconds_count", kind="ButtonEvent") >= 5
    assert grown(before, after, "sini_errors_total", error_type="other") == 0

    for (name, labels), _value in after.items():
        for label, label_value in labels:
            if label != "le":
                assert label_allowed(label, label_value), (name, label, label_value)
    for identifying in [
        str(user.user_id),
        str(user.chat_id),
        user.first_name,
        user.username,
        "Kéniéba",
        "enfants travaillent",
    ]:
        assert identifying not in text, identifying
