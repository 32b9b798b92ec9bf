"""The dashboard stands on its own: no staff module loads the bot's runtime, its adapters
(Telegram, the terminal) or its command line, nor what they bring (Rasa, TensorFlow)."""

from __future__ import annotations

import subprocess
import sys

from sini.settings import PROJECT_ROOT

FORBIDDEN = ("bot.runtime", "bot.adapters", "bot.cli", "bot.nlu", "rasa", "tensorflow", "telegram")

IMPORT_EVERY_STAFF_MODULE = """
import importlib, pkgutil, sys
import staff
for module in pkgutil.walk_packages(staff.__path__, "staff."):
    importlib.import_module(module.name)
print("\\n".join(sorted(sys.modules)))
"""


def test_importing_every_staff_module_loads_nothing_of_the_bots_runtime() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_STAFF_MODULE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = done.stdout.split()
    assert "staff.app" in loaded
    assert [m for m in loaded if any(_part_of(m, package) for package in FORBIDDEN)] == []


def _part_of(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")
