"""The `helpline` command: the assistant, NLU training, staff and awareness tools."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot import heap
from bot.awareness.commands import register as register_awareness
from bot.services.commands import register as register_services
from bot.yamlfile import ContentError
from sini import logging as logs
from sini.redis import configured_url
from sini.settings import PROJECT_ROOT, ConfigError, Settings
from staff.cli import register as register_staff

EVALUATION_NLU_TIMEOUT_SECONDS = 120.0


@contextmanager
def redis_url_for(settings: Settings) -> Iterator[str]:
    """REDIS_URL when set; otherwise a project-local redis-server in var/redis for the
    duration of the command (its AOF keeps data between runs). With RUN_STAFF=1 the staff
    dashboard runs alongside, on the same Redis."""
    with configured_url(settings) as url, staff_alongside(settings, url):
        yield url


@contextmanager
def staff_alongside(settings: Settings, redis_url: str) -> Iterator[None]:
    """`helpline staff` as a child process while the assistant runs, when RUN_STAFF=1."""
    if not settings.run_staff:
        yield
        return
    from staff.config import StaffConfig

    env = {**os.environ, "REDIS_URL": redis_url}
    staff = subprocess.Popen([sys.executable, "-m", "bot", "staff"], env=env)
    port = StaffConfig.from_env().port
    print(f"Staff dashboard: http://127.0.0.1:{port}", file=sys.stderr)
    try:
        yield
    finally:
        staff.terminate()
        staff.wait(timeout=10)


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    from bot.nlu.training import train

    train(settings.nlu_project, settings.model_dir, force=args.force)
    return 0


def cmd_evaluate(settings: Settings, args: argparse.Namespace) -> int:
    if args.e2e:
        return evaluate_e2e(settings, args.messages or settings.nlu_project / "blind", args.out)
    from bot.nlu.evaluation import evaluate, load_examples
    from bot.nlu.rasa_local import RasaLocalNLU
    from bot.nlu.training import train

    nlu = RasaLocalNLU.load(train(settings.nlu_project, settings.model_dir))
    examples = load_examples(settings.nlu_project / "tests")
    report = evaluate(examples, nlu.parse_sync, args.out)
    per_language = ", ".join(f"{k} {v:.3f}" for k, v in report["per_language_macro_f1"].items())
    safety = report["safety_net"]
    print(f"held-out examples: {len(examples)}")
    print(f"intent macro-F1: {report['macro_f1']:.3f} ({per_language})")
    print(f"asked to clarify (nlu_fallback): {report['fallback_rate']:.1%}")
    print(
        f"safety net: crisis recall {safety['recall']:.3f} on {safety['crisis_messages']}, "
        f"false alarms {safety['false_alarm_rate']:.1%} of {safety['ordinary_messages']} "
        "ordinary questions"
    )
    print(f"reports written to {args.out}/")
    return 0


def evaluate_e2e(settings: Settings, directory: Path, out: Path) -> int:
    """The messages of `directory` (the blind set by default) through the real assistant,
    on a throwaway local Redis."""
    import dataclasses
    import tempfile

    from bot.e2e_evaluation import evaluate_e2e, load_blind_set
    from bot.runtime import build_assistant, load_nlu
    from sini.redis_server import LocalRedis

    messages = load_blind_set(directory)
    # Understanding is measured, not speed: a machine busy with other work must not turn
    # slow answers into "NLU down" answers and move the figures between two runs.
    settings = dataclasses.replace(settings, nlu_timeout=EVALUATION_NLU_TIMEOUT_SECONDS)
    nlu = load_nlu(settings)
    with tempfile.TemporaryDirectory() as data, LocalRedis(Path(data)) as server:

        async def main() -> str:
            assistant = build_assistant(settings, nlu, server.url)
            try:
                return await evaluate_e2e(assistant, messages, out)
            finally:
                await assistant.close()

        print(asyncio.run(main()))
    print(f"every miss in {out}/e2e_misses.json")
    return 0


def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.adapters.terminal import chat
    from bot.runtime import build_assistant, load_content, load_nlu

    load_content(settings)  # a broken content file stops here, before the model loads
    print("Loading the NLU model (about 20 s)…", file=sys.stderr, flush=True)
    nlu = load_nlu(settings)
    with redis_url_for(settings) as redis_url:

        async def main() -> None:
            assistant = build_assistant(settings, nlu, redis_url)
            heap.settle()
            try:
                await chat(assistant, language_code=args.lang)
            finally:
                await assistant.close()

        asyncio.run(main())
    return 0


def cmd_bot(settings: Settings, args: argparse.Namespace) -> int:
    from bot.adapters import telegram
    from bot.runtime import build_assistant, load_content, load_nlu

    if not settings.telegram_token:
        print("error: TELEGRAM_BOT_TOKEN is not set (get one from @BotFather)", file=sys.stderr)
        return 2
    load_content(settings)  # a broken content file stops here, before the model loads
    nlu = load_nlu(settings)
    with redis_url_for(settings) as redis_url:
        telegram.run(settings, lambda: build_assistant(settings, nlu, redis_url))
    return 0


def cmd_health(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when the bot's event loop beat recently and every Redis it uses answers
    (container HEALTHCHECK): REDIS_URL or the project-local redis-server, and the tips
    Redis when it is a separate one."""
    import time

    import redis

    from bot.adapters.telegram import HEARTBEAT_FILE, HEARTBEAT_SECONDS
    from sini.redis_server import running_url

    heartbeat = settings.var_dir / HEARTBEAT_FILE
    if not heartbeat.exists() or time.time() - heartbeat.stat().st_mtime > 4 * HEARTBEAT_SECONDS:
        print("unhealthy: no recent heartbeat from the bot", file=sys.stderr)
        return 1
    dialogue = settings.redis_url or running_url(settings.var_dir / "redis")
    if dialogue is None:
        print("unhealthy: no Redis (REDIS_URL unset, no local redis-server)", file=sys.stderr)
        return 1
    every = {"Redis": dialogue}
    if settings.tips_redis_url and settings.tips_redis_url != dialogue:
        every["the tips Redis"] = settings.tips_redis_url
    for name, url in every.items():
        try:
            redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
        except redis.RedisError:
            print(f"unhealthy: {name} does not answer", file=sys.stderr)
            return 1
    return 0


def nlu_server_argv(settings: Settings, host: str, port: int) -> list[str]:
    """`rasa run --enable-api` on the model of the current training data.

    Rasa reads LOG_LEVEL too, and at DEBUG it logs every message text: its level is set
    here, never above INFO, whatever the deployment's LOG_LEVEL says."""
    from bot.nlu.training import model_path

    model = model_path(settings.nlu_project, settings.model_dir)
    if not model.exists():
        raise FileNotFoundError(
            f"no model for the current NLU data ({model.name}): run `helpline train`"
        )
    quiet = settings.log_level in {"WARNING", "ERROR", "CRITICAL"}
    return [
        sys.executable, "-m", "rasa", "run", "--enable-api",
        "--model", str(model), "--interface", host, "--port", str(port),
        "--quiet" if quiet else "--verbose",
    ]  # fmt: skip


def cmd_nlu_server(settings: Settings, args: argparse.Namespace) -> int:
    """Become the Rasa server (exec: container signals reach Rasa itself), telemetry off."""
    from bot.nlu.rasa_local import prepare_rasa_environment

    try:
        argv = nlu_server_argv(settings, args.host, args.port)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    prepare_rasa_environment()
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    os.execv(sys.executable, argv)  # noqa: S606 - our own interpreter, fixed arguments


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """The README's first command: the Telegram bot with a token, the terminal chat without."""
    if settings.telegram_token:
        return cmd_bot(settings, args)
    print("No TELEGRAM_BOT_TOKEN: starting the terminal chat.", file=sys.stderr)
    return cmd_chat(settings, args)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="helpline", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="terminal chat without TELEGRAM_BOT_TOKEN, else the bot")
    run.set_defaults(func=cmd_run, lang=None)
    chat = sub.add_parser("chat", help="talk to the assistant in this terminal")
    chat.add_argument("--lang", choices=["fr", "bm", "en"], default=None)
    chat.set_defaults(func=cmd_chat)
    bot = sub.add_parser("bot", help="run the Telegram bot (polling, or webhook with WEBHOOK_URL)")
    bot.set_defaults(func=cmd_bot)
    train = sub.add_parser("train", help="train the NLU model if its data changed")
    train.add_argument("--force", action="store_true", help="train even if up to date")
    train.set_defaults(func=cmd_train)
    nlu_server = sub.add_parser(
        "nlu-server", help="serve the trained model over HTTP (rasa run --enable-api)"
    )
    nlu_server.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container")
    nlu_server.add_argument("--port", type=int, default=5005)
    nlu_server.set_defaults(func=cmd_nlu_server)
    health = sub.add_parser("health", help="exit 0 if the running bot is healthy")
    health.set_defaults(func=cmd_health)
    evaluate = sub.add_parser(
        "evaluate", help="evaluate the NLU on the held-out split (--e2e: the blind set)"
    )
    evaluate.add_argument("--out", type=Path, default=PROJECT_ROOT / "reports")
    evaluate.add_argument(
        "--e2e",
        action="store_true",
        help="the blind set (nlu/blind/) through the real assistant, scored on what users get",
    )
    evaluate.add_argument(
        "--messages",
        type=Path,
        help="with --e2e: another folder of the same format (nlu/dev/ to choose thresholds)",
    )
    evaluate.set_defaults(func=cmd_evaluate)
    register_staff(sub)
    register_awareness(sub)
    register_services(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand. A bad setting or a broken content file stops it with one line
    (`file:line: field: problem` for content), never a traceback."""
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    quiet = args.command in {"chat", "run"} and not settings.telegram_token
    logs.configure("WARNING" if quiet else settings.log_level, settings.log_format)
    try:
        return int(args.func(settings, args))
    except ConfigError as error:  # the dashboard's settings, read by its commands
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ContentError as error:
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
