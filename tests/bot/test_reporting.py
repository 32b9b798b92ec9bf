"""Anonymous reporting and follow-up, through the assistant with real Redis and sealing.

What a tipster sees, what staff can read, and what Redis must never hold."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.assistant import Assistant
from bot.dialogue.engine import Engine
from bot.dialogue.events import CommandEvent, LocationEvent, TextEvent, button_event
from bot.dialogue.replies import Reply
from bot.dialogue.store import OpenChat, chat_key
from sini.redis import connect_redis
from sini.redis_server import LocalRedis
from sini.regions import Region
from tests.conftest import CHAT_ID, SECRET, ScriptedNLU, make_assistant, say
from tests.support.redis_scan import everything
from tips.crypto import MINIMUM_FOR_TESTS
from tips.desk import Desk
from tips.intake import Intake
from tips.keys import init_desk_keys, unwrap_desk_keyring
from tips.model import Category, Draft, Status
from tips.receipts import Receipt

SECRET_TEXT = "Le vendeur au marché de Médine cache le kush sous les pagnes"
PASSWORD = "correct horse battery staple"


@pytest.fixture
async def desk(redis: Redis) -> None:
    await init_desk_keys(redis, "admin", PASSWORD, limits=MINIMUM_FOR_TESTS)


async def on_own_redis(
    engine: Engine, tmp_path: Path, nlu: ScriptedNLU
) -> tuple[LocalRedis, Assistant]:
    """An assistant, with desk keys, on a Redis of its own that a test may kill."""
    server = LocalRedis(tmp_path / "redis").start()
    assistant = make_assistant(engine, server.url, nlu)
    await init_desk_keys(assistant.tips.redis, "admin", PASSWORD, limits=MINIMUM_FOR_TESTS)
    return server, assistant


async def report(assistant: Assistant, text: str = SECRET_TEXT) -> tuple[str, str]:
    """Walk the whole flow with buttons and text; return (code, passphrase) as shown."""
    await say(assistant, CommandEvent("signaler"))
    await say(assistant, button_event("rep:start"))
    await say(assistant, button_event("rep:cat:drug_trafficking"))
    await say(assistant, TextEvent("Médine, Commune II"))
    await say(assistant, button_event("rep:when:ongoing"))
    noted = await say(assistant, TextEvent(text))
    assert "1" in noted[0].text
    review = await say(assistant, button_event("rep:review"))
    assert "Bamako" in review[0].text
    sent = await say(assistant, button_event("rep:send"))
    assert all(reply.protect for reply in sent)
    return _receipt(sent[0].text)


async def test_a_report_is_sealed_and_only_staff_and_the_tipster_can_read_it(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    code, passphrase = await report(assistant)
    view = await assistant.tips.open_for_tipster(code, passphrase)
    assert view.content.text == SECRET_TEXT
    assert view.content.region is Region.BAMAKO
    (record,) = await Desk(assistant.tips.redis).records()
    assert record.category is Category.DRUG_TRAFFICKING
    assert record.created_hour.minute == 0
    keyring = await unwrap_desk_keyring(redis, "admin", PASSWORD)
    assert (await Desk(assistant.tips.redis).open(record.lookup, keyring)).text == SECRET_TEXT
    await assistant.close()


async def test_nothing_in_redis_names_the_chat_or_holds_the_text(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    await say(assistant, CommandEvent("signaler"))
    await say(assistant, button_event("rep:start"))
    await say(assistant, button_event("rep:cat:human_trafficking"))
    await say(assistant, button_event("rep:reg:Kayes"))
    await say(assistant, button_event("rep:when:today"))
    await say(assistant, TextEvent(SECRET_TEXT))
    await assert_clean(redis)  # the draft, mid-flow
    await say(assistant, button_event("rep:review"))
    await say(assistant, button_event("rep:send"))
    await assert_clean(redis)  # the sealed tip
    await assistant.close()


async def assert_clean(redis: Redis) -> None:
    dump = await everything(redis)
    for secret in [str(CHAT_ID).encode(), b"kush", "Médine".encode(), b"pagnes"]:
        assert secret not in dump, secret


async def test_a_shared_location_is_rounded_to_about_a_kilometre(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    await say(assistant, CommandEvent("signaler"))
    await say(assistant, button_event("rep:start"))
    await say(assistant, button_event("rep:cat:other"))
    await say(assistant, LocationEvent(13.456789, -6.265432))  # Ségou
    await say(assistant, button_event("rep:when:earlier"))
    await say(assistant, TextEvent("des enfants travaillent la nuit"))
    await say(assistant, button_event("rep:review"))
    code, passphrase = _receipt((await say(assistant, button_event("rep:send")))[0].text)
    view = await assistant.tips.open_for_tipster(code, passphrase)
    assert view.content.location is not None
    assert (view.content.location.lat, view.content.location.lon) == (13.46, -6.27)
    assert view.content.region is Region.SEGOU
    await assistant.close()


def _receipt(text: str) -> tuple[str, str]:
    code = re.search(r"Code : (\S+)", text)
    passphrase = re.search(r"Phrase secrète : ([a-z0-9 ]+)", text)
    assert code, text
    assert passphrase, text
    return code.group(1), passphrase.group(1).strip()


async def test_cancel_discards_the_draft_everywhere(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    await say(assistant, button_event("rep:start"))
    await say(assistant, button_event("rep:cat:other"))
    await say(assistant, CommandEvent("annuler"))
    stale = await say(assistant, button_event("rep:when:today"))
    assert "do:menu" in [b.action for r in stale for row in r.buttons for b in row]
    assert await Desk(assistant.tips.redis).records() == []
    state = await assistant.store.load(_key())
    assert state.draft is None
    await assistant.close()


def _key() -> str:
    return chat_key(SECRET, CHAT_ID)


async def test_a_crisis_written_inside_a_report_gets_numbers_and_is_kept(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    await say(assistant, button_event("rep:start"))
    await say(assistant, button_event("rep:cat:human_trafficking"))
    await say(assistant, button_event("rep:reg:Gao"))
    await say(assistant, button_event("rep:when:ongoing"))
    replies = await say(
        assistant, TextEvent("ils nous enferment la nuit et ont pris nos passeports")
    )
    assert engine.catalog.emergency[0].number in replies[0].text
    await say(assistant, button_event("rep:review"))
    code, passphrase = _receipt((await say(assistant, button_event("rep:send")))[0].text)
    view = await assistant.tips.open_for_tipster(code, passphrase)
    assert "passeports" in view.content.text
    await assistant.close()


async def test_follow_up_shows_the_staff_reply_and_takes_more_information(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    code, passphrase = await report(assistant)
    staff = Desk(assistant.tips.redis)
    (record,) = await staff.records()
    keyring = await unwrap_desk_keyring(redis, "admin", PASSWORD)
    await staff.reply_to_tipster(record.lookup, "Merci, c'est transmis.", keyring.public_key)
    await say(assistant, CommandEvent("suivi"))
    await say(assistant, TextEvent(code.lower()))
    turn = await assistant.handle(CHAT_ID, TextEvent(passphrase))
    assert turn.forget_message  # the passphrase message is deleted from the chat
    assert "Merci, c'est transmis." in turn.replies[0].text
    await say(assistant, button_event("fol:add"))
    await say(assistant, TextEvent("Il a changé de marché"))
    added = await say(assistant, TextEvent(passphrase))
    assert added[0].text == engine.catalog.render("followup.added", "fr").text
    thread = await staff.thread(record.lookup, keyring)
    assert [m.text for m in thread][-1] == "Il a changé de marché"
    await assistant.close()


async def test_writing_on_the_status_screen_offers_to_add_it_to_the_report(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    """No "I cannot read messages right now": what a tipster writes after reading the
    status is more information, added once the passphrase confirms it."""
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    code, passphrase = await report(assistant)
    await say(assistant, CommandEvent("suivi"))
    await say(assistant, TextEvent(code))
    await say(assistant, TextEvent(passphrase))
    (confirm,) = await say(assistant, TextEvent("Ils ont déménagé à Koutiala"))
    assert confirm.text == engine.catalog.render("followup.confirm_passphrase", "fr").text
    added = await say(assistant, TextEvent(passphrase))
    assert added[0].text == engine.catalog.render("followup.added", "fr").text
    staff = Desk(assistant.tips.redis)
    (record,) = await staff.records()
    keyring = await unwrap_desk_keyring(redis, "admin", PASSWORD)
    thread = await staff.thread(record.lookup, keyring)
    assert thread[-1].text == "Ils ont déménagé à Koutiala"
    await assistant.close()


async def test_wrong_passphrases_never_say_whether_the_code_exists_and_get_locked(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU(), flood_limit=100)
    code, _ = await report(assistant)
    invalid = engine.catalog.render("followup.invalid", "fr").text
    for attempt_code in [code, "ZZZZ-ZZZZ"]:
        await say(assistant, CommandEvent("suivi"))
        await say(assistant, TextEvent(attempt_code))
        wrong = await say(assistant, TextEvent("aaaa bbbb cccc dddd eeee"))
        assert wrong[0].text == invalid
    locked = engine.catalog.render("followup.locked", "fr").text
    answers = []
    for _ in range(5):
        await say(assistant, TextEvent(code))
        answers.append((await say(assistant, TextEvent("aaaa bbbb cccc dddd eeee")))[0].text)
    assert answers[-1] == locked
    assert set(answers) == {invalid, locked}
    await assistant.close()


async def test_an_acknowledged_tip_survives_a_redis_crash(engine: Engine, tmp_path: Path) -> None:
    """AOF with appendfsync always: once the receipt is shown, the tip is on disk."""
    server, assistant = await on_own_redis(engine, tmp_path, ScriptedNLU())
    code, passphrase = await report(assistant)
    server.kill()  # SIGKILL, no chance to save anything more
    await assistant.close()
    restarted = LocalRedis(tmp_path / "redis", port=server.port).start()
    reader = Intake(connect_redis(restarted.url), SECRET, kdf_limits=MINIMUM_FOR_TESTS)
    try:
        view = await reader.open_for_tipster(code, passphrase)
        assert view.content.text == SECRET_TEXT
        assert view.status is Status.NEW
    finally:
        await reader.redis.close()
        restarted.stop()


async def test_a_report_survives_a_redis_outage_in_the_middle(
    engine: Engine, tmp_path: Path
) -> None:
    server, assistant = await on_own_redis(engine, tmp_path, ScriptedNLU())
    await say(assistant, button_event("rep:start"))
    await say(assistant, button_event("rep:cat:child_exploitation"))
    await say(assistant, button_event("rep:reg:Mopti"))
    await say(assistant, button_event("rep:when:this_week"))
    await say(assistant, TextEvent(SECRET_TEXT))
    await say(assistant, button_event("rep:review"))
    server.kill()
    down = await say(assistant, button_event("rep:send"))
    assert down[0].text == engine.catalog.render("error.storage_down", "fr").text
    assert "Code" not in down[0].text  # never acknowledged
    restarted = LocalRedis(tmp_path / "redis", port=server.port).start()
    try:
        code, passphrase = _receipt((await say(assistant, button_event("rep:send")))[0].text)
        view = await assistant.tips.open_for_tipster(code, passphrase)
        assert view.content.text == SECRET_TEXT
    finally:
        await assistant.close()
        restarted.stop()


async def test_words_typed_in_a_report_while_redis_is_down_are_added_when_it_returns(
    engine: Engine, tmp_path: Path
) -> None:
    server, assistant = await on_own_redis(engine, tmp_path, ScriptedNLU("report_tip"))
    await say(assistant, button_event("rep:start"))
    await say(assistant, button_event("rep:cat:drug_trafficking"))
    await say(assistant, button_event("rep:reg:Mopti"))
    await say(assistant, button_event("rep:when:this_week"))
    await say(assistant, TextEvent("Première partie"))
    server.kill()
    down = await say(assistant, TextEvent(SECRET_TEXT))
    assert down[0].text == engine.catalog.render("error.storage_held", "fr").text
    assert assistant.nlu.calls == 0  # a tip's words are never sent to the NLU
    restarted = LocalRedis(tmp_path / "redis", port=server.port).start()
    try:
        back = await say(assistant, TextEvent("Troisième partie"))
        assert [r.text for r in back].count(back[-1].text) == 1
        assert "2" in back[0].text
        assert "3" in back[-1].text
        await say(assistant, button_event("rep:review"))
        code, passphrase = _receipt((await say(assistant, button_event("rep:send")))[0].text)
        view = await assistant.tips.open_for_tipster(code, passphrase)
        assert "Première partie" in view.content.text
        assert SECRET_TEXT in view.content.text
        assert "Troisième partie" in view.content.text
    finally:
        await assistant.close()
        restarted.stop()


async def test_the_emergency_key_in_a_report_while_redis_is_down_gives_the_numbers(
    engine: Engine, tmp_path: Path
) -> None:
    server, assistant = await on_own_redis(engine, tmp_path, ScriptedNLU())
    await say(assistant, button_event("rep:start"))
    await say(assistant, button_event("rep:cat:drug_trafficking"))
    server.kill()
    try:
        key = engine.catalog.render("key.emergency", "fr").text
        down = await say(assistant, TextEvent(key))
        assert down[0].text == engine.catalog.render("emergency", "fr").text
    finally:
        await assistant.close()


async def test_a_passphrase_sent_while_redis_is_down_is_deleted_and_used_when_it_returns(
    engine: Engine, tmp_path: Path
) -> None:
    server, assistant = await on_own_redis(engine, tmp_path, ScriptedNLU())
    code, passphrase = await report(assistant)
    await say(assistant, CommandEvent("suivi"))
    await say(assistant, TextEvent(code))
    server.kill()
    down = await assistant.handle(CHAT_ID, TextEvent(passphrase))
    assert down.forget_message  # deleted from the chat as promised, outage or not
    assert down.replies[0].text == engine.catalog.render("error.storage_held", "fr").text
    assert assistant.nlu.calls == 0
    restarted = LocalRedis(tmp_path / "redis", port=server.port).start()
    try:
        back = await say(assistant, TextEvent("Il a changé de marché"))
        status = engine.catalog.render("followup.confirm_passphrase", "fr").text
        view, confirm = back
        assert view.text.startswith("Signalement envoyé le")  # the passphrase, replayed
        assert confirm.text == status  # and what followed is offered as more information
    finally:
        await assistant.close()
        restarted.stop()


async def test_the_emergency_key_keeps_the_report_and_the_menu_leaves_it_with_a_warning(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU())
    await say(assistant, button_event("rep:start"))
    await say(assistant, button_event("rep:cat:other"))
    await say(assistant, button_event("rep:reg:Kita"))
    await say(assistant, button_event("rep:when:today"))
    emergency = await say(assistant, TextEvent("🆘 Urgence"))
    assert engine.catalog.emergency[0].number in emergency[0].text
    noted = await say(assistant, TextEvent("ils sont trois"))
    assert "1" in noted[0].text  # the key press was not taken as report text
    typo = await say(assistant, CommandEvent("signlaer"))
    assert typo[0].text == engine.catalog.render("error.unknown_command", "fr").text
    left = await say(assistant, TextEvent("☰ Menu"))
    assert left[0].text == engine.catalog.render("report.left", "fr").text
    assert left[1].text == engine.catalog.render("menu.main", "fr").text
    assert (await assistant.store.load(_key())).draft is None
    await assistant.close()


# ----------------------------------------------------------------- exactly once (issue 22)


async def to_review(assistant: Assistant, text: str = SECRET_TEXT) -> None:
    """Walk the flow up to the review, whose first showing gives the draft its id."""
    await say(assistant, button_event("rep:start"))
    await say(assistant, button_event("rep:cat:drug_trafficking"))
    await say(assistant, button_event("rep:reg:Mopti"))
    await say(assistant, button_event("rep:when:ongoing"))
    await say(assistant, TextEvent(text))
    await say(assistant, button_event("rep:review"))


def receipts_in(replies: list[Reply]) -> int:
    return sum("Phrase secrète" in reply.text for reply in replies)


async def test_redis_killed_between_the_tip_and_the_chat_state_then_send_again_is_one_tip(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tip is written (the receipt is shown) but Redis dies before the chat's state is
    saved, so the chat still shows the review: pressing "send" again, once Redis is back,
    says the report is already stored, stores nothing more, and leaves the report."""
    server, assistant = await on_own_redis(engine, tmp_path, ScriptedNLU())
    await to_review(assistant)
    real_submit = assistant.tips.submit
    written = 0

    async def then_redis_dies(*args: Any, **kwargs: Any) -> Receipt:
        nonlocal written
        receipt = await real_submit(*args, **kwargs)
        written += 1
        server.kill()  # the tip is on disk; the chat state save comes next and fails
        return receipt

    monkeypatch.setattr(assistant.tips, "submit", then_redis_dies)
    first = await say(assistant, button_event("rep:send"))
    assert receipts_in(first) == 1
    restarted = LocalRedis(tmp_path / "redis", port=server.port).start()
    try:
        assert (await assistant.store.load(_key())).step == "review", "the save was lost"
        again = await say(assistant, button_event("rep:send"))
        assert [r.text for r in again] == [
            engine.catalog.render("report.already_stored", "fr").text
        ]
        assert (
            written,
            receipts_in(first + again),
            len(await Desk(assistant.tips.redis).records()),
        ) == (
            1,
            1,
            1,
        )
        assert (await assistant.store.load(_key())).flow is None, "the report is left"
        stale = await say(assistant, button_event("rep:send"))
        assert receipts_in(stale) == 0
        assert len(await Desk(assistant.tips.redis).records()) == 1
    finally:
        await assistant.close()
        restarted.stop()


async def test_two_replicas_sending_one_draft_at_once_store_one_tip_and_show_one_receipt(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    """Replica A stalls inside the submission, past its lease; replica B takes the chat and
    sends the same draft; then A goes on: one tip, one receipt, and A says "already
    stored" — its stale save is refused, but what it says is true."""
    replica_a = make_assistant(engine, redis_server.url, ScriptedNLU())
    replica_b = make_assistant(engine, redis_server.url, ScriptedNLU())
    await to_review(replica_a)
    lease_runs_out(replica_a)
    arrived, resume = asyncio.Event(), asyncio.Event()
    real_submit = replica_a.tips.submit

    async def stalled(*args: Any, **kwargs: Any) -> Receipt:
        arrived.set()
        await resume.wait()
        return await real_submit(*args, **kwargs)

    replica_a.tips.submit = stalled  # type: ignore[method-assign]
    sending_a = asyncio.create_task(say(replica_a, button_event("rep:send")))
    await stalled_in(sending_a, arrived)
    from_b = await say(replica_b, button_event("rep:send"))
    resume.set()
    from_a = await sending_a
    assert receipts_in(from_b) == 1
    assert [r.text for r in from_a] == [engine.catalog.render("report.already_stored", "fr").text]
    assert len(await Desk(replica_a.tips.redis).records()) == 1
    assert (await replica_a.store.load(_key())).flow is None
    await replica_a.close()
    await replica_b.close()


async def stalled_in(turn: asyncio.Task[Any], arrived: asyncio.Event) -> None:
    """Wait until the turn has reached its stall; a turn that fails before it is the
    test's failure, not a wait without end."""
    reached = asyncio.create_task(arrived.wait())
    await asyncio.wait([turn, reached], return_when=asyncio.FIRST_COMPLETED)
    if not reached.done():
        reached.cancel()
        turn.result()
        pytest.fail("the turn ended without reaching its stall")


def lease_runs_out(assistant: Assistant) -> None:
    """This replica's leases last a millisecond: whatever it does next, it does as a
    replica that stalled past its lease."""
    real_open = assistant.store.open

    async def short(key: str, lease_seconds: float = 0.0, update_id: int | None = None) -> OpenChat:
        return await real_open(key, lease_seconds=0.001, update_id=update_id)

    assistant.store.open = short  # type: ignore[method-assign]


async def test_a_stalled_replica_cannot_overwrite_a_newer_step_and_asks_to_send_again(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    """A stalls before saving part 2, past its lease; B notes part 3 meanwhile. A's save is
    refused: part 3 is kept, and A's sender is asked kindly to send part 2 again instead
    of reading a "Noté" that would not be true."""
    replica_a = make_assistant(engine, redis_server.url, ScriptedNLU())
    replica_b = make_assistant(engine, redis_server.url, ScriptedNLU())
    await say(replica_a, button_event("rep:start"))
    await say(replica_a, button_event("rep:cat:other"))
    await say(replica_a, button_event("rep:reg:Kita"))
    await say(replica_a, button_event("rep:when:today"))
    await say(replica_a, TextEvent("partie un"))
    lease_runs_out(replica_a)
    arrived, resume = asyncio.Event(), asyncio.Event()
    real_save = replica_a.store.save

    async def stalled(*args: Any, **kwargs: Any) -> None:
        arrived.set()
        await resume.wait()
        await real_save(*args, **kwargs)

    replica_a.store.save = stalled  # type: ignore[method-assign]
    part_two = asyncio.create_task(say(replica_a, TextEvent("partie deux")))
    await stalled_in(part_two, arrived)
    part_three = await say(replica_b, TextEvent("partie trois"))
    resume.set()
    busy = await part_two
    assert "2" in part_three[0].text  # B noted it as the second part
    assert [r.text for r in busy] == [engine.catalog.render("error.busy", "fr").text]
    state = await replica_b.store.load(_key())
    assert state.draft is not None
    assert Draft.from_json(state.draft).parts == ("partie un", "partie trois")
    await replica_a.close()
    await replica_b.close()


class ReplicaKilled(BaseException):
    """Stands for SIGKILL: nothing after it in the replica runs to completion."""


async def test_a_replica_killed_right_after_the_tip_write_leaves_one_tip_when_sent_again(
    engine: Engine, redis_server: LocalRedis, redis: Redis, desk: None
) -> None:
    """A stores the tip and dies before answering or saving; the person presses "send"
    again and B gets it: no second tip, and B says plainly that the report is stored
    and that the receipt is shown once only (here it never was: A died first)."""
    replica_a = make_assistant(engine, redis_server.url, ScriptedNLU())
    replica_b = make_assistant(engine, redis_server.url, ScriptedNLU())
    await to_review(replica_a)
    lease_runs_out(replica_a)  # a dead replica's lease is given back by expiry only
    real_submit = replica_a.tips.submit

    async def then_killed(*args: Any, **kwargs: Any) -> Receipt:
        await real_submit(*args, **kwargs)
        raise ReplicaKilled

    replica_a.tips.submit = then_killed  # type: ignore[method-assign]
    with pytest.raises(ReplicaKilled):
        await say(replica_a, button_event("rep:send"))
    again = await say(replica_b, button_event("rep:send"))
    assert [r.text for r in again] == [engine.catalog.render("report.already_stored", "fr").text]
    assert len(await Desk(replica_b.tips.redis).records()) == 1
    assert (await replica_b.store.load(_key())).flow is None
    await replica_a.close()
    await replica_b.close()
