"""The console live: its event stream read over HTTP from a real dashboard (uvicorn, as
`helpline staff` serves it) against the real Redis, while young people come and write
through the store as the bot does; and the console left open in Chromium, showing what
changes without being reloaded."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect
from redis.asyncio import Redis
from starlette.testclient import TestClient

from sini.counselling.store import Counselling
from sini.settings import Settings
from tests.staff.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    CHROMIUM,
    COUNSELLOR,
    COUNSELLOR_PASSWORD,
    REVIEWER,
    REVIEWER_PASSWORD,
    Served,
    arun,
    csrf_of,
    login,
    open_console,
    serve,
)
from tests.staff.test_console import CHAT_ID, WORDS, pseudonym, request

# Each read of the stream waits at most this long: an event must come within a second.
WITHIN = httpx.Timeout(5.0, read=1.0)
Event = dict[str, str]


@pytest.fixture
def dashboard(staff_settings: Settings, desk: str, counsellor: str) -> Iterator[Served]:
    served = serve(staff_settings, desk)
    yield served
    served.stop()


def signed_in(served: Served, account: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=served.base_url, follow_redirects=True)
    login(client, account, password)
    return client


def events(response: httpx.Response) -> Iterator[Event]:
    """The events of an open stream, each as its fields (comments skipped)."""
    fields: Event = {}
    for line in response.iter_lines():
        if not line:
            if fields:
                yield fields
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
    assert not fields, "the stream ended inside an event"


def changed(event: Event) -> list[str]:
    """The conversations a change event names; nothing else may be in it."""
    assert event["event"] == "change"
    data = json.loads(event["data"])
    assert list(data) == ["conversations"]
    return list(data["conversations"])


def say(url: str, settings: Settings, conversation: str, words: str) -> None:
    """The young person writes (as the bot passes it on)."""
    arun(url, lambda client: Counselling(client, settings.secret).say(conversation, words))


def test_an_open_console_hears_of_a_young_person_joining_and_of_its_own_conversations_only(
    dashboard: Served, staff_settings: Settings, desk: str
) -> None:
    mariam = signed_in(dashboard, COUNSELLOR, COUNSELLOR_PASSWORD)
    amadou = signed_in(dashboard, ADMIN, ADMIN_PASSWORD)
    with (
        mariam.stream("GET", "/console/events", timeout=WITHIN) as mine,
        amadou.stream("GET", "/console/events", timeout=WITHIN) as theirs,
    ):
        assert mine.headers["content-type"].startswith("text/event-stream")
        heard, overheard = events(mine), events(theirs)
        assert next(heard) == {"retry": "2000"}  # the stream is open
        assert next(overheard) == {"retry": "2000"}

        waiting = request(desk, staff_settings)  # with words: they stay sealed
        event = next(heard)
        assert changed(event) == [waiting]
        assert WORDS not in event["data"]
        assert str(CHAT_ID) not in event["data"]
        assert changed(next(overheard)) == [waiting]  # the queue: every console

        csrf = csrf_of(mariam.get("/console").text)
        mariam.post("/console/claim", data={"csrf": csrf, "conversation": waiting})
        assert changed(next(heard)) == [waiting]  # gone from the queue
        assert changed(next(overheard)) == [waiting]

        say(desk, staff_settings, waiting, "SECRET-AWA tu es là ?")
        event = next(heard)
        assert changed(event) == [waiting]  # a message in mariam's conversation
        assert "SECRET-AWA" not in event["data"]
        other = request(desk, staff_settings)
        assert changed(next(overheard)) == [other]  # amadou never heard of the message
        assert changed(next(heard)) == [other]


def test_a_conversation_passed_on_reaches_the_receivers_console_and_one_put_back_every_console(
    dashboard: Served, staff_settings: Settings, desk: str
) -> None:
    mariam = signed_in(dashboard, COUNSELLOR, COUNSELLOR_PASSWORD)
    amadou = signed_in(dashboard, ADMIN, ADMIN_PASSWORD)
    waiting = request(desk, staff_settings)

    def store(client: Redis) -> Counselling:
        return Counselling(client, staff_settings.secret)

    arun(desk, lambda client: store(client).on_duty(ADMIN))
    arun(desk, lambda client: store(client).claim(waiting, COUNSELLOR))
    with amadou.stream("GET", "/console/events", timeout=WITHIN) as theirs:
        overheard = events(theirs)
        next(overheard)
        arun(desk, lambda client: store(client).transfer(waiting, COUNSELLOR, ADMIN))
        assert changed(next(overheard)) == [waiting]  # now amadou's
        with mariam.stream("GET", "/console/events", timeout=WITHIN) as mine:
            heard = events(mine)
            next(heard)
            arun(desk, lambda client: store(client).requeue(waiting, ADMIN))
            assert changed(next(heard)) == [waiting]  # back in the queue: every console
            assert changed(next(overheard)) == [waiting]


def test_a_change_between_the_page_and_its_stream_or_while_reconnecting_is_not_lost(
    dashboard: Served, staff_settings: Settings, desk: str
) -> None:
    mariam = signed_in(dashboard, COUNSELLOR, COUNSELLOR_PASSWORD)
    page = mariam.get("/console").text
    found = re.search(r'data-events="([^"]+)"', page)
    assert found, "the console names its event stream"
    first = request(desk, staff_settings)  # after the page, before the stream
    with mariam.stream("GET", found.group(1), timeout=WITHIN) as stream:
        heard = events(stream)
        next(heard)
        event = next(heard)
        assert changed(event) == [first]
    second = request(desk, staff_settings)  # while the connection is lost
    resumed = {"Last-Event-ID": event["id"]}  # what EventSource sends when it reconnects
    with mariam.stream("GET", found.group(1), headers=resumed, timeout=WITHIN) as stream:
        heard = events(stream)
        next(heard)
        assert changed(next(heard)) == [second]


def test_the_dashboard_stops_at_once_with_a_console_listening(dashboard: Served) -> None:
    mariam = signed_in(dashboard, COUNSELLOR, COUNSELLOR_PASSWORD)
    with mariam.stream("GET", "/console/events", timeout=WITHIN) as stream:
        heard = events(stream)
        next(heard)
        dashboard.stop()  # SIGTERM: returns once uvicorn has stopped, every task ended
        assert list(heard) == []  # the stream ended cleanly, for the browser to reconnect


def test_the_event_stream_is_for_counsellors_only(client: TestClient, counsellor: str) -> None:
    away = client.get("/console/events", follow_redirects=False)
    assert away.status_code == 303
    assert away.headers["location"].startswith("/login")
    login(client, REVIEWER, REVIEWER_PASSWORD)
    refused = client.get("/console/events", follow_redirects=False)
    assert refused.status_code == 403
    assert not refused.headers["content-type"].startswith("text/event-stream")


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed")
def test_the_open_console_shows_who_comes_and_what_they_write_without_a_reload(
    browser: Browser, dashboard: Served, staff_settings: Settings, desk: str
) -> None:
    context, page, violations = open_console(
        browser, dashboard.base_url, COUNSELLOR, COUNSELLOR_PASSWORD, timeout_ms=10_000
    )
    expect(page.locator("#waiting")).to_contain_text("Personne n'attend.")
    page.evaluate("window.notReloaded = true")  # a reload would forget it

    conversation = request(desk, staff_settings)
    row = page.locator("#waiting tbody tr").filter(
        has_text=f"Jeune n° {pseudonym(desk, staff_settings, conversation)}"
    )
    expect(row).to_be_visible()
    expect(page.locator("#waiting-title")).to_have_text("En attente (1)")
    assert page.evaluate("window.notReloaded") is True

    row.get_by_role("button", name="Prendre").click()
    article = page.locator(f"#c-{conversation}")
    expect(article).to_contain_text(WORDS)
    page.evaluate("window.notReloaded = true")
    answer = article.get_by_label("Votre réponse")
    article.get_by_role("button", name="I lafiyalen don sisan wa ?").click()  # a ready answer
    expect(answer).to_have_value("I lafiyalen don sisan wa ?")
    answer.fill("Je suis là, je t'écoute")  # the counsellor is writing

    say(desk, staff_settings, conversation, "J'ai peur de rentrer chez moi")
    expect(article.locator("ol.messages li")).to_have_count(2)
    expect(article.locator("ol.messages")).to_contain_text("J'ai peur de rentrer chez moi")
    assert page.evaluate("window.notReloaded") is True
    expect(answer).to_have_value("Je suis là, je t'écoute")  # what was typed stays
    expect(answer).to_be_focused()

    arun(desk, lambda client: Counselling(client, staff_settings.secret).end(conversation))
    expect(article).to_have_count(0)  # the young person left: the conversation goes
    expect(page.locator("#held")).to_contain_text("Aucune conversation ouverte.")
    assert page.evaluate("window.notReloaded") is True
    context.close()
    assert violations == []
