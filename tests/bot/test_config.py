"""Settings read from the environment: a secret Sini cannot use is refused at once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, Settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.setenv("SINI_VAR_DIR", str(tmp_path))
    return monkeypatch


@pytest.mark.parametrize("secret", ["abcd", "5e" * 31, "5e" * 33, "zz" * 32])
def test_sini_secret_must_be_32_bytes_of_hex(env: pytest.MonkeyPatch, secret: str) -> None:
    env.setenv("SINI_SECRET", secret)
    with pytest.raises(ConfigError, match="SINI_SECRET must be 32 bytes"):
        Settings.from_env()


def test_a_32_byte_secret_is_used_as_given(env: pytest.MonkeyPatch) -> None:
    env.setenv("SINI_SECRET", "5e" * 32)
    assert Settings.from_env().secret == bytes([0x5E]) * 32


def test_without_sini_secret_one_is_generated_once_and_kept(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.delenv("SINI_SECRET", raising=False)
    first = Settings.from_env().secret
    assert len(first) == 32
    assert Settings.from_env().secret == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_a_damaged_secret_file_is_refused(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.delenv("SINI_SECRET", raising=False)
    (tmp_path / "secret.key").write_text("abcd")
    with pytest.raises(ConfigError, match=r"secret\.key must be 32 bytes"):
        Settings.from_env()


def test_the_confidence_threshold_defaults_to_the_models_own_fallback_threshold(
    env: pytest.MonkeyPatch,
) -> None:
    """Lowering NLU_CONFIDENCE_THRESHOLD below the FallbackClassifier of nlu/config.yml
    changes nothing (the model answers nlu_fallback first): that file is the one source
    of truth the README names, and the default must be its value."""
    env.delenv("NLU_CONFIDENCE_THRESHOLD", raising=False)
    settings = Settings.from_env()
    config = yaml.safe_load((settings.nlu_project / "config.yml").read_text())
    [fallback] = [c for c in config["pipeline"] if c["name"] == "FallbackClassifier"]
    assert settings.confidence_threshold == fallback["threshold"]
