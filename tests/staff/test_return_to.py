"""Where the login page sends someone back: only to a page of this site."""

from __future__ import annotations

import pytest

from staff.return_to import HOME, login_url, safe_page


@pytest.mark.parametrize(
    "page",
    ["/tips/" + "a" * 32, "/?status=new&category=other", "/audit?page=2", "/tips/x#notes"],
)
def test_a_page_of_this_site_is_followed(page: str) -> None:
    assert safe_page(page) == page


@pytest.mark.parametrize(
    "page",
    [
        "//evil.example",
        "//evil.example/tips",
        "/\\evil.example",
        "\\\\evil.example",
        "https:evil",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "/ /evil.example",
        "/\t/evil.example",
        "/tips\n/x",
        "/login",
        "/logout",
        "",
        "/" + "a" * 2001,
        None,
        ["/tips"],
    ],
)
def test_anything_else_goes_to_the_queue(page: object) -> None:
    assert safe_page(page) == HOME


def test_the_login_url_carries_the_page_and_the_expiry() -> None:
    assert login_url(None, expired=False) == "/login"
    assert login_url("/", expired=True) == "/login?msg=session_expired"
    assert login_url("/tips/ab?x=1", expired=True) == (
        "/login?msg=session_expired&next=%2Ftips%2Fab%3Fx%3D1"
    )
    assert login_url("//evil.example", expired=False) == "/login"
