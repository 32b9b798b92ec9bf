"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright,
against the app served by uvicorn on 127.0.0.1 and a real redis-server.

Screenshots of the queue and the statistics page are saved under reports/.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from sini.counselling.model import Origin
from sini.counselling.store import Counselling
from sini.redis_server import LocalRedis
from sini.regions import Region
from sini.settings import PROJECT_ROOT, Settings
from staff.accounts import Role
from tests.staff.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    CHROMIUM,
    MARKER,
    REVIEWER,
    REVIEWER_PASSWORD,
    add_account,
    arun,
    csp_violations,
    log_in,
    make_accounts,
    serve,
    submit_tip,
)
from tips.crypto import MINIMUM_FOR_TESTS
from tips.intake import Intake
from tips.model import Author, Category, Elsewhere

REPORTS = PROJECT_ROOT / "reports"
LOCKABLE, LOCKABLE_PASSWORD = "verrou", "mot-de-passe-verrou-2025"

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed"
)


@dataclass(frozen=True)
class Live:
    base_url: str
    redis_url: str
    settings: Settings


@pytest.fixture(scope="module")
def live(redis_server: LocalRedis, settings: Settings) -> Iterator[Live]:
    SyncRedis.from_url(redis_server.url).flushall()
    make_accounts(redis_server.url)
    add_account(redis_server.url, LOCKABLE, Role.REVIEWER, LOCKABLE_PASSWORD)
    staff_settings = replace(settings, redis_url=redis_server.url)
    served = serve(staff_settings, redis_server.url)
    yield Live(served.base_url, redis_server.url, staff_settings)
    served.stop()


@pytest.fixture
def context(browser: Browser, live: Live) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=live.base_url, locale="fr-FR", accept_downloads=True)
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any Content-Security-Policy violation."""
    tab = context.new_page()
    violations = csp_violations(tab)
    yield tab
    assert violations == []


def test_login_queue_tip_note_status_reply_export_logout(page: Page, live: Live) -> None:
    tip = submit_tip(live.redis_url, live.settings.secret, photo=True)

    response = page.goto("/login")
    assert response is not None
    headers = response.headers
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"

    log_in(page, ADMIN, ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="File des signalements")).to_be_visible()
    row = page.locator("table.queue tbody tr").filter(
        has=page.locator(f'a[href="/tips/{tip.lookup}"]')
    )
    expect(row).to_contain_text("Trafic de drogue")
    expect(row).to_contain_text("Bamako")
    expect(row).to_contain_text("Nouveau")

    # Open it: the decrypted text and the (re-encoded) photo are shown.
    row.get_by_role("link").click()
    expect(page.locator("#content .tip-text")).to_have_text(MARKER)
    photo = page.get_by_role("img", name="Photo jointe n° 1 (métadonnées retirées)")
    expect(photo).to_be_visible()
    expect(photo).to_have_js_property("naturalWidth", 40)

    # An internal note.
    page.get_by_label("Ajouter une note").fill(
        "Recouper avec le signalement de la semaine dernière"
    )
    page.get_by_role("button", name="Ajouter la note").click()
    expect(page.get_by_role("status")).to_have_text("Note ajoutée.")
    expect(page.locator("#notes")).to_contain_text("Recouper avec le signalement")

    # Status changes with a reason: in review, then forwarded to the OCS.
    page.get_by_label("Nouveau statut").select_option("in_review")
    page.get_by_label("Motif (obligatoire)").fill("Crédible : lieu et produit précis")
    page.get_by_role("button", name="Changer le statut").click()
    expect(page.locator("#current-status")).to_have_text("En cours d'examen")
    expect(page.locator("#status")).to_contain_text("Crédible : lieu et produit précis")
    page.get_by_label("Nouveau statut").select_option("forwarded")
    page.get_by_label("Transmis à (si « Transmis »)").select_option("OCS")
    page.get_by_label("Motif (obligatoire)").fill("Compétence de l'OCS")
    page.get_by_role("button", name="Changer le statut").click()
    expect(page.locator("#current-status")).to_have_text("Transmis")
    expect(page.locator(".facts").first).to_contain_text("OCS")

    # Assign it to the reviewer.
    page.get_by_label("Attribuer à").select_option(REVIEWER)
    page.get_by_role("button", name="Attribuer").click()
    expect(page.get_by_role("status")).to_have_text("Attribution enregistrée.")

    # A reply the tipster reads with code and passphrase (what /suivi does).
    reply = "Merci. Votre signalement a été transmis à l'OCS."
    page.get_by_label("Répondre à l'informateur").fill(reply)
    page.get_by_role("button", name="Envoyer la réponse").click()
    expect(page.get_by_role("status")).to_have_text("Réponse envoyée à l'informateur.")
    expect(page.locator("#thread")).to_contain_text(reply)
    REPORTS.mkdir(exist_ok=True)
    page.screenshot(path=str(REPORTS / "staff-tip.png"), full_page=True)

    async def tipster_view(client: Redis) -> object:
        store = Intake(client, live.settings.secret, kdf_limits=MINIMUM_FOR_TESTS)
        return await store.open_for_tipster(tip.receipt.code, tip.receipt.passphrase)

    view = arun(live.redis_url, tipster_view)
    desk_messages = [m.text for m in view.thread if m.author is Author.DESK]  # type: ignore[attr-defined]
    assert desk_messages == [reply]
    assert view.status.value == "forwarded"  # type: ignore[attr-defined]

    # CSV export of the filtered queue.
    page.goto("/?status=forwarded")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Exporter en CSV").click()
    path = download_info.value.path()
    text = Path(path).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "référence"
    assert [r[-1] for r in rows[1:]] == [tip.lookup]
    assert rows[1][0].startswith("T-")
    assert rows[1][3] == "Transmis"
    assert rows[1][7] == "OCS"
    assert rows[1][6] == REVIEWER
    assert MARKER not in text  # the export is the envelope, never the content

    # Every step is in the audit log.
    page.get_by_role("link", name="Journal").click()
    audit = page.locator("table.audit")
    for action in (
        "login.ok",
        "tip.view",
        "attachment.view",
        "tip.note",
        "tip.status",
        "tip.assign",
        "tip.reply",
        "export.csv",
    ):
        expect(audit.locator(f'td[data-action="{action}"]').first).to_be_visible()
    expect(page.get_by_text("Chaîne d'intégrité vérifiée")).to_be_visible()

    # Log out: the session is gone server-side.
    page.get_by_role("button", name=f"Déconnexion ({ADMIN})").click()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.goto(f"/tips/{tip.lookup}")
    expect(page).to_have_url(f"{live.base_url}/login?next=%2Ftips%2F{tip.lookup}")
    expect(page.get_by_text(MARKER)).to_have_count(0)


def test_attachments_voice_and_no_cache(page: Page, context: BrowserContext, live: Live) -> None:
    tip = submit_tip(
        live.redis_url,
        live.settings.secret,
        "Voir la photo et le vocal",
        Category.HUMAN_TRAFFICKING,
        Region.KAYES,
        photo=True,
        voice=True,
    )
    log_in(page, REVIEWER, REVIEWER_PASSWORD)
    page.goto(f"/tips/{tip.lookup}")
    expect(page.locator("audio[controls]")).to_have_attribute(
        "src", f"/tips/{tip.lookup}/attachments/1"
    )
    response = page.request.get(f"/tips/{tip.lookup}/attachments/0")
    assert response.status == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "no-store"
    assert "sandbox" in response.headers["content-security-policy"]
    voice = page.request.get(f"/tips/{tip.lookup}/attachments/1")
    assert voice.headers["content-type"] == "audio/ogg"
    assert voice.body().startswith(b"OggS")

    # Without a session nothing is served.
    stranger = context.browser.new_context(base_url=live.base_url)  # type: ignore[union-attr]
    try:
        anonymous = stranger.request.get(f"/tips/{tip.lookup}/attachments/0", max_redirects=0)
        assert anonymous.status == 303
        assert anonymous.headers["location"] == (
            f"/login?next=%2Ftips%2F{tip.lookup}%2Fattachments%2F0"
        )
    finally:
        stranger.close()


def test_reviewer_created_on_the_web_cannot_open_admin_pages(
    browser: Browser, page: Page, live: Live
) -> None:
    # An admin adds a reviewer; the desk keys are wrapped for the new account.
    log_in(page, ADMIN, ADMIN_PASSWORD)
    page.get_by_role("link", name="Comptes").click()
    page.get_by_label("Identifiant").fill("moussa")
    page.get_by_label("Rôle").select_option("reviewer")
    page.get_by_role("button", name="Créer le compte").click()
    temporary = page.locator("#temporary-password").inner_text()
    assert len(temporary) >= 12

    tip = submit_tip(live.redis_url, live.settings.secret, "Un texte pour moussa")
    other = browser.new_context(base_url=live.base_url, locale="fr-FR")
    try:
        reviewer = other.new_page()
        log_in(reviewer, "moussa", temporary)
        # A temporary password must be changed before anything else.
        expect(reviewer.get_by_role("heading", name="Changer mon mot de passe")).to_be_visible()
        reviewer.goto("/")
        expect(reviewer).to_have_url(f"{live.base_url}/account/password")
        reviewer.get_by_label("Mot de passe actuel").fill(temporary)
        reviewer.get_by_label("Nouveau mot de passe (12 caractères au moins)").fill(
            "le-nouveau-de-moussa"
        )
        reviewer.get_by_label("Nouveau mot de passe, encore").fill("le-nouveau-de-moussa")
        reviewer.get_by_role("button", name="Changer").click()
        expect(reviewer.get_by_role("status")).to_have_text("Mot de passe changé.")
        # The reviewer reads tips (same desk keys)…
        reviewer.goto(f"/tips/{tip.lookup}")
        expect(reviewer.locator("#content .tip-text")).to_have_text("Un texte pour moussa")
        # …but no admin page: no menu entry, and refused on the server.
        expect(reviewer.get_by_role("link", name="Comptes")).to_have_count(0)
        for path in ("/users", "/audit"):
            response = reviewer.goto(path)
            assert response is not None
            assert response.status == 403
            expect(reviewer.get_by_role("alert")).to_have_text("Page réservée aux administrateurs.")
        refused = reviewer.request.post("/export", form={"csrf": "x"})
        assert refused.status == 403
    finally:
        other.close()


def test_five_wrong_passwords_lock_the_account(page: Page) -> None:
    for attempt in range(1, 6):
        log_in(page, LOCKABLE, f"mauvais-mot-de-passe-{attempt}")
        message = page.get_by_role("alert")
        if attempt < 5:
            expect(message).to_have_text("Identifiant ou mot de passe incorrect.")
        else:
            expect(message).to_contain_text("compte verrouillé")
    # Now even the right password is refused.
    log_in(page, LOCKABLE, LOCKABLE_PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("compte verrouillé")
    expect(page.get_by_role("heading", name="File des signalements")).to_have_count(0)


def test_forged_posts_without_csrf_token_are_refused(page: Page, live: Live) -> None:
    tip = submit_tip(live.redis_url, live.settings.secret, "Cible d'une requête forgée")
    log_in(page, ADMIN, ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="File des signalements")).to_be_visible()

    # Same origin, session cookie sent, but no token / a wrong token.
    missing = page.request.post(f"/tips/{tip.lookup}/note", form={"text": "note forgée"})
    assert missing.status == 403
    wrong = page.request.post(
        f"/tips/{tip.lookup}/status",
        form={"text": "x", "csrf": "pas-le-bon", "status": "rejected", "reason": "forgé"},
    )
    assert wrong.status == 403

    # A forged form on a page of this origin (say, injected markup): no token, refused.
    form = (
        f'<form method="post" action="{live.base_url}/tips/{tip.lookup}/note">'
        '<input name="text" value="note forgée"><button>Envoyer</button></form>'
    )
    page.set_content(form)
    page.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Requête refusée : jeton CSRF absent ou invalide."
    )

    # The same form on another site: SameSite=Strict keeps the session cookie home.
    page.goto("about:blank")
    page.set_content(form)
    page.get_by_role("button", name="Envoyer").click()
    expect(page).to_have_url(f"{live.base_url}/login?next=%2Ftips%2F{tip.lookup}%23notes")

    page.goto(f"/tips/{tip.lookup}")
    expect(page.locator("#content .tip-text")).to_have_text("Cible d'une requête forgée")
    expect(page.locator("#notes")).not_to_contain_text("note forgée")
    expect(page.locator("#current-status")).to_have_text("Nouveau")


def test_statistics_page(page: Page, live: Live) -> None:
    now = datetime.now(timezone.utc)
    for weeks_ago, category, region in [
        (0, Category.DRUG_TRAFFICKING, Region.BAMAKO),
        (1, Category.HUMAN_TRAFFICKING, Region.MOPTI),
        (1, Category.CHILD_EXPLOITATION, Region.SIKASSO),
        (3, Category.DRUG_TRAFFICKING, Region.SEGOU),
        (5, Category.SEXUAL_EXPLOITATION, Elsewhere.ABROAD),
    ]:
        submit_tip(
            live.redis_url,
            live.settings.secret,
            "statistiques",
            category,
            region,
            now=now - timedelta(weeks=weeks_ago),
        )
    today = date.today()
    topics = SyncRedis.from_url(live.redis_url)
    for days_ago, counts in [
        (0, {"fr:drug_info": 14, "bm:drug_info": 9, "fr:safe_migration": 6, "en:rights": 2}),
        (4, {"fr:find_treatment": 5, "bm:crisis": 3}),
    ]:
        topics.hset(
            f"sini:stats:topics:{(today - timedelta(days=days_ago)).isoformat()}", mapping=counts
        )

    log_in(page, ADMIN, ADMIN_PASSWORD)
    page.get_by_role("link", name="Statistiques").click()
    expect(page.get_by_role("heading", name="Statistiques", exact=True)).to_be_visible()
    expect(page.locator("svg.chart:visible")).to_have_count(4)
    expect(
        page.get_by_role("img", name="Signalements par semaine et par catégorie")
    ).to_be_visible()
    expect(page.get_by_role("img", name="Signalements par région")).to_contain_text("Ségou")
    topics_chart = page.get_by_role("img", name="Sujets de conversation (30 derniers jours)")
    expect(topics_chart).to_contain_text("Une drogue")  # the bot's own French label
    expect(topics_chart).to_contain_text("bambara")
    REPORTS.mkdir(exist_ok=True)
    page.screenshot(path=str(REPORTS / "staff-stats.png"), full_page=True)

    page.get_by_role("link", name="File").click()
    expect(page.locator("table.queue tbody tr")).to_have_count(9)
    page.screenshot(path=str(REPORTS / "staff-queue.png"), full_page=True)


PHONE = {"width": 375, "height": 812}


def fits_the_screen(page: Page) -> None:
    """No sideways scrolling: nothing on the page is wider than the phone's screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (page.url, width)


def test_every_page_fits_a_phone(browser: Browser, live: Live) -> None:
    long_name = "Direction-régionale-de-la-promotion-de-la-femme-de-l'enfant-et-de-la-famille"
    tip = submit_tip(
        live.redis_url,
        live.settings.secret,
        "Un texte sans espaces " + "x" * 300 + " et un très long signalement. " * 40,
        Category.CHILD_EXPLOITATION,
        Region.TOMBOUCTOU,
        photo=True,
    )
    for n in range(3):
        submit_tip(live.redis_url, live.settings.secret, f"téléphone {n}")
    phone = browser.new_context(
        base_url=live.base_url, locale="fr-FR", viewport=PHONE, is_mobile=True, has_touch=True
    )
    try:
        page = phone.new_page()
        log_in(page, ADMIN, ADMIN_PASSWORD)
        page.goto(f"/tips/{tip.lookup}")
        page.get_by_label("Nouveau statut").select_option("in_review")
        page.get_by_label("Motif (obligatoire)").fill("vu")
        page.get_by_role("button", name="Changer le statut").click()
        page.get_by_label("Nouveau statut").select_option("forwarded")
        page.get_by_label("Transmis à (si « Transmis »)").select_option("__other__")
        page.get_by_label("Autre organisme").fill(long_name)
        page.get_by_label("Motif (obligatoire)").fill("compétence régionale")
        page.get_by_role("button", name="Changer le statut").click()
        expect(page.locator("#current-status")).to_have_text("Transmis")
        REPORTS.mkdir(exist_ok=True)
        for path, name in [
            ("/", "queue"),
            (f"/tips/{tip.lookup}", "tip"),
            ("/audit", "audit"),
            ("/users", "accounts"),
            ("/stats", "stats"),
            ("/forwarding", "forwarding"),
        ]:
            page.goto(path)
            fits_the_screen(page)
            page.screenshot(path=str(REPORTS / f"staff-phone-{name}.png"), full_page=True)
        # The queue's rows are cards, each line named.
        page.goto("/")
        card = page.locator("table.queue tbody tr").filter(
            has=page.locator(f'a[href="/tips/{tip.lookup}"]')
        )
        expect(card).to_contain_text("Tombouctou")
        assert card.evaluate("e => getComputedStyle(e).display") == "block"
        # The charts drawn for the phone, labels at a readable size.
        page.goto("/stats")
        chart = page.get_by_role("img", name="Signalements par région")
        expect(chart).to_be_visible()
        label = chart.locator("text", has_text="Tombouctou")
        assert label.bounding_box()["height"] >= 10  # type: ignore[index]
    finally:
        phone.close()


def test_typed_text_survives_a_session_expiry_and_a_refused_form(
    page: Page, context: BrowserContext, live: Live
) -> None:
    tip = submit_tip(live.redis_url, live.settings.secret, "Brouillons")
    log_in(page, REVIEWER, REVIEWER_PASSWORD)
    page.goto(f"/tips/{tip.lookup}")
    note = "Le lieu correspond au signalement de mardi ; à recouper avec la mairie."
    page.get_by_label("Ajouter une note").fill(note)

    # The session ends (here: its cookie is gone) before the note is sent.
    context.clear_cookies()
    page.get_by_role("button", name="Ajouter la note").click()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.get_by_label("Identifiant").fill(REVIEWER)
    page.get_by_label("Mot de passe").fill(REVIEWER_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()

    # Back on the tip, the note as it was typed; sent, it is forgotten.
    expect(page).to_have_url(f"{live.base_url}/tips/{tip.lookup}#notes")
    expect(page.get_by_label("Ajouter une note")).to_have_value(note)
    page.get_by_role("button", name="Ajouter la note").click()
    expect(page.locator("#notes").get_by_role("status")).to_have_text("Note ajoutée.")
    expect(page.locator("#notes")).to_contain_text(note)
    expect(page.get_by_label("Ajouter une note")).to_have_value("")
    page.reload()
    expect(page.get_by_label("Ajouter une note")).to_have_value("")

    # A refused status change: the error by the form, the chosen status and reason kept.
    page.get_by_label("Nouveau statut").select_option("in_review")
    page.get_by_label("Motif (obligatoire)").fill("vu")
    page.get_by_role("button", name="Changer le statut").click()
    expect(page.locator("#status").get_by_role("status")).to_have_text("Statut modifié.")
    expect(page.get_by_label("Motif (obligatoire)")).to_have_value("")
    page.get_by_label("Nouveau statut").select_option("forwarded")
    reason = "Relève de la brigade des mineurs, voir la note"
    page.get_by_label("Motif (obligatoire)").fill(reason)
    page.get_by_role("button", name="Changer le statut").click()
    alert = page.locator("#status").get_by_role("alert")
    expect(alert).to_have_text("Indiquez à quel organisme le signalement est transmis.")
    expect(alert).to_be_in_viewport()
    expect(page.get_by_label("Nouveau statut")).to_have_value("forwarded")
    expect(page.get_by_label("Motif (obligatoire)")).to_have_value(reason)

    # Logging out forgets every draft this tab kept.
    page.get_by_role("button", name=f"Déconnexion ({REVIEWER})").click()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_arabic_text_reads_right_to_left_and_long_tips_fold(page: Page, live: Live) -> None:
    arabic = "المخدرات تباع قرب المدرسة كل مساء"
    tip = submit_tip(live.redis_url, live.settings.secret, (arabic + "\n") * 700)
    log_in(page, REVIEWER, REVIEWER_PASSWORD)
    page.goto(f"/tips/{tip.lookup}")
    text = page.locator("#content .tip-text")
    assert text.evaluate("e => getComputedStyle(e).direction") == "rtl"
    more = text.locator("details.more")
    expect(more.locator("summary")).to_have_text("Lire la suite")
    assert not more.evaluate("e => e.open")
    more.locator("summary").click()
    assert more.evaluate("e => e.open")


def test_search_preview_and_a_bulk_reject_as_spam(page: Page, live: Live) -> None:
    spam = [
        submit_tip(live.redis_url, live.settings.secret, f"GAGNEZ-VITE {n} crédit gratuit")
        for n in range(3)
    ]
    real = submit_tip(
        live.redis_url,
        live.settings.secret,
        "Un camion de tramadol décharge la nuit à la gare routière de Ségou",
        region=Region.SEGOU,
    )
    log_in(page, REVIEWER, REVIEWER_PASSWORD)
    page.get_by_label("Rechercher (mots du signalement ou référence)").fill("gagnez-vite credit")
    page.get_by_role("button", name="Filtrer").click()
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(3)
    expect(page).to_have_url(re.compile(r"q=gagnez-vite\+credit"))
    expect(rows.first.locator(".preview")).to_contain_text("crédit gratuit")
    REPORTS.mkdir(exist_ok=True)
    page.screenshot(path=str(REPORTS / "staff-queue-search.png"), full_page=True)

    for row in rows.all():
        row.get_by_role("checkbox").check()
    page.get_by_label("Action sur les signalements cochés").select_option("reject")
    page.get_by_label("Motif (obligatoire)").fill("Publicité, pas un signalement")
    page.get_by_role("button", name="Appliquer").click()
    expect(page.get_by_role("status")).to_have_text("Action appliquée aux signalements cochés.")
    expect(page).to_have_url(re.compile(r"q=gagnez-vite\+credit"))  # the same search
    for tip in spam:
        row = rows.filter(has=page.locator(f'a[href="/tips/{tip.lookup}"]'))
        expect(row).to_contain_text("Rejeté (spam)")
    page.screenshot(path=str(REPORTS / "staff-queue-bulk.png"), full_page=True)

    # The real tip is found by its words without their accents, and shows its first words.
    page.goto("/?q=gare+routiere+segou")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".preview")).to_contain_text("Un camion de tramadol")
    expect(rows.first.locator(f'a[href="/tips/{real.lookup}"]')).to_be_visible()


def test_search_and_bulk_actions_fit_a_phone(browser: Browser, live: Live) -> None:
    for n in range(2):
        submit_tip(live.redis_url, live.settings.secret, "moto-taxi " * 40 + f"n° {n}")
    phone = browser.new_context(
        base_url=live.base_url, locale="fr-FR", viewport=PHONE, is_mobile=True, has_touch=True
    )
    try:
        page = phone.new_page()
        log_in(page, ADMIN, ADMIN_PASSWORD)
        page.goto("/?q=moto-taxi")
        expect(page.locator("table.queue tbody tr")).to_have_count(2)
        fits_the_screen(page)
        expect(page.get_by_label("Action sur les signalements cochés")).to_be_visible()
        REPORTS.mkdir(exist_ok=True)
        page.screenshot(path=str(REPORTS / "staff-phone-search.png"), full_page=True)
    finally:
        phone.close()


def test_a_counsellor_passes_a_conversation_on_and_ends_another_with_its_summary(
    browser: Browser, live: Live
) -> None:
    async def waiting(client: Redis) -> None:
        counselling = Counselling(client, live.settings.secret)
        await counselling.on_duty("fatou")  # another counsellor's console is open
        for chat in (1, 2):
            queued = await counselling.request(chat, "fr", Origin.MENU)
            await counselling.say(queued.conversation, "SECRET-JEUNE bonjour")

    arun(live.redis_url, waiting)
    phone = browser.new_context(
        base_url=live.base_url, locale="fr-FR", viewport=PHONE, is_mobile=True, has_touch=True
    )
    try:
        page = phone.new_page()
        log_in(page, ADMIN, ADMIN_PASSWORD)
        page.goto("/console")
        for _ in range(2):
            page.get_by_role("button", name="Prendre").first.click()
        held = page.locator("article.conversation")
        expect(held).to_have_count(2)
        fits_the_screen(page)
        REPORTS.mkdir(exist_ok=True)
        page.screenshot(path=str(REPORTS / "staff-phone-console.png"), full_page=True)
        held.first.get_by_label("Passer la conversation").select_option("fatou")
        held.first.get_by_role("button", name="Passer").click()
        expect(page.get_by_role("status")).to_have_text("Conversation passée à l'autre conseiller.")
        expect(held).to_have_count(1)
        held.first.get_by_label("Sujet").select_option(label="drogues")
        held.first.get_by_label("Orientation").select_option(index=1)
        held.first.get_by_role("button", name="Terminer").click()
        expect(page.get_by_role("status")).to_contain_text("Conversation terminée")
        page.goto("/stats")
        section = page.locator("section", has=page.locator("#counsel-title"))
        expect(section.locator("#counsel-total")).to_have_text("1")
        expect(section).to_contain_text("drogues")
        fits_the_screen(page)
    finally:
        phone.close()
