"""Relay latency of live counselling conversations, both ways, with the bot under load.

`--conversations` young people talk to counsellors through the bot at once, messages
both ways, each side answering after a random pause (`--think` seconds):

- **counsellor → young person**: from the counsellor's reply stored by the store's API
  (`Counselling.reply` returned, in the dashboard's process) until the bot's relay
  (`bot/adapters/counsellor_replies.py`: `relay_replies` reading the outbox stream with
  its consumer group) hands it to the send function (Telegram's network excluded);
- **young person → console**: from the bot's `Assistant.handle` receiving the young
  person's text until the console's store API (`Counselling.messages`, in the dashboard's
  process) returns it. The bench's console checks for new messages every
  `CONSOLE_POLL_SECONDS` (the real one reloads every `staff.views.console.REFRESH_SECONDS`,
  a wait not counted here), so this figure includes up to one such poll; "stored" is
  until `handle` returned, the message saved.

Real parts: a redis-server on a free loopback port (AOF fsynced every second, as the
dialogue Redis in `deploy/`, unless compared), the bot's real Assistant built as
`helpline bot` builds it (`build_assistant`) with its relay in a child process, the
dashboard's side (`Counselling.configured`: on duty, claim, reply, messages) in this
process, as the two run in production. The NLU is a scripted stub (every text is
"greet"): a conversation's texts never reach the NLU, and the ordinary chats' answers
cost the dialogue, Redis and rendering but no model. The bot's normal load: ordinary
chats, each from its own chat, answered by the same Assistant at `--load` per second
(open loop), against none (`--compare load`), or with the Redis fsyncing every write as
`make run` starts it (`--compare fsync`); the two interleaved round by round, each first
in every other round (ABBA), so both meet the same machine.
Every reply must arrive once and every text be readable once: lost and duplicated are
counted (must be 0). The relay also edits the queue places that moved, as in production.

    .venv/bin/python bench/counselling_relay.py [--compare load|fsync] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis.asyncio import Redis  # noqa: E402

from bot.adapters.counsellor_replies import relay_replies, remember_place, stop_relay  # noqa: E402
from bot.dialogue.actions import CounselJoin, Do  # noqa: E402
from bot.dialogue.events import ButtonEvent, TextEvent  # noqa: E402
from bot.dialogue.replies import Reply  # noqa: E402
from bot.runtime import build_assistant  # noqa: E402
from sini import logging as logs  # noqa: E402
from sini.counselling.model import Author, Origin  # noqa: E402
from sini.counselling.store import Counselling, messages_key  # noqa: E402
from sini.redis import connect_redis  # noqa: E402
from sini.redis_server import LocalRedis  # noqa: E402
from sini.settings import Settings  # noqa: E402
from tests.conftest import ScriptedNLU  # noqa: E402
from tips.crypto import MINIMUM_FOR_TESTS, DeskKeyring  # noqa: E402
from tips.keys import init_desk_keys, unwrap_desk_keyring  # noqa: E402

CONSOLE_POLL_SECONDS = 0.02
REPLY_TIMEOUT_SECONDS = 30.0  # a reply not delivered by then is counted lost
ACCOUNTS = 50  # counsellors on duty: 200 conversations at the default limit of 4 each
TAG = re.compile(r"\b[yr]\d+\.\d+\b")
PROTOCOL = "@bench "  # the child's figures on stdout; anything else there is a library's
# Time is read with `time.monotonic` (CLOCK_MONOTONIC), one clock for every process on
# the machine, so an instant taken in the bot's process compares with the console's.


def tag_of(text: str | None) -> str:
    found = TAG.search(text or "")
    assert found, "every message of the bench carries its tag"
    return found.group()


def settings_for_bench() -> Settings:
    os.environ.setdefault("SINI_SECRET", "5e" * 32)
    return Settings.from_env()


# ------------------------------------------------------------------ the bot's process


@dataclass
class BotLog:
    """What the bot's process saw, by tag: y<i>.<n> a young person's text, r<i>.<n> the
    counsellor's reply to it."""

    said: dict[str, float] = field(default_factory=dict)  # handle called
    saved: dict[str, float] = field(default_factory=dict)  # handle returned
    delivered: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ordinary_ms: list[float] = field(default_factory=list)
    ordinary_seconds: float = 0.0
    edits: int = 0
    unanswered: int = 0  # young people whose last reply never came

    def to_json(self) -> str:
        return json.dumps(
            {
                "said": self.said,
                "saved": self.saved,
                "delivered": self.delivered,
                "ordinary_ms": self.ordinary_ms,
                "ordinary_seconds": self.ordinary_seconds,
                "edits": self.edits,
                "unanswered": self.unanswered,
            }
        )


async def bot_side(args: argparse.Namespace) -> None:
    logs.configure("WARNING")
    assistant = build_assistant(settings_for_bench(), ScriptedNLU("greet"), args.redis)
    seen = BotLog()
    inboxes: dict[int | str, asyncio.Queue[str]] = defaultdict(asyncio.Queue)
    draw = random.Random(args.seed)  # noqa: S311 - pauses, not secrets

    async def send(chat_id: int | str, reply: Reply) -> None:
        tag = tag_of(reply.text)
        seen.delivered[tag].append(time.monotonic())
        inboxes[chat_id].put_nowait(tag)

    async def edit(chat_id: int | str, message: int, reply: Reply) -> None:
        seen.edits += 1

    async def young_person(number: int) -> None:
        chat = 700_000_000 + number
        await assistant.handle(chat, ButtonEvent(Do.COUNSEL), "fr")
        joined = await assistant.handle(chat, ButtonEvent(CounselJoin(Origin.MENU)), "fr")
        for reply in joined.replies:
            if reply.place is not None:  # as the adapter does once the message is sent
                await remember_place(assistant, reply.place, number)
        for turn in range(args.messages):
            await asyncio.sleep(draw.uniform(*args.think))
            tag = f"{number}.{turn}"
            seen.said[f"y{tag}"] = time.monotonic()
            await assistant.handle(chat, TextEvent(f"y{tag} j'ai un souci à la maison"), "fr")
            seen.saved[f"y{tag}"] = time.monotonic()
            try:
                await asyncio.wait_for(inboxes[chat].get(), REPLY_TIMEOUT_SECONDS)
            except asyncio.TimeoutError:
                seen.unanswered += 1
                return

    async def ordinary(stop: asyncio.Event) -> None:
        chats = itertools.count(800_000_000)
        pending: set[asyncio.Task[None]] = set()

        async def one(due: float) -> None:
            await assistant.handle(next(chats), TextEvent("bonjour"), "fr")
            seen.ordinary_ms.append((time.monotonic() - due) * 1000)

        started = time.monotonic()
        for n in itertools.count():
            due = started + n / args.load
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if stop.is_set():
                break
            task = asyncio.create_task(one(due))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        seen.ordinary_seconds = time.monotonic() - started

    relays = [
        asyncio.create_task(relay_replies(assistant, send, f"bench-bot-{k}", edit))
        for k in range(args.consumers)
    ]
    stop = asyncio.Event()
    load = asyncio.create_task(ordinary(stop)) if args.load > 0 else None
    await asyncio.gather(*(young_person(n) for n in range(args.conversations)))
    stop.set()
    if load is not None:
        await load
    for relay in relays:
        await stop_relay(relay)
    await assistant.close()
    print(PROTOCOL + seen.to_json(), flush=True)


# ------------------------------------------------------------------ the console's side


@dataclass
class ConsoleLog:
    readable: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    stored: dict[str, float] = field(default_factory=dict)  # reply returned


async def console_side(
    counselling: Counselling,
    keyring: DeskKeyring,
    done: asyncio.Event,
    seed: int,
    think: tuple[float, float],
) -> ConsoleLog:
    """Counsellors on duty claim every waiting conversation and answer each text of the
    young person after a pause; runs until `done`."""
    seen = ConsoleLog()
    draw = random.Random(seed)  # noqa: S311 - pauses, not secrets
    accounts = [f"counsellor-{k}" for k in range(ACCOUNTS)]
    for account in accounts:
        await counselling.on_duty(account)
    held: dict[str, str] = {}  # conversation → account
    read_up_to: dict[str, int] = {}
    answering: set[asyncio.Task[None]] = set()
    free = itertools.cycle(accounts)

    async def answer(conversation: str, account: str, tag: str) -> None:
        await asyncio.sleep(draw.uniform(*think))
        await counselling.reply(conversation, account, f"r{tag[1:]} je t'écoute")
        seen.stored[f"r{tag[1:]}"] = time.monotonic()

    async def read(conversation: str) -> None:
        messages = await counselling.messages(conversation, keyring)
        now = time.monotonic()
        for message in messages[read_up_to[conversation] :]:
            if message.author is Author.YOUNG:
                tag = tag_of(message.text)
                seen.readable[tag].append(now)
                task = asyncio.create_task(answer(conversation, held[conversation], tag))
                answering.add(task)
                task.add_done_callback(answering.discard)
        read_up_to[conversation] = len(messages)

    while not done.is_set():
        for waiting in await counselling.waiting():
            account = next(free)
            await counselling.claim(waiting.id, account)
            held[waiting.id] = account
            read_up_to[waiting.id] = 0
        conversations = list(held)
        async with counselling.redis.pipeline(transaction=False) as pipe:
            for conversation in conversations:
                pipe.llen(messages_key(conversation))
            lengths = await pipe.execute()
        grown = [c for c, n in zip(conversations, lengths, strict=True) if n > read_up_to[c]]
        await asyncio.gather(*(read(c) for c in grown))
        await asyncio.sleep(CONSOLE_POLL_SECONDS)
    for task in answering:
        task.cancel()
    return seen


# ------------------------------------------------------------------ one round, the figures


async def one_round(
    args: argparse.Namespace, redis_url: str, load: float, seed: int
) -> dict[str, Any]:
    redis: Redis[bytes] = connect_redis(redis_url)
    await redis.flushdb()
    await init_desk_keys(redis, "admin", "admin password", limits=MINIMUM_FOR_TESTS)
    keyring = await unwrap_desk_keyring(redis, "admin", "admin password")
    counselling = Counselling.configured(redis, settings_for_bench())
    done = asyncio.Event()
    command = [
        sys.executable,
        __file__,
        "--bot",
        f"--redis={redis_url}",
        f"--conversations={args.conversations}",
        f"--messages={args.messages}",
        f"--think={args.think[0]},{args.think[1]}",
        f"--load={load}",
        f"--consumers={args.consumers}",
        f"--seed={seed}",
    ]
    console = asyncio.create_task(console_side(counselling, keyring, done, seed + 1, args.think))
    child = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
    out, _ = await child.communicate()
    done.set()
    seen = await console
    assert child.returncode == 0, "the bot's process failed"
    [line] = [x for x in out.decode().splitlines() if x.startswith(PROTOCOL)]
    bot = json.loads(line[len(PROTOCOL) :])
    # Every text as the console reads it at the end: once each, none lost.
    final: dict[str, int] = defaultdict(int)
    for conversation in [c.id for c in await counselling.live()]:
        for message in await counselling.messages(conversation, keyring):
            if message.author is Author.YOUNG:
                final[tag_of(message.text)] += 1
    await redis.close()
    return {
        "to_young": [
            (times[0] - seen.stored[tag]) * 1000
            for tag, times in bot["delivered"].items()
            if tag in seen.stored
        ],
        "to_console": [
            (times[0] - bot["said"][tag]) * 1000 for tag, times in seen.readable.items()
        ],
        "saved": [(bot["saved"][tag] - bot["said"][tag]) * 1000 for tag in bot["saved"]],
        "replies": len(seen.stored),
        "replies_lost": len(set(seen.stored) - set(bot["delivered"])),
        "replies_twice": sum(len(t) - 1 for t in bot["delivered"].values()),
        "texts": len(bot["saved"]),
        "texts_lost": len(set(bot["saved"]) - {t for t, n in final.items() if n}),
        "texts_twice": sum(n - 1 for n in final.values() if n > 1),
        "unanswered": bot["unanswered"],
        "edits": bot["edits"],
        "ordinary_ms": bot["ordinary_ms"],
        "ordinary_seconds": bot["ordinary_seconds"],
    }


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


def describe(values: list[float]) -> str:
    if not values:
        return "—"
    return (
        f"{statistics.median(values):6.1f} {pct(values, 0.95):7.1f} {pct(values, 0.99):7.1f} "
        f"{max(values):7.1f} {len(values):6}"
    )


def report(variant: str, rounds: list[dict[str, Any]]) -> None:
    def joined(key: str) -> list[float]:
        return [v for r in rounds for v in r[key]]

    def total(key: str) -> int:
        return sum(r[key] for r in rounds)

    head = f"{'':36} {'p50 ms':>6} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} {'count':>6}"
    ordinary = joined("ordinary_ms")
    seconds = sum(r["ordinary_seconds"] for r in rounds) or 1.0
    print(f"\n{variant} ({len(ordinary) / seconds:.1f} ordinary answers/s while it ran)")
    print(head)
    print(f"{'counsellor → young person (relay)':36} {describe(joined('to_young'))}")
    print(f"{'young person → console (read)':36} {describe(joined('to_console'))}")
    print(f"{'young person → stored (handle)':36} {describe(joined('saved'))}")
    print(f"{'ordinary chats, whole answer':36} {describe(ordinary)}")
    print(
        f"replies {total('replies')}: lost {total('replies_lost')}, twice "
        f"{total('replies_twice')}; texts {total('texts')}: lost {total('texts_lost')}, "
        f"twice {total('texts_twice')}; young people left waiting {total('unanswered')}; "
        f"queue places edited {total('edits')}"
    )


@dataclass(frozen=True)
class Variant:
    load: float  # ordinary chats per second
    fsync: str  # the Redis AOF's appendfsync


def variants(args: argparse.Namespace) -> dict[str, Variant]:
    """The two set-ups compared. The dialogue Redis (where the store lives) fsyncs once a
    second in deploy/compose.yaml; `make run`'s single Redis fsyncs every write."""
    loaded = f"ordinary load {args.load:g}/s"
    if args.compare == "load":
        return {
            f"{loaded}, fsync everysec": Variant(args.load, "everysec"),
            "no other load, fsync everysec": Variant(0.0, "everysec"),
        }
    return {
        f"{loaded}, fsync everysec": Variant(args.load, "everysec"),
        f"{loaded}, fsync always": Variant(args.load, "always"),
    }


async def measure(args: argparse.Namespace) -> None:
    compared = variants(args)
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in compared}
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        servers = {
            fsync: stack.enter_context(LocalRedis(folder / fsync, appendfsync=fsync))
            for fsync in {v.fsync for v in compared.values()}
        }
        for round_number in range(args.rounds):  # interleaved: both meet the same machine
            order = list(compared.items())  # and each goes first in every other round
            for name, variant in order if round_number % 2 == 0 else order[::-1]:
                started = time.monotonic()
                load_average = os.getloadavg()[0]  # other work on the machine, for the reader
                url = servers[variant.fsync].url
                result = await one_round(args, url, variant.load, 1000 * round_number)
                results[name].append(result)
                print(
                    f"round {round_number + 1}, {name}: {time.monotonic() - started:.0f} s, "
                    f"load average at its start {load_average:.1f}; p99 counsellor → young "
                    f"{pct(result['to_young'], 0.99):.0f} ms, young → console "
                    f"{pct(result['to_console'], 0.99):.0f} ms",
                    flush=True,
                )
    print(
        f"\n{args.conversations} conversations × {args.messages} texts and replies each, "
        f"pauses {args.think[0]:g}–{args.think[1]:g} s each side, {args.consumers} relay "
        f"consumer(s), {args.rounds} rounds per variant, interleaved (ABBA); scripted NLU stub; "
        f"console poll {CONSOLE_POLL_SECONDS * 1000:.0f} ms; load average now "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    for name in compared:
        report(name, results[name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5, help="texts each young person sends")
    parser.add_argument(
        "--think",
        type=lambda s: tuple(float(x) for x in s.split(",")),
        default=(1.0, 3.0),
        help="each side's pause before answering, seconds: low,high",
    )
    parser.add_argument("--load", type=float, default=30.0, help="ordinary chats per second")
    parser.add_argument("--consumers", type=int, default=1, help="relay tasks in the bot")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--compare",
        choices=("load", "fsync"),
        default="load",
        help="with and without the ordinary load, or Redis fsyncing every second or write",
    )
    parser.add_argument("--bot", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    asyncio.run(bot_side(args) if args.bot else measure(args))


if __name__ == "__main__":
    main()
