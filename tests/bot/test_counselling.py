"""Talking to a counsellor through the assistant, against the real Redis: consent, the
queue, texts, photos and voice notes relayed, a counsellor's reply delivered by the outbox relay, /stop, "did it
help?"; out of hours; the crisis net during a conversation; the counsellor ending it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image
from redis.asyncio import Redis

from bot.adapters.counsellor_replies import relay_replies, remember_place, stop_relay
from bot.assistant import Assistant
from bot.awareness import Unreachable
from bot.dialogue.actions import CounselJoin, CounselOffer, Do, ReportButton, encode
from bot.dialogue.engine import Engine
from bot.dialogue.events import AttachmentEvent, ButtonEvent, CommandEvent, TextEvent
from bot.dialogue.replies import Reply
from sini.counselling.model import Author, Origin, Risk, Status
from sini.counselling.store import Delivery
from sini.counselling.summary import Summary, Topic
from sini.redis_server import LocalRedis
from tests.conftest import CHAT_ID, Keys, ScriptedNLU, make_assistant, say
from tests.support.redis_scan import everything
from tests.tips.conftest import gps_photo
from tips.model import AttachmentKind

WAIT_SECONDS = 10.0  # an upper bound on waiting for a delivery, never a pause

SUMMARY = Summary(Topic.FAMILY, Risk.ORDINARY)


@pytest.fixture
async def assistant(
    engine: Engine, redis_server: LocalRedis, redis: Redis, keys: Keys
) -> AsyncIterator[Assistant]:
    """The assistant, on a Redis where the desk exists (transcripts are sealed to its key)."""
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("greet"))
    yield assistant
    await assistant.close()


class Phone:
    """The young person's chat as the relay task fills it."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[int | str, Reply]] = asyncio.Queue()
        self.edits: asyncio.Queue[tuple[int | str, int, Reply]] = asyncio.Queue()

    async def send(self, chat_id: int | str, reply: Reply) -> None:
        await self.received.put((chat_id, reply))

    async def edit(self, chat_id: int | str, message: int, reply: Reply) -> None:
        await self.edits.put((chat_id, message, reply))

    async def next_edit(self) -> tuple[int, Reply]:
        chat_id, message, reply = await asyncio.wait_for(self.edits.get(), WAIT_SECONDS)
        assert chat_id == CHAT_ID
        return message, reply

    async def next(self) -> Reply:
        chat_id, reply = await asyncio.wait_for(self.received.get(), WAIT_SECONDS)
        assert chat_id == CHAT_ID
        return reply


@pytest.fixture
async def phone(assistant: Assistant) -> AsyncIterator[Phone]:
    phone = Phone()
    task = asyncio.create_task(relay_replies(assistant, phone.send, "test-bot", phone.edit))
    yield phone
    await stop_relay(task)


def actions(replies: list[Reply]) -> list[str]:
    return [button.action for reply in replies for row in reply.buttons for button in row]


def read(replies: list[Reply] | list[str]) -> str:
    """What the messages say together, however a phone's screen size cut them."""
    texts = [r if isinstance(r, str) else r.text for r in replies]
    return " ".join(" ".join(texts).split())


def text(engine: Engine, message_id: str, **params: object) -> str:
    return engine.catalog.render(message_id, "fr", **params).text


async def join(assistant: Assistant, engine: Engine) -> str:
    """Ask from the menu and accept; the conversation's id."""
    offer = await say(assistant, ButtonEvent(Do.COUNSEL))
    assert read(offer) == read([text(engine, "counsel.consent")])
    assert encode(CounselJoin(Origin.MENU)) in actions(offer)
    queued = await say(assistant, ButtonEvent(CounselJoin(Origin.MENU)))
    assert queued[0].text.startswith("Tu es dans la file d'attente, place n° 1.")
    [waiting] = await assistant.counselling.waiting()
    return waiting.id


async def test_the_main_menu_offers_to_talk_to_someone(engine: Engine) -> None:
    menu = engine.catalog.render("menu.main", "fr")
    assert "do:counsel" in [b.action for row in menu.buttons for b in row]


async def test_a_whole_conversation_from_consent_to_feedback(
    assistant: Assistant, engine: Engine, phone: Phone, keys: Keys
) -> None:
    counselling = assistant.counselling
    await counselling.on_duty("awa")
    conversation = await join(assistant, engine)
    assert await say(assistant, TextEvent("J'ai un souci à la maison")) == []
    await counselling.claim(conversation, "awa")
    await counselling.set_alias("awa", "Mariam")
    await counselling.reply(conversation, "awa", "Je t'écoute.")
    assert (await phone.next()).text == "💬 Mariam : Je t'écoute."
    assert await say(assistant, TextEvent("merci")) == []
    messages = await counselling.messages(conversation, keys.ring)
    assert [(m.author, m.text) for m in messages] == [
        (Author.YOUNG, "J'ai un souci à la maison"),
        (Author.COUNSELLOR, "Je t'écoute."),
        (Author.YOUNG, "merci"),
    ]
    ended = await say(assistant, CommandEvent("stop"))
    assert [r.text for r in ended] == [
        text(engine, "counsel.ended"),
        text(engine, "counsel.feedback"),
        text(engine, "counsel.erase_offer"),  # as after a report
    ]
    assert actions([ended[-1]]) == [encode(ReportButton.ERASE), encode(ReportButton.KEEP)]
    assert (await counselling.get(conversation)).status is Status.CLOSED
    thanks = await say(assistant, ButtonEvent(Do.COUNSEL_HELPED))
    assert thanks[0].text == text(engine, "counsel.thanks")
    assert assistant.nlu.calls == 0  # nothing said in the conversation was read by the NLU
    assert await say(assistant, TextEvent("salut")) != []  # back to the bot
    assert assistant.nlu.calls == 1


async def test_the_menu_and_the_emergency_key_do_not_end_the_conversation(
    assistant: Assistant, engine: Engine, keys: Keys
) -> None:
    await assistant.counselling.on_duty("awa")
    conversation = await join(assistant, engine)
    menu = await say(assistant, ButtonEvent(Do.MENU))
    assert menu[0].text == text(engine, "menu.main")
    emergency = await say(assistant, TextEvent(text(engine, "key.emergency")))
    assert engine.catalog.emergency[0].number in emergency[0].text
    assert await say(assistant, TextEvent("toujours là")) == []
    assert len(await assistant.counselling.messages(conversation, keys.ring)) == 1


async def test_a_crisis_during_the_conversation_is_answered_and_raises_its_risk(
    assistant: Assistant, engine: Engine
) -> None:
    await assistant.counselling.on_duty("awa")
    conversation = await join(assistant, engine)
    crisis = await say(assistant, TextEvent("je veux mourir"))
    assert engine.catalog.emergency[0].number in crisis[0].text
    assert (await assistant.counselling.get(conversation)).risk is Risk.CRISIS


async def test_out_of_hours_a_message_is_left_and_answered_later(
    assistant: Assistant, engine: Engine, phone: Phone
) -> None:
    await say(assistant, ButtonEvent(Do.COUNSEL))
    unstaffed = await say(assistant, ButtonEvent(CounselJoin(Origin.MENU)))  # nobody on duty
    assert unstaffed[0].text == text(engine, "counsel.unstaffed")
    assert await assistant.counselling.waiting() == []
    assert encode(CounselJoin(Origin.MESSAGE)) in actions(unstaffed)
    left = await say(assistant, ButtonEvent(CounselJoin(Origin.MESSAGE)))
    assert left[0].text == text(engine, "counsel.message_left")
    assert await say(assistant, TextEvent("Je voudrais parler de mon frère")) == []
    [waiting] = await assistant.counselling.waiting()
    assert waiting.origin is Origin.MESSAGE
    await assistant.counselling.claim(waiting.id, "awa")
    await assistant.counselling.reply(waiting.id, "awa", "Bonjour, je suis là.")
    assert (await phone.next()).text == "💬 Sini : Bonjour, je suis là."


async def test_before_the_desk_exists_a_message_left_is_refused_with_the_numbers(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    """No desk keys yet: nobody could ever read the message, so none is taken, and the
    young person is told so with the emergency numbers."""
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("greet"))
    try:
        await say(assistant, ButtonEvent(Do.COUNSEL))
        refused = await say(assistant, ButtonEvent(CounselJoin(Origin.MESSAGE)))
        assert refused[0].text == text(engine, "counsel.not_ready")
        assert engine.catalog.emergency[0].number in refused[0].text
        assert await assistant.counselling.waiting() == []
        assert (await say(assistant, TextEvent("bonjour")))[0].text != text(
            engine, "counsel.message_left"
        )
    finally:
        await assistant.close()


async def test_when_the_counsellor_ends_it_the_young_person_is_told_and_asked(
    assistant: Assistant, engine: Engine, phone: Phone
) -> None:
    await assistant.counselling.on_duty("awa")
    conversation = await join(assistant, engine)
    await assistant.counselling.claim(conversation, "awa")
    await assistant.counselling.close(conversation, "awa", SUMMARY)
    closed = await phone.next()
    assert closed.text == text(engine, "counsel.closed", alias="Sini")
    assert (await phone.next()).text == text(engine, "counsel.feedback")
    assert (await phone.next()).text == text(engine, "counsel.erase_offer")
    assert await say(assistant, TextEvent("salut")) != []  # the bot answers again
    assert assistant.nlu.calls == 1
    thanks = await say(assistant, ButtonEvent(Do.COUNSEL_NOT_HELPED))
    assert thanks[0].text == text(engine, "counsel.thanks")


async def test_a_text_after_the_conversation_was_purged_ends_it_kindly(
    assistant: Assistant, engine: Engine, redis: Redis
) -> None:
    await assistant.counselling.on_duty("awa")
    await join(assistant, engine)
    await redis.delete(*[k async for k in redis.scan_iter("sini:counsel:conv:*")])
    ended = await say(assistant, TextEvent("tu es là ?"))
    assert ended[0].text == text(engine, "counsel.ended")


async def test_a_crisis_answer_offers_a_counsellor_who_takes_it_first(
    assistant: Assistant, engine: Engine
) -> None:
    await assistant.counselling.on_duty("awa")
    await assistant.counselling.request("someone-else", "fr", Origin.MENU)
    crisis = await say(assistant, TextEvent("je veux mourir"))
    assert engine.catalog.emergency[0].number in crisis[0].text  # the numbers come first
    assert crisis[-1].text == text(engine, "counsel.offer")
    assert actions([crisis[-1]]) == [encode(CounselOffer(Origin.CRISIS))]
    consent = await say(assistant, ButtonEvent(CounselOffer(Origin.CRISIS)))
    assert read(consent) == read([text(engine, "counsel.consent")])
    assert encode(CounselJoin(Origin.CRISIS)) in actions(consent)
    queued = await say(assistant, ButtonEvent(CounselJoin(Origin.CRISIS)))
    assert queued[0].text.startswith("Tu es dans la file d'attente, place n° 1.")
    first, _ = await assistant.counselling.waiting()
    assert (first.origin, first.risk) == (Origin.CRISIS, Risk.CRISIS)


async def test_yes_to_are_you_in_danger_offers_a_counsellor(
    assistant: Assistant, engine: Engine
) -> None:
    await assistant.counselling.on_duty("awa")
    crisis = await say(assistant, ButtonEvent(Do.IN_DANGER))
    assert engine.catalog.emergency[0].number in crisis[0].text
    assert actions([crisis[-1]]) == [encode(CounselOffer(Origin.CHECK_IN))]


async def test_out_of_hours_a_crisis_answer_offers_to_leave_a_message(
    assistant: Assistant, engine: Engine
) -> None:
    crisis = await say(assistant, TextEvent("je veux mourir"))  # nobody on duty
    assert crisis[-1].text == text(engine, "counsel.offer_later")
    assert actions([crisis[-1]]) == [encode(CounselOffer(Origin.MESSAGE))]
    consent = await say(assistant, ButtonEvent(CounselOffer(Origin.MESSAGE)))
    left = await say(assistant, ButtonEvent(CounselJoin(Origin.MESSAGE)))
    assert read(consent) == read([text(engine, "counsel.consent")])
    assert left[0].text == text(engine, "counsel.message_left")


async def test_the_second_clarifying_menu_in_a_row_offers_a_counsellor(
    engine: Engine, redis_server: LocalRedis, redis: Redis
) -> None:
    assistant = make_assistant(engine, redis_server.url, ScriptedNLU("nlu_fallback"))
    try:
        await assistant.counselling.on_duty("awa")
        first = await say(assistant, TextEvent("blabla"))
        assert [r.text for r in first] == [text(engine, "clarify")]
        second = await say(assistant, TextEvent("euh bof"))
        assert [r.text for r in second] == [text(engine, "clarify"), text(engine, "counsel.offer")]
        assert actions([second[-1]]) == [encode(CounselOffer(Origin.CLARIFY))]
        await say(assistant, ButtonEvent(Do.MENU))  # no longer in a row
        again = await say(assistant, TextEvent("blabla"))
        assert [r.text for r in again] == [text(engine, "clarify")]
    finally:
        await assistant.close()


async def test_no_counsellor_is_offered_to_someone_already_talking_to_one(
    assistant: Assistant, engine: Engine
) -> None:
    await assistant.counselling.on_duty("awa")
    await join(assistant, engine)
    crisis = await say(assistant, TextEvent("je veux mourir"))
    assert text(engine, "counsel.offer") not in [r.text for r in crisis]
    assert all("counsel:offer" not in a for a in actions(crisis))


@pytest.mark.parametrize(
    "event",
    [ButtonEvent(Do.REPORT), ButtonEvent(ReportButton.START), CommandEvent("suivi")],
    ids=["report button", "stale start button", "/suivi"],
)
async def test_a_report_asked_mid_conversation_does_not_replace_it(
    assistant: Assistant, engine: Engine, event: ButtonEvent | CommandEvent, keys: Keys
) -> None:
    await assistant.counselling.on_duty("awa")
    conversation = await join(assistant, engine)
    asked = await say(assistant, event)
    assert [r.text for r in asked] == [text(engine, "counsel.still_open")]
    assert actions(asked) == [encode(Do.COUNSEL_END)]
    assert await say(assistant, TextEvent("toujours là")) == []  # still reaches the counsellor
    assert len(await assistant.counselling.messages(conversation, keys.ring)) == 1


async def test_a_reply_to_someone_who_blocked_the_bot_ends_the_conversation(
    assistant: Assistant, engine: Engine, redis: Redis
) -> None:
    counselling = assistant.counselling
    await counselling.on_duty("awa")
    conversation = await join(assistant, engine)
    await counselling.claim(conversation, "awa")
    await counselling.reply(conversation, "awa", "Tu es toujours là ?")
    handled = asyncio.Event()
    fetch = counselling.pending_replies
    batches: list[list[Delivery]] = []

    async def pending_replies(consumer: str, block_ms: int = 1000) -> list[Delivery]:
        """The outbox once; then the relay has handled it, and waits to be cancelled."""
        if batches:
            handled.set()
            await asyncio.Event().wait()
        batches.append(await fetch(consumer, block_ms))
        return batches[-1]

    async def blocked(chat_id: int | str, reply: Reply) -> None:
        raise Unreachable("Forbidden: bot was blocked by the user")

    counselling.pending_replies = pending_replies  # type: ignore[method-assign]
    task = asyncio.create_task(relay_replies(assistant, blocked, "test-bot", Phone().edit))
    try:
        await asyncio.wait_for(handled.wait(), WAIT_SECONDS)
    finally:
        await stop_relay(task)
    assert len(batches[0]) == 1
    assert (await counselling.get(conversation)).status is Status.CLOSED
    assert await counselling.held_by("awa") == []  # gone from the console
    assert await redis.xlen("sini:counsel:outbox") == 0  # not tried again


async def test_the_place_in_the_queue_is_edited_in_place_when_it_changes(
    assistant: Assistant, engine: Engine, phone: Phone
) -> None:
    counselling = assistant.counselling
    await counselling.on_duty("awa")
    ahead = await counselling.request("someone-else", "fr", Origin.MENU)
    await say(assistant, ButtonEvent(Do.COUNSEL))
    [queued] = await say(assistant, ButtonEvent(CounselJoin(Origin.MENU)))
    assert queued.text.startswith("Tu es dans la file d'attente, place n° 2.")
    assert queued.place is not None
    await remember_place(assistant, queued.place, 42)  # as the adapter does once it is sent
    await counselling.claim(ahead.conversation, "awa")
    message, edited = await phone.next_edit()
    assert message == 42
    assert edited.text.startswith("Tu es dans la file d'attente, place n° 1. Attente estimée")
    assert actions([edited]) == [encode(Do.COUNSEL_END)]
    assert phone.received.empty()  # edited, not sent again


class Eraser:
    """The chat channel, for erasing (Telegram deletes the chat's recent messages)."""

    def __init__(self) -> None:
        self.erased = 0

    async def download(self, file_ref: str) -> bytes:
        raise OSError(file_ref)

    async def erase(self) -> bool:
        self.erased += 1
        return True

    async def notify_staff(self, text: str) -> None:
        return None


async def test_after_stop_the_chat_can_be_erased_as_after_a_report(
    assistant: Assistant, engine: Engine
) -> None:
    await assistant.counselling.on_duty("awa")
    await join(assistant, engine)
    await say(assistant, TextEvent("Personne ne doit lire ça"))
    await say(assistant, CommandEvent("stop"))
    eraser = Eraser()
    erased = await assistant.handle(CHAT_ID, ButtonEvent(ReportButton.ERASE), "fr", eraser)
    assert eraser.erased == 1
    assert erased.replies[0].text == text(engine, "report.erased")
    kept = await say(assistant, ButtonEvent(ReportButton.KEEP))
    assert kept[0].text == text(engine, "report.kept")


async def test_a_transfer_tells_the_young_person_one_short_line_and_nothing_else(
    assistant: Assistant, engine: Engine, phone: Phone
) -> None:
    await assistant.counselling.on_duty("awa")
    await assistant.counselling.on_duty("binta")
    conversation = await join(assistant, engine)
    await assistant.counselling.claim(conversation, "awa")
    await assistant.counselling.transfer(conversation, "awa", "binta")
    await assistant.counselling.reply(conversation, "binta", "Je suis là.")
    assert (await phone.next()).text == text(engine, "counsel.handover")
    assert (await phone.next()).text == "💬 Sini : Je suis là."


class Files(Eraser):
    """The chat channel, holding the files the young person sent."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__()
        self.files = files

    async def download(self, file_ref: str) -> bytes:
        return self.files[file_ref]


VOICE = b"OggS\x00voice note of the young person"


async def test_a_photo_and_a_voice_note_reach_the_counsellor_without_metadata(
    assistant: Assistant, engine: Engine, keys: Keys
) -> None:
    """What the young person sends besides text goes to the counsellor, sealed to the desk
    key like a tip's attachments, the photo re-encoded without its EXIF (GPS, phone)."""
    await assistant.counselling.on_duty("awa")
    conversation = await join(assistant, engine)
    await assistant.counselling.claim(conversation, "awa")
    files = Files({"photo-ref": gps_photo(), "voice-ref": VOICE})
    for event in (
        AttachmentEvent("photo", "photo-ref", len(gps_photo()), "image/jpeg"),
        AttachmentEvent("voice", "voice-ref", len(VOICE), "audio/ogg"),
    ):
        assert (await assistant.handle(CHAT_ID, event, "fr", files)).replies == ()
    messages = await assistant.counselling.messages(conversation, keys.ring)
    assert [(m.author, m.attachment and m.attachment.kind) for m in messages] == [
        (Author.YOUNG, AttachmentKind.PHOTO),
        (Author.YOUNG, AttachmentKind.VOICE),
    ]
    meta, photo = await assistant.counselling.attachment(conversation, 0, keys.ring)
    assert meta.mime_type == "image/jpeg"
    with Image.open(io.BytesIO(photo)) as opened:
        assert dict(opened.getexif()) == {}
    assert (await assistant.counselling.attachment(conversation, 1, keys.ring))[1] == VOICE
    dump = await everything(assistant.counselling.redis)
    for leak in (b"SPYPHONE", b"voice note of the young person", b"photo-ref", b"voice-ref"):
        assert leak not in dump


async def test_a_file_that_cannot_be_fetched_is_said_so_and_the_conversation_goes_on(
    assistant: Assistant, engine: Engine, keys: Keys
) -> None:
    await assistant.counselling.on_duty("awa")
    conversation = await join(assistant, engine)
    event = AttachmentEvent("photo", "gone", 1000, "image/jpeg")
    refused = await assistant.handle(CHAT_ID, event, "fr", Eraser())  # its download fails
    assert [r.text for r in refused.replies] == [text(engine, "counsel.media_failed")]
    assert await say(assistant, TextEvent("je réessaie par écrit")) == []
    [said] = await assistant.counselling.messages(conversation, keys.ring)
    assert said.text == "je réessaie par écrit"
