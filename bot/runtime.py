"""Assemble the assistant from settings: content, engine, NLU and Redis."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from bot.assistant import Assistant
from bot.config import Settings
from bot.content import load_catalog
from bot.dialogue.engine import Engine
from bot.dialogue.store import DialogueStore
from bot.nlu import NLU
from bot.nlu.rasa_http import RasaHttpNLU
from bot.nlu.training import train
from bot.services import load_services


def load_nlu(settings: Settings) -> NLU:
    """The Rasa server when NLU_URL is set; otherwise the local model, trained if missing."""
    if settings.nlu_url:
        return RasaHttpNLU(settings.nlu_url, settings.nlu_timeout)
    from bot.nlu.rasa_local import RasaLocalNLU

    model: Path = train(settings.nlu_project, settings.model_dir)
    return RasaLocalNLU.load(model)


def connect_redis(url: str) -> Redis[bytes]:
    """A client that fails fast when Redis is down and reconnects by itself when it is back."""
    return Redis.from_url(
        url,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        health_check_interval=15,
        decode_responses=False,
    )


def build_assistant(settings: Settings, nlu: NLU, redis_url: str) -> Assistant:
    """Everything but the adapter; call inside the event loop that will use it, then
    `await assistant.start()`."""
    services = load_services(settings.services_file)
    catalog = load_catalog(settings.responses_dir, settings.locales_dir, services)
    engine = Engine(catalog, services, settings.confidence_threshold)
    store = DialogueStore(
        connect_redis(redis_url),
        state_ttl=settings.state_ttl_seconds,
        flood_limit=settings.flood_limit,
        flood_window=settings.flood_window_seconds,
    )
    return Assistant(engine, nlu, store, settings.secret)
