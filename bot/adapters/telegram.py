"""The Telegram adapter (python-telegram-bot 22): updates in, replies out, nothing else.

Every decision is the dialogue engine's. This module only maps Telegram updates to
events, draws replies as keyboards, and makes sure no error ever reaches a user as a
stack trace. Only private chats are served: in a group, others could read what a
person asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any, cast

from redis.exceptions import RedisError
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram import __version_info__ as ptb_version
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot import heap, metrics
from bot.adapters import sending
from bot.adapters.counsellor_replies import consumer_name, relay_replies, remember_place
from bot.adapters.erasable import ErasableMessages
from bot.adapters.folding import fold
from bot.adapters.intake import DurableApplication, DurableUpdates, delivery
from bot.adapters.sending import Priority, PriorityRateLimiter
from bot.adapters.shared_budget import SharedBudget
from bot.assistant import Assistant
from bot.awareness import Unreachable
from bot.content import negotiate_locale
from bot.dialogue.engine import COMMANDS
from bot.dialogue.events import (
    AttachmentEvent,
    CommandEvent,
    Event,
    LocationEvent,
    TextEvent,
    UnsupportedEvent,
    button_event,
)
from bot.dialogue.replies import Reply, Turn
from bot.dialogue.store import Arrival
from bot.observability import ObservabilityServer
from sini.logging import get_logger
from sini.settings import Settings

log = get_logger(__name__)
PRIVATE = filters.ChatType.PRIVATE
ASSISTANT_KEY = "assistant"
SETTINGS_KEY = "settings"
HEARTBEAT_KEY = "heartbeat"
REPLIES_KEY = "counsellor_replies"
OBSERVABILITY_KEY = "observability"
ERASABLE_KEY = "erasable"
HEARTBEAT_FILE = "heartbeat"
HEARTBEAT_SECONDS = 15
# Shown in Telegram's command menu (French: the default locale).
MENU_COMMANDS = (
    ("start", "Accueil et menu"),
    ("urgence", "Numéros d'urgence"),
    ("services", "Trouver de l'aide"),
    ("signaler", "Signaler anonymement"),
    ("suivi", "Suivre un signalement"),
    ("quiz", "Quiz"),
    ("abonner", "Conseils chaque semaine"),
    ("stop", "Arrêter les conseils"),
    ("langue", "Changer de langue / Language / Kan"),
    ("annuler", "Annuler"),
)


def reply_markup(reply: Reply) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """Inline buttons when the reply has any, otherwise its reply keyboard, if any."""
    if reply.buttons:
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(b.label, callback_data=b.action) for b in row]
                for row in reply.buttons
            ]
        )
    if reply.keyboard:
        return ReplyKeyboardMarkup(
            [
                [KeyboardButton(k.label, request_location=k.request_location) for k in row]
                for row in reply.keyboard
            ],
            resize_keyboard=True,
            is_persistent=True,
        )
    return None


class TelegramChannel:
    """Downloads and erasing for the assistant, in one private chat.

    The ids of the update's messages (the user's and the bot's) are collected while it is
    handled and then kept in Redis (`ErasableMessages.keep`), so "erase this conversation"
    deletes the messages of every update of the last two days, whichever replica sent them.
    """

    def __init__(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
        self.context = context
        self.chat_id = chat_id
        self.erasable: ErasableMessages = context.bot_data[ERASABLE_KEY]
        self.recent: list[int] = []

    def remember(self, message_id: int) -> None:
        self.recent.append(message_id)

    async def keep(self) -> None:
        """Hand this update's message ids over to `ErasableMessages`."""
        ids, self.recent = self.recent, []
        await self.erasable.keep(self.chat_id, ids)

    async def download(self, file_ref: str) -> bytes:
        try:
            telegram_file = await self.context.bot.get_file(file_ref)
            return bytes(await telegram_file.download_as_bytearray())
        except TelegramError as error:
            raise OSError(f"download failed: {type(error).__name__}") from error

    async def notify_staff(self, text: str) -> None:
        """Post to STAFF_CHAT_ID; a failure is logged, never shown to the tipster."""
        settings: Settings = self.context.bot_data[SETTINGS_KEY]
        if settings.staff_chat_id is None:
            return
        try:
            await self.context.bot.send_message(
                settings.staff_chat_id, f"{text}\n{settings.staff_url.rstrip('/')}/"
            )
        except TelegramError as error:
            log.warning("telegram.staff_notice_failed", error_type=type(error).__name__)

    async def erase(self) -> bool:
        """Delete what can be deleted (bots may delete messages younger than 48 h)."""
        ids, self.recent = [*await self.erasable.take(self.chat_id), *self.recent], []
        deleted = 0
        for message_id in ids:
            try:
                await self.context.bot.delete_message(self.chat_id, message_id)
                deleted += 1
            except TelegramError:
                continue
        log.info("telegram.erased", deleted=deleted, failed=len(ids) - deleted)
        return True


Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


async def arrival(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Arrival:
    """Whether this update is new to every replica: Telegram delivering it again (a
    webhook answer it did not get, a poll after a crash), or to another replica, is
    answered once; the same intake entry taken over from a replica that died mid-update
    is answered again — or, when that replica had saved the answer, its replies are sent
    (`Arrival.ANSWERED`). The mark is shared in Redis under an HMAC of the update_id
    (`DialogueStore.arrival`). Without Redis the update goes on: answered twice is
    better than not answered."""
    assistant: Assistant | None = context.bot_data.get(ASSISTANT_KEY)
    if assistant is None:
        return Arrival.NEW
    try:
        seen = await assistant.store.arrival(update.update_id, delivery())
    except RedisError as error:
        log.warning("redis.unavailable", error_type=type(error).__name__)
        metrics.redis_unavailable("load")
        return Arrival.NEW
    if seen is not Arrival.NEW:
        log.info("telegram.update_duplicate", arrival=seen.value)
    return seen


async def _handle_once(
    handler: Handler, update: Update, context: ContextTypes.DEFAULT_TYPE
) -> None:
    match await arrival(update, context):
        case Arrival.NEW:
            await handler(update, context)
        case Arrival.ANSWERED:
            await _resend(update, context)
        case Arrival.REPEATED:
            pass


class ChatOrder:
    """One lock per chat while it has updates in flight: PTB runs updates concurrently,
    but a person's messages must still be answered in the order they were sent. Locks are
    FIFO and taken before the handler's first await; idle chats hold no lock.

    Every handler is wrapped here, so this is where an update enters: one seen before
    (`arrival`) stops here — checked inside the chat's turn, so that the Redis
    round trip cannot reorder a chat's updates."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    def __call__(self, handler: Handler) -> Handler:
        async def in_order(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            chat = update.effective_chat
            if chat is None:
                await _handle_once(handler, update, context)
                return
            lock, users = self._locks.get(chat.id, (asyncio.Lock(), 0))
            self._locks[chat.id] = (lock, users + 1)
            try:
                async with lock:
                    await _handle_once(handler, update, context)
            finally:
                lock, users = self._locks[chat.id]
                if users == 1:
                    del self._locks[chat.id]
                else:
                    self._locks[chat.id] = (lock, users - 1)

        return in_order


async def _answer(update: Update, context: ContextTypes.DEFAULT_TYPE, event: Event) -> None:
    """Answer one event, counted and timed whatever happens (an error still reaches
    on_error). Only the event's class name labels the count, never what it carries."""
    started = time.perf_counter()
    outcome = "error"
    try:
        outcome = await _respond(update, context, event)
    finally:
        metrics.update_handled(type(event).__name__, outcome, time.perf_counter() - started)


async def _respond(update: Update, context: ContextTypes.DEFAULT_TYPE, event: Event) -> str:
    """Send the assistant's replies; the outcome is "answered" or "silent"."""
    chat = update.effective_chat
    if chat is None:
        return "silent"
    assistant: Assistant = context.bot_data[ASSISTANT_KEY]
    user = update.effective_user
    language_code = user.language_code if user else None
    channel = TelegramChannel(context, chat.id)
    incoming = update.effective_message
    if incoming is not None:
        channel.remember(incoming.message_id)
    deliver = _deliverer(context, channel, incoming)
    try:
        turn = await assistant.handle(
            chat.id, event, language_code, channel, deliver, update_id=update.update_id
        )
    finally:
        await channel.keep()  # an update that failed before its replies: its own message
    return "answered" if turn.replies else "silent"


async def _resend(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The update's answer was saved by a replica that stopped before sending it all."""
    chat = update.effective_chat
    assistant: Assistant | None = context.bot_data.get(ASSISTANT_KEY)
    if chat is None or assistant is None:
        return
    channel = TelegramChannel(context, chat.id)
    await assistant.resend(chat.id, _deliverer(context, channel, None))


def _deliverer(
    context: ContextTypes.DEFAULT_TYPE, channel: TelegramChannel, incoming: Message | None
) -> Callable[[Turn], Awaitable[None]]:
    async def deliver(turn: Turn) -> None:
        """Sent while the chat is held (`Assistant.handle`), so in order across replicas;
        the message ids are kept before the chat is given back, so that an erase on the
        chat's next update, on any replica, finds them."""
        if turn.forget_message and incoming is not None:
            try:
                await incoming.delete()
            except TelegramError:
                log.info("telegram.delete_failed")
        bot = cast("ExtBot[Priority]", context.bot)
        replies = turn.replies
        if reply_priority(turn.topic, 0) is not Priority.URGENT and _behind(bot):
            replies = fold(replies)
        try:
            for number, reply in enumerate(replies):
                sent = await bot.send_message(
                    channel.chat_id,
                    reply.text,
                    reply_markup=reply_markup(reply),
                    protect_content=reply.protect,
                    rate_limit_args=reply_priority(turn.topic, number),
                )
                channel.remember(sent.message_id)
                if reply.place is not None:
                    await remember_place(
                        context.bot_data[ASSISTANT_KEY], reply.place, sent.message_id
                    )
        finally:
            await channel.keep()

    return deliver


URGENT_TOPICS = frozenset({"checkin", "emergency"})


def _behind(bot: ExtBot[Priority]) -> bool:
    limiter = bot.rate_limiter
    return isinstance(limiter, PriorityRateLimiter) and limiter.behind


def reply_priority(topic: str | None, number: int) -> Priority:
    """The sending class of a turn's reply number `number`: a crisis answer, a check-in or
    the 🆘 key (the emergency action) go first, all of their parts; otherwise the first
    reply to a message before the rest of any answer (bot/adapters/sending.py)."""
    if topic is not None and (topic.startswith("crisis.") or topic in URGENT_TOPICS):
        return Priority.URGENT
    return Priority.FIRST if number == 0 else Priority.REST


def _unicode(text: str) -> str:
    """Telegram's JSON may carry lone surrogates ("\\ud800" escapes), which no UTF-8
    encoder accepts (Redis, sealing, sending): they become U+FFFD before anything reads them."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    name = _unicode(message.text.split()[0].lstrip("/").split("@")[0])
    await _answer(update, context, CommandEvent(name, _unicode(" ".join(context.args or []))))


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text is not None:
        await _answer(update, context, TextEvent(_unicode(message.text)))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    try:
        await query.answer()
    except TelegramError:
        log.info("telegram.callback_answer_failed")
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        return  # a button under a group message: only private chats are served
    await _answer(update, context, button_event(_unicode(query.data or "")))


async def on_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.location is not None:
        location = message.location
        await _answer(update, context, LocationEvent(location.latitude, location.longitude))


async def on_attachment(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Photos, voice notes, videos and documents: only their file reference travels on."""
    message = update.effective_message
    if message is None:
        return
    media: Any
    mime: str | None
    if message.photo:
        media, kind, mime = message.photo[-1], "photo", "image/jpeg"
    elif message.voice:
        media, kind, mime = message.voice, "voice", message.voice.mime_type
    elif message.video:
        media, kind, mime = message.video, "video", message.video.mime_type
    elif message.document:
        media, kind, mime = message.document, "document", message.document.mime_type
    else:
        return
    mime = _unicode(mime) if mime is not None else None
    await _answer(
        update, context, AttachmentEvent(kind, _unicode(media.file_id), media.file_size, mime)
    )


async def on_edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.location is not None:
        return  # a live location moving: Telegram sends an edit every few seconds
    await _answer(update, context, UnsupportedEvent("edited"))


async def on_unsupported(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _answer(update, context, UnsupportedEvent("message"))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error's type only (never the update), and tell the user kindly."""
    error = context.error
    log.error("telegram.handler_error", error_type=type(error).__name__)
    metrics.error(error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    assistant: Assistant | None = context.bot_data.get(ASSISTANT_KEY)
    user = update.effective_user
    locale = negotiate_locale(user.language_code if user else None)
    if assistant is None:
        return
    rendered = assistant.engine.catalog.render("error.internal", locale)
    try:
        await context.bot.send_message(update.effective_chat.id, rendered.text)
    except TelegramError:
        log.warning("telegram.error_reply_failed")


UNREADABLE_EVENT = "telegram.update_unreadable"


def on_unreadable_update(error: Exception) -> None:
    """The bot's own answer to an update python-telegram-bot cannot build (a callback
    whose message has no message_id, a poll without the fields PTB requires): its event
    name and error type only. PTB's own answer logs the whole raw update — the sender's
    id, names and username — at CRITICAL, and when polling it fetches the same batch again
    and again, so one such update would stop the bot."""
    log.warning(UNREADABLE_EVENT, error_type=type(error).__name__)
    metrics.error(error)


def read_update(data: object, bot: Any = None) -> Update | None:
    """The Update in `data`, or None (answered by `on_unreadable_update`) when PTB
    cannot build it."""
    try:
        return Update.de_json(data, bot)  # type: ignore[arg-type]
    except Exception as error:  # de_json raises whatever a constructor raises
        on_unreadable_update(error)
        return None


def readable_updates_payload(payload: bytes) -> bytes:
    """A getUpdates answer in which each update PTB cannot read is replaced by its bare
    `update_id`: PTB then confirms it with the next offset and no handler sees it."""
    try:
        body = json.loads(payload)
    except ValueError:
        return payload  # not JSON: PTB reports it as a network error
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, list):
        return payload
    readable: list[Any] = []
    for raw in result:
        if read_update(raw) is not None:
            readable.append(raw)
        elif isinstance(raw, dict) and isinstance(raw.get("update_id"), int):
            readable.append({"update_id": raw["update_id"]})
    if readable == result:
        return payload
    return json.dumps({**body, "result": readable}).encode()


class ReadableUpdatesRequest(HTTPXRequest):
    """PTB's HTTP client for getUpdates (its public `do_request` extension point), with
    unreadable updates taken out of each answer before PTB parses it."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        code, payload = await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        if code == HTTPStatus.OK and url.rsplit("/", 1)[-1] == "getUpdates":
            payload = readable_updates_payload(payload)
        return code, payload


class _WebhookUpdates:
    """Stands in for `Update` in PTB's webhook handler, which only calls `Update.de_json`
    (and answers 200 when it returns None): unreadable updates are taken, not refused."""

    @staticmethod
    def de_json(data: object, bot: Any = None) -> Update | None:
        return read_update(data, bot)


def guard_webhook_parsing() -> bool:
    """Make PTB's webhook server read updates through `read_update`.

    This replaces a name in a PTB internal module (`telegram.ext._utils.webhookhandler`),
    so only for the versions whose handler is known (22.x) and only if it still imports
    `Update` under that name; otherwise PTB's own path stays, and `sini.logging` withholds its
    CRITICAL record (which shows the update) — but the webhook then answers 400."""
    if ptb_version.major != 22:
        log.warning("telegram.webhook_guard_unavailable", reason="version")
        return False
    try:
        from telegram.ext._utils import webhookhandler
    except ImportError:
        log.warning("telegram.webhook_guard_unavailable", reason="module")
        return False
    current = getattr(webhookhandler, "Update", None)
    if current is _WebhookUpdates:
        return True
    if current is not Update:
        log.warning("telegram.webhook_guard_unavailable", reason="changed")
        return False
    webhookhandler.Update = _WebhookUpdates  # type: ignore[attr-defined,assignment]
    return True


async def beat(path: Path) -> None:
    """Touch the heartbeat file while the event loop is alive (read by `helpline health`,
    the container's HEALTHCHECK): a wedged loop stops touching it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        path.touch()
        await asyncio.sleep(HEARTBEAT_SECONDS)


def sending_limiter(settings: Settings) -> PriorityRateLimiter:
    """The scheduler every send goes through (crisis answers first, 429s waited out and
    retried); TELEGRAM_MAX_RATE is an optional hard ceiling for all replicas together."""
    return PriorityRateLimiter(
        max_rate=settings.telegram_max_rate or None,
        broadcast_rate=settings.broadcast_max_rate,
        chat_rate=settings.telegram_chat_rate,
        chat_burst=settings.telegram_chat_burst,
    )


def build_application(settings: Settings, assistant_factory: Any) -> Application:  # type: ignore[type-arg]
    """A PTB Application whose handlers call the assistant made by `assistant_factory()`.

    The factory runs in `post_init`, inside the event loop PTB owns, because the Redis
    client must be created in the loop that uses it.
    """
    assert settings.telegram_token
    limiter = sending_limiter(settings)
    sending.watch(limiter)
    updates = DurableUpdates(settings.secret)
    builder: ApplicationBuilder = (  # type: ignore[type-arg]
        Application.builder()
        .token(settings.telegram_token)
        # An update is in Redis before the webhook answers 200 (or the poll confirms it),
        # and leaves it once processed (bot/adapters/intake.py).
        .application_class(DurableApplication)
        .update_queue(updates)
        .rate_limiter(limiter)
        # Updates from different chats run concurrently (so the NLU can batch them);
        # ChatOrder keeps each chat's own updates in order. A handler waits for its replies
        # to be sent: a crisis arriving in a surge is read at once only while fewer than
        # TELEGRAM_CONCURRENT_UPDATES answers wait (PTB's 256 by default).
        .concurrent_updates(settings.concurrent_updates)
        # Unreadable updates answered by on_unreadable_update, never logged by PTB.
        .get_updates_request(ReadableUpdatesRequest(connection_pool_size=1))
    )
    guard_webhook_parsing()
    if settings.telegram_api_url:
        base = settings.telegram_api_url.rstrip("/")
        builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        assistant = assistant_factory()
        limiter.share(SharedBudget(assistant.store.redis))
        updates.attach(assistant.store.redis, application.bot)
        application.bot_data[ASSISTANT_KEY] = assistant
        application.bot_data[SETTINGS_KEY] = settings
        application.bot_data[ERASABLE_KEY] = ErasableMessages(
            assistant.store.redis, settings.secret
        )
        application.bot_data[HEARTBEAT_KEY] = asyncio.get_running_loop().create_task(
            beat(settings.var_dir / HEARTBEAT_FILE), name="heartbeat"
        )

        async def send(chat_id: int | str, reply: Reply) -> None:
            with reaching():
                sent = await application.bot.send_message(
                    chat_id,
                    reply.text,
                    reply_markup=reply_markup(reply),
                    rate_limit_args=Priority.FIRST,
                )
            if isinstance(chat_id, int):  # a counsellor's words are erased with the rest
                await application.bot_data[ERASABLE_KEY].keep(chat_id, [sent.message_id])

        async def edit(chat_id: int | str, message: int, reply: Reply) -> None:
            with reaching(), contextlib.suppress(Unchanged):
                await application.bot.edit_message_text(
                    reply.text,
                    chat_id=chat_id,
                    message_id=message,
                    reply_markup=reply_markup(reply),
                    rate_limit_args=Priority.REST,
                )

        application.bot_data[REPLIES_KEY] = asyncio.get_running_loop().create_task(
            relay_replies(assistant, send, consumer_name(), edit), name="counsellor_replies"
        )
        if settings.metrics_port:
            server = ObservabilityServer(
                settings.metrics_host, settings.metrics_port, assistant.readiness
            )
            await server.start()
            application.bot_data[OBSERVABILITY_KEY] = server
        try:
            await application.bot.set_my_commands(
                [BotCommand(name, description) for name, description in MENU_COMMANDS]
            )
        except TelegramError:
            log.warning("telegram.set_commands_failed")
        heap.settle()

    async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
        for key in (HEARTBEAT_KEY, REPLIES_KEY):
            task = application.bot_data.get(key)
            if task is not None:
                task.cancel()
        server: ObservabilityServer | None = application.bot_data.get(OBSERVABILITY_KEY)
        if server is not None:
            await server.stop()
        assistant: Assistant | None = application.bot_data.get(ASSISTANT_KEY)
        if assistant is not None:
            await assistant.close()

    application = builder.post_init(post_init).post_shutdown(post_shutdown).build()
    ordered = ChatOrder()
    handlers = [
        MessageHandler(filters.UpdateType.EDITED_MESSAGE & PRIVATE, ordered(on_edited)),
        CommandHandler(list(COMMANDS), ordered(on_command), filters=PRIVATE),
        MessageHandler(filters.COMMAND & PRIVATE, ordered(on_command)),
        MessageHandler(filters.TEXT & PRIVATE, ordered(on_text)),
        MessageHandler(filters.LOCATION & PRIVATE, ordered(on_location)),
        MessageHandler(
            (filters.PHOTO | filters.VOICE | filters.VIDEO | filters.Document.ALL) & PRIVATE,
            ordered(on_attachment),
        ),
        CallbackQueryHandler(ordered(on_button)),
        MessageHandler(filters.UpdateType.MESSAGE & PRIVATE, ordered(on_unsupported)),
    ]
    for handler in handlers:
        application.add_handler(handler)
    application.add_error_handler(on_error)
    return application


def run(settings: Settings, assistant_factory: Any) -> None:
    """Long polling by default; a webhook when WEBHOOK_URL is set."""
    application = build_application(settings, assistant_factory)
    if settings.webhook_url:
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path="telegram",
            webhook_url=settings.webhook_url.rstrip("/") + "/telegram",
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES, poll_interval=0.0, timeout=10)


@contextlib.contextmanager
def reaching() -> Iterator[None]:
    """Telegram's refusals that mean a chat is gone for good (the user blocked the bot or
    deleted the account) raised as `Unreachable`, an edit that would change nothing as
    `Unchanged`; any other error as it is."""
    try:
        yield
    except Forbidden as error:
        raise Unreachable from error
    except BadRequest as error:
        if "chat not found" in str(error).lower():
            raise Unreachable from error
        if "message is not modified" in str(error).lower():
            raise Unchanged from error
        raise


class Unchanged(Exception):
    """Telegram refused an edit that would change nothing (another replica made it)."""
