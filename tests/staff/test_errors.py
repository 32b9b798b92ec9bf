"""One table answers every refusal (staff/errors.py): a French page with its status, or
back to the form's page with a fixed notice — the views only raise."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from sini.settings import Settings
from staff.accounts import AccountExists, AccountMissing
from staff.errors import ANSWERS, FormRefused, NotFound, Notice, Page, answer_for
from staff.web import MESSAGES
from tests.staff.conftest import ADMIN, ADMIN_PASSWORD, login, submit_tip
from tips.crypto import DecryptionFailed, WrongPassword
from tips.keys import DeskKeyMismatch
from tips.model import MalformedData, TextTooLong, TipValidationError, TooManyParts


def test_the_most_specific_class_answers() -> None:
    unreadable = answer_for(MalformedData("x"))  # a TipValidationError, but damaged data
    assert isinstance(unreadable, Page)
    assert unreadable.status == 500
    assert answer_for(TextTooLong("x")) == Notice("text_too_long")
    assert answer_for(TooManyParts("x")) == ANSWERS[TipValidationError]
    assert answer_for(WrongPassword("x")) == ANSWERS[DecryptionFailed]
    assert answer_for(DeskKeyMismatch("x")) == Notice("stale_key", page="/")


def test_a_refusal_raised_by_a_view_carries_its_own_answer() -> None:
    assert answer_for(NotFound("Pièce jointe introuvable.")) == Page(
        404, "Pièce jointe introuvable."
    )
    assert answer_for(FormRefused("reason_required")) == Notice("reason_required")


def test_what_is_not_a_refusal_has_no_answer() -> None:
    assert answer_for(RuntimeError("bug")) is None
    assert answer_for(AccountExists("x")) is None  # the users page says it itself
    assert answer_for(AccountMissing("x")) == Notice("unknown_account")


def test_every_notice_is_a_message_the_pages_know() -> None:
    assert {a.key for a in ANSWERS.values() if isinstance(a, Notice)} <= set(MESSAGES)


def test_a_missing_tip_is_a_404_page_that_keeps_the_menu(client: TestClient) -> None:
    login(client, ADMIN, ADMIN_PASSWORD)
    response = client.get("/tips/" + "f" * 32)
    assert response.status_code == 404
    assert "introuvable" in response.text
    assert f"Déconnexion ({ADMIN})" in response.text


@pytest.mark.parametrize(
    ("action", "data", "back"),
    [
        ("note", {"text": "  "}, "?msg=empty_text&at=notes#notes"),
        ("reply", {"text": "x" * 5000}, "?msg=text_too_long&at=thread#thread"),
        ("status", {"status": "in_review"}, "?msg=reason_required&at=status#status"),
        ("status", {"status": "nope", "reason": "r"}, "?msg=transition&at=status#status"),
        ("assign", {"account": "personne"}, "?msg=unknown_account&at=assign#assign"),
    ],
)
def test_a_refused_tip_form_goes_back_to_its_part_of_the_page(
    client: TestClient,
    staff_settings: Settings,
    desk: str,
    action: str,
    data: dict[str, str],
    back: str,
) -> None:
    tip = submit_tip(desk, staff_settings.secret)
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    response = client.post(
        f"/tips/{tip.lookup}/{action}", data={"csrf": csrf, **data}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/tips/{tip.lookup}{back}"


@pytest.mark.parametrize(
    ("path", "back"),
    [
        (f"/users/{ADMIN}/disable", "/users?msg=self_disable"),
        (f"/users/{ADMIN}/reset", "/users?msg=self_reset"),
        ("/users/personne/disable", "/users?msg=unknown_account"),
        ("/users/personne/reset", "/users?msg=unknown_account"),
    ],
)
def test_a_refused_account_form_goes_back_to_the_accounts(
    client: TestClient, path: str, back: str
) -> None:
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    response = client.post(path, data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == back
