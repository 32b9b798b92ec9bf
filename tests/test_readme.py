"""The README stays true: its configuration tables are the variables `sini.settings`
declares, with their defaults, and every `helpline` subcommand and `make` target it names
exists."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from bot.cli import parser
from sini.settings import PROJECT_ROOT, VARIABLES

README = PROJECT_ROOT / "README.md"
STAFF_README = PROJECT_ROOT / "staff" / "README.md"
DOCS = [README, STAFF_README, PROJECT_ROOT / "deploy" / "README.md"]
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
VARIABLE = re.compile(r"`([A-Z][A-Z0-9_]*\*?)`")
DEFAULTS = {variable.name: default for variable, default in VARIABLES.items()}


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


def test_every_declared_variable_is_documented_and_no_other() -> None:
    assert set(documented()) == set(DEFAULTS)


def test_every_declared_variable_says_in_one_line_what_it_means() -> None:
    assert [v.name for v in VARIABLES if not v.meaning or "\n" in v.meaning] == []


def _matches(value: Any, written: str) -> bool:
    token = written.strip("`")
    if isinstance(value, Path):
        return value == PROJECT_ROOT / token.rstrip("/")
    if isinstance(value, bool):
        return token == ("1" if value else "0")
    if isinstance(value, int | float):
        return float(token) == value
    return bool(token == value)


def test_every_documented_default_is_the_declared_default() -> None:
    wrong = []
    for name, cell in documented().items():
        written = re.match(r"`([^`]+)`", cell)
        if written is None or re.fullmatch(r"[A-Z_]+", written.group(1)):
            continue  # "—", "generated in …", or another variable (TIPS_REDIS_URL → REDIS_URL)
        if not _matches(DEFAULTS[name], written.group(1)):
            wrong.append((name, cell, DEFAULTS[name]))
    assert wrong == []


def test_a_variable_documented_without_a_default_has_none() -> None:
    unset = [name for name, cell in documented().items() if cell in ("—", "unset")]
    assert unset
    assert [name for name in unset if DEFAULTS[name] not in (None, False)] == []


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
