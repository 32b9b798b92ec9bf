"""scripts/require: a missing or too old prerequisite stops `make` with one line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sini.settings import PROJECT_ROOT

REQUIRE = PROJECT_ROOT / "scripts" / "require"


def _fake(bin_dir: Path, name: str, version_line: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    path.chmod(0o755)


def _require(bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run as an ordinary user would see it: only `bin_dir` and the shell's tools on PATH,
    no Debian package name, so nothing is installed."""
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    return subprocess.run(
        [str(REQUIRE), *args], env=env, capture_output=True, text=True, check=False, timeout=30
    )


@pytest.mark.parametrize(
    ("name", "version_line", "minimum"),
    [
        ("redis-server", "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0", "7.0"),
        ("redis-server", "Redis server v=7.2.4 sha=00000000:0", "7.0"),
        ("node", "v18.19.0", "18"),
        ("node", "v20.20.2", "18"),
    ],
)
def test_a_recent_enough_prerequisite_passes_silently(
    tmp_path: Path, name: str, version_line: str, minimum: str
) -> None:
    _fake(tmp_path, name, version_line)
    done = _require(tmp_path, name, "install it", "", minimum)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("name", "version_line", "minimum", "found"),
    [
        ("redis-server", "Redis server v=6.2.6 sha=00000000:0", "7.0", "6.2.6"),
        ("redis-server", "Redis server v=5.0.7 sha=00000000:0", "7.0", "5.0.7"),
        ("node", "v16.20.2", "18", "16.20.2"),
    ],
)
def test_a_too_old_prerequisite_stops_with_one_line(
    tmp_path: Path, name: str, version_line: str, minimum: str, found: str
) -> None:
    _fake(tmp_path, name, version_line)
    done = _require(tmp_path, name, "install a newer one", "", minimum)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: '{name}' {found} is older than {minimum} — install a newer one"
    ]


def test_a_missing_prerequisite_stops_with_one_line(tmp_path: Path) -> None:
    done = _require(tmp_path, "no-such-tool-here", "install the tool")
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["error: 'no-such-tool-here' not found — install the tool"]


def test_the_makefile_asks_for_the_minimum_versions_the_readme_names() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "redis-server` ≥ 7.0" in readme
    assert "Node.js ≥ 18" in readme
    assert "redis-server 7.0\n" in makefile
    assert '"" 18\n' in makefile
