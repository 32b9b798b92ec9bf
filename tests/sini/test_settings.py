"""Settings read from the environment: each declared variable sets its field, an empty one
counts as unset, and a value Sini cannot use is refused at once with one line naming the
variable — a secret first of all."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sini.settings import PROJECT_ROOT, VARIABLES, ConfigError, Settings, StaffSettings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for variable in VARIABLES:
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.setenv("SINI_VAR_DIR", str(tmp_path))
    return monkeypatch


@pytest.mark.parametrize("secret", ["abcd", "5e" * 31, "5e" * 33, "zz" * 32])
def test_sini_secret_must_be_32_bytes_of_hex(env: pytest.MonkeyPatch, secret: str) -> None:
    env.setenv("SINI_SECRET", secret)
    with pytest.raises(ConfigError, match="SINI_SECRET must be 32 bytes") as refused:
        Settings.from_env()
    assert secret not in str(refused.value)


def test_a_32_byte_secret_is_used_as_given(env: pytest.MonkeyPatch) -> None:
    env.setenv("SINI_SECRET", "5e" * 32)
    assert Settings.from_env().secret == bytes([0x5E]) * 32


def test_the_secret_is_never_shown_in_the_settings_repr(env: pytest.MonkeyPatch) -> None:
    env.setenv("SINI_SECRET", "5e" * 32)
    assert "5e5e" not in repr(Settings.from_env())
    assert "^^^^" not in repr(Settings.from_env())


def test_without_sini_secret_one_is_generated_once_and_kept(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = Settings.from_env().secret
    assert len(first) == 32
    assert Settings.from_env().secret == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_a_damaged_secret_file_is_refused(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text("abcd")
    with pytest.raises(ConfigError, match=r"secret\.key must be 32 bytes"):
        Settings.from_env()


def test_a_variable_sets_its_field_converted_to_the_fields_type(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("WEBHOOK_PORT", "9443")
    env.setenv("NLU_TIMEOUT", "1.5")
    env.setenv("NLU_PROCESS", "0")
    env.setenv("MODEL_DIR", "/srv/models")
    env.setenv("LOG_LEVEL", "debug")
    settings = Settings.from_env()
    assert settings.webhook_port == 9443
    assert settings.nlu_timeout == 1.5
    assert settings.nlu_process is False
    assert settings.model_dir == Path("/srv/models")
    assert settings.log_level == "DEBUG"


def test_an_empty_variable_counts_as_unset(env: pytest.MonkeyPatch) -> None:
    env.setenv("WEBHOOK_PORT", "")
    env.setenv("REDIS_URL", "")
    settings = Settings.from_env()
    assert settings.webhook_port == 8443
    assert settings.redis_url is None


def test_the_service_directory_follows_the_content_unless_set(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert Settings.from_env().services_file == PROJECT_ROOT / "responses" / "services.yml"
    env.setenv("RESPONSES_DIR", str(tmp_path))
    assert Settings.from_env().services_file == tmp_path / "services.yml"
    env.setenv("SERVICES_FILE", "/srv/services.yml")
    assert Settings.from_env().services_file == Path("/srv/services.yml")


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("WEBHOOK_PORT", "huit", "WEBHOOK_PORT: Expected `int`, got `str`"),
        ("NLU_WORKERS", "0", "NLU_WORKERS: Expected `int` >= 1"),
        ("NLU_PROCESS", "oui", "NLU_PROCESS: Expected `bool`, got `str`"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT: Invalid enum value 'xml'"),
        ("STAFF_PORT", "70000", "STAFF_PORT: Expected `int` <= 65535"),
        ("RETENTION_DAYS", "0", "RETENTION_DAYS: Expected `int` >= 1"),
    ],
)
def test_a_value_sini_cannot_use_is_one_line_naming_the_variable(
    env: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    env.setenv(name, value)
    read = (
        StaffSettings.from_env if name.startswith(("STAFF_", "RETENTION_")) else Settings.from_env
    )
    with pytest.raises(ConfigError) as refused:
        read()
    assert str(refused.value) == problem


def test_the_dashboard_cookies_are_secure_unless_told_otherwise(env: pytest.MonkeyPatch) -> None:
    assert StaffSettings.from_env().secure_cookies
    env.setenv("STAFF_INSECURE_COOKIES", "1")
    assert not StaffSettings.from_env().secure_cookies


def test_the_confidence_threshold_defaults_to_the_models_own_fallback_threshold(
    env: pytest.MonkeyPatch,
) -> None:
    """Lowering NLU_CONFIDENCE_THRESHOLD below the FallbackClassifier of nlu/config.yml
    changes nothing (the model answers nlu_fallback first): that file is the one source
    of truth the README names, and the default must be its value."""
    settings = Settings.from_env()
    config = yaml.safe_load((settings.nlu_project / "config.yml").read_text())
    [fallback] = [c for c in config["pipeline"] if c["name"] == "FallbackClassifier"]
    assert settings.confidence_threshold == fallback["threshold"]
