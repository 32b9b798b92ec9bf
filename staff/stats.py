"""Statistics for the desk and the national bodies: tips per week by category, by region,
time to first review, where tips were forwarded, and what people ask the bot about.

Sources, all anonymous:

- the live tip envelopes (category, region, hour of creation, status — clear fields);
- `sini:stats:tips:<monday>` — counts of tips already purged by retention, per week of
  creation (`archive`), so purging a closed tip does not erase it from the figures;
- `sini:stats:first-review:<monday>` — how long tips created that week waited before their
  first status change, as bucket counts (`record_first_review`); no per-tip time is kept;
- `sini:stats:topics:<YYYY-MM-DD>` — the bot's topic counters, fields `<locale>:<topic>`.

Category and region are counted separately, never crossed, so the archive is coarser than
what it replaces.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml
from redis.asyncio import Redis

from tips.model import Category, TipRecord, floor_hour

TOPICS_PREFIX = "sini:stats:topics:"
ARCHIVE_PREFIX = "sini:stats:tips:"
REVIEW_PREFIX = "sini:stats:first-review:"
# (upper bound in hours, field, French label)
REVIEW_BUCKETS: tuple[tuple[float, str, str], ...] = (
    (1, "le1h", "moins d'1 h"),
    (6, "le6h", "1 à 6 h"),
    (24, "le24h", "6 à 24 h"),
    (72, "le3d", "1 à 3 jours"),
    (168, "le7d", "3 à 7 jours"),
    (float("inf"), "gt7d", "plus de 7 jours"),
)


def week_start(day: date) -> date:
    """The Monday of `day`'s ISO week."""
    return day - timedelta(days=day.weekday())


def review_bucket(hours: float) -> str:
    for bound, name, _label in REVIEW_BUCKETS:
        if hours < bound:
            return name
    return REVIEW_BUCKETS[-1][1]


async def record_first_review(redis: Redis[bytes], created_hour: datetime, now: datetime) -> None:
    """Count one tip leaving "new" after waiting `now - created_hour` (hour precision)."""
    hours = max((floor_hour(now) - created_hour).total_seconds() / 3600, 0.0)
    key = REVIEW_PREFIX + week_start(created_hour.date()).isoformat()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hincrby(key, review_bucket(hours), 1)
        pipe.hincrby(key, "count", 1)
        pipe.hincrbyfloat(key, "hours", hours)
        await pipe.execute()


async def archive(redis: Redis[bytes], records: Iterable[TipRecord]) -> None:
    """Add purged tips to the weekly category and region counts."""
    async with redis.pipeline(transaction=True) as pipe:
        for record in records:
            key = ARCHIVE_PREFIX + week_start(record.created_hour.date()).isoformat()
            pipe.hincrby(key, f"category:{record.category.value}", 1)
            pipe.hincrby(key, f"region:{record.region.value}", 1)
        await pipe.execute()


@dataclass
class Statistics:
    """Everything the statistics page shows, as plain numbers."""

    weeks: list[date]
    per_week: dict[Category, list[int]]
    regions: list[tuple[str, int]]
    review_buckets: list[tuple[str, int]]
    review_weeks: list[tuple[date, int, float | None]]
    forwarded: list[tuple[str, int]]
    topics: list[tuple[str, dict[str, int]]]
    topic_locales: list[str]
    topic_days: int
    total_tips: int = 0
    archived_tips: int = 0


def _int(value: bytes | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


async def gather(
    redis: Redis[bytes],
    records: Iterable[TipRecord],
    today: date,
    weeks: int = 12,
    topic_days: int = 30,
    topics_redis: Redis[bytes] | None = None,
) -> Statistics:
    """The page's figures for the last `weeks` weeks (tips) and `topic_days` days (topics).

    `redis` holds the tips and the desk's counters; `topics_redis` the bot's topic counters
    (the dialogue Redis, when tips are kept apart with TIPS_REDIS_URL)."""
    mondays = [week_start(today) - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    index = {monday: i for i, monday in enumerate(mondays)}
    per_week = {c: [0] * weeks for c in Category}
    regions: Counter[str] = Counter()
    forwarded: Counter[str] = Counter()
    total = 0
    for record in records:
        slot = index.get(week_start(record.created_hour.date()))
        if slot is None:
            continue
        total += 1
        per_week[record.category][slot] += 1
        regions[record.region.value] += 1
        if record.forwarded_to:
            forwarded[record.forwarded_to] += 1

    archived = 0
    buckets: Counter[str] = Counter()
    review_weeks: list[tuple[date, int, float | None]] = []
    async with redis.pipeline(transaction=False) as pipe:
        for monday in mondays:
            pipe.hgetall(ARCHIVE_PREFIX + monday.isoformat())
            pipe.hgetall(REVIEW_PREFIX + monday.isoformat())
        rows: list[dict[bytes, bytes]] = await pipe.execute()
    for slot, monday in enumerate(mondays):
        for name, value in rows[2 * slot].items():
            kind, _, what = name.decode().partition(":")
            if kind == "category" and what in {c.value for c in Category}:
                per_week[Category(what)][slot] += _int(value)
                archived += _int(value)
            elif kind == "region":
                regions[what] += _int(value)
        review = rows[2 * slot + 1]
        count = _int(review.get(b"count"))
        mean = float(review.get(b"hours", b"0")) / count if count else None
        review_weeks.append((monday, count, mean))
        for _bound, bucket, _label in REVIEW_BUCKETS:
            buckets[bucket] += _int(review.get(bucket.encode()))

    topics, locales = await _topics(topics_redis or redis, today, topic_days)
    return Statistics(
        weeks=mondays,
        per_week=per_week,
        regions=regions.most_common(),
        review_buckets=[(label, buckets[name]) for _b, name, label in REVIEW_BUCKETS],
        review_weeks=review_weeks,
        forwarded=forwarded.most_common(),
        topics=topics,
        topic_locales=locales,
        topic_days=topic_days,
        total_tips=total + archived,
        archived_tips=archived,
    )


async def _topics(
    redis: Redis[bytes], today: date, days: int
) -> tuple[list[tuple[str, dict[str, int]]], list[str]]:
    """Topic → locale → count over the last `days` days, most asked first."""
    per_topic: dict[str, Counter[str]] = defaultdict(Counter)
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(days):
            pipe.hgetall(TOPICS_PREFIX + (today - timedelta(days=n)).isoformat())
        rows: list[dict[bytes, bytes]] = await pipe.execute()
    locales: set[str] = set()
    for row in rows:
        for name, value in row.items():
            locale, _, topic = name.decode(errors="replace").partition(":")
            if topic:
                per_topic[topic][locale] += _int(value)
                locales.add(locale)
    ordered = sorted(per_topic.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    preferred = [loc for loc in ("fr", "bm", "en") if loc in locales]
    return [(t, dict(c)) for t, c in ordered], preferred + sorted(locales - set(preferred))


_LEADING_SYMBOLS = re.compile(r"^[^\w«(]+", re.UNICODE)


def topic_labels(responses_dir: Path) -> dict[str, str]:
    """French labels of the bot's topics (`topic.<name>` in responses/messages), without
    their emoji; empty when the files cannot be read (the page then shows raw names)."""
    found: dict[str, str] = {}
    for path in sorted((responses_dir / "messages").glob("*.yml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        messages = data.get("messages") if isinstance(data, dict) else None
        if not isinstance(messages, dict):
            continue
        for key, value in messages.items():
            if isinstance(key, str) and key.startswith("topic.") and isinstance(value, dict):
                text = value.get("text")
                if isinstance(text, str):
                    found[key[len("topic.") :]] = _LEADING_SYMBOLS.sub("", text).strip()
    return found
