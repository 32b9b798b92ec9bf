"""The statistics page: weekly tips by category, regions, time to first review, where
tips were forwarded, the bot's anonymous conversation topics, and the counselling
conversations ended with a summary (per day, median wait and duration, outcomes,
referrals)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.awareness import CampaignStore, StatsRow
from sini.counselling import summary
from staff import charts, forwarding, labels, stats
from staff.sessions import Session
from staff.web import render, staff_only, state_of
from tips.model import Category

TOP_TOPICS = 15


@staff_only(None)
async def stats_page(request: Request, session: Session) -> Response:
    staff = state_of(request)
    fmt = staff.formatter
    today = datetime.now(timezone.utc).date()
    figures = await stats.gather(
        staff.redis, await staff.desk.records(), today, topics_redis=staff.stats_redis
    )
    week_labels = [fmt.short_date(monday) for monday in figures.weeks]
    weekly = sized(
        lambda compact: charts.stacked_columns(
            week_labels,
            [(labels.category(c.value), figures.per_week[c]) for c in Category],
            "Signalements par semaine et par catégorie",
            fmt.number,
            compact=compact,
        )
    )
    regions = sized(
        lambda compact: charts.horizontal_bars(
            [(labels.region(r), [n]) for r, n in figures.regions],
            ["Signalements"],
            "Signalements par région",
            fmt.number,
            compact=compact,
        )
    )
    review = sized(
        lambda compact: charts.horizontal_bars(
            [(label, [n]) for label, n in figures.review_buckets],
            ["Signalements"],
            "Délai avant le premier examen",
            fmt.number,
            compact=compact,
        )
    )
    topic_names = staff.topic_labels
    top = figures.topics[:TOP_TOPICS]
    topics = sized(
        lambda compact: charts.horizontal_bars(
            [
                (topic_names.get(t, t), [counts.get(loc, 0) for loc in figures.topic_locales])
                for t, counts in top
            ],
            [labels.locale_name(loc) for loc in figures.topic_locales],
            f"Sujets de conversation ({figures.topic_days} derniers jours)",
            fmt.number,
            compact=compact,
        )
    )
    days = [today - timedelta(days=n) for n in range(figures.topic_days)]
    awareness = CampaignStore(staff.stats_redis)
    campaigns = summarise(await awareness.campaign_stats(days))
    quizzes = summarise(await awareness.quiz_stats(days))
    counselled = await summary.figures(staff.stats_redis, days)
    return render(
        request,
        "stats.html",
        session,
        figures=figures,
        week_labels=week_labels,
        weekly_chart=weekly,
        region_chart=regions,
        review_chart=review,
        topic_chart=topics,
        top_topics=[(topic_names.get(t, t), c) for t, c in top],
        forwarded=forwarding.tally(
            figures.forwarded, await forwarding.ForwardTargets(staff.redis).list()
        ),
        categories=list(Category),
        campaigns=campaigns,
        quizzes=quizzes,
        counselled=counselled,
        referrals=sorted(
            ((referral_name(staff.referrals, s), n) for s, n in counselled.referrals.items()),
            key=lambda item: -item[1],
        ),
    )


def referral_name(referrals: dict[str, str], service: str) -> str:
    """A referral counter's service as the desk knows it (its id if it left the directory)."""
    if service == summary.NO_REFERRAL:
        return "aucune"
    return referrals.get(service, service)


def sized(draw: Callable[[bool], Markup]) -> Markup:
    """A chart drawn wide and compact; the style sheet shows the one that fits the screen."""
    return Markup(  # noqa: S704 - both drawings escape every text they hold
        f'<div class="chart-wide">{draw(False)}</div><div class="chart-compact">{draw(True)}</div>'
    )


def summarise(rows: list[StatsRow]) -> list[tuple[str, int, int, float | None]]:
    """(campaign or quiz, conversations started, quizzes completed, average score) over the
    period, all languages together, most started first."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        started, completed, score_sum = totals.setdefault(row.subject, [0, 0, 0])
        totals[row.subject] = [
            started + row.started,
            completed + row.completed,
            score_sum + row.score_sum,
        ]
    return sorted(
        (
            (subject, started, completed, score_sum / completed if completed else None)
            for subject, (started, completed, score_sum) in totals.items()
        ),
        key=lambda item: -item[1],
    )


routes = [Route("/stats", stats_page, methods=["GET"])]
