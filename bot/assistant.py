"""The assistant: what every adapter (Telegram, terminal) calls for each user event.

It wraps the pure dialogue engine with the parts that can fail — Redis and the NLU —
and degrades instead of failing: without Redis it answers from a fresh state (nothing is
remembered until Redis is back); without the NLU it answers crises and buttons and says
politely that free text cannot be understood right now.
"""

from __future__ import annotations

from datetime import datetime, timezone

from redis.exceptions import RedisError

from bot.content import negotiate_locale
from bot.dialogue.engine import MAX_SERVICES_SHOWN, Engine, clean_text
from bot.dialogue.events import Event, LocationEvent, TextEvent
from bot.dialogue.replies import Reply
from bot.dialogue.state import ChatState
from bot.dialogue.store import DialogueStore, chat_key
from bot.logs import get_logger
from bot.nlu import NLU, NLUUnavailable, Understanding
from bot.nlu.safety import detect_crisis
from bot.services import Service, by_id
from bot.services.geo import index_services, nearest_ids

log = get_logger(__name__)


class Assistant:
    """One instance per process; safe to call concurrently for different chats."""

    def __init__(self, engine: Engine, nlu: NLU, store: DialogueStore, secret: bytes) -> None:
        self.engine = engine
        self.nlu = nlu
        self.store = store
        self._secret = secret
        self._services = by_id(engine.services)

    async def handle(
        self, chat_id: int | str, event: Event, language_code: str | None = None
    ) -> list[Reply]:
        """Answer one event from one chat."""
        key = chat_key(self._secret, chat_id)
        crisis = detect_crisis(event.text) if isinstance(event, TextEvent) else None
        state, redis_ok = await self._load(key)
        if redis_ok and crisis is None:
            over = await self._messages_over_limit(key)
            if over > 0:
                return self._flood_reply(state, language_code) if over == 1 else []
        understanding = await self._understand(event) if crisis is None else None
        nearby = await self._nearby(event, state) if redis_ok else None
        turn = self.engine.respond(
            event,
            state,
            language_code=language_code,
            understanding=understanding,
            crisis=crisis,
            nearby=nearby,
        )
        if redis_ok:
            await self._remember(key, turn.state, turn.topic)
        log.info(
            "dialogue.turn",
            kind=type(event).__name__,
            topic=turn.topic,
            locale=turn.state.locale,
            crisis=crisis.value if crisis else None,
        )
        return list(turn.replies)

    async def start(self) -> None:
        """Index the service directory in Redis (idempotent). Without Redis the bot still
        starts: nearest services are then computed in memory."""
        try:
            await index_services(self.store.redis, self.engine.services)
        except RedisError as error:
            log.warning("redis.unavailable", error_type=type(error).__name__)

    async def close(self) -> None:
        await self.nlu.close()
        await self.store.redis.close()

    async def _load(self, key: str) -> tuple[ChatState, bool]:
        try:
            return await self.store.load(key), True
        except RedisError as error:
            log.warning("redis.unavailable", error_type=type(error).__name__)
            return ChatState(), False

    async def _messages_over_limit(self, key: str) -> int:
        try:
            count = await self.store.count_message(key)
        except RedisError:
            return 0
        return count - self.store.flood_limit

    def _flood_reply(self, state: ChatState, language_code: str | None) -> list[Reply]:
        """Say "slow down" once per window (for the first message over the limit); the
        caller stays silent after that, so a flood cannot make the bot flood Telegram."""
        log.info("dialogue.flood_limited")
        locale = state.locale or negotiate_locale(language_code)
        rendered = self.engine.catalog.render("error.flood", locale)
        return [Reply(rendered.text, rendered.buttons)]

    async def _nearby(self, event: Event, state: ChatState) -> list[tuple[Service, float]] | None:
        """The nearest services to a shared location, from the Redis GEO index."""
        if not isinstance(event, LocationEvent):
            return None
        try:
            found = await nearest_ids(
                self.store.redis,
                event.latitude,
                event.longitude,
                state.service_kind,
                limit=MAX_SERVICES_SHOWN,
            )
        except RedisError as error:
            log.warning("redis.unavailable", error_type=type(error).__name__)
            return None
        return [(self._services[i], km) for i, km in found if i in self._services]

    async def _understand(self, event: Event) -> Understanding | None:
        if not isinstance(event, TextEvent) or not self.engine.needs_nlu(event):
            return None
        try:
            return await self.nlu.parse(clean_text(event.text))
        except NLUUnavailable as error:
            log.warning("nlu.unavailable", error_type=str(error))
            return None

    async def _remember(self, key: str, state: ChatState, topic: str | None) -> None:
        try:
            await self.store.save(key, state)
            if topic:
                today = datetime.now(timezone.utc).date()
                await self.store.count_topic(today, state.locale or "fr", topic)
        except RedisError as error:
            log.warning("redis.unavailable", error_type=type(error).__name__)
