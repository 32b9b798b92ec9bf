"""`helpline campaigns add|list`, `helpline broadcast` and `helpline stats`.

Staff-facing commands of the awareness features; `register` adds them to the CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar

from redis.asyncio import Redis

from sini.redis import configured_url, connect_redis
from sini.settings import Settings

T = TypeVar("T")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    campaigns = sub.add_parser("campaigns", help="deep links and QR codes for posters and radio")
    actions = campaigns.add_subparsers(dest="campaign_command", required=True)
    add = actions.add_parser("add", help="create a campaign link and its QR code")
    add.add_argument("--label", required=True, help='e.g. "Affiche lycée Askia, Ségou"')
    add.add_argument(
        "--target", required=True, help="a quiz id (tramadol) or a message id (drug.tramadol.about)"
    )
    add.add_argument("--payload", help="the start parameter; derived from the label if absent")
    add.add_argument("--lang", choices=["fr", "bm", "en"], help="the poster's language")
    add.add_argument("--bot-username", help="the bot's @username (default: BOT_USERNAME)")
    add.set_defaults(func=cmd_campaigns_add)
    listing = actions.add_parser("list", help="list campaigns")
    listing.set_defaults(func=cmd_campaigns_list)

    broadcast = sub.add_parser(
        "broadcast", help="send this week's prevention message to subscribers"
    )
    broadcast.add_argument("--week", type=_week, help="ISO week to (re)send, e.g. 2026-W49")
    broadcast.set_defaults(func=cmd_broadcast)

    stats = sub.add_parser("stats", help="anonymous campaign and quiz counters")
    stats.add_argument("--days", type=int, default=30)
    stats.set_defaults(func=cmd_stats)


def _week(text: str) -> tuple[int, int]:
    """ "2026-W49" → (2026, 49)."""
    try:
        year, week = text.upper().split("-W")
        return int(year), int(week)
    except ValueError as error:
        raise argparse.ArgumentTypeError("expected YYYY-Www, e.g. 2026-W49") from error


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _on_redis(settings: Settings, job: Callable[[Redis[bytes]], Awaitable[T]]) -> T:
    """Run `job` with a client of the bot's Redis, closed afterwards: REDIS_URL, or the
    project-local redis-server `make run` uses when it is unset."""

    async def main(url: str) -> T:
        redis = connect_redis(url)
        try:
            return await job(redis)
        finally:
            await redis.close()

    with configured_url(settings) as url:
        return asyncio.run(main(url))


def cmd_campaigns_add(settings: Settings, args: argparse.Namespace) -> int:
    from bot.awareness import (
        CampaignError,
        CampaignStore,
        link,
        load_quizzes,
        payload_from_label,
        qr_png,
    )
    from bot.content.catalog import load_messages

    bot_username = args.bot_username or settings.bot_username
    if not bot_username:
        print("error: give --bot-username or set BOT_USERNAME", file=sys.stderr)
        return 2
    targets = set(load_quizzes(settings.responses_dir / "quizzes")) | set(
        load_messages(settings.responses_dir / "messages")
    )
    payload = args.payload or payload_from_label(args.label)

    async def add(redis: Redis[bytes]) -> None:
        await CampaignStore(redis).add_campaign(
            payload, args.target, args.label, _today(), targets=targets, locale=args.lang
        )

    try:
        _on_redis(settings, add)
    except CampaignError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    url = link(bot_username, payload)
    png = qr_png(url, settings.var_dir / "campaigns" / f"{payload}.png")
    print(f"{url}\nQR code: {png}")
    return 0


def cmd_campaigns_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.awareness import CampaignStore

    async def listing(redis: Redis[bytes]) -> None:
        for campaign in await CampaignStore(redis).list_campaigns():
            print(f"{campaign.payload}\t{campaign.target}\t{campaign.created}\t{campaign.label}")

    _on_redis(settings, listing)
    return 0


def cmd_stats(settings: Settings, args: argparse.Namespace) -> int:
    from bot.awareness import CampaignStore, format_stats

    days = [_today() - timedelta(days=n) for n in range(args.days)]

    async def show(redis: Redis[bytes]) -> None:
        store = CampaignStore(redis)
        print(format_stats(await store.campaign_stats(days)))
        print()
        print(format_stats(await store.quiz_stats(days), "quiz"))

    _on_redis(settings, show)
    return 0


def cmd_broadcast(settings: Settings, args: argparse.Namespace) -> int:
    """This week's message to every subscriber: at most BROADCAST_MAX_RATE, through the
    sending budget the bot's replicas share, at the lowest class (live replies first);
    resumable, never twice."""
    from telegram.error import RetryAfter
    from telegram.ext import ExtBot

    from bot.adapters.sending import Priority
    from bot.adapters.shared_budget import SharedBudget
    from bot.adapters.telegram import reaching, sending_limiter
    from bot.awareness import (
        RetryLater,
        Subscribers,
        iso_week,
        load_weekly,
        pick_weekly,
        weekly_broadcast_id,
    )
    from bot.content import load_catalog
    from bot.services import load_services

    if not settings.telegram_token:
        print("error: TELEGRAM_BOT_TOKEN is not set", file=sys.stderr)
        return 2
    catalog = load_catalog(
        settings.responses_dir, settings.locales_dir, load_services(settings.services_file)
    )
    weekly = load_weekly(settings.responses_dir / "weekly.yml")
    week = args.week or iso_week(_today())
    message = weekly[pick_weekly(weekly, week)]
    base = (settings.telegram_api_url or "https://api.telegram.org").rstrip("/")

    async def run(redis: Redis[bytes]) -> None:
        limiter = sending_limiter(settings)
        limiter.share(SharedBudget(redis))
        bot = ExtBot(settings.telegram_token or "", base_url=f"{base}/bot", rate_limiter=limiter)
        subscribers = Subscribers(redis, settings.secret)

        async def send(chat_id: int, locale: str) -> None:
            text = catalog.gettext(message.text, locale)
            footer = catalog.render("weekly.footer", locale).text
            try:
                with reaching():
                    await bot.send_message(
                        chat_id, f"{text}\n\n{footer}", rate_limit_args=Priority.BULK
                    )
            except RetryAfter as error:
                seconds = error.retry_after
                wait = seconds.total_seconds() if hasattr(seconds, "total_seconds") else seconds
                raise RetryLater(float(wait)) from error

        async with bot:
            report = await subscribers.broadcast(send, weekly_broadcast_id(week))
        print(f"{weekly_broadcast_id(week)}: {report}")

    _on_redis(settings, run)
    return 0
