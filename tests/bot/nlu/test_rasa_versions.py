"""The fast path is on only at the versions of Rasa's stack it was verified against."""

from __future__ import annotations

import pytest

from bot.nlu import rasa_versions
from bot.nlu.rasa_versions import VERIFIED, FastPathOff, FastPathOn, fast_path
from tests.bot.nlu import installed_as


def test_the_installed_stack_is_the_verified_one() -> None:
    assert fast_path() == FastPathOn()


def test_the_versions_checked_are_rasas_stack() -> None:
    assert set(VERIFIED) == {"rasa", "tensorflow", "scipy", "scikit-learn"}


@pytest.mark.parametrize("package", sorted(VERIFIED))
def test_another_version_of_any_package_turns_the_fast_path_off(
    monkeypatch: pytest.MonkeyPatch, package: str
) -> None:
    installed_as(monkeypatch, package, "99.0.0")
    assert fast_path() == FastPathOff(package, VERIFIED[package], "99.0.0")


@pytest.mark.parametrize("package", sorted(VERIFIED))
def test_the_next_patch_release_is_another_version(
    monkeypatch: pytest.MonkeyPatch, package: str
) -> None:
    major, minor, patch = VERIFIED[package].split(".")
    next_patch = f"{major}.{minor}.{int(patch) + 1}"
    installed_as(monkeypatch, package, next_patch)
    assert fast_path() == FastPathOff(package, VERIFIED[package], next_patch)


def test_a_missing_package_turns_the_fast_path_off(monkeypatch: pytest.MonkeyPatch) -> None:
    installed_as(monkeypatch, "tensorflow", None)
    assert fast_path() == FastPathOff("tensorflow", VERIFIED["tensorflow"], None)


def test_the_version_of_a_package_not_installed_is_none() -> None:
    assert rasa_versions.installed_version("sini-no-such-distribution") is None
