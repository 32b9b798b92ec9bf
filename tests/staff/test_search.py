"""Searching what tipsters wrote, and the first words of each tip in the queue, through the
web app against the real Redis: words (any case, any accents) or a reference find tips,
filters narrow them and stay in the URL, a search is audited without its words, the text
opened for searching lives in the dashboard's memory only — caught up at each search,
across dashboards — and is forgotten when no one is signed in any more."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from starlette.testclient import TestClient

from sini import logging as logs
from sini.regions import Region
from sini.settings import Settings
from staff.app import create_app
from staff.audit import AUDIT_KEY
from staff.search import fold, preview, terms
from tests.staff.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    REVIEWER,
    REVIEWER_PASSWORD,
    Clock,
    arun,
    login,
    staff_config,
    submit_tip,
)
from tips.desk import Desk
from tips.model import Category, Status


def test_words_are_compared_without_case_or_accents() -> None:
    assert fold("Ségou, GARE Routière") == "segou, gare routiere"
    assert terms("  Tramadol   l'ÉCOLE ") == ["tramadol", "l", "ecole"]
    assert preview("un deux trois quatre", words=2) == "un deux …"
    assert preview("un deux", words=2) == "un deux"


def test_staff_find_tips_by_their_words_or_their_reference(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    school = submit_tip(desk, staff_settings.secret, "Le dealer vend du Tramadol près de l'école")
    market = submit_tip(
        desk, staff_settings.secret, "Des filles enfermées au marché", Category.HUMAN_TRAFFICKING
    )
    gao = submit_tip(desk, staff_settings.secret, "Tramadol au marché de Gao", region=Region.GAO)
    login(client, REVIEWER, REVIEWER_PASSWORD)

    found = client.get("/?q=tramadol ECOLE").text
    assert school.lookup in found
    assert market.lookup not in found
    assert gao.lookup not in found
    assert "1 signalement" in found

    both = client.get("/?q=marche").text  # without its accent
    assert market.lookup in both
    assert gao.lookup in both
    assert school.lookup not in both
    # Filters narrow a search, and all of it stays in the URL (the pages keep it).
    narrowed = client.get("/?q=marche&region=gao").text
    assert gao.lookup in narrowed
    assert market.lookup not in narrowed
    assert 'value="marche"' in narrowed

    reference = arun(desk, lambda c: Desk(c).get(market.lookup)).reference
    by_reference = client.get(f"/?q={str(reference).lower()}").text
    assert market.lookup in by_reference
    assert gao.lookup not in by_reference

    assert "Aucun signalement" in client.get("/?q=cocaïne").text


def test_the_queue_shows_the_first_words_of_each_tip(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    words = " ".join(f"mot{n}" for n in range(60))
    tip = submit_tip(desk, staff_settings.secret, words)
    login(client, REVIEWER, REVIEWER_PASSWORD)
    page = client.get("/").text
    assert f'href="/tips/{tip.lookup}"' in page
    assert "mot0 mot1 mot2" in page
    assert "mot23 …" in page
    assert "mot24" not in page


def test_a_search_is_audited_without_its_words_and_never_logged(
    staff_settings: Settings, desk: str, clock: Clock
) -> None:
    submit_tip(desk, staff_settings.secret, "Réseau CHERCHE-SECRET-91 à Kayes")
    stream = io.StringIO()
    logs.configure("DEBUG", "json", stream=stream)
    try:
        app = create_app(replace(staff_settings), desk, staff_config(), session_clock=clock)
        with TestClient(app, base_url="http://127.0.0.1") as web:
            login(web, ADMIN, ADMIN_PASSWORD)
            assert "1 signalement" in web.get("/?q=cherche-secret-91").text
            audit = web.get("/audit").text
    finally:
        logs.configure("DEBUG")
    assert "Recherche dans les signalements" in audit
    assert "1 résultats" in audit
    redis = SyncRedis.from_url(desk)
    entries = b"".join(redis.lrange(AUDIT_KEY, 0, -1)).decode()
    assert "tip.search" in entries
    dump = entries + "".join(k.decode() for k in redis.keys("*")) + stream.getvalue()
    assert "cherche" not in dump.lower()


def test_tips_stored_since_the_last_search_are_found_and_purged_ones_forgotten(
    staff_settings: Settings, desk: str, clock: Clock
) -> None:
    """Two dashboards on one Redis: each opens what it has not seen yet at every search."""
    first = create_app(staff_settings, desk, staff_config(), session_clock=clock)
    second = create_app(staff_settings, desk, staff_config(), session_clock=clock)
    with (
        TestClient(first, base_url="http://127.0.0.1") as one,
        TestClient(second, base_url="http://127.0.0.1") as two,
    ):
        login(one, REVIEWER, REVIEWER_PASSWORD)
        csrf = login(two, ADMIN, ADMIN_PASSWORD)
        early = submit_tip(desk, staff_settings.secret, "pirogue de Mopti")
        assert early.lookup in one.get("/?q=pirogue").text
        late = submit_tip(desk, staff_settings.secret, "une autre pirogue")
        assert late.lookup in one.get("/?q=pirogue").text  # stored after the first search
        for status in ("in_review", "closed"):
            two.post(
                f"/tips/{early.lookup}/status", data={"csrf": csrf, "status": status, "reason": "r"}
            )

        async def purge(client: Redis[bytes]) -> int:
            return await Desk(client).purge_closed(
                0, datetime.now(timezone.utc) + timedelta(hours=2)
            )

        assert arun(desk, purge) == 1
        found = one.get("/?q=pirogue").text
        assert late.lookup in found
        assert early.lookup not in found
        assert len(first.state.staff.search) == 1


def test_the_opened_text_is_forgotten_when_the_last_session_ends(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    submit_tip(desk, staff_settings.secret, "charrette de cannabis")
    index = client.app.state.staff.search  # type: ignore[attr-defined]
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    client.get("/?q=cannabis")
    assert len(index) == 1
    client.post("/logout", data={"csrf": csrf})
    assert len(index) == 0


def test_a_closed_tip_is_still_found_and_its_status_filter_applies(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret, "moto volée à Sikasso")
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    client.post(
        f"/tips/{tip.lookup}/status", data={"csrf": csrf, "status": "rejected", "reason": "r"}
    )
    assert tip.lookup in client.get("/?q=moto").text
    assert tip.lookup not in client.get(f"/?q=moto&status={Status.NEW.value}").text
