"""Whole-update-path figures, side by side with Rasa's own agent and server, in one run.

The same held-out messages (`nlu/tests/`, fr/bm/en) go through:

- **Sini**, the whole update path — NLU + dialogue + Redis + rendering, Telegram network
  excluded — with the model in a worker process (the default), in two, and in the bot's
  own process (`NLU_PROCESS=0`), dialogue and tips in two Redis as in `deploy/`, and once
  with a single Redis at `appendfsync always` as `make run` starts it;
- **Rasa's full agent**, `Agent.handle_text` (NLU + policies + tracker);
- **Rasa's HTTP server**, `rasa run --enable-api`, `POST /model/parse`.

Each system is started in its own process, one after another, so that its cold start
and peak RSS are its own; then all stay up, idle but for the one being measured. Each
gets a bare parse vs a whole update at low load (Sini), closed-loop concurrency levels,
and an open-loop sweep of offered load (arrivals at a fixed rate, each from its own
chat; latency counted from when a message was due, so that a busy event loop cannot
hide its own delay) giving achieved throughput and p50/p99 — Sini's at
`OFFERED_RATES`, Rasa's at `RASA_OFFERED_RATES` — and Sini's configurations six more
windows at the 500/s target. The sweeps and the target windows are interleaved, system
after system at each step: the development VM's own speed drifts by half or more within
minutes (`machine_speed_ms`, read before every window), and interleaving lets every
system meet the same spells. Each system's most updates per second with p99 <= 100 ms
is then set beside the others' (like with like), and beside Rasa's closed-loop maxima
(reached at p99 of 150 ms and more). Prints a table, writes `bench/results/pipeline.json`
and a plot `bench/results/pipeline.png`.

Usage: `.venv/bin/python bench/pipeline.py` (part of `make bench`; about 20 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bot import heap
from bot.dialogue.events import TextEvent
from bot.nlu.evaluation import load_examples
from bot.nlu.training import train
from sini import logging as logs
from sini.redis_server import LocalRedis, free_port
from sini.settings import PROJECT_ROOT, Settings

RESULTS = PROJECT_ROOT / "bench" / "results"
OFFERED_RATES = (100, 200, 300, 400, 450, 500, 550, 600, 700, 800, 900, 1000)
RASA_OFFERED_RATES = (25, 50, 75, 100, 125, 150)
SECONDS_PER_RATE = 5.0
# The target rate gets several more windows: on a shared VM one window's p99 says little
# (the machine's own speed drifts by half within minutes; see `machine_speed_ms`).
TARGET_RATE = 500
TARGET_WINDOWS = 6
CONCURRENCY = (1, 4, 16, 64)
CLOSED_LOOP_MESSAGES = 1200
SYSTEMS = (
    ("sini_worker", "NLU worker process"),
    ("sini_two_workers", "two NLU workers (NLU_WORKERS=2)"),
    ("sini_thread", "NLU in-process"),
    ("sini_one_redis", "NLU worker process, one Redis at fsync always (make run)"),
)
_chats = itertools.count(1_000_000, 1_000_000)  # a fresh range of chat ids per run


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def held_out() -> list[str]:
    return [e.text for e in load_examples(PROJECT_ROOT / "nlu" / "tests")]


def peak_rss_mb(pid: int | None = None) -> float:
    """VmHWM (peak resident set) of a process, in MB; this process when pid is None."""
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return status_mb(pid, "VmHWM")


def private_mb(pid: int | None = None) -> float:
    """RssAnon of a process now, in MB: its own memory. The rest of its RSS is mostly
    TensorFlow's 400 MB library mapped from disk, shared by every process that loads it
    (two NLU workers hold one copy) and reclaimable by the kernel."""
    return status_mb(pid, "RssAnon")


def status_mb(pid: int | None, field: str) -> float:
    """A kB field of /proc/<pid>/status (this process when pid is None), in MB."""
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine_speed_ms() -> float:
    """CPU milliseconds a fixed pure-Python loop takes now (best of three): the same work
    took 12 to 21 ms on the development VM within minutes, idle. Printed beside each
    system's figures so that runs (and systems) can be compared for the machine's speed."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        total = 0
        for number in range(300_000):
            total += number * number % 7
        best = min(best, (time.process_time() - started) * 1000)
    return best


def summary(latencies_ms: list[float], seconds: float) -> dict[str, float]:
    return {
        "per_second": len(latencies_ms) / seconds,
        "p50_ms": statistics.median(latencies_ms),
        "p99_ms": percentile(latencies_ms, 0.99),
    }


# ------------------------------------------------------------------ measuring

Handle = Callable[[int, str], Awaitable[None]]
PROTOCOL = "@bench "  # a part's answers on stdout; anything else there is a library's


async def closed_loop(handle: Handle, texts: list[str], concurrency: int) -> dict[str, float]:
    """`concurrency` senders, each sending the next message as soon as the last one is
    answered; every message opens a fresh chat, as when many people ask a first question
    (one chat's later messages may be report steps, which never reach the NLU)."""
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(CLOSED_LOOP_MESSAGES):
        queue.put_nowait(index)
    base = next(_chats)

    async def sender() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            started = time.perf_counter()
            await handle(base + index, texts[index % len(texts)])
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return summary(latencies, time.perf_counter() - started)


async def open_loop(handle: Handle, texts: list[str], rate: int) -> dict[str, float]:
    """Messages arrive at `rate` per second whether or not earlier ones were answered
    (as from many people at once), each from its own chat. A message's latency runs from
    when it was due, not from when the event loop got round to sending it: a system that
    blocks its loop (Rasa's agent) or falls behind must not hide the wait it causes."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    count = int(rate * SECONDS_PER_RATE)

    async def one(index: int, due: float) -> None:
        await asyncio.sleep(max(0.0, due - loop.time()))
        await handle(base + index, texts[index % len(texts)])
        latencies.append((loop.time() - due) * 1000)

    base = next(_chats)
    begin = loop.time() + 0.05
    started = time.perf_counter()
    await asyncio.gather(*(one(i, begin + i / rate) for i in range(count)))
    result = summary(latencies, time.perf_counter() - started)
    result["offered"] = rate
    return result


async def window(handle: Handle, texts: list[str], rate: int) -> dict[str, float]:
    """One open-loop window, after a reading of the machine's speed."""
    speed = machine_speed_ms()
    return {**await open_loop(handle, texts, rate), "machine_speed_ms": speed}


# ------------------------------------------------------------------ a part's process


def reply(answer: dict[str, Any]) -> None:
    print(PROTOCOL + json.dumps(answer), flush=True)


async def serve(
    handle: Handle,
    static: Callable[[], Awaitable[dict[str, Any]]],
    memory: Callable[[], dict[str, Any]],
) -> None:
    """Answer the driver's requests, a JSON line each, until it closes stdin: `static`
    (low load, closed loop), `open` (a window at `rate`) and `memory`."""
    loop = asyncio.get_running_loop()
    texts = held_out()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        request = json.loads(line)
        if request["what"] == "static":
            reply(await static())
        elif request["what"] == "open":
            reply(await window(handle, texts, request["rate"]))
        else:
            reply(memory())


def part_sini(worker: bool, split_redis: bool, workers: int = 1) -> None:
    """With `split_redis`, as deploy/ runs it: the dialogue in a Redis that fsyncs once a
    second, tips in their own at "always"; otherwise one Redis at "always" (`make run`)."""
    from bot.runtime import load_nlu

    os.environ["NLU_PROCESS"] = "1" if worker else "0"
    os.environ["NLU_WORKERS"] = str(workers)
    os.environ["NLU_CACHE_SIZE"] = "0"  # every update really parsed
    started = time.perf_counter()
    nlu = load_nlu(Settings.from_env())
    cold_start = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as data:
        dialogue_fsync = "everysec" if split_redis else "always"
        with (
            LocalRedis(Path(data) / "dialogue", appendfsync=dialogue_fsync) as dialogue,
            LocalRedis(Path(data) / "tips") as tips,
        ):
            os.environ["TIPS_REDIS_URL"] = tips.url if split_redis else dialogue.url
            asyncio.run(sini_session(nlu, dialogue.url, cold_start))


async def sini_session(nlu: Any, redis_url: str, cold_start: float) -> None:
    from bot.runtime import build_assistant

    assistant = build_assistant(Settings.from_env(), nlu, redis_url)
    heap.settle()  # as the bot does once started

    async def handle(chat_id: int, text: str) -> None:
        await assistant.handle(chat_id, TextEvent(text), "fr")

    async def static() -> dict[str, Any]:
        texts = held_out()
        bare, whole = [], []
        for text in texts[:200]:  # one at a time: nothing to batch with
            started = time.perf_counter()
            await nlu.parse(text)
            bare.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await handle(next(_chats), text)
            whole.append((time.perf_counter() - started) * 1000)
        await closed_loop(handle, texts, 16)  # warm-up: TensorFlow, caches, Redis
        return {
            "bare_parse_p50_ms": statistics.median(bare),
            "low_load_update_p50_ms": statistics.median(whole),
            "low_load_update_p99_ms": percentile(whole, 0.99),
            "closed_loop": {str(c): await closed_loop(handle, texts, c) for c in CONCURRENCY},
        }

    def memory() -> dict[str, Any]:
        result: dict[str, Any] = {"rss_mb": peak_rss_mb(), "private_mb": private_mb()}
        workers = [w.pid for w in getattr(nlu, "workers", ()) if w.pid is not None]
        if workers:
            result["worker_rss_mb"] = max(peak_rss_mb(pid) for pid in workers)
            result["worker_private_mb"] = max(private_mb(pid) for pid in workers)
            result["workers"] = len(workers)
        return result

    reply({"cold_start_s": cold_start})
    await serve(handle, static, memory)
    await assistant.close()


def part_rasa_agent() -> None:
    """Rasa's own agent: `handle_text` runs the NLU, the policies and the tracker."""
    from bot.nlu.rasa_local import prepare_rasa_environment

    prepare_rasa_environment()
    model = train(PROJECT_ROOT / "nlu", PROJECT_ROOT / "models")
    started = time.perf_counter()
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    cold_start = time.perf_counter() - started

    async def handle(chat_id: int, text: str) -> None:
        await agent.handle_text(text, sender_id=str(chat_id))

    async def static() -> dict[str, Any]:
        texts = held_out()
        await closed_loop(handle, texts, 16)
        return await closed_loop(handle, texts, 16)

    async def session() -> None:
        reply({"cold_start_s": cold_start})
        await serve(handle, static, lambda: {"rss_mb": peak_rss_mb(), "private_mb": private_mb()})

    asyncio.run(session())


# ------------------------------------------------------------------ the driver's side


class Part:
    """A system under test in a process of its own (`--part`), measured on request."""

    def __init__(self, name: str) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - this script, fixed arguments
            [sys.executable, __file__, "--part", name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "FLOOD_LIMIT": "100000000"},  # the benchmark floods on purpose
        )
        self.started = self._read()

    def ask(self, what: str, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"what": what, **fields}) + "\n")
        self.process.stdin.flush()
        return self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(PROTOCOL):
                answer: dict[str, Any] = json.loads(line[len(PROTOCOL) :])
                return answer
        raise RuntimeError(f"benchmark part {self.process.args!r} ended early")

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


class RasaServer:
    """`rasa run --enable-api` on loopback, measured from here with `POST /model/parse`
    (10 clients in closed loop)."""

    def __init__(self, model: Path) -> None:
        port = free_port()
        env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
        command = [sys.executable, "-m", "rasa", "run", "--enable-api", "-i", "127.0.0.1"]
        self._cwd = tempfile.TemporaryDirectory()
        started = time.perf_counter()
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            [*command, "-p", str(port), "-m", str(model), "--quiet"],
            cwd=self._cwd.name,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if httpx.get(f"{self.url}/status", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        self.started = {"cold_start_s": time.perf_counter() - started}

    def ask(self, what: str, **fields: Any) -> dict[str, Any]:
        if what == "memory":
            return {
                "rss_mb": peak_rss_mb(self.process.pid),
                "private_mb": private_mb(self.process.pid),
            }
        return asyncio.run(self._measure(what, fields.get("rate", 0)))

    async def _measure(self, what: str, rate: int) -> dict[str, Any]:
        texts = held_out()
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as client:

            async def handle(chat_id: int, text: str) -> None:
                response = await client.post("/model/parse", json={"text": text})
                response.raise_for_status()

            if what == "open":
                return await window(handle, texts, rate)
            await closed_loop(handle, texts, 10)
            return await closed_loop(handle, texts, 10)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._cwd.cleanup()


# ------------------------------------------------------------------ report


def print_report(results: dict[str, Any]) -> None:
    agent, server = results["rasa_agent"], results["rasa_server"]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"Rasa agent (handle_text, 16 chats): {agent['per_second']:6.1f} msg/s, "
        f"p50 {agent['p50_ms']:.1f} ms, p99 {agent['p99_ms']:.1f} ms, "
        f"cold start {agent['cold_start_s']:.1f} s, RSS {agent['rss_mb']:.0f} MB "
        f"({agent['private_mb']:.0f} MB private); machine speed {agent['machine_speed_ms']:.1f} ms"
    )
    print(
        f"Rasa server (/model/parse, 10 clients): {server['per_second']:6.1f} req/s, "
        f"p50 {server['p50_ms']:.1f} ms, p99 {server['p99_ms']:.1f} ms, "
        f"cold start {server['cold_start_s']:.1f} s, RSS {server['rss_mb']:.0f} MB "
        f"({server['private_mb']:.0f} MB private); machine speed {server['machine_speed_ms']:.1f} ms"
    )
    for key, label in (("rasa_agent", "agent"), ("rasa_server", "server")):
        for row in results[key]["open_loop"]:
            print(
                f"  Rasa {label}, offered {row['offered']:>4}/s: achieved "
                f"{row['per_second']:6.1f}/s, p50 {row['p50_ms']:6.1f} ms, p99 {row['p99_ms']:7.1f} ms"
                f" (speed {row['machine_speed_ms']:.0f} ms)"
            )
        print(f"  Rasa {label}, sustained with p99 <= 100 ms: {sustained(results[key]):.0f}/s")
    for key, label in SYSTEMS:
        sini = results[key]
        rss = f"RSS {sini['rss_mb']:.0f} MB"
        if "worker_rss_mb" in sini:
            rss += (
                f" + {sini['workers']} × worker {sini['worker_rss_mb']:.0f} MB "
                f"({sini['worker_private_mb']:.0f} MB private)"
            )
        print(
            f"\nSini, {label}: cold start {sini['cold_start_s']:.1f} s, {rss}; "
            f"machine speed {sini['machine_speed_ms']:.1f} ms"
        )
        ratio = sini["low_load_update_p50_ms"] / sini["bare_parse_p50_ms"]
        print(
            f"  low load: whole update p50 {sini['low_load_update_p50_ms']:.1f} ms "
            f"(p99 {sini['low_load_update_p99_ms']:.1f}) vs bare parse "
            f"{sini['bare_parse_p50_ms']:.1f} ms = {ratio:.2f}x"
        )
        for concurrency, row in sini["closed_loop"].items():
            print(
                f"  {concurrency:>2} chats at once: {row['per_second']:6.1f} updates/s, "
                f"p50 {row['p50_ms']:6.1f} ms, p99 {row['p99_ms']:6.1f} ms"
            )
        for row in sini["open_loop"]:
            print(
                f"  offered {row['offered']:>4}/s: achieved {row['per_second']:6.1f}/s, "
                f"p50 {row['p50_ms']:6.1f} ms, p99 {row['p99_ms']:7.1f} ms "
                f"(speed {row['machine_speed_ms']:.0f} ms)"
            )
        windows = sini["at_target"]
        p99s = sorted(w["p99_ms"] for w in windows)
        print(
            f"  {TARGET_RATE}/s in {len(windows)} more windows: p99 median "
            f"{statistics.median(p99s):.0f} ms, range {p99s[0]:.0f}-{p99s[-1]:.0f} ms, "
            f"<= 100 ms in {sum(p <= 100 for p in p99s)} of {len(p99s)}; p50 median "
            f"{statistics.median(w['p50_ms'] for w in windows):.0f} ms"
        )
        best = sustained(sini)
        if best:
            print(
                f"  sustained with p99 <= 100 ms: {best:.0f} updates/s = "
                f"{best / agent['per_second']:.1f}x Rasa's agent, "
                f"{best / server['per_second']:.1f}x Rasa's server at their most; "
                f"{best / max(sustained(agent), 1):.1f}x, {best / max(sustained(server), 1):.1f}x "
                "their own most with p99 <= 100 ms"
            )


def sustained(system: dict[str, Any]) -> float:
    """The most a system achieved in its open-loop sweep with p99 <= 100 ms (0 if none)."""
    return max((r["per_second"] for r in system["open_loop"] if r["p99_ms"] <= 100), default=0.0)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for color, (key, label) in enumerate(SYSTEMS):
        rows = results[key]["open_loop"]
        offered = [r["offered"] for r in rows]
        line = {"color": f"C{color}"}
        left.plot(offered, [r["per_second"] for r in rows], marker="o", label=label, **line)
        right.plot(offered, [r["p99_ms"] for r in rows], marker="o", label=f"{label}, p99", **line)
        right.plot(offered, [r["p50_ms"] for r in rows], linestyle="--", label="p50", **line)
    for key, label, style in (
        ("rasa_agent", "Rasa agent", ":"),
        ("rasa_server", "Rasa server", "-."),
    ):
        rows = results[key]["open_loop"]
        offered = [r["offered"] for r in rows]
        line = {"color": "grey", "linestyle": style, "marker": "."}
        left.plot(offered, [r["per_second"] for r in rows], label=label, **line)
        right.plot(offered, [r["p99_ms"] for r in rows], label=f"{label}, p99", **line)
    left.plot(OFFERED_RATES, OFFERED_RATES, color="lightgrey", linewidth=0.8, label="offered")
    left.set(xlabel="offered load (updates/s)", ylabel="achieved (updates/s)")
    left.set_title("Throughput, whole update path")
    right.axhline(100, color="red", linewidth=0.8, label="100 ms")
    right.set(xlabel="offered load (updates/s)", ylabel="latency (ms)", yscale="log")
    right.set_title("Latency")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    figure.suptitle(
        f"Sini's whole update path vs Rasa 3.6, {os.cpu_count()} CPUs, held-out messages"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=[*PARTS])
    args = parser.parse_args()
    logs.configure("WARNING")  # figures on stdout, nothing else
    if args.part:
        PARTS[args.part]()
        return
    model = train(PROJECT_ROOT / "nlu", PROJECT_ROOT / "models")
    systems: dict[str, Part | RasaServer] = {}
    try:
        systems["rasa_server"] = RasaServer(model)  # started one after another: each
        systems["rasa_agent"] = Part("rasa-agent")  # cold start is its own
        for key, _ in SYSTEMS:
            systems[key] = Part(key.replace("_", "-"))
        results = measure(systems)
    finally:
        for system in systems.values():
            system.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(results, indent=2) + "\n")
    print_report(results)
    plot(results, RESULTS / "pipeline.png")
    print(f"\nplot: {(RESULTS / 'pipeline.png').relative_to(PROJECT_ROOT)}")


PARTS: dict[str, Callable[[], None]] = {
    "sini-worker": lambda: part_sini(worker=True, split_redis=True),
    "sini-two-workers": lambda: part_sini(worker=True, split_redis=True, workers=2),
    "sini-thread": lambda: part_sini(worker=False, split_redis=True),
    "sini-one-redis": lambda: part_sini(worker=True, split_redis=False),
    "rasa-agent": part_rasa_agent,
}


def measure(systems: dict[str, Part | RasaServer]) -> dict[str, Any]:
    """Every figure of every system, the open-loop windows interleaved system by system."""
    results: dict[str, Any] = {key: dict(system.started) for key, system in systems.items()}
    for key, system in systems.items():
        results[key].update(system.ask("static"))
    sweeps = {
        key: RASA_OFFERED_RATES if key.startswith("rasa") else OFFERED_RATES for key in systems
    }
    for key in systems:
        results[key]["open_loop"] = []
    for step in range(max(map(len, sweeps.values()))):
        for key, system in systems.items():
            if step < len(sweeps[key]):
                results[key]["open_loop"].append(system.ask("open", rate=sweeps[key][step]))
    for key, _ in SYSTEMS:
        results[key]["at_target"] = []
    for _ in range(TARGET_WINDOWS):
        for key, _ in SYSTEMS:
            results[key]["at_target"].append(systems[key].ask("open", rate=TARGET_RATE))
    for key, system in systems.items():
        results[key].update(system.ask("memory"))
        windows = results[key]["open_loop"] + results[key].get("at_target", [])
        results[key]["machine_speed_ms"] = statistics.median(w["machine_speed_ms"] for w in windows)
    return results


if __name__ == "__main__":
    main()
