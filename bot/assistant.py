"""The assistant: what every adapter (Telegram, terminal) calls for each user event.

It wraps the pure dialogue engine with the parts that can fail — Redis, the NLU and the
tip store — and degrades instead of failing: without Redis it answers from a fresh state
(nothing is remembered until Redis is back, and a report in progress waits safely in
Redis's append-only file); without the NLU it answers crises and buttons, says politely
that free text cannot be understood right now, and offers buttons for a drug or a place
the text names (a keyword fallback).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime, timezone
from typing import Protocol

from redis.exceptions import RedisError

from bot import metrics
from bot.awareness import CampaignStore, Subscribers
from bot.content import negotiate_locale
from bot.dialogue import outbox
from bot.dialogue.actions import SetLanguage
from bot.dialogue.effects import (
    AddFollowup,
    CounselFeedback,
    Done,
    Effect,
    EndCounselling,
    EraseChat,
    Failure,
    OfferCounsellor,
    OpenFollowup,
    Outcome,
    Relay,
    RequestCounsellor,
    SubmitTip,
    Subscribe,
    Unsubscribe,
)
from bot.dialogue.engine import Engine, clean_text
from bot.dialogue.events import (
    ButtonEvent,
    CommandEvent,
    CounsellorEnded,
    Event,
    TextEvent,
)
from bot.dialogue.replies import Reply, Turn
from bot.dialogue.state import ChatState, Step
from bot.dialogue.store import DialogueStore, LeaseLost, OpenChat, chat_key
from bot.nlu import NLU, NLUUnavailable, Understanding
from bot.nlu.crisis import Assessment, CrisisNet
from bot.nlu.normalise import fold_lookalikes
from bot.nlu.passages import most_confident, passages
from bot.outage import OutageMemory
from sini.counselling.model import Origin, Risk, Status
from sini.counselling.store import ConversationNotFound, Counselling, Delivery
from sini.logging import get_logger
from tips.intake import AlreadySubmitted, Intake, ReceiptInvalid, ReceiptLocked
from tips.keys import DeskKeyMissing, desk_public_key
from tips.media import MediaError, PreparedAttachment, prepare_attachment
from tips.model import AttachmentRef, Draft, TipError

log = get_logger(__name__)
READINESS_TIMEOUT_SECONDS = 0.8  # under Kubernetes' default 1 s probe timeout
# Turns whose effect happened outside the chat state (a tip stored, a follow-up added, a
# subscription changed, messages erased): sent as they are even if their state could not
# be kept, because what they say is true whatever the state.
DONE_TOPICS = frozenset(
    {
        "report.submitted",
        "report.already_stored",
        "report.erased",
        "followup.added",
        "subscribe.done",
        "unsubscribe.done",
        "counsel.queued",
        "counsel.ended",
    }
)


class Channel(Protocol):
    """What only the chat channel can do for the assistant."""

    async def download(self, file_ref: str) -> bytes:
        """The bytes of a file the user sent (raise to skip it)."""
        ...  # pragma: no cover

    async def erase(self) -> bool:
        """Delete this conversation's messages; False if the channel cannot."""
        ...  # pragma: no cover

    async def notify_staff(self, text: str) -> None:
        """Tell the staff chat a tip arrived (category and region only, never content)."""
        ...  # pragma: no cover


class Assistant:
    """One instance per process; safe to call concurrently for different chats."""

    def __init__(
        self,
        engine: Engine,
        nlu: NLU,
        store: DialogueStore,
        tips: Intake,
        secret: bytes,
        net: CrisisNet,
        counselling: Counselling | None = None,
    ) -> None:
        """`counselling` defaults to the conversations in the dialogue Redis with the
        default limits, open at all hours."""
        self.engine = engine
        self.nlu = nlu
        self.net = net
        self.outage = OutageMemory(hold_seconds=store.draft_ttl)
        self.store = store
        self.tips = tips
        self.campaigns = CampaignStore(store.redis)
        self.subscribers = Subscribers(store.redis, secret)
        self.counselling = counselling or Counselling(store.redis, secret)
        self._secret = secret

    async def close(self) -> None:
        await self.nlu.close()
        await self.store.redis.close()
        if self.tips.redis is not self.store.redis:
            await self.tips.redis.close()

    async def readiness(self) -> dict[str, bool]:
        """Which parts can serve right now (for /readyz): each Redis answers PING and the
        NLU parses a probe phrase (a Rasa server that is down, or a model that failed,
        does not). Checked concurrently, each within a deadline, so a probe never hangs."""
        checks: dict[str, Awaitable[object]] = {"redis": self.store.redis.ping()}
        if self.tips.redis is not self.store.redis:
            checks["tips_redis"] = self.tips.redis.ping()
        checks["nlu"] = self._nlu_ready()
        results = await asyncio.gather(
            *(asyncio.wait_for(check, READINESS_TIMEOUT_SECONDS) for check in checks.values()),
            return_exceptions=True,
        )
        parts = {}
        for name, result in zip(checks, results, strict=True):
            parts[name] = not isinstance(result, BaseException)
            if not parts[name]:
                log.warning("ready.down", part=name, error_type=type(result).__name__)
        return parts

    async def handle(
        self,
        chat_id: int | str,
        event: Event,
        language_code: str | None = None,
        channel: Channel | None = None,
        deliver: Callable[[Turn], Awaitable[None]] | None = None,
        update_id: int | None = None,
    ) -> Turn:
        """Answer one event from one chat; the Turn's replies are what to send.

        Given `deliver`, the replies are saved with the new state (bot/dialogue/outbox.py)
        and sent through it while the chat is still held — after any that an earlier
        update saved and could not send — so the chat's next update, whichever replica
        handles it, is answered after them. The save marks Telegram's `update_id`
        answered: taken over from a replica that stopped after saving, the update is not
        worked out again, only `resend`."""
        key = chat_key(self._secret, chat_id)
        screened = self.net.screen(event.text) if isinstance(event, TextEvent) else None
        chat = await self._open(key, update_id)
        if chat is None or deliver is None:
            try:
                return await self._respond(
                    chat_id, key, chat, event, screened, language_code, channel
                )
            finally:
                if chat is not None:
                    await self._give_back(chat)
        chat.release_on_save = False
        async with self._sending(chat):
            await self._send_unsent(chat, deliver)
            turn = await self._respond(chat_id, key, chat, event, screened, language_code, channel)
            await deliver(turn)
        return turn

    async def resend(self, chat_id: int | str, deliver: Callable[[Turn], Awaitable[None]]) -> None:
        """Send what the chat's outbox holds: an update arrived whose answer was saved by a
        replica that stopped before sending it."""
        chat = await self._open(chat_key(self._secret, chat_id))
        if chat is not None:
            async with self._sending(chat):
                await self._send_unsent(chat, deliver)

    @contextlib.asynccontextmanager
    async def _sending(self, chat: OpenChat) -> AsyncIterator[None]:
        """Hold the chat while its replies are sent, then drop its outbox and give it back.
        Stopped halfway (the task cancelled: a shutdown), the outbox stays for whoever
        holds the chat next; failed (Telegram refused a reply), it is dropped all the same,
        so that a reply Telegram will never take is not tried before every later answer."""
        sent = True
        try:
            yield
        except asyncio.CancelledError:
            sent = False
            raise
        finally:
            await self._give_back(chat, sent)

    async def _send_unsent(
        self, chat: OpenChat, deliver: Callable[[Turn], Awaitable[None]]
    ) -> None:
        """Send the replies an earlier update of this chat saved and did not send, oldest
        first; one that fails does not keep this update from being answered."""
        for unsent in chat.unsent:
            try:
                await deliver(Turn(unsent.replies, chat.state, unsent.topic))
            except Exception as error:  # the adapter's send errors: whatever its transport raises
                log.warning("dialogue.unsent_failed", error_type=type(error).__name__)
        if chat.unsent:
            log.info("dialogue.unsent_sent", turns=len(chat.unsent))

    async def _respond(
        self,
        chat_id: int | str,
        key: str,
        chat: OpenChat | None,
        event: Event,
        screened: Assessment | None,
        language_code: str | None,
        channel: Channel | None,
    ) -> Turn:
        """The turn for an event, from the chat as opened (None: Redis did not answer).
        `screened` is the crisis net's verdict from the patterns alone, when they saw
        acute danger: then the NLU is not waited for."""
        if chat is None:
            return await self._without_storage(chat_id, key, event, screened, language_code)
        state = chat.state
        if screened is None:  # a crisis is always answered
            over = chat.sent - self.store.flood_limit
            if over > 0:
                metrics.FLOOD_LIMITED.inc()
                replies = self._flood_reply(state, language_code) if over == 1 else []
                return Turn(tuple(replies), state)
        replayed: list[Reply] = []
        for held in self.outage.take(key, time.monotonic()):
            earlier = await self._turn(chat_id, key, held, None, state, language_code, channel)
            replayed.extend(earlier.replies)
            state = earlier.state
        turn = await self._turn(chat_id, key, event, screened, state, language_code, channel)
        if replayed:
            log.info("dialogue.replayed", turns=len(replayed))
            turn = replace(turn, replies=(*replayed, *turn.replies))
        turn = await self._remember(chat, turn)
        await self._count_quiz(turn)
        await self._follow_language(event, chat_id, turn.state)
        return turn

    async def _without_storage(
        self,
        chat_id: int | str,
        key: str,
        event: Event,
        screened: Assessment | None,
        language_code: str | None,
    ) -> Turn:
        """Redis did not answer. Crises and ordinary questions are answered from a fresh
        state; a step of a report or a follow-up waits for storage — what was typed is
        held here and added once Redis is back, and a passphrase is deleted at once."""
        step = self.outage.step(key)
        in_flow = step is not None and self.engine.is_flow_input(event)
        if screened is None and (self.engine.needs_storage(event) or in_flow):
            held = in_flow and self.outage.hold(key, event, time.monotonic())
            turn = self._storage_down(ChatState(locale=negotiate_locale(language_code)), held)
            return replace(turn, forget_message=step is not None and step.step is Step.PASSPHRASE)
        return await self._turn(
            chat_id, key, event, screened, ChatState(), language_code, None, stored=False
        )

    async def _turn(
        self,
        chat_id: int | str,
        key: str,
        event: Event,
        screened: Assessment | None,
        state: ChatState,
        language_code: str | None,
        channel: Channel | None,
        *,
        stored: bool = True,
    ) -> Turn:
        """Understand, decide, and perform what the decision asks of storage (`stored`:
        whether Redis answered for this update)."""
        understanding = await self._understand(event, state) if screened is None else None
        crisis = screened or self._assess(event, state, understanding)
        campaign = await self._campaign(event, state, language_code) if stored else None
        turn = self.engine.respond(
            event,
            state,
            language_code=language_code,
            understanding=understanding,
            crisis=crisis,
            campaign=campaign,
        )
        if not stored and isinstance(turn.effect, OfferCounsellor):
            turn = replace(turn, effect=None)  # a crisis answer never waits on a Redis down
        if turn.effect is not None:
            outcome = await self._perform(turn.effect, key, chat_id, channel)
            resolved = self.engine.resolve(turn.effect, outcome, turn.state)
            turn = Turn(
                (*turn.replies, *resolved.replies),
                resolved.state,
                resolved.topic or turn.topic,
                forget_message=turn.forget_message,
            )
        log.info(
            "dialogue.turn",
            kind=type(event).__name__,
            topic=turn.topic,
            locale=turn.state.locale,
            crisis=crisis.verdict.value if crisis else None,
            crisis_kind=crisis.kind.value if crisis and crisis.kind else None,
            crisis_reason=crisis.reason.value if crisis else None,
        )
        return turn

    def _assess(
        self, event: Event, state: ChatState, understanding: Understanding | None
    ) -> Assessment | None:
        """Every signal of the crisis net, for free text and for what is typed in a flow."""
        if not isinstance(event, TextEvent):
            return None
        if not (self.engine.needs_nlu(event, state) or state.flow is not None):
            return None
        assessment = self.net.assess(event.text, understanding)
        metrics.crisis_assessed(assessment.verdict.value, assessment.reason.value)
        return assessment

    async def _nlu_ready(self) -> None:
        if not await self.nlu.ready():
            raise NLUUnavailable("not ready")

    # ----------------------------------------------------------------- storage

    async def _open(self, key: str, update_id: int | None = None) -> OpenChat | None:
        """The chat, held for this update; None when Redis did not answer."""
        try:
            return await self.store.open(key, update_id=update_id)
        except RedisError as error:
            log.warning("redis.unavailable", error_type=type(error).__name__)
            metrics.redis_unavailable("load")
            return None

    async def _give_back(self, chat: OpenChat, sent: bool = False) -> None:
        """Give the chat back once its replies were `sent` (then its outbox is dropped), or
        when the turn did not save it (flood limit, an error); its lease would otherwise
        expire by itself."""
        try:
            await (self.store.delivered(chat) if sent else self.store.release(chat))
        except RedisError as error:
            log.warning("redis.unavailable", error_type=type(error).__name__)
            metrics.redis_unavailable("save")

    def _storage_down(self, state: ChatState, held: bool) -> Turn:
        """ "Nothing is lost": what was typed is held for replay, or (a button) can be
        pressed again in a few minutes."""
        message_id = "error.storage_held" if held else "error.storage_down"
        rendered = self.engine.catalog.render(message_id, state.language)
        return Turn((Reply(rendered.text, rendered.buttons),), state)

    def _flood_reply(self, state: ChatState, language_code: str | None) -> list[Reply]:
        """Say "slow down" once per window (for the first message over the limit); the
        caller stays silent after that, so a flood cannot make the bot flood Telegram."""
        log.info("dialogue.flood_limited")
        locale = state.locale or negotiate_locale(language_code)
        rendered = self.engine.catalog.render("error.flood", locale)
        return [Reply(rendered.text, rendered.buttons)]

    async def _remember(self, chat: OpenChat, turn: Turn) -> Turn:
        """Save the turn's state; return the turn to send.

        When the save is refused — this update's lease ran out (a stalled replica) and
        another update has opened the chat since — the newer state is kept, and this
        turn, worked out from the older one, is not sent as if it had been kept: the
        person is told kindly to send it again (a passphrase is still deleted). A turn
        whose effect is done whatever the state (a receipt, "already stored") is sent."""
        topic = turn.topic
        try:
            unsent = () if chat.release_on_save else outbox.keep(turn)
            await self.store.save(chat, turn.state, (_today(), topic) if topic else None, unsent)
            self.outage.saved(chat.key, turn.state)
        except LeaseLost:
            log.warning("dialogue.lease_lost", kept=topic in DONE_TOPICS)
            if topic in DONE_TOPICS:
                return turn
            rendered = self.engine.catalog.render("error.busy", turn.state.language)
            busy = Reply(rendered.text, rendered.buttons)
            return Turn((busy,), turn.state, forget_message=turn.forget_message)
        except RedisError as error:
            log.warning("redis.unavailable", error_type=type(error).__name__)
            metrics.redis_unavailable("save")
        return turn

    # ----------------------------------------------------------------- NLU

    async def _understand(self, event: Event, state: ChatState) -> Understanding | None:
        if not isinstance(event, TextEvent) or not self.engine.needs_nlu(event, state):
            return None
        try:
            texts = passages(fold_lookalikes(clean_text(event.text)))
            reading = most_confident(await asyncio.gather(*map(self.nlu.parse, texts)))
        except NLUUnavailable as error:
            log.warning("nlu.unavailable", error_type=str(error))
            metrics.NLU_UNAVAILABLE.inc()
            return None
        metrics.understood(reading, unsure=self.engine.is_unsure(reading))
        return reading

    # ----------------------------------------------------------------- awareness

    async def _campaign(
        self, event: Event, state: ChatState, language_code: str | None
    ) -> tuple[str, str, str | None] | None:
        """A known deep-link payload on /start: (payload, target, language), counted
        anonymously."""
        if not (isinstance(event, CommandEvent) and event.name == "start" and event.argument):
            return None
        locale = state.locale or negotiate_locale(language_code)
        try:
            found = await self.campaigns.open(event.argument, _today(), locale)
        except RedisError:
            return None
        return (found.payload, found.target, found.locale) if found else None

    async def _count_quiz(self, turn: Turn) -> None:
        if turn.quiz is None:
            return
        what, quiz_id, score = turn.quiz
        locale = turn.state.language
        try:
            if what == "started":
                await self.campaigns.quiz_started(_today(), quiz_id, locale)
            else:
                await self.campaigns.quiz_completed(
                    _today(), quiz_id, locale, score, campaign=turn.state.campaign
                )
        except RedisError as error:
            log.warning("redis.unavailable", error_type=type(error).__name__)
            metrics.redis_unavailable("quiz")

    async def _follow_language(self, event: Event, chat_id: int | str, state: ChatState) -> None:
        """A subscriber who changes language gets the weekly message in the new one."""
        match event:
            case ButtonEvent(action=SetLanguage()) if state.locale and isinstance(chat_id, int):
                with contextlib.suppress(RedisError):
                    await self.subscribers.update_locale(chat_id, state.locale)

    # ----------------------------------------------------------------- effects

    async def _perform(
        self, effect: Effect, key: str, chat_id: int | str, channel: Channel | None
    ) -> Outcome:
        """Do the storage work a turn asked for; every failure becomes a kind answer."""
        now = datetime.now(timezone.utc)
        try:
            match effect:
                case SubmitTip(draft=draft):
                    return await self._submit(draft, key, channel, now)
                case OpenFollowup(code=code, passphrase=passphrase):
                    return Done(view=await self.tips.open_for_tipster(code, passphrase))
                case AddFollowup(code=code, passphrase=passphrase, text=text):
                    await self.tips.add_followup(code, passphrase, text, now)
                    return Done()
                case EraseChat():
                    erased = channel is not None and await channel.erase()
                    return Done() if erased else Failure.UNSUPPORTED
                case Subscribe(locale=locale) if isinstance(chat_id, int):
                    await self.subscribers.subscribe(chat_id, locale)
                    return Done()
                case Unsubscribe() if isinstance(chat_id, int):
                    await self.subscribers.unsubscribe(chat_id)
                    return Done()
                case Subscribe() | Unsubscribe():
                    return Failure.UNSUPPORTED  # weekly messages are sent on Telegram only
                case RequestCounsellor(origin=origin, risk=risk, locale=locale):
                    return await self._request_counsellor(chat_id, locale, origin, risk)
                case OfferCounsellor():
                    return Done() if await self.counselling.is_staffed() else Failure.UNSTAFFED
                case Relay(conversation=conversation, text=text, risk=risk, attachment=ref):
                    try:
                        sent = None if ref is None else await _fetch(ref, channel)
                    except (MediaError, TipError, OSError) as error:
                        log.warning("counsel.attachment_refused", error_type=type(error).__name__)
                        return Failure.UNSUPPORTED
                    status = await self.counselling.say(conversation, text, risk, sent)
                    return Failure.ENDED if status is Status.CLOSED else Done()
                case EndCounselling(conversation=conversation):
                    await self.counselling.end(conversation)
                    return Done()
                case CounselFeedback(helped=helped):
                    await self.counselling.feedback(helped, _today())
                    return Done()
        except ConversationNotFound:
            return Failure.ENDED
        except AlreadySubmitted:
            log.info("tips.already_stored")
            return Failure.ALREADY_STORED
        except ReceiptLocked:
            return Failure.LOCKED
        except ReceiptInvalid:
            return Failure.INVALID
        except DeskKeyMissing:
            log.error("tips.desk_keys_missing", hint="run `helpline keys init`")
            return Failure.NOT_READY
        except RedisError as error:
            log.error("tips.unavailable", error_type=type(error).__name__)
            metrics.redis_unavailable("tips")
            return Failure.UNAVAILABLE
        except TipError as error:
            log.warning("tips.rejected", error_type=type(error).__name__)
            return Failure.UNAVAILABLE
        return Failure.UNSUPPORTED

    async def _request_counsellor(
        self, chat_id: int | str, locale: str, origin: Origin, risk: Risk
    ) -> Outcome:
        """Join the queue when counsellors answer now; a message left for later joins it
        at any time."""
        if origin is not Origin.MESSAGE and not await self.counselling.is_staffed():
            return Failure.UNSTAFFED
        queued = await self.counselling.request(chat_id, locale, origin, risk)
        log.info("counsel.requested", origin=origin.value, risk=risk.name.lower())
        return Done(queued=queued)

    async def counsellor_replies(self, delivery: Delivery) -> tuple[Reply, ...]:
        """What to send for a reply from the outbox: a counsellor's message as it is, the
        one line saying another counsellor takes over; the end of the conversation through
        the dialogue, which leaves the conversation."""
        reply = delivery.reply
        if reply.handover:
            return (self.engine.counsel.handed_over(reply),)
        if reply.text is not None:
            return (self.engine.counsel.counsellor_says(reply),)
        ended = CounsellorEnded(reply.conversation, reply.alias)
        return (await self.handle(delivery.chat_id, ended)).replies

    async def _submit(
        self, draft: Draft, key: str, channel: Channel | None, now: datetime
    ) -> Outcome:
        """Seal and store; acknowledged only after Redis has it (AOF, fsync always).

        Once per draft: a draft whose submission id is already stored (sent again after
        a crash, or by two replicas at once) is answered "already stored" — looked up
        first so that it costs no quota and no sealing, and decided for good by the
        store's script (`AlreadySubmitted`, caught by `_perform`)."""
        if draft.submission is not None and await self.tips.was_submitted(draft.submission):
            log.info("tips.already_stored")
            return Failure.ALREADY_STORED
        if not await self.tips.allow_submission(key, now):
            return Failure.QUOTA
        desk = await desk_public_key(self.tips.redis)
        prepared = await self._attachments(draft, channel)
        content = draft.to_content([a.meta for a in prepared])
        receipt = await self.tips.submit(
            content,
            desk,
            now,
            [a.data for a in prepared],
            submission=draft.submission,
        )
        log.info("tips.submitted", category=content.category.value, attachments=len(prepared))
        metrics.tip_submitted(content.category.value)
        if channel is not None:
            notice = self.engine.catalog.render(
                "staff.new_tip",
                "fr",
                None,
                category=self.engine.catalog.render(f"tipcat.{content.category.value}", "fr").text,
                region=content.region.value,
            )
            await channel.notify_staff(notice.text)
        return Done(receipt=receipt)

    async def _attachments(self, draft: Draft, channel: Channel | None) -> list[PreparedAttachment]:
        """Download, strip and check each announced attachment; skip what fails."""
        prepared = []
        for ref in draft.attachments:
            try:
                prepared.append(await _fetch(ref, channel))
            except (MediaError, TipError, OSError) as error:
                log.warning("tips.attachment_skipped", error_type=type(error).__name__)
        return prepared


async def _fetch(ref: AttachmentRef, channel: Channel | None) -> PreparedAttachment:
    """Download one announced attachment and strip it (`OSError` where this channel
    cannot download: the terminal)."""
    if channel is None:
        raise OSError("this channel has no files")
    data = await channel.download(ref.file_ref)
    return prepare_attachment(ref.kind, data, ref.mime_type)


def _today() -> date:
    return datetime.now(timezone.utc).date()
