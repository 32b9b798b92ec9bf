"""What a bot replica keeps per chat: RSS growth for `--chats` new chats, the message ids
for "erase" kept the old way (PTB `chat_data`, in the process for good) against the new
(`bot/adapters/erasable.py`: sealed in Redis with a 48-hour TTL), side by side in one run.

Each path runs in its own child process: the real Application (`build_application`), the
real assistant on a real redis-server, every reply a real HTTP call to the Bot API
emulator (tests/emulator/server.js). Each new chat sends /start (the welcome and the
menu: three message ids to remember). After a warm-up of `--warm-up` chats (pools,
caches, the rate limiter's first sweep), RssAnon (the process's own memory) is read
before and after `--chats` more chats, after a full collection each time; the sizes of
PTB's `chat_data`/`user_data` and of the in-process fallback of erasable ids are printed
with it. No NLU model is loaded (/start needs none).

    .venv/bin/python bench/chat_memory.py [--chats 30000] [--warm-up 12000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import Update  # noqa: E402

from bot.adapters import telegram as adapter  # noqa: E402
from bot.adapters.erasable import ErasableMessages  # noqa: E402
from bot.nlu import NLUUnavailable, Understanding  # noqa: E402
from bot.runtime import build_assistant  # noqa: E402
from sini import logging as logs  # noqa: E402
from sini.redis_server import LocalRedis  # noqa: E402
from sini.settings import Settings  # noqa: E402
from tests.support.telegram_emulator import TelegramEmulator  # noqa: E402

TOKEN = "777001:CHAT-memory-bench-token-only-00000000"  # noqa: S105 - the emulator's
CONCURRENT = 64
OLD_LIMIT = 300  # ids the old channel kept per chat


class ChatDataChannel(adapter.TelegramChannel):
    """The channel as it was before issue 22: the ids in PTB's `chat_data`, for good."""

    def remember(self, message_id: int) -> None:
        assert self.context.chat_data is not None
        ids: list[int] = self.context.chat_data.setdefault("recent_messages", [])
        ids.append(message_id)
        del ids[:-OLD_LIMIT]

    async def keep(self) -> None:
        self.recent = []


class NoNLU:
    """/start needs no NLU."""

    async def parse(self, text: str) -> Understanding:
        raise NLUUnavailable("not loaded")

    async def ready(self) -> bool:
        return False

    async def close(self) -> None:
        return None


def rss_anon_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_update(update_id: int, chat_id: int) -> dict[str, Any]:
    person = {"id": chat_id, "is_bot": False, "first_name": "Awa", "language_code": "fr"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Awa"},
            "from": person,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def one_path(path: str, chats: int, warm_up: int, emulator_url: str, redis_url: str) -> None:
    """Run in the child process: `path` is "old" or "new"."""
    logs.configure("WARNING")
    if path == "old":
        adapter.TelegramChannel = ChatDataChannel  # type: ignore[misc]
    settings = replace(
        Settings.from_env(),
        telegram_token=TOKEN,
        telegram_api_url=emulator_url,
        telegram_max_rate=100_000.0,
        telegram_chat_rate=0.0,
        staff_chat_id=None,
        metrics_port=0,
    )
    application = adapter.build_application(
        settings, lambda: build_assistant(settings, NoNLU(), redis_url)
    )
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    numbers = itertools.count(1)

    async def chat(number: int) -> None:
        update = start_update(number, 900_000_000 + number)
        await application.process_update(Update.de_json(update, application.bot))

    async def run(count: int) -> None:
        pending = [next(numbers) for _ in range(count)]
        for first in range(0, count, CONCURRENT):
            await asyncio.gather(*(chat(n) for n in pending[first : first + CONCURRENT]))

    await run(warm_up)
    gc.collect()
    before = rss_anon_mib()
    started = time.perf_counter()
    await run(chats)
    seconds = time.perf_counter() - started
    gc.collect()
    after = rss_anon_mib()
    erasable: ErasableMessages = application.bot_data[adapter.ERASABLE_KEY]
    print(
        f"{path:4} {chats:7} {before:10.1f} {after:9.1f} {after - before:+9.1f} "
        f"{(after - before) * 1024 / chats:10.3f} "
        f"{len(application.chat_data) + len(application.user_data):10} "
        f"{len(erasable.held):8} {chats / seconds:7.0f}",
        flush=True,
    )
    assert application.post_shutdown is not None
    await application.post_shutdown(application)
    await application.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=30_000)
    parser.add_argument("--warm-up", type=int, default=12_000)
    parser.add_argument("--path", choices=("old", "new"), help=argparse.SUPPRESS)
    parser.add_argument("--emulator", help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.path:
        asyncio.run(one_path(args.path, args.chats, args.warm_up, args.emulator, args.redis))
        return
    os.environ.setdefault("SINI_SECRET", "5e" * 32)
    print(
        f"{'path':4} {'chats':>7} {'RSS0 MiB':>10} {'RSS1 MiB':>9} {'growth':>9} "
        f"{'KiB/chat':>10} {'chat/user':>10} {'held':>8} {'chats/s':>7}"
    )
    with (
        tempfile.TemporaryDirectory() as folder,
        TelegramEmulator(ROOT / "tests" / "emulator") as emulator,
    ):
        for path in ("old", "new"):
            emulator.reset(TOKEN)  # the emulator's own history of the previous path
            with LocalRedis(Path(folder) / path) as redis:
                env = {**os.environ, "SINI_VAR_DIR": str(Path(folder) / f"var-{path}")}
                subprocess.run(  # noqa: S603 - this script, fixed arguments
                    [
                        sys.executable,
                        __file__,
                        f"--path={path}",
                        f"--chats={args.chats}",
                        f"--warm-up={args.warm_up}",
                        f"--emulator={emulator.base_url}",
                        f"--redis={redis.url}",
                    ],
                    env=env,
                    check=True,
                )


if __name__ == "__main__":
    main()
