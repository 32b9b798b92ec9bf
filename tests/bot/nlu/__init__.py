"""Helpers shared by the NLU tests."""

from __future__ import annotations

import pytest

from bot.nlu import rasa_versions


def installed_as(monkeypatch: pytest.MonkeyPatch, package: str, version: str | None) -> None:
    """Pretend `package` is installed at `version` (None: not installed), the others as they are."""
    real = rasa_versions.installed_version
    monkeypatch.setattr(
        rasa_versions,
        "installed_version",
        lambda name: version if name == package else real(name),
    )
