"""Acting on several tips at once from the queue, through the web app against the real
Redis: reject as spam, close, assign, label, mark important — each with a reason, each tip
changed and audited in its own transaction, tips the action does not fit left as they were;
and the labels and the flag then filter the queue."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from starlette.testclient import TestClient

from sini.settings import Settings
from staff.audit import AUDIT_KEY
from tests.staff.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    REVIEWER,
    REVIEWER_PASSWORD,
    Submitted,
    arun,
    login,
    submit_tip,
)
from tips.desk import Desk
from tips.model import Status


def _tips(desk: str, settings: Settings, count: int) -> list[Submitted]:
    return [submit_tip(desk, settings.secret, f"publicité n° {n}") for n in range(count)]


def _bulk(client: TestClient, csrf: str, tips: list[Submitted], **fields: str) -> dict[str, str]:
    """Post a bulk action; the notice and filters of the queue it returns to."""
    response = client.post(
        "/bulk",
        data={"csrf": csrf, "tip": [t.lookup for t in tips], **fields},
        follow_redirects=False,
    )
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def test_rejecting_several_tips_as_spam_with_one_reason(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    spam = _tips(desk, staff_settings, 3)
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    back = "status=new&category=drug_trafficking"
    notice = _bulk(client, csrf, spam, action="reject", reason="PUB-RAISON-77", back=back)
    assert notice == {"status": "new", "category": "drug_trafficking", "msg": "bulk_done"}

    async def statuses(redis: Redis[bytes]) -> list[Status]:
        return [(await Desk(redis).get(t.lookup)).status for t in spam]

    assert arun(desk, statuses) == [Status.REJECTED] * 3
    page = client.get(f"/tips/{spam[0].lookup}").text
    assert "PUB-RAISON-77" in page  # in the tip's sealed history
    entries = SyncRedis.from_url(desk).lrange(AUDIT_KEY, 0, -1)
    moves = [e for e in entries if b'"tip.status"' in e]
    assert len(moves) == 3
    assert all("Nouveau → Rejeté (spam)" in e.decode() for e in moves)
    assert not any(b"PUB-RAISON-77" in e for e in entries)


def test_tips_an_action_does_not_fit_are_left_as_they_were(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    new, reviewed = _tips(desk, staff_settings, 2)
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    client.post(
        f"/tips/{reviewed.lookup}/status", data={"csrf": csrf, "status": "in_review", "reason": "r"}
    )
    notice = _bulk(client, csrf, [new, reviewed], action="close", reason="traité")
    assert notice["msg"] == "bulk_partial"
    page = client.get("/?" + "&".join(f"{k}={v}" for k, v in notice.items())).text
    assert "Action appliquée ; les signalements où elle n&#39;était pas permise" in page

    async def statuses(redis: Redis[bytes]) -> tuple[Status, Status]:
        desk_ = Desk(redis)
        return (await desk_.get(new.lookup)).status, (await desk_.get(reviewed.lookup)).status

    assert arun(desk, statuses) == (Status.NEW, Status.CLOSED)


def test_a_bulk_action_needs_tips_a_reason_and_its_argument(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    tips = _tips(desk, staff_settings, 1)
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    assert _bulk(client, csrf, [], action="reject", reason="r")["msg"] == "bulk_none"
    assert _bulk(client, csrf, tips, action="reject", reason=" ")["msg"] == "bulk_reason"
    assert _bulk(client, csrf, tips, action="assign", reason="r")["msg"] == "bulk_argument"
    assert _bulk(client, csrf, tips, action="label", reason="r")["msg"] == "bulk_argument"
    notice = _bulk(client, csrf, tips, action="assign", reason="r", account="personne")
    assert notice["msg"] == "unknown_account"
    assert "Cochez au moins un signalement." in client.get("/?msg=bulk_none").text


def test_assigning_labelling_and_flagging_from_the_queue_then_filtering(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    first, second, other = _tips(desk, staff_settings, 3)
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    pair = [first, second]
    assert (
        _bulk(client, csrf, pair, action="assign", reason="zone", account=REVIEWER)["msg"]
        == "bulk_done"
    )
    _bulk(client, csrf, [first], action="label", reason="même réseau", label="Réseau  Kati")
    _bulk(client, csrf, [second], action="label", reason="même réseau", label="réseau kati")
    _bulk(client, csrf, [second], action="important", reason="enfants en danger")

    labelled = client.get("/?label=RÉSEAU KATI").text
    assert first.lookup in labelled
    assert second.lookup in labelled
    assert other.lookup not in labelled
    assert labelled.count(">Réseau Kati</span>") == 2  # one spelling
    important = client.get("/?important=1").text
    assert second.lookup in important
    assert first.lookup not in important
    assigned = client.get(f"/?assignee={REVIEWER}").text
    assert first.lookup in assigned
    assert other.lookup not in assigned
    # The reason of each change is a note on the tip.
    assert "enfants en danger" in client.get(f"/tips/{second.lookup}").text
    entries = b"".join(SyncRedis.from_url(desk).lrange(AUDIT_KEY, 0, -1)).decode()
    assert entries.count('"tip.assign"') == 2
    assert entries.count('"tip.label"') == 2
    assert entries.count('"tip.important"') == 1
    assert "enfants en danger" not in entries


def test_received_between_two_days_is_a_filter_kept_in_the_url(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    now = datetime.now(timezone.utc)
    old = submit_tip(desk, staff_settings.secret, "ancien", now=now - timedelta(days=20))
    recent = submit_tip(desk, staff_settings.secret, "récent", now=now)
    login(client, REVIEWER, REVIEWER_PASSWORD)
    start = (now - timedelta(days=25)).date().isoformat()
    end = (now - timedelta(days=15)).date().isoformat()
    page = client.get(f"/?from={start}&to={end}").text
    assert old.lookup in page
    assert recent.lookup not in page
    assert f'value="{start}"' in page


def test_assigning_from_a_row_of_the_queue_comes_back_to_the_same_queue(
    client: TestClient, staff_settings: Settings, desk: str
) -> None:
    (tip,) = _tips(desk, staff_settings, 1)
    csrf = login(client, REVIEWER, REVIEWER_PASSWORD)
    page = client.get("/?status=new&q=publicite").text
    assert 'aria-label="Attribuer T-' in page
    response = client.post(
        f"/tips/{tip.lookup}/assign",
        data={"csrf": csrf, "account": REVIEWER, "queue": "status=new&q=publicite&evil=1"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/?status=new&q=publicite&msg=assigned"
    back = client.get(response.headers["location"]).text
    assert "Attribution enregistrée." in back
    assert f'<option value="{REVIEWER}" selected>' in back
    entries = b"".join(SyncRedis.from_url(desk).lrange(AUDIT_KEY, 0, -1)).decode()
    assert entries.count('"tip.assign"') == 1
