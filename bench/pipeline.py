"""Whole-update-path figures, side by side with Rasa's own agent and server, in one run.

The same held-out messages (`nlu/tests/`, fr/bm/en) go through:

- **Sini**, the whole update path — NLU + dialogue + Redis + rendering, Telegram network
  excluded — with the model in a worker process (the default) and in the bot's own
  process (`NLU_PROCESS=0`), dialogue and tips in two Redis as in `deploy/`, and once
  with a single Redis at `appendfsync always` as `make run` starts it: cold start, RSS,
  a bare parse vs a whole update at low load, closed-loop concurrency levels, an
  open-loop sweep of offered load (arrivals at a fixed rate, each from its own chat)
  giving achieved throughput and p50/p99 latency, and six more windows at the 500/s
  target, each after a reading of the machine's speed (`machine_speed_ms`);
- **Rasa's full agent**, `Agent.handle_text` (NLU + policies + tracker), 16 chats at once;
- **Rasa's HTTP server**, `rasa run --enable-api`, `POST /model/parse` from 10 clients;
- both Rasa systems also through an open-loop sweep of their own (`RASA_OFFERED_RATES`),
  so that each system's most updates per second with p99 <= 100 ms can be set side by
  side: like with like, beside the stricter ratio of Sini's sustained rate to Rasa's
  closed-loop maximum (reached at a p99 of 150 - 200 ms).

Each system runs in its own process so that cold start and peak RSS are its own. Rasa's
agent and server run before and after Sini's parts, and Sini is compared with the faster
of the two runs. Prints a table, writes `bench/results/pipeline.json` and a plot
`bench/results/pipeline.png`.

Usage: `.venv/bin/python bench/pipeline.py` (part of `make bench`; about 14 minutes).
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
from pathlib import Path
from typing import Any

import httpx

from bot import heap, logs
from bot.config import PROJECT_ROOT, Settings
from bot.dialogue.events import TextEvent
from bot.nlu.evaluation import load_examples
from bot.nlu.training import train
from bot.redis_server import LocalRedis, free_port

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


# ------------------------------------------------------------------ Sini


async def closed_loop(handle: Any, texts: list[str], concurrency: int) -> dict[str, float]:
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


async def open_loop(handle: Any, texts: list[str], rate: int) -> dict[str, float]:
    """Messages arrive at `rate` per second whether or not earlier ones were answered
    (as from many people at once), each from its own chat."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    count = int(rate * SECONDS_PER_RATE)

    async def one(index: int, due: float) -> None:
        await asyncio.sleep(max(0.0, due - loop.time()))
        started = time.perf_counter()
        await handle(base + index, texts[index % len(texts)])
        latencies.append((time.perf_counter() - started) * 1000)

    base = next(_chats)
    begin = loop.time() + 0.05
    started = time.perf_counter()
    await asyncio.gather(*(one(i, begin + i / rate) for i in range(count)))
    result = summary(latencies, time.perf_counter() - started)
    result["offered"] = rate
    return result


async def measure_sini(nlu: Any, redis_url: str, texts: list[str]) -> dict[str, Any]:
    from bot.runtime import build_assistant

    assistant = build_assistant(Settings.from_env(), nlu, redis_url)
    await assistant.start()
    heap.settle()  # as the bot does once started

    async def handle(chat_id: int, text: str) -> None:
        await assistant.handle(chat_id, TextEvent(text), "fr")

    result: dict[str, Any] = {}
    bare, whole = [], []
    for text in texts[:200]:  # one at a time: nothing to batch with
        started = time.perf_counter()
        await nlu.parse(text)
        bare.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await handle(next(_chats), text)
        whole.append((time.perf_counter() - started) * 1000)
    result["bare_parse_p50_ms"] = statistics.median(bare)
    result["low_load_update_p50_ms"] = statistics.median(whole)
    result["low_load_update_p99_ms"] = percentile(whole, 0.99)
    await closed_loop(handle, texts, 16)  # warm-up: TensorFlow, caches, Redis
    result["closed_loop"] = {str(c): await closed_loop(handle, texts, c) for c in CONCURRENCY}
    result["open_loop"] = [await open_loop(handle, texts, rate) for rate in OFFERED_RATES]
    result["at_target"] = []
    for _ in range(TARGET_WINDOWS):
        speed = machine_speed_ms()
        window = await open_loop(handle, texts, TARGET_RATE)
        result["at_target"].append({**window, "machine_speed_ms": speed})
    result["machine_speed_ms"] = statistics.median(
        w["machine_speed_ms"] for w in result["at_target"]
    )
    result["rss_mb"] = peak_rss_mb()
    result["private_mb"] = private_mb()
    workers = [worker.pid for worker in getattr(nlu, "workers", ()) if worker.pid is not None]
    if workers:
        result["worker_rss_mb"] = max(peak_rss_mb(pid) for pid in workers)
        result["worker_private_mb"] = max(private_mb(pid) for pid in workers)
        result["workers"] = len(workers)
    await assistant.close()
    return result


def part_sini(worker: bool, split_redis: bool, workers: int = 1) -> dict[str, Any]:
    """With `split_redis`, as deploy/ runs it: the dialogue in a Redis that fsyncs once a
    second, tips in their own at "always"; otherwise one Redis at "always" (`make run`)."""
    from bot.runtime import load_nlu

    os.environ["NLU_PROCESS"] = "1" if worker else "0"
    os.environ["NLU_WORKERS"] = str(workers)
    os.environ["NLU_CACHE_SIZE"] = "0"  # every update really parsed
    texts = held_out()
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
            result = asyncio.run(measure_sini(nlu, dialogue.url, texts))
    result["cold_start_s"] = cold_start
    return result


# ------------------------------------------------------------------ Rasa


def part_rasa_agent() -> dict[str, Any]:
    """Rasa's own agent: `handle_text` runs the NLU, the policies and the tracker."""
    from bot.nlu.rasa_local import prepare_rasa_environment

    prepare_rasa_environment()
    texts = held_out()
    model = train(PROJECT_ROOT / "nlu", PROJECT_ROOT / "models")
    started = time.perf_counter()
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    cold_start = time.perf_counter() - started

    async def handle(chat_id: int, text: str) -> None:
        await agent.handle_text(text, sender_id=str(chat_id))

    async def run() -> dict[str, Any]:
        await closed_loop(handle, texts, 16)
        result: dict[str, Any] = dict(await closed_loop(handle, texts, 16))
        result["open_loop"] = [await open_loop(handle, texts, r) for r in RASA_OFFERED_RATES]
        return result

    result = asyncio.run(run())
    result["cold_start_s"] = cold_start
    result["machine_speed_ms"] = machine_speed_ms()
    result["rss_mb"] = peak_rss_mb()
    result["private_mb"] = private_mb()
    return result


def measure_rasa_server(model: Path) -> dict[str, Any]:
    """`rasa run --enable-api` on loopback, 10 clients posting `/model/parse`."""
    port = free_port()
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "rasa", "run", "--enable-api", "-i", "127.0.0.1"]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as cwd:
        server = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            [*command, "-p", str(port), "-m", str(model), "--quiet"],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    if httpx.get(f"{url}/status", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            cold_start = time.perf_counter() - started
            texts = held_out()

            async def run() -> dict[str, Any]:
                async with httpx.AsyncClient(base_url=url, timeout=30) as client:

                    async def handle(chat_id: int, text: str) -> None:
                        response = await client.post("/model/parse", json={"text": text})
                        response.raise_for_status()

                    await closed_loop(handle, texts, 10)
                    result: dict[str, Any] = dict(await closed_loop(handle, texts, 10))
                    result["open_loop"] = [
                        await open_loop(handle, texts, rate) for rate in RASA_OFFERED_RATES
                    ]
                    return result

            result = asyncio.run(run())
            result["cold_start_s"] = cold_start
            result["machine_speed_ms"] = machine_speed_ms()
            result["rss_mb"] = peak_rss_mb(server.pid)
            result["private_mb"] = private_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return result


# ------------------------------------------------------------------ report


def run_part(name: str) -> dict[str, Any]:
    out = subprocess.run(  # noqa: S603 - this script, fixed arguments
        [sys.executable, __file__, "--part", name],
        check=True,
        stdout=subprocess.PIPE,
        env={**os.environ, "FLOOD_LIMIT": "100000000"},  # the benchmark floods on purpose
    )
    result: dict[str, Any] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return result


def print_report(results: dict[str, Any]) -> None:
    agent, server = results["rasa_agent"], results["rasa_server"]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    for key, label in (("rasa_agent", "agent"), ("rasa_server", "server")):
        runs = ", ".join(
            f"{run['per_second']:.1f}/s at speed {run['machine_speed_ms']:.1f} ms"
            for run in results[key]["runs"]
        )
        print(f"Rasa {label}, before and after Sini: {runs}; the faster run:")
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
                f"p50 {row['p50_ms']:6.1f} ms, p99 {row['p99_ms']:7.1f} ms"
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
    parser.add_argument(
        "--part",
        choices=["sini-worker", "sini-two-workers", "sini-thread", "sini-one-redis", "rasa-agent"],
    )
    args = parser.parse_args()
    logs.configure("WARNING")  # figures on stdout, nothing else
    if args.part:
        parts = {
            "sini-worker": lambda: part_sini(worker=True, split_redis=True),
            "sini-thread": lambda: part_sini(worker=False, split_redis=True),
            "sini-one-redis": lambda: part_sini(worker=True, split_redis=False),
            "sini-two-workers": lambda: part_sini(worker=True, split_redis=True, workers=2),
            "rasa-agent": part_rasa_agent,
        }
        print(json.dumps(parts[args.part]()))
        return
    model = train(PROJECT_ROOT / "nlu", PROJECT_ROOT / "models")
    # Rasa is measured before and after Sini and compared at its faster run: the VM's
    # speed drifts over the run, and the baseline should not gain from a slow spell.
    server_runs, agent_runs = [measure_rasa_server(model)], [run_part("rasa-agent")]
    results: dict[str, Any] = {
        "sini_worker": run_part("sini-worker"),
        "sini_two_workers": run_part("sini-two-workers"),
        "sini_thread": run_part("sini-thread"),
        "sini_one_redis": run_part("sini-one-redis"),
    }
    server_runs.append(measure_rasa_server(model))
    agent_runs.append(run_part("rasa-agent"))
    for key, runs in (("rasa_server", server_runs), ("rasa_agent", agent_runs)):
        results[key] = {**max(runs, key=lambda run: run["per_second"]), "runs": runs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(results, indent=2) + "\n")
    print_report(results)
    plot(results, RESULTS / "pipeline.png")
    print(f"\nplot: {(RESULTS / 'pipeline.png').relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
