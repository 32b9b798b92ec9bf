"""What a counsellor records when ending a conversation, and the anonymous counts made of it.

A summary is three choices from fixed lists (topic, risk assessed, the directory service
the young person was referred to, or none): never text, never who. It is not kept as such:
closing the conversation adds it to the day's counters, one Redis hash per day
(`sini:counsel:summary:<day>`), in the same transaction as the close. Waiting time (request
to first claim) and duration (first claim to the end) are counted by whole minute, so a
median can be read back without keeping any one conversation's times.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from enum import Enum

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from sini.counselling.model import Conversation, Risk
from sini.redis import PREFIX, STATS_TTL_SECONDS

NO_REFERRAL = "none"  # the referral counter of conversations that ended without one
UNSUMMARISED = "unsummarised"  # conversations the young person ended (/stop): no summary


class Topic(str, Enum):
    DRUGS = "drugs"
    TRAFFICKING = "trafficking"  # trafficking or migration
    FAMILY = "family"
    VIOLENCE = "violence"
    MENTAL_HEALTH = "mental_health"
    OTHER = "other"


class Summary(msgspec.Struct, frozen=True):
    """The end-of-conversation form. `referral`: a directory service id, or None."""

    topic: Topic
    risk: Risk
    referral: str | None = None


def summary_key(day: date) -> str:
    return f"{PREFIX}:counsel:summary:{day.isoformat()}"


def count(pipe: Pipeline[bytes], summary: Summary | None, ended: Conversation, at: float) -> None:
    """Queue on `pipe` the counters of `ended` (a conversation ending at `at`, epoch
    seconds) and its `summary` — None when the young person ended it before the
    counsellor could write one — under the day it ends."""
    key = summary_key(datetime.fromtimestamp(at, timezone.utc).date())
    pipe.hincrby(key, "conversations", 1)
    if summary is None:
        pipe.hincrby(key, UNSUMMARISED, 1)
    else:
        pipe.hincrby(key, f"topic:{summary.topic.value}", 1)
        pipe.hincrby(key, f"risk:{summary.risk.name.lower()}", 1)
        pipe.hincrby(key, f"referral:{summary.referral or NO_REFERRAL}", 1)
    if ended.claimed is not None:
        pipe.hincrby(key, f"wait:{_minutes(ended.claimed - ended.requested)}", 1)
        pipe.hincrby(key, f"duration:{_minutes(at - ended.claimed)}", 1)
    pipe.expire(key, STATS_TTL_SECONDS)


@dataclass
class Figures:
    """The counts over some days: conversations each day (oldest first), the median wait
    and duration in minutes (None: nothing counted), and the outcomes."""

    per_day: list[tuple[date, int]] = field(default_factory=list)
    median_wait: int | None = None
    median_duration: int | None = None
    topics: dict[Topic, int] = field(default_factory=dict)
    risks: dict[Risk, int] = field(default_factory=dict)
    referrals: dict[str, int] = field(default_factory=dict)  # service id (or NO_REFERRAL)
    unsummarised: int = 0  # of the conversations, those the young person ended

    @property
    def total(self) -> int:
        return sum(n for _, n in self.per_day)


async def figures(redis: Redis[bytes], days: Iterable[date]) -> Figures:
    """The counters of `days`, added up."""
    result = Figures()
    waits: dict[int, int] = {}
    durations: dict[int, int] = {}
    risks = {r.name.lower(): r for r in Risk}
    for day in sorted(days):
        counters = {k.decode(): int(v) for k, v in (await redis.hgetall(summary_key(day))).items()}
        result.per_day.append((day, counters.pop("conversations", 0)))
        result.unsummarised += counters.pop(UNSUMMARISED, 0)
        for name, n in counters.items():
            kind, _, value = name.partition(":")
            match kind:
                case "topic" if value in Topic._value2member_map_:
                    result.topics[Topic(value)] = result.topics.get(Topic(value), 0) + n
                case "risk" if value in risks:
                    result.risks[risks[value]] = result.risks.get(risks[value], 0) + n
                case "referral":
                    result.referrals[value] = result.referrals.get(value, 0) + n
                case "wait":
                    waits[int(value)] = waits.get(int(value), 0) + n
                case "duration":
                    durations[int(value)] = durations.get(int(value), 0) + n
    result.median_wait = median(waits)
    result.median_duration = median(durations)
    return result


def median(histogram: dict[int, int]) -> int | None:
    """The median of values counted as {value: how many} (the lower one of an even count)."""
    total = sum(histogram.values())
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if 2 * seen >= total:
            return value
    return None


def _minutes(seconds: float) -> int:
    return max(0, round(seconds / 60))
