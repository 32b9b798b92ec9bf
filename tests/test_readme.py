"""The README stays true: its configuration tables are the settings Sini reads, and every
`helpline` subcommand and `make` target it names exists.

The settings are read by running them (`Settings.from_env`, `StaffConfig.from_env`) on a
recording environment, never by reading their source text."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from bot.cli import parser
from bot.config import PROJECT_ROOT, Settings
from staff.cli import ADMIN_PASSWORD_ENV, PASSWORD_ENV
from staff.config import StaffConfig

README = PROJECT_ROOT / "README.md"
STAFF_README = PROJECT_ROOT / "staff" / "README.md"
DOCS = [README, STAFF_README, PROJECT_ROOT / "deploy" / "README.md"]
TEST_SECRET = "5e" * 32
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
VARIABLE = re.compile(r"`([A-Z][A-Z0-9_]*\*?)`")


class RecordingEnviron(dict[str, str]):
    """os.environ for one call: remembers every variable asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return super().__contains__(key)


def read_settings(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str]
) -> tuple[dict[str, Any], set[str]]:
    """Every setting (bot and dashboard) built from exactly `values`, and the variables read."""
    env = RecordingEnviron(values)
    with monkeypatch.context() as patch:
        patch.setattr(os, "environ", env)
        bot = Settings.from_env()
        staff = StaffConfig.from_env()
    found = {f.name: getattr(bot, f.name) for f in fields(bot)}
    found |= {f"staff.{f.name}": getattr(staff, f.name) for f in fields(staff)}
    return found, env.asked


def table(path: Path, heading: str) -> list[tuple[list[str], str]]:
    """(variables, default cell) of each row of the table under `heading`."""
    text = path.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 3 and VARIABLE.search(cells[0]):
            rows.append((VARIABLE.findall(cells[0]), cells[1]))
    return rows


def documented() -> dict[str, str]:
    """Variable → the default the README (or staff/README for `STAFF_*`) gives it."""
    result: dict[str, str] = {}
    rows = table(README, "## Configuration") + table(STAFF_README, "## Settings")
    for names, default in rows:
        names = [n for n in names if not n.endswith("*")]
        defaults = default.split(" / ") if len(names) > 1 else [default]
        defaults += defaults[-1:] * (len(names) - len(defaults))  # "—" for a pair
        for name, value in zip(names, defaults, strict=True):
            result.setdefault(name, value)
    return result


@pytest.fixture
def secret_free_env(tmp_path: Path) -> dict[str, str]:
    """No variable set but the two that would otherwise write var/secret.key."""
    return {"SINI_SECRET": TEST_SECRET, "SINI_VAR_DIR": str(tmp_path)}


def test_every_variable_the_settings_read_is_documented_and_no_other(
    monkeypatch: pytest.MonkeyPatch, secret_free_env: dict[str, str]
) -> None:
    _, asked = read_settings(monkeypatch, secret_free_env)
    cli_only = {PASSWORD_ENV, ADMIN_PASSWORD_ENV}  # staff/cli.py, documented with the rest
    assert set(documented()) == asked | cli_only


def _probe(
    monkeypatch: pytest.MonkeyPatch, base: dict[str, str], name: str
) -> Iterator[tuple[str, Any]]:
    """The settings field(s) a variable moves, and their value when it is unset."""
    unset = {k: v for k, v in base.items() if k != name}
    default, _ = read_settings(monkeypatch, unset)
    for probe in ("7", "0", "1", "json", TEST_SECRET[::-1]):
        try:
            moved, _ = read_settings(monkeypatch, {**unset, name: probe})
        except ValueError:
            continue
        changed = [key for key in moved if moved[key] != default[key]]
        if changed:
            for key in changed:
                yield key, default[key]
            return


def _matches(value: Any, written: str) -> bool:
    token = written.strip("`")
    if isinstance(value, Path):
        return value == PROJECT_ROOT / token.rstrip("/")
    if isinstance(value, bool):
        return token == ("1" if value else "0")
    if isinstance(value, int | float):
        return float(token) == value
    return bool(token == value)


def test_every_documented_default_is_the_default_the_settings_use(
    monkeypatch: pytest.MonkeyPatch, secret_free_env: dict[str, str]
) -> None:
    wrong = []
    for name, cell in documented().items():
        written = re.match(r"`([^`]+)`", cell)
        if name in ("SINI_SECRET", "SINI_VAR_DIR") or written is None:
            continue  # "—", "generated in …", "see …": nothing to compare
        if re.fullmatch(r"[A-Z_]+", written.group(1)):
            continue  # a default that is another variable (TIPS_REDIS_URL → REDIS_URL)
        moved = list(_probe(monkeypatch, secret_free_env, name))
        # RESPONSES_DIR also moves SERVICES_FILE's default: one of the fields must match.
        if not any(_matches(value, written.group(1)) for _, value in moved):
            wrong.append((name, cell, moved))
    assert wrong == []


# --- commands ------------------------------------------------------------------------


def _code(path: Path) -> str:
    return "\n".join(CODE.findall(path.read_text(encoding="utf-8")))


def _subcommands(root: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [action] = [a for a in root._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def _named_commands() -> set[tuple[str, ...]]:
    """Every `helpline A [B]` in the docs' code, and every row of the README's table."""
    named: set[tuple[str, ...]] = set()
    for path in DOCS:
        for words in re.findall(r"helpline((?: [a-z][a-z-]*)+)", _code(path)):
            named.add(tuple(words.split()[:2]))
    section = README.read_text(encoding="utf-8").split("| subcommand |", 1)[1]
    for line in section.split("\n\n", 1)[0].splitlines()[2:]:
        for cell in re.findall(r"`([^`]+)`", line.split("|")[1]):
            command, _, rest = cell.partition(" ")
            subs = rest.split()[0].split("/") if rest and rest[0].isalpha() else []
            named |= {(command, sub) for sub in subs} if subs else {(command,)}
    return named


def test_every_helpline_subcommand_the_docs_name_exists() -> None:
    top = _subcommands(parser())
    missing = []
    for words in sorted(_named_commands()):
        command = top.get(words[0])
        if command is None:
            missing.append(words)
            continue
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        if nested and (len(words) < 2 or words[1] not in nested[0].choices):
            missing.append(words)
    assert missing == []


def test_the_subcommand_table_names_the_nlu_server() -> None:
    assert ("nlu-server",) in _named_commands()


def test_every_make_target_the_readme_names_exists() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    named = set(re.findall(r"\bmake ([a-z][a-z-]*)", _code(README)))
    assert named
    assert named - targets == set()
