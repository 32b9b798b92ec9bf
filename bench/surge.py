"""A campaign surge through the Bot API emulator: PTB's AIORateLimiter (what the bot used)
against the prioritising scheduler (bot/adapters/sending.py), interleaved in one run.

Each of `--chats` people (arriving evenly over `--arrival` seconds) is answered as the bot
answers a /start: two messages, the second sent once the first is accepted; `--crises`
people, scattered among them, get a crisis answer (two messages, class urgent). Every send
is a real HTTP call through PTB's ExtBot to tests/emulator/server.js, in two regimes:

  ceiling   both limiters capped at 30 messages/s (Telegram's published bulk figure);
  429       no ceiling, and the emulator answering 429 (retry_after 1 s) whenever the bot
            sends more than `--flood-rate` messages in a second (AIORateLimiter as the bot
            had it: no pre-throttling, max_retries=5).

Printed per regime and limiter: crisis latency from arrival to the first crisis message
accepted (p50/p99), the first reply's wait for everyone else (p50/p99), messages sent per
second, 429s received, and answers lost (a RetryAfter raised to the caller).

This measures the sending layer alone (no NLU, no Redis): what a surge does to who waits.
Needs the emulator installed (`npm ci --prefix tests/emulator`).

    .venv/bin/python bench/surge.py [--chats 400] [--crises 10] [--arrival 4] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram.error import RetryAfter  # noqa: E402
from telegram.ext import AIORateLimiter, BaseRateLimiter, ExtBot  # noqa: E402

from bot.adapters.sending import Priority, PriorityRateLimiter  # noqa: E402
from tests.support.telegram_emulator import TelegramEmulator  # noqa: E402

CEILING = 30.0


@dataclass
class Result:
    crisis: list[float] = field(default_factory=list)
    first: list[float] = field(default_factory=list)
    sent: int = 0
    lost: int = 0
    seconds: float = 0.0
    refused: int = 0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def surge(
    limiter: BaseRateLimiter[Any],
    emulator: TelegramEmulator,
    token: str,
    chats: int,
    crises: int,
    arrival: float,
    prioritised: bool,
) -> Result:
    result = Result()
    bot: ExtBot[Any] = ExtBot(token, base_url=f"{emulator.base_url}/bot", rate_limiter=limiter)
    every = max(1, chats // max(1, crises))
    crisis_at = {every // 2 + n * every for n in range(crises)}

    async def answer(number: int) -> None:
        await asyncio.sleep(arrival * number / chats)  # arrivals spread evenly
        urgent = number in crisis_at
        arrived = time.perf_counter()
        classes = (Priority.URGENT, Priority.URGENT) if urgent else (Priority.FIRST, Priority.REST)
        for part, priority in enumerate(classes):
            extra = {"rate_limit_args": priority} if prioritised else {}
            try:
                await bot.send_message(900_000_000 + number, f"part {part}", **extra)
            except RetryAfter:
                result.lost += 1
                return
            result.sent += 1
            if part == 0:
                (result.crisis if urgent else result.first).append(time.perf_counter() - arrived)

    async with bot:
        started = time.perf_counter()
        await asyncio.gather(*(answer(n) for n in range(chats + len(crisis_at))))
        result.seconds = time.perf_counter() - started
    return result


def run(args: argparse.Namespace) -> None:
    # PTB's limiter logs a traceback for each message it gives up on: counted as "lost".
    logging.getLogger("telegram").setLevel(logging.CRITICAL)
    rows: list[tuple[str, str, Result]] = []
    with TelegramEmulator(ROOT / "tests" / "emulator") as emulator:
        for round_ in range(args.rounds):
            for regime in ("ceiling", "429"):
                for name in ("AIORateLimiter", "PriorityRateLimiter"):
                    token = f"6{round_}{len(rows):04d}:SURGE-bench-token"
                    limiter: BaseRateLimiter[Any]
                    if regime == "ceiling":
                        limiter = (
                            AIORateLimiter(overall_max_rate=CEILING, max_retries=5)
                            if name == "AIORateLimiter"
                            else PriorityRateLimiter(max_rate=CEILING)
                        )
                    else:
                        emulator.limit_rate(token, args.flood_rate, retry_after=1)
                        limiter = (
                            AIORateLimiter(overall_max_rate=100_000, max_retries=5)
                            if name == "AIORateLimiter"
                            else PriorityRateLimiter()
                        )
                    result = asyncio.run(
                        surge(
                            limiter,
                            emulator,
                            token,
                            args.chats,
                            args.crises,
                            args.arrival,
                            name == "PriorityRateLimiter",
                        )
                    )
                    result.refused = emulator.rate_limit_stats(token)["refused"]
                    emulator.reset(token)
                    rows.append((regime, name, result))
                    print(f"  done: {regime} {name} ({result.seconds:.1f} s)", file=sys.stderr)
    print(
        f"\n{args.chats} people + {args.crises} crises arriving over {args.arrival:g} s, "
        f"2 messages each; 429 regime: emulator refuses above {args.flood_rate:g}/s\n"
    )
    header = (
        "| regime | limiter | crisis p50 | crisis p99 | first reply p50 | first reply p99 "
        "| messages/s | 429s | lost |"
    )
    print(header)
    print("|" + "---|" * 9)
    for regime, name, r in rows:
        print(
            f"| {regime} | {name} | {pct(r.crisis, 0.5):.2f} s | {pct(r.crisis, 0.99):.2f} s "
            f"| {pct(r.first, 0.5):.2f} s | {pct(r.first, 0.99):.2f} s "
            f"| {r.sent / r.seconds:.1f} | {r.refused} | {r.lost} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=400)
    parser.add_argument("--crises", type=int, default=10)
    parser.add_argument("--arrival", type=float, default=4.0)
    parser.add_argument("--flood-rate", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=1)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
