"""Pure parts of the dashboard: queue filters and priority, CSV cells, charts, statistics,
retention warnings and French formatting (statistics gathered from the real Redis)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from redis.asyncio import Redis

from sini.regions import Region
from sini.settings import PROJECT_ROOT
from staff import charts, queue, retention, stats
from staff.formatting import Formatter
from tests.staff.conftest import arun
from tips.model import Category, Elsewhere, Status, TipRecord, TipRegion
from tips.references import Reference

NOW = datetime(2025, 3, 14, 14, tzinfo=timezone.utc)


def record(
    lookup: str,
    category: Category = Category.DRUG_TRAFFICKING,
    status: Status = Status.NEW,
    region: TipRegion = Region.BAMAKO,
    age: timedelta = timedelta(hours=2),
    **extra: object,
) -> TipRecord:
    hour = NOW - age
    return TipRecord(
        lookup=lookup,
        status=status,
        category=category,
        region=region,
        created_hour=hour,
        updated_hour=hour,
        sealed=b"x",
        tipster_public_key=b"k" * 32,
        **extra,  # type: ignore[arg-type]
    )


RECORDS = [
    record("a", Category.OTHER, age=timedelta(days=40)),
    record("b", Category.CHILD_EXPLOITATION),
    record("c", Category.DRUG_TRAFFICKING, Status.CLOSED),
    record("d", Category.HUMAN_TRAFFICKING, Status.IN_REVIEW, Region.GAO, assigned_to="fatou"),
    record("e", Category.DRUG_TRAFFICKING, Status.FORWARDED, awaiting_reply=True),
]


def test_filter_parsing_ignores_unknown_values() -> None:
    wanted = queue.QueueFilter.parse(
        {
            "status": "new",
            "category": "nope",
            "region": "paris",
            "age": "lt7d",
            "mine": "1",
            "sort": "sideways",
        }
    )
    assert wanted == queue.QueueFilter(status=Status.NEW, age="lt7d", mine=True)
    assert wanted.as_params() == {"status": "new", "age": "lt7d", "mine": "1"}


def test_filters_and_sorts() -> None:
    def lookups(**params: str) -> list[str]:
        wanted = queue.QueueFilter.parse(params)
        return [r.lookup for r in queue.apply(RECORDS, wanted, "fatou", NOW)]

    assert lookups(region="gao") == ["d"]
    assert lookups(mine="1") == ["d"]
    assert lookups(age="gt30d") == ["a"]
    assert set(lookups(age="lt1d")) == {"b", "c", "d", "e"}
    assert lookups(status="closed") == ["c"]
    # Priority: children first, closed last; the old "other" tip has been climbing.
    ranked = lookups()
    assert ranked[0] == "b"
    assert ranked[-1] == "c"
    assert lookups(sort="oldest")[0] == "a"
    assert lookups(sort="newest")[-1] == "a"


def test_priority_levels() -> None:
    child = queue.priority(RECORDS[1], NOW)
    assert queue.priority_level(child) == "haute"
    assert queue.priority_level(queue.priority(RECORDS[2], NOW)) == "basse"
    awaiting = queue.priority(RECORDS[4], NOW)
    assert awaiting > queue.priority(replace(RECORDS[4], awaiting_reply=False), NOW)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+33", "'+33"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("OCS", "OCS"),
        (3, "3"),
        (None, ""),
    ],
)
def test_csv_cells_cannot_be_formulas(cell: object, expected: str) -> None:
    assert queue.csv_safe(cell) == expected


def test_csv_export_is_semicolon_separated_with_bom() -> None:
    text = queue.to_csv(RECORDS[:1], Formatter("fr"))
    assert text.startswith("\ufeffréférence;catégorie;")
    assert ";Autre;Bamako;Nouveau;2 févr. 2025 à 14:00;2 févr. 2025 à 14:00;;;0;non;a\r\n" in text
    referenced = queue.to_csv([replace(RECORDS[0], reference=Reference(25, 172))], Formatter("fr"))
    assert "\r\nT-25-0172;Autre;" in referenced


def test_charts_escape_labels_and_use_no_inline_style() -> None:
    svg = charts.stacked_columns(
        ["3 mars", "10 mars"], [("<b>x</b>", [1, 2]), ("y", [0, 5])], "Titre & co", str
    )
    bars = charts.horizontal_bars([("Ségou <script>", [3, 4])], ["fr", "bm"], "Sujets", str)
    for markup in (svg, bars):
        assert markup.startswith("<svg")
        assert "style=" not in markup
        assert "<script" not in markup
        assert "<b>" not in markup
    assert "&lt;b&gt;x&lt;/b&gt;" in svg
    assert "Titre &amp; co" in svg
    assert charts.nice_step(7) == 2
    assert charts.nice_step(0) == 1
    assert charts.nice_step(430) == 100


def test_statistics_merge_live_archived_review_and_topics(redis_url: str) -> None:
    today = date(2025, 3, 14)
    records = [
        record("a", Category.HUMAN_TRAFFICKING, region=Region.MOPTI, forwarded_to="OCS"),
        record("b", Category.DRUG_TRAFFICKING, region=Region.MOPTI, age=timedelta(weeks=2)),
        record("c", Category.DRUG_TRAFFICKING, age=timedelta(weeks=30)),  # out of range
    ]

    async def job(client: Redis) -> stats.Statistics:
        await stats.archive(client, [record("z", Category.CHILD_EXPLOITATION, region=Region.KAYES)])
        await stats.record_first_review(client, NOW - timedelta(hours=30), NOW)
        await stats.record_first_review(client, NOW - timedelta(hours=2), NOW)
        await client.hset(
            "sini:stats:topics:2025-03-14", mapping={"fr:drug_info": 3, "bm:drug_info": 2}
        )
        await client.hset("sini:stats:topics:2025-03-01", mapping={"en:rights": 1})
        await client.hset("sini:stats:topics:2024-12-01", mapping={"fr:too_old": 9})
        return await stats.gather(client, records, today)

    figures = arun(redis_url, job)
    assert len(figures.weeks) == 12
    assert figures.weeks[-1] == date(2025, 3, 10)
    assert figures.per_week[Category.HUMAN_TRAFFICKING][-1] == 1
    assert figures.per_week[Category.DRUG_TRAFFICKING][-3] == 1
    assert figures.per_week[Category.CHILD_EXPLOITATION][-1] == 1  # archived
    assert figures.total_tips == 3
    assert figures.archived_tips == 1
    assert dict(figures.regions) == {"mopti": 2, "kayes": 1}
    assert dict(figures.review_buckets) == {
        "moins d'1 h": 0,
        "1 à 6 h": 1,
        "6 à 24 h": 0,
        "1 à 3 jours": 1,
        "3 à 7 jours": 0,
        "plus de 7 jours": 0,
    }
    reviewed = [(w, n, m) for w, n, m in figures.review_weeks if n]
    assert reviewed == [(date(2025, 3, 10), 2, 16.0)]  # both created that week: mean 16 h
    assert figures.forwarded == [("OCS", 1)]
    assert figures.topics == [("drug_info", {"fr": 3, "bm": 2}), ("rights", {"en": 1})]
    assert figures.topic_locales == ["fr", "bm", "en"]


def test_topic_labels_come_from_the_bot_content() -> None:
    found = stats.topic_labels(PROJECT_ROOT / "responses")
    assert found.get("drug_info") == "Une drogue"
    assert stats.topic_labels(PROJECT_ROOT / "does-not-exist") == {}


def test_retention_warning_72_hours_ahead() -> None:
    closed = record("c", status=Status.CLOSED, age=timedelta(days=88))
    fresh = record("f", status=Status.REJECTED, age=timedelta(days=10))
    working = record("w", status=Status.IN_REVIEW, age=timedelta(days=200))
    assert retention.expires_at(working, 90) is None
    assert retention.expires_at(closed, 90) == closed.updated_hour + timedelta(days=90)
    soon = [r for r in (closed, fresh, working) if retention.expires_soon(r, 90, 72, NOW)]
    assert soon == [closed]


def test_french_formatting() -> None:
    fmt = Formatter("fr")
    assert fmt.datetime(NOW) == "14 mars 2025 à 14:00"
    assert fmt.number(12345) == "12\u202f345" or fmt.number(12345) == "12\xa0345"
    assert fmt.decimal1(2.5) == "2,5"
    assert fmt.age(NOW - timedelta(days=3), NOW) == "il y a 3 jours"
    assert fmt.age(NOW, NOW) == "il y a moins d'une heure"
    assert fmt.duration(0.0) == "moins d'une heure"
    assert fmt.duration(5) == "5\xa0heures"
    assert fmt.duration(80) == "3\xa0jours"


def test_every_region_and_category_has_a_french_label() -> None:
    from staff import labels

    assert set(labels.ELSEWHERE) == set(Elsewhere)
    assert labels.region("segou") == "Ségou"
    assert labels.region("abroad") == "À l'étranger"
    assert labels.region("atlantis") == "atlantis"  # a key from a later version shows as is
    assert {c.value for c in Category} == set(labels.CATEGORIES)
    assert {s.value for s in Status} == set(labels.STATUSES)


def test_csv_export_cannot_fail_on_what_a_cell_holds() -> None:
    nasty = "OC\x00S\x1b[1m\u202e\udcff"
    rows = [record("a", Category.OTHER, Status.FORWARDED, forwarded_to=nasty)]
    text = queue.to_csv(rows, Formatter("fr"))
    text.encode("utf-8")  # no lone surrogate left
    parsed = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert parsed[1][7] == "OCS[1m"


def test_compact_charts_fit_a_phone_and_keep_every_label() -> None:
    weeks = [f"{n} mars" for n in range(1, 13)]
    series = [(f"Catégorie au nom long {n}", [n] * 12) for n in range(5)]
    compact = charts.stacked_columns(weeks, series, "Semaines", str, compact=True)
    wide = charts.stacked_columns(weeks, series, "Semaines", str)
    assert f'viewBox="0 0 {charts.COMPACT_WIDTH} ' in compact
    assert 'viewBox="0 0 760 320"' in wide
    # Every series is in the legend, which wraps; x labels are thinned so none overlap.
    for name, _ in series:
        assert name in compact
    assert ">1 mars</text>" in compact
    assert compact.count("mars</text>") < 12
    assert wide.count("mars</text>") == 12
    bars = charts.horizontal_bars(
        [("Un sujet de conversation au nom long", [3, 4])],
        ["fr", "bm"],
        "Sujets",
        str,
        compact=True,
    )
    assert 'x="0" y="' in bars  # the label above its bar, from the left edge
    assert f'viewBox="0 0 {charts.COMPACT_WIDTH} ' in bars
