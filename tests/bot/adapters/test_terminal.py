"""The terminal chat is the same assistant, driven through stdin and stdout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.adapters.terminal import parse_input
from bot.content import Catalog
from bot.dialogue.actions import Do
from bot.dialogue.events import ButtonEvent, CommandEvent, LocationEvent, TextEvent
from sini.redis_server import LocalRedis


def test_typed_lines_become_events() -> None:
    actions = ["show:drugs.menu", "do:report"]
    assert parse_input("2", actions) == ButtonEvent(Do.REPORT)
    assert parse_input("3", actions) == TextEvent("3")
    assert parse_input("12.65, -8.0", actions) == LocationEvent(12.65, -8.0)
    assert parse_input("/start campagne_segou", actions) == CommandEvent("start", "campagne_segou")
    assert parse_input("c koi le yamba", actions) == TextEvent("c koi le yamba")


def test_a_terminal_conversation(
    redis_server: LocalRedis, model_path: Path, catalog: Catalog, tmp_path: Path
) -> None:
    env = {**os.environ, "REDIS_URL": redis_server.url, "SINI_VAR_DIR": str(tmp_path)}
    typed = "1\nc'est quoi le tramadol ?\n/urgence\n/quit\n"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--lang", "fr"],
        input=typed,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert catalog.render("welcome", "fr").text.splitlines()[0] in out
    assert catalog.render("drugs.menu", "fr").text in out
    assert catalog.render("drug.tramadol.about", "fr").text.splitlines()[0] in out
    assert catalog.emergency[0].number in out
    assert "Traceback" not in done.stderr
