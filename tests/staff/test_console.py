"""The counselling console through Starlette's TestClient, against the real Redis: who may
use it, the queue, the claim race between two dashboards, replies, the end, the audit."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

from redis.asyncio import Redis
from starlette.testclient import TestClient

from bot.content import load_catalog
from bot.dialogue.cards import service_card
from bot.services.directory import load_services
from sini.counselling.model import Origin, Risk, Status
from sini.counselling.store import Counselling, Queued
from sini.settings import Settings
from staff.accounts import Role
from staff.app import create_app
from staff.audit import AuditLog
from tests.staff.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    COUNSELLOR,
    COUNSELLOR_PASSWORD,
    MARKER,
    REVIEWER,
    REVIEWER_PASSWORD,
    add_account,
    arun,
    login,
    staff_config,
    submit_tip,
)
from tests.support.redis_scan import everything_at
from tests.tips.conftest import gps_photo
from tips.media import prepare_attachment
from tips.model import AttachmentKind

CHAT_ID = 765_432_109
WORDS = "SECRET-AWA je ne sais plus quoi faire"
SUMMARY = {"topic": "family", "risk": "1", "referral": ""}  # the end form, as a browser sends it


def request(
    url: str,
    settings: Settings,
    risk: Risk = Risk.ORDINARY,
    words: str = WORDS,
    ago: float = 0.0,
) -> str:
    """A young person asks for a counsellor (as the bot does, `ago` seconds ago) and
    writes; the id."""

    async def job(client: Redis) -> Queued:
        counselling = Counselling(client, settings.secret, clock=lambda: time.time() - ago)
        queued = await counselling.request(CHAT_ID, "bm", Origin.CHECK_IN, risk)
        await counselling.say(queued.conversation, words)
        return queued

    return arun(url, job).conversation


def pseudonym(url: str, settings: Settings, conversation: str) -> int:
    async def job(client: Redis) -> int:
        return (await Counselling(client, settings.secret).get(conversation)).pseudonym

    return arun(url, job)


def notice(response: object) -> str:
    location = urlsplit(response.headers["location"])  # type: ignore[attr-defined]
    return parse_qs(location.query)["msg"][0]


def post(client: TestClient, csrf: str, path: str, **data: str) -> str:
    response = client.post(path, data={"csrf": csrf, **data}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return notice(response)


def test_counsellors_and_admins_use_the_console_reviewers_do_not(
    client: TestClient, counsellor: str
) -> None:
    login(client, REVIEWER, REVIEWER_PASSWORD)
    assert client.get("/console").status_code == 403
    assert "Écoute" not in client.get("/").text
    login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    assert client.get("/console").status_code == 200
    login(client, ADMIN, ADMIN_PASSWORD)
    assert client.get("/console").status_code == 200


def test_a_counsellor_sees_neither_the_tip_queue_nor_a_tip(
    client: TestClient, counsellor: str, staff_settings: Settings, desk: str
) -> None:
    tip = submit_tip(desk, staff_settings.secret, photo=True)
    csrf = login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    home = client.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/console")
    assert ">File</a>" not in client.get("/console").text  # the queue is not in the menu
    for path in (f"/tips/{tip.lookup}", f"/tips/{tip.lookup}/attachments/0", "/ref?code=x"):
        page = client.get(path)
        assert page.status_code == 403, path
        assert MARKER not in page.text
    for path in (f"/tips/{tip.lookup}/note", "/export"):
        refused = client.post(path, data={"csrf": csrf, "text": "x"}, follow_redirects=False)
        assert refused.status_code in (303, 403), path

    async def refusals(redis: Redis) -> list[str]:
        entries, _ = await AuditLog(redis, staff_settings.secret).page(0, 50)
        return [e.target for e in entries if e.action == "access.refused"]

    assert len(arun(desk, refusals)) == 5
    assert client.get("/stats").status_code == 200
    assert client.get("/account/password").status_code == 200


def test_the_queue_shows_the_most_urgent_first_and_no_identity(
    client: TestClient, counsellor: str, staff_settings: Settings, desk: str
) -> None:
    ordinary = request(desk, staff_settings)
    crisis = request(desk, staff_settings, Risk.CRISIS)
    login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    page = client.get("/console").text
    first = page.index(f"Jeune n° {pseudonym(desk, staff_settings, crisis)}")
    second = page.index(f"Jeune n° {pseudonym(desk, staff_settings, ordinary)}")
    assert first < second
    assert "crise" in page
    assert "bambara" in page
    assert str(CHAT_ID) not in page
    assert "SECRET-AWA" not in page  # not claimed: not shown


def test_of_two_dashboards_claiming_at_once_exactly_one_gets_it(
    staff_settings: Settings, desk: str, counsellor: str
) -> None:
    conversation = request(desk, staff_settings)

    def claim_as(account: str, password: str) -> str:
        app = create_app(staff_settings, desk, staff_config())
        with TestClient(app, base_url="http://127.0.0.1") as client:
            csrf = login(client, account, password)
            return post(client, csrf, "/console/claim", conversation=conversation)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(
                lambda who: claim_as(*who),
                [(COUNSELLOR, COUNSELLOR_PASSWORD), (ADMIN, ADMIN_PASSWORD)],
            )
        )
    assert sorted(results) == ["already_claimed", "claimed"]


def test_claim_read_reply_and_end_are_audited_without_any_text(
    client: TestClient, counsellor: str, staff_settings: Settings, desk: str
) -> None:
    conversation = request(desk, staff_settings)
    csrf = login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    assert post(client, csrf, "/console/alias", alias="Mariam") == "alias_set"
    assert post(client, csrf, "/console/claim", conversation=conversation) == "claimed"
    page = client.get("/console").text
    assert "SECRET-AWA je ne sais plus quoi faire" in page
    client.get("/console")  # a refresh is not a second reading
    assert (
        post(client, csrf, "/console/reply", conversation=conversation, text="SECRET-REPONSE")
        == "sent"
    )
    assert "SECRET-REPONSE" in client.get("/console").text
    assert (
        post(client, csrf, "/console/reply", conversation=conversation, text="  ") == "empty_text"
    )
    refused = post(client, csrf, "/console/close", conversation=conversation, topic="family")
    assert refused == "summary_missing"  # the risk assessed is missing
    assert post(client, csrf, "/console/close", conversation=conversation, **SUMMARY) == "ended"
    assert (
        post(client, csrf, "/console/reply", conversation=conversation, text="encore") == "not_held"
    )

    async def job(redis: Redis) -> tuple[list[tuple[str, str]], Status, list[str | None]]:
        entries, _ = await AuditLog(redis, staff_settings.secret).page(0, 50)
        counselling = Counselling(redis, staff_settings.secret)
        outbox = await counselling.pending_replies("bot", block_ms=10)
        status = (await counselling.get(conversation)).status
        return [(e.action, e.detail) for e in entries], status, [d.reply.text for d in outbox]

    audit, status, delivered = arun(desk, job)
    actions = [action for action, _ in audit if action.startswith("counsel.")]
    assert sorted(actions) == sorted(
        ["counsel.alias", "counsel.claim", "counsel.view", "counsel.reply", "counsel.close"]
    )
    assert not any("SECRET" in detail for _, detail in audit)
    assert status is Status.CLOSED
    assert delivered == ["SECRET-REPONSE", None]  # the reply, then the end


def test_a_photo_from_the_young_person_shows_to_its_counsellor_only_and_is_audited(
    client: TestClient, counsellor: str, staff_settings: Settings, desk: str
) -> None:
    conversation = request(desk, staff_settings)

    async def send_photo(redis: Redis) -> None:
        photo = prepare_attachment(AttachmentKind.PHOTO, gps_photo())
        await Counselling(redis, staff_settings.secret).say(conversation, "", attachment=photo)

    arun(desk, send_photo)
    url = f"/console/media/{conversation}/0"
    csrf = login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    assert client.get(url).status_code == 404  # not claimed yet: not theirs to see
    assert post(client, csrf, "/console/claim", conversation=conversation) == "claimed"
    assert f'src="{url}"' in client.get("/console").text
    photo = client.get(url)
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert photo.headers["cache-control"] == "no-store"
    assert b"SPYPHONE" not in photo.content
    assert client.get(f"/console/media/{conversation}/1").status_code == 404

    async def audited(redis: Redis) -> list[tuple[str, str]]:
        entries, _ = await AuditLog(redis, staff_settings.secret).page(0, 50)
        return [(e.action, e.detail) for e in entries]

    assert ("counsel.attachment", "pièce 1") in arun(desk, audited)


def test_ready_answers_are_offered_in_the_language_the_young_person_writes_in(
    client: TestClient, counsellor: str, staff_settings: Settings, desk: str
) -> None:
    conversation = request(desk, staff_settings)  # a young person writing in Bambara
    csrf = login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    assert post(client, csrf, "/console/claim", conversation=conversation) == "claimed"
    page = client.get("/console").text
    assert 'data-quick="I lafiyalen don sisan wa ?"' in page
    assert "Est-ce que tu es en sécurité" not in page


def test_a_counsellor_sends_a_directory_card_in_the_young_persons_language(
    client: TestClient, counsellor: str, staff_settings: Settings, desk: str
) -> None:
    conversation = request(desk, staff_settings)  # a young person writing in Bambara
    csrf = login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    assert post(client, csrf, "/console/claim", conversation=conversation) == "claimed"
    # The directory is searched by name, town or kind of help as the counsellor types.
    page = client.get("/console").text
    assert 'list="directory"' in page
    assert '<option value="chu-point-g-psychiatrie" label="' in page
    offered = page.split('<option value="chu-point-g-psychiatrie" label="')[1].split('"')[0]
    assert "Bamako" in offered
    assert "Soins, sevrage" in offered
    sent = post(
        client, csrf, "/console/card", conversation=conversation, service="chu-point-g-psychiatrie"
    )
    assert sent == "card_sent"
    unknown = post(client, csrf, "/console/card", conversation=conversation, service="nowhere")
    assert unknown == "card_unknown"

    async def job(redis: Redis) -> tuple[list[str | None], list[tuple[str, str]]]:
        counselling = Counselling(redis, staff_settings.secret)
        outbox = await counselling.pending_replies("bot", block_ms=10)
        entries, _ = await AuditLog(redis, staff_settings.secret).page(0, 50)
        return [d.reply.text for d in outbox], [(e.action, e.detail) for e in entries]

    delivered, audit = arun(desk, job)
    services = {s.id: s for s in load_services(staff_settings.services_file)}
    catalog = load_catalog(
        staff_settings.responses_dir, staff_settings.locales_dir, list(services.values())
    )
    card = service_card(catalog, services["chu-point-g-psychiatrie"], "bm")
    assert delivered == [card]
    assert ("counsel.card", "chu-point-g-psychiatrie") in audit


def test_a_counsellor_cannot_claim_past_the_limit(
    staff_settings: Settings, desk: str, counsellor: str
) -> None:
    app = create_app(
        staff_settings.__class__(**{**staff_settings.__dict__, "counsel_limit": 1}),
        desk,
        staff_config(),
    )
    first, second = request(desk, staff_settings), request(desk, staff_settings)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        csrf = login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
        assert post(client, csrf, "/console/claim", conversation=first) == "claimed"
        assert post(client, csrf, "/console/claim", conversation=second) == "at_limit"


def staffed(url: str, settings: Settings) -> bool:
    return arun(url, lambda client: Counselling(client, settings.secret).is_staffed())


def test_a_counsellor_goes_off_duty_and_young_people_get_the_out_of_hours_answer(
    client: TestClient, counsellor: str, staff_settings: Settings, desk: str
) -> None:
    csrf = login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    assert "De permanence" in client.get("/console").text
    assert staffed(desk, staff_settings)
    assert post(client, csrf, "/console/duty", on="0") == "duty_off"
    assert not staffed(desk, staff_settings)
    assert "Hors permanence" in client.get("/console").text  # the open console keeps it off
    assert not staffed(desk, staff_settings)
    assert post(client, csrf, "/console/duty", on="1") == "duty_on"
    assert staffed(desk, staff_settings)

    async def duty(redis: Redis) -> list[str]:
        entries, _ = await AuditLog(redis, staff_settings.secret).page(0, 50)
        return [e.detail for e in entries if e.action == "counsel.duty"]

    assert sorted(arun(desk, duty)) == ["off", "on"]


def test_admins_supervise_every_live_conversation_and_see_who_waits_too_long(
    client: TestClient, counsellor: str, staff_settings: Settings, desk: str
) -> None:
    held = request(desk, staff_settings)
    late = request(desk, staff_settings, ago=3600)
    recent = request(desk, staff_settings)
    csrf = login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    assert post(client, csrf, "/console/claim", conversation=held) == "claimed"
    assert client.get("/console/supervision").status_code == 403
    login(client, ADMIN, ADMIN_PASSWORD)
    page = client.get("/console/supervision").text
    assert "En attente (2)" in page
    assert "En cours (1)" in page
    assert COUNSELLOR in page  # who holds it, and who is on duty
    rows = {
        row.split("Jeune n° ")[1].split("<")[0].split(" ")[0]: row
        for row in page.split("<tr")[1:]
        if "Jeune n° " in row
    }
    assert 'class="late"' in rows[str(pseudonym(desk, staff_settings, late))]
    assert 'class="late"' not in rows[str(pseudonym(desk, staff_settings, recent))]
    assert WORDS not in page
    assert str(CHAT_ID) not in page

    async def supervised(redis: Redis) -> int:
        entries, _ = await AuditLog(redis, staff_settings.secret).page(0, 50)
        return sum(e.action == "counsel.supervise" for e in entries)

    assert arun(desk, supervised) == 1


def conversation_notice(client: TestClient, csrf: str, path: str, **data: str) -> tuple[str, str]:
    """The notice a form comes back with, and the section it is shown in."""
    response = client.post(path, data={"csrf": csrf, **data}, follow_redirects=False)
    assert response.status_code == 303, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return query["msg"][0], query.get("at", [""])[0]


def test_of_two_dashboards_transferring_to_the_last_free_place_exactly_one_gets_it(
    staff_settings: Settings, desk: str, counsellor: str
) -> None:
    """A counsellor and an admin, each on their own dashboard, pass their conversation at
    once to a third counsellor who can take one more: one transfer goes through, the other
    is refused and its conversation stays with its counsellor."""
    limited = replace(staff_settings, counsel_limit=1)
    add_account(desk, "binta", Role.COUNSELLOR, "binta's password for tests")
    ours = {COUNSELLOR: request(desk, limited), ADMIN: request(desk, limited)}
    logins = {COUNSELLOR: COUNSELLOR_PASSWORD, ADMIN: ADMIN_PASSWORD}

    def dashboard() -> TestClient:
        return TestClient(create_app(limited, desk, staff_config()), base_url="http://127.0.0.1")

    with ExitStack() as stack:
        login(stack.enter_context(dashboard()), "binta", "binta's password for tests")  # on duty
        clients = {account: stack.enter_context(dashboard()) for account in ours}
        csrfs = {
            account: login(client, account, logins[account]) for account, client in clients.items()
        }
        for account, client in clients.items():
            claimed = post(client, csrfs[account], "/console/claim", conversation=ours[account])
            assert claimed == "claimed"

        def transfer(account: str) -> str:
            return post(
                clients[account], csrfs[account], "/console/transfer",
                conversation=ours[account], to="binta",
            )  # fmt: skip

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = dict(zip(ours, pool.map(transfer, ours), strict=True))
    assert sorted(results.values()) == ["transferred", "unavailable"]

    async def holders(redis: Redis) -> dict[str, str | None]:
        counselling = Counselling(redis, limited.secret)
        return {a: (await counselling.get(c)).counsellor for a, c in ours.items()}

    winner = next(account for account, result in results.items() if result == "transferred")
    assert arun(desk, holders) == {a: "binta" if a == winner else a for a in ours}


def test_a_transfer_moves_the_conversation_to_the_receiving_console_and_is_audited(
    client: TestClient, counsellor: str, staff_settings: Settings, desk: str
) -> None:
    conversation = request(desk, staff_settings)
    login(client, ADMIN, ADMIN_PASSWORD)
    assert WORDS not in client.get("/console").text  # the admin's console: on duty, empty
    csrf = login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    assert post(client, csrf, "/console/claim", conversation=conversation) == "claimed"
    page = client.get("/console").text
    assert f'<option value="{ADMIN}">' in page
    assert f'<option value="{COUNSELLOR}">' not in page  # never oneself
    assert post(client, csrf, "/console/transfer", conversation=conversation, to=ADMIN) == (
        "transferred"
    )
    assert WORDS not in client.get("/console").text
    assert (
        post(client, csrf, "/console/reply", conversation=conversation, text="encore") == "not_held"
    )
    login(client, ADMIN, ADMIN_PASSWORD)
    assert WORDS in client.get("/console").text

    async def job(redis: Redis) -> tuple[list[tuple[str, str, str]], list[bool]]:
        entries, _ = await AuditLog(redis, staff_settings.secret).page(0, 50)
        outbox = await Counselling(redis, staff_settings.secret).pending_replies("b", 10)
        return [(e.actor, e.target, e.detail) for e in entries if e.action == "counsel.transfer"], [
            d.reply.handover for d in outbox
        ]

    audit, delivered = arun(desk, job)
    assert audit == [(COUNSELLOR, conversation, ADMIN)]
    assert delivered == [True]  # one line for the young person, nothing more


def test_back_in_the_queue_a_conversation_keeps_its_place_by_risk_and_first_request(
    client: TestClient, counsellor: str, staff_settings: Settings, desk: str
) -> None:
    first = request(desk, staff_settings, Risk.UNSURE, ago=600)
    csrf = login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    assert post(client, csrf, "/console/claim", conversation=first) == "claimed"
    later = request(desk, staff_settings, Risk.UNSURE, ago=60)
    crisis = request(desk, staff_settings, Risk.CRISIS)
    assert post(client, csrf, "/console/transfer", conversation=first, to="") == "requeued"
    page = client.get("/console").text
    places = [
        page.index(f"Jeune n° {pseudonym(desk, staff_settings, c)}") for c in (crisis, first, later)
    ]
    assert places == sorted(places)
    assert "Mes conversations (0 /" in page


def test_a_transfer_to_a_counsellor_who_went_off_duty_is_refused_next_to_its_form(
    client: TestClient, counsellor: str, staff_settings: Settings, desk: str
) -> None:
    conversation = request(desk, staff_settings)
    login(client, ADMIN, ADMIN_PASSWORD)
    client.get("/console")
    csrf = login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    assert post(client, csrf, "/console/claim", conversation=conversation) == "claimed"
    assert f'<option value="{ADMIN}">' in client.get("/console").text
    admin_csrf = login(client, ADMIN, ADMIN_PASSWORD)
    assert post(client, admin_csrf, "/console/duty", on="0") == "duty_off"
    csrf = login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    refused = conversation_notice(
        client, csrf, "/console/transfer", conversation=conversation, to=ADMIN
    )
    assert refused == ("unavailable", f"c-{conversation}")
    page = client.get(f"/console?msg=unavailable&at=c-{conversation}").text
    article = page.split(f'id="c-{conversation}"')[1].split("</article>")[0]
    assert "Ce conseiller ne peut plus la prendre" in article
    assert WORDS in article  # still hers: nothing lost
    assert f'<option value="{ADMIN}">' not in page


def test_ending_with_a_summary_updates_the_statistics_and_keeps_no_text(
    client: TestClient, counsellor: str, staff_settings: Settings, desk: str
) -> None:
    service = load_services(staff_settings.services_file)[0]
    csrf = login(client, COUNSELLOR, COUNSELLOR_PASSWORD)
    assert "Aucune conversation d'écoute sur" in client.get("/stats").text
    for referral in (service.id, ""):
        conversation = request(desk, staff_settings, ago=300)
        assert post(client, csrf, "/console/claim", conversation=conversation) == "claimed"
        summary = {"topic": "violence", "risk": "2", "referral": referral}
        assert post(client, csrf, "/console/close", conversation=conversation, **summary) == (
            "ended"
        )
    page = client.get("/stats").text
    section = page.split('id="counsel-title"')[1].split("</section>")[0]
    assert 'id="counsel-total">2<' in section
    assert 'id="counsel-wait">5 min<' in section
    assert "violences" in section
    assert "crise" in section
    assert service.label in section
    assert "aucune" in section
    dump = everything_at(desk)
    summaries = [line for line in dump.split(b"\n") if b"sini:counsel:summary:" in line]
    assert summaries
    assert not any(b"SECRET" in line or COUNSELLOR.encode() in line for line in summaries)
