"""Both NLU implementations on the real trained model: in-process and over Rasa's HTTP API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.nlu import NLUUnavailable
from bot.nlu.rasa_http import RasaHttpNLU
from bot.nlu.rasa_local import RasaLocalNLU
from bot.redis_server import free_port

READY_MARK = "Rasa server is up and running"


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
            "--log-file",
            str(tmp_path_factory.mktemp("rasa") / "rasa.log"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path_factory.mktemp("rasa-cwd"),
    )
    assert process.stdout is not None
    for line in process.stdout:
        if READY_MARK in line:
            break
    else:
        pytest.fail("rasa run exited before it was ready")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)


async def test_the_local_model_reads_sms_style_french(rasa_nlu: RasaLocalNLU) -> None:
    reading = await rasa_nlu.parse("slt c koi le yamba stp")
    assert reading.intent == "drug_info"
    assert reading.entity("drug") == "cannabis"


async def test_the_local_model_reads_bambara(rasa_nlu: RasaLocalNLU) -> None:
    reading = await rasa_nlu.parse("n b'a fɛ ka tramadol dabila, n bɛ se ka mun kɛ?")
    assert reading.top_intent == "quit_help"
    assert reading.entity("drug") == "tramadol"


async def test_a_rasa_server_gives_the_same_reading(
    rasa_server: str, rasa_nlu: RasaLocalNLU
) -> None:
    remote = RasaHttpNLU(rasa_server, timeout=10.0)
    try:
        for text in [
            "my cousin got job offer in Libya is it legit",
            "i ni ce",
            "je veux signaler un dealer",
        ]:
            over_http = await remote.parse(text)
            local = await rasa_nlu.parse(text)
            assert over_http.intent == local.intent
            assert over_http.confidence == pytest.approx(local.confidence, abs=1e-4)
    finally:
        await remote.close()


async def test_a_server_that_is_down_is_reported_as_unavailable() -> None:
    remote = RasaHttpNLU(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    with pytest.raises(NLUUnavailable):
        await remote.parse("bonjour")
    await remote.close()
