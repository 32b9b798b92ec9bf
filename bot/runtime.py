"""Assemble the assistant from settings: content, engine, NLU and Redis."""

from __future__ import annotations

from pathlib import Path

from bot.assistant import Assistant
from bot.awareness import Quiz, load_quizzes, load_weekly
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
from sini.counselling.store import Counselling
from sini.redis import connect_redis, connect_tips
from sini.settings import Settings
from tips.intake import Intake

# Far above a model's loading time (README, Performance: cold start); past this the bot
# starts anyway and answers free text politely as "not understood right now" until the
# model is ready.
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
    """Everything but the adapter; call inside the event loop that will use it."""
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
    tips = Intake(connect_tips(settings, redis), settings.secret)
    project = settings.nlu_project
    net = CrisisNet(load_classifier(project / "crisis", project / "data"))
    counselling = Counselling.configured(redis, settings)
    return Assistant(engine, nlu, store, tips, settings.secret, net, counselling)
