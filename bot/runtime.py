"""Assemble the assistant from settings: content, engine, NLU and Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.connection import PythonParser
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, RedisError, TimeoutError

from bot.assistant import Assistant
from bot.awareness import Quiz, load_quizzes, load_weekly
from bot.config import Settings
from bot.content import Catalog, load_catalog
from bot.content.catalog import check_references
from bot.dialogue.engine import DRUGS, Engine
from bot.dialogue.store import DialogueStore
from bot.nlu import NLU
from bot.nlu.crisis import CrisisNet
from bot.nlu.crisis_classifier import load_classifier
from bot.nlu.keywords import load_drug_names
from bot.nlu.rasa_http import RasaHttpNLU
from bot.nlu.training import train
from bot.services import Service, load_services
from tips.intake import Intake

# Loading takes ~15 s on an idle 2-core machine; past this the bot starts anyway and
# answers free text politely as "not understood right now" until the model is ready.
NLU_START_WAIT = 180.0


def load_nlu(settings: Settings) -> NLU:
    """The Rasa server when NLU_URL is set; otherwise the local model (trained if missing):
    NLU_WORKERS worker processes, or in this process with NLU_PROCESS=0. Blocks until the
    model answers."""
    if settings.nlu_url:
        return RasaHttpNLU(settings.nlu_url, settings.nlu_timeout)
    model: Path = train(settings.nlu_project, settings.model_dir)
    if settings.nlu_process:
        from bot.nlu.worker import RasaWorkerNLU

        return RasaWorkerNLU.start(
            model,
            settings.nlu_timeout,
            settings.log_level,
            settings.log_format,
            count=settings.nlu_workers,
            wait=NLU_START_WAIT,
            cache_size=settings.nlu_cache_size,
        )
    from bot.nlu.rasa_local import RasaLocalNLU

    return RasaLocalNLU.load(model, cache_size=settings.nlu_cache_size)


def drug_names(settings: Settings) -> dict[str, str]:
    """Every spelling of every drug the NLU was taught, for the keyword fallback."""
    return load_drug_names(settings.nlu_project / "data" / "entities.yml", DRUGS)


class PromptParser(PythonParser):
    """redis-py 4.6's reply parser, with redis-py 5's check of a pooled connection.

    Before lending a connection, redis-py 4.6 tries to read a byte from it under a zero
    timeout, in case a reply was left unread: an event-loop turn and a cancelled timer
    for every command, ≈ 15 % of the CPU of the bot's two script calls per update.
    No reply can be left unread — redis-py drops a connection whose command was
    interrupted — and a read at end of stream returns b"", which that check takes for
    "nothing to read". redis-py 5 (which Rasa 3.6 does not allow) looks only at what is
    already buffered and at the end of stream, without waiting; so does this, so a
    connection the server closed is also replaced before use instead of failing a command.
    """

    _connected: bool  # PythonParser's own state (its stubs leave it out)
    _buffer: bytes
    _stream: asyncio.StreamReader

    async def can_read_destructive(self) -> bool:
        if not self._connected:
            raise RedisError("Buffer is closed.")
        return bool(self._buffer) or self._stream.at_eof()


def connect_redis(url: str) -> Redis[bytes]:
    """A client that fails fast when Redis is down and reconnects by itself when it is back.

    Single commands broken by a Redis restart are retried on a fresh connection; a pooled
    connection idle for a second is PINGed before use, which catches the ones a restart
    closed (redis-py 4 does not retry MULTI/EXEC pipelines on connection errors)."""
    client: Redis[bytes] = Redis.from_url(  # type: ignore[call-overload]  # stubs lack parser_class
        url,
        parser_class=PromptParser,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        health_check_interval=1,
        decode_responses=False,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        retry_on_error=[ConnectionError, TimeoutError],
    )
    return client


def load_content(settings: Settings) -> tuple[list[Service], Catalog, dict[str, Quiz]]:
    """Every content file, validated and cross-checked (a button, a quiz's or a weekly
    message's `more` that leads nowhere is a ContentError naming the file); cheap, so the
    commands run it before the NLU model loads."""
    services = load_services(settings.services_file)
    catalog = load_catalog(settings.responses_dir, settings.locales_dir, services)
    quizzes = load_quizzes(settings.responses_dir / "quizzes")
    weekly = load_weekly(settings.responses_dir / "weekly.yml")
    check_references(settings.responses_dir / "messages", catalog, quizzes, weekly)
    return services, catalog, quizzes


def build_assistant(settings: Settings, nlu: NLU, redis_url: str) -> Assistant:
    """Everything but the adapter; call inside the event loop that will use it, then
    `await assistant.start()`."""
    services, catalog, quizzes = load_content(settings)
    engine = Engine(catalog, services, settings.confidence_threshold, quizzes, drug_names(settings))
    redis = connect_redis(redis_url)
    store = DialogueStore(
        redis,
        settings.secret,
        state_ttl=settings.state_ttl_seconds,
        draft_ttl=settings.draft_ttl_seconds,
        flood_limit=settings.flood_limit,
        flood_window=settings.flood_window_seconds,
    )
    tips_redis = connect_redis(settings.tips_redis_url) if settings.tips_redis_url else redis
    tips = Intake(tips_redis, settings.secret)
    project = settings.nlu_project
    net = CrisisNet(load_classifier(project / "crisis", project / "data"))
    return Assistant(engine, nlu, store, tips, settings.secret, net)
