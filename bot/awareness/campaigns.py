"""Campaign deep links and the anonymous counters staff read to see what works.

A campaign is a deep-link payload (`https://t.me/<bot>?start=<payload>`, printed on a
poster as a QR code or read out in a radio spot) that opens a quiz or a message directly.
The registry is one Redis hash, `sini:campaigns`: payload → JSON {target, label, created}.

Counters are per day, language and campaign (or quiz), in hashes that hold nothing but
numbers: `sini:stats:campaigns:<day>` with fields `<payload>:<lang>:<event>` and
`sini:stats:quizzes:<day>` with fields `<quiz>:<lang>:<event>`. No chat id, pseudonym or
text ever goes in them, so they can be shown to anyone on staff and kept for a year.
Only registered payloads are counted: anyone can type `/start whatever`, and counting
unknown payloads would let a stranger grow the hash without bound.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import segno
from redis.asyncio import Redis

from bot.awareness.quiz import QUIZ_ID
from sini.redis import PREFIX, STATS_TTL_SECONDS

PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
BOT_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{4,31}")  # Telegram: 5-32 characters
LOCALE = re.compile(r"[a-z]{2,3}")
REGISTRY_KEY = f"{PREFIX}:campaigns"
MAX_LABEL = 100

CampaignEvent = Literal["started", "quiz_completed"]
QuizEvent = Literal["started", "completed"]
SCORE_SUM = "score_sum"  # summed score of completed quizzes; / completions = average


class CampaignError(ValueError):
    """A campaign that cannot be created: bad payload, unknown target, duplicate."""


def valid_payload(payload: str | None) -> bool:
    """Telegram accepts 1-64 characters of A-Za-z0-9_- after `?start=`; anything else is
    not one of ours and falls back to the normal welcome."""
    return payload is not None and PAYLOAD.fullmatch(payload) is not None


def payload_from_label(label: str) -> str:
    """A readable payload for a label ("Affiche lycée Ségou" → "affiche-lycee-segou"), for
    `helpline campaigns add` when staff give no payload of their own."""
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9_]+", "-", ascii_text).strip("-").lower()[:64].strip("-")
    if not slug:
        raise CampaignError(f"cannot make a payload from {label!r}: give one")
    return slug


def link(bot_username: str, payload: str) -> str:
    """The deep link that opens Sini with this campaign."""
    username = bot_username.removeprefix("@")
    if not BOT_USERNAME.fullmatch(username):
        raise CampaignError(f"{bot_username!r} is not a Telegram bot username")
    if not valid_payload(payload):
        raise CampaignError(f"{payload!r} is not a valid payload (1-64 of A-Za-z0-9_-)")
    return f"https://t.me/{username}?start={payload}"


def qr_png(url: str, path: Path, scale: int = 10) -> Path:
    """Write the QR code of `url` as a PNG for posters (segno: pure Python, no Pillow).

    Error correction "Q" (25 % of the code may be damaged) because posters get folded,
    rained on and photographed at an angle; the quiet zone is the standard 4 modules."""
    path.parent.mkdir(parents=True, exist_ok=True)
    segno.make_qr(url, error="q").save(str(path), kind="png", scale=scale, border=4)
    return path


@dataclass(frozen=True)
class Campaign:
    """A registered deep link: what it opens, a label for staff, the day it was made, and
    the language of the poster or spot (a Bambara poster opens in Bambara)."""

    payload: str
    target: str
    label: str
    created: date
    locale: str | None = None

    def to_json(self) -> str:
        data = {"target": self.target, "label": self.label, "created": self.created.isoformat()}
        if self.locale:
            data["locale"] = self.locale
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, payload: str, raw: bytes | str) -> Campaign | None:
        """None for an entry that is not readable (written by hand, or an older format)."""
        try:
            data = json.loads(raw)
            return cls(
                payload=payload,
                target=str(data["target"]),
                label=str(data["label"]),
                created=date.fromisoformat(str(data["created"])),
                locale=str(data["locale"]) if data.get("locale") else None,
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class StatsRow:
    """One line of the counters: a campaign (or quiz), a day, a language."""

    day: date
    subject: str
    locale: str
    started: int = 0
    completed: int = 0
    score_sum: int = 0

    @property
    def average_score(self) -> float | None:
        return self.score_sum / self.completed if self.completed else None


class CampaignStore:
    """The campaign registry and the awareness counters, in one Redis."""

    def __init__(self, redis: Redis[bytes]) -> None:
        self.redis = redis

    # ----------------------------------------------------------------- registry

    async def add_campaign(
        self,
        payload: str,
        target: str,
        label: str,
        created: date,
        *,
        targets: Collection[str],
        locale: str | None = None,
    ) -> Campaign:
        """Register a payload. `targets` are the quiz and message ids that exist now: a
        poster must not be printed with a link that leads nowhere. A payload is never
        reused for something else (posters already printed would change meaning)."""
        if not valid_payload(payload):
            raise CampaignError(f"{payload!r} is not a valid payload (1-64 of A-Za-z0-9_-)")
        if target not in targets:
            raise CampaignError(f"{target!r} is neither a quiz nor a message")
        label = " ".join(label.split())
        if not label or len(label) > MAX_LABEL:
            raise CampaignError(f"the label must be 1-{MAX_LABEL} characters")
        campaign = Campaign(payload, target, label, created, locale)
        if not await self.redis.hsetnx(REGISTRY_KEY, payload, campaign.to_json()):
            raise CampaignError(f"campaign {payload!r} already exists")
        return campaign

    async def list_campaigns(self) -> list[Campaign]:
        """Every readable campaign, oldest first."""
        raw = await self.redis.hgetall(REGISTRY_KEY)
        campaigns = [
            Campaign.from_json(payload.decode(errors="replace"), value)
            for payload, value in raw.items()
        ]
        found = [c for c in campaigns if c is not None]
        return sorted(found, key=lambda c: (c.created, c.payload))

    async def get(self, payload: str | None) -> Campaign | None:
        if not valid_payload(payload):
            return None
        assert payload is not None
        raw = await self.redis.hget(REGISTRY_KEY, payload)
        return None if raw is None else Campaign.from_json(payload, raw)

    async def resolve(self, payload: str | None) -> str | None:
        """The target a payload opens, or None (malformed or unknown: normal welcome).
        Malformed payloads never reach Redis."""
        campaign = await self.get(payload)
        return campaign.target if campaign else None

    async def open(self, payload: str | None, day: date, locale: str) -> Campaign | None:
        """`/start <payload>`: resolve it and, for a registered campaign, count one
        conversation started. The one call the assistant needs for a deep link."""
        campaign = await self.get(payload)
        if campaign is not None:
            await self.count_campaign(day, campaign.payload, locale, "started")
        return campaign

    # ----------------------------------------------------------------- counters

    async def count_campaign(
        self,
        day: date,
        payload: str,
        locale: str,
        event: CampaignEvent,
        score: int | None = None,
    ) -> None:
        """One event for a campaign; a completed quiz adds its score for the average."""
        if not valid_payload(payload):
            raise ValueError("not a payload")
        await self._count(
            f"{PREFIX}:stats:campaigns:{day.isoformat()}", payload, locale, event, score
        )

    async def count_quiz(
        self,
        day: date,
        quiz_id: str,
        locale: str,
        event: QuizEvent,
        score: int | None = None,
    ) -> None:
        """One event for a quiz; a completed quiz adds its score for the average."""
        if not QUIZ_ID.fullmatch(quiz_id):
            raise ValueError("not a quiz id")
        await self._count(
            f"{PREFIX}:stats:quizzes:{day.isoformat()}", quiz_id, locale, event, score
        )

    async def quiz_started(self, day: date, quiz_id: str, locale: str) -> None:
        await self.count_quiz(day, quiz_id, locale, "started")

    async def quiz_completed(
        self, day: date, quiz_id: str, locale: str, score: int, campaign: str | None = None
    ) -> None:
        """A quiz reached its score: counted for the quiz, and for the campaign that
        brought the conversation if there is one (the chat state remembers its payload)."""
        await self.count_quiz(day, quiz_id, locale, "completed", score)
        if campaign is not None and valid_payload(campaign):
            await self.count_campaign(day, campaign, locale, "quiz_completed", score)

    async def _count(
        self, key: str, subject: str, locale: str, event: str, score: int | None
    ) -> None:
        if not LOCALE.fullmatch(locale):
            raise ValueError("not a locale")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, f"{subject}:{locale}:{event}", 1)
            if score is not None:
                pipe.hincrby(key, f"{subject}:{locale}:{SCORE_SUM}", max(score, 0))
            pipe.expire(key, STATS_TTL_SECONDS)
            await pipe.execute()

    async def campaign_stats(self, days: Iterable[date]) -> list[StatsRow]:
        """Counters per day, campaign and language (started, quizzes completed, scores)."""
        return await self._read("campaigns", days, completed_event="quiz_completed")

    async def quiz_stats(self, days: Iterable[date]) -> list[StatsRow]:
        """Counters per day, quiz and language (started, completed, scores)."""
        return await self._read("quizzes", days, completed_event="completed")

    async def _read(self, kind: str, days: Iterable[date], completed_event: str) -> list[StatsRow]:
        rows: list[StatsRow] = []
        for day in days:
            raw = await self.redis.hgetall(f"{PREFIX}:stats:{kind}:{day.isoformat()}")
            table: dict[tuple[str, str], dict[str, int]] = {}
            for field, value in raw.items():
                subject, _, rest = field.decode(errors="replace").partition(":")
                locale, _, event = rest.partition(":")
                table.setdefault((subject, locale), {})[event] = int(value)
            for (subject, locale), counts in sorted(table.items()):
                rows.append(
                    StatsRow(
                        day=day,
                        subject=subject,
                        locale=locale,
                        started=counts.get("started", 0),
                        completed=counts.get(completed_event, 0),
                        score_sum=counts.get(SCORE_SUM, 0),
                    )
                )
        return rows


def format_stats(rows: Iterable[StatsRow], subject_header: str = "campaign") -> str:
    """A plain-text table for `helpline stats` (average score out of the quiz length)."""
    lines = [f"{'day':<10}  {subject_header:<24} {'lang':<4} {'started':>7} {'done':>6} {'avg':>5}"]
    for row in rows:
        average = "-" if row.average_score is None else f"{row.average_score:.1f}"
        lines.append(
            f"{row.day.isoformat():<10}  {row.subject[:24]:<24} {row.locale:<4} "
            f"{row.started:>7} {row.completed:>6} {average:>5}"
        )
    return "\n".join(lines)
