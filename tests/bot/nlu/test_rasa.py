"""Both NLU implementations on the real trained model: in-process and over Rasa's HTTP API."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.nlu import NLUUnavailable
from bot.nlu.evaluation import load_examples
from bot.nlu.rasa_http import RasaHttpNLU
from bot.nlu.rasa_local import RasaLocalNLU
from sini.redis_server import free_port
from sini.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def rasa_server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`rasa run --enable-api` on a free loopback port, ready when it says so."""
    port = free_port()
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rasa",
            "run",
            "--enable-api",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            str(model_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path_factory.mktemp("rasa-cwd"),
    )
    assert process.stdout is not None
    seen: list[str] = []
    threading.Thread(target=lambda: seen.extend(process.stdout or ()), daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    if not wait_until_loaded(url, process, deadline=time.monotonic() + 180):
        process.kill()
        pytest.fail("rasa run did not load its model within 180 s:\n" + "".join(seen[-20:]))
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)


def wait_until_loaded(url: str, process: subprocess.Popen[str], deadline: float) -> bool:
    """Readiness probe: Rasa 3.6 prints no reliable "ready" line, but `GET /status` answers
    200 once the model is loaded. Each probe blocks on the network (no fixed sleeps)."""
    pause = threading.Event()
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/status", timeout=5.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        pause.wait(0.25)  # between probes of a server that is still starting
    return False


async def test_the_local_model_reads_sms_style_french(rasa_nlu: RasaLocalNLU) -> None:
    reading = await rasa_nlu.parse("slt c koi le yamba stp")
    assert reading.intent == "drug_info"
    assert reading.entity("drug") == "cannabis"


async def test_the_local_model_reads_bambara(rasa_nlu: RasaLocalNLU) -> None:
    reading = await rasa_nlu.parse("n b'a fɛ ka tramadol dabila, n bɛ se ka mun kɛ?")
    assert reading.top_intent == "quit_help"
    assert reading.entity("drug") == "tramadol"


async def test_rasa_s_own_server_gives_the_same_readings_on_the_whole_held_out_split(
    rasa_server: str, rasa_nlu: RasaLocalNLU
) -> None:
    """`rasa run` loads the model Rasa's way and parses one message at a time with Rasa's
    code; the bot's in-process model (eager weight building, batched components) must
    read every held-out message the same."""
    texts = [e.text for e in load_examples(PROJECT_ROOT / "nlu" / "tests")]
    remote = RasaHttpNLU(rasa_server, timeout=10.0)
    try:
        over_http = [await remote.parse(text) for text in texts]
    finally:
        await remote.close()
    local = [
        r for i in range(0, len(texts), 64) for r in rasa_nlu.parse_many_sync(texts[i : i + 64])
    ]
    for text, theirs, ours in zip(texts, over_http, local, strict=True):
        assert (ours.intent, ours.entities) == (theirs.intent, theirs.entities), text
        assert ours.confidence == pytest.approx(theirs.confidence, abs=1e-9), text


async def test_a_server_that_is_down_is_reported_as_unavailable() -> None:
    remote = RasaHttpNLU(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    with pytest.raises(NLUUnavailable):
        await remote.parse("bonjour")
    await remote.close()


async def test_a_rasa_server_that_hangs_times_out_as_unavailable() -> None:
    """A server that accepts the connection and never answers (overloaded, wedged)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        remote = RasaHttpNLU(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=0.5)
        with pytest.raises(NLUUnavailable):
            await remote.parse("bonjour")
        await remote.close()


async def test_frequent_messages_are_served_from_the_cache(rasa_nlu: RasaLocalNLU) -> None:
    first = await rasa_nlu.parse("Salut   ça va")
    again = await rasa_nlu.parse("salut ça va")
    assert again is first


async def test_concurrent_requests_are_gathered_into_batches(rasa_nlu: RasaLocalNLU) -> None:
    texts = [f"c'est quoi le tramadol {n}" for n in range(40)]  # distinct: no cache hits
    before = rasa_nlu._batcher.batches
    readings = await asyncio.gather(*(rasa_nlu.parse(text) for text in texts))
    assert {r.intent for r in readings} == {"drug_info"}
    assert rasa_nlu._batcher.batches - before < len(texts) / 4
