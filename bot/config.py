"""Every setting Sini reads from the environment, with its default, in one place.

Why one module: the rest of the code receives a `Settings` value instead of reading
`os.environ` itself, and the README's configuration table is checked against what is read
here (tests/test_readme.py), variable by variable and default by default.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET_BYTES = 32


class ConfigError(ValueError):
    """A setting has a value Sini cannot run with; the message names the variable."""


def _secret(text: str, where: str) -> bytes:
    """The installation secret: exactly SECRET_BYTES bytes written as hex."""
    try:
        value = bytes.fromhex(text.strip())
    except ValueError:
        value = b""
    if len(value) != SECRET_BYTES:
        raise ConfigError(
            f"{where} must be {SECRET_BYTES} bytes written as {2 * SECRET_BYTES} hex digits "
            "(e.g. `openssl rand -hex 32`)"
        )
    return value


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _load_or_create_secret(path: Path) -> bytes:
    """Return the per-installation secret, creating it once (0600) when missing.

    It keys the HMAC that turns chat ids into Redis keys, so it must survive restarts:
    a new secret would orphan every stored conversation state.
    """
    if path.exists():
        return _secret(path.read_text(), str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value.hex())
    return value


@dataclass(frozen=True)
class Settings:
    """Runtime configuration; build it with `Settings.from_env()`."""

    telegram_token: str | None
    telegram_api_url: str | None
    telegram_max_rate: float
    webhook_url: str | None
    webhook_listen: str
    webhook_port: int
    webhook_secret: str | None
    redis_url: str | None
    nlu_url: str | None
    nlu_timeout: float
    nlu_process: bool
    nlu_workers: int
    nlu_cache_size: int
    model_dir: Path
    nlu_project: Path
    var_dir: Path
    locales_dir: Path
    responses_dir: Path
    services_file: Path
    confidence_threshold: float
    state_ttl_seconds: int
    draft_ttl_seconds: int
    tips_redis_url: str | None
    staff_chat_id: int | None
    staff_url: str
    flood_limit: int
    flood_window_seconds: int
    log_level: str
    log_format: str
    metrics_host: str
    metrics_port: int
    secret: bytes = field(repr=False)
    # The outbound scheduler (bot/adapters/sending.py); defaults so that code building a
    # Settings by hand need not know them.
    telegram_chat_rate: float = 1.0
    telegram_chat_burst: float = 10.0
    broadcast_max_rate: float = 25.0
    concurrent_updates: int = 256
    bot_username: str | None = None  # for `helpline campaigns add` links
    run_staff: bool = False  # `make run` / `helpline run` also serve the dashboard

    @classmethod
    def from_env(cls) -> Settings:
        var_dir = _path("SINI_VAR_DIR", PROJECT_ROOT / "var")
        responses_dir = _path("RESPONSES_DIR", PROJECT_ROOT / "responses")
        secret_hex = os.environ.get("SINI_SECRET")
        secret = (
            _secret(secret_hex, "SINI_SECRET")
            if secret_hex
            else _load_or_create_secret(var_dir / "secret.key")
        )
        return cls(
            telegram_token=os.environ.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_api_url=os.environ.get("TELEGRAM_API_URL") or None,
            # 0: no ceiling; the rate adapts to Telegram's 429s (bot/adapters/sending.py).
            telegram_max_rate=_float("TELEGRAM_MAX_RATE", 0.0),
            webhook_url=os.environ.get("WEBHOOK_URL") or None,
            webhook_listen=os.environ.get("WEBHOOK_LISTEN", "0.0.0.0"),  # noqa: S104 - container default
            webhook_port=_int("WEBHOOK_PORT", 8443),
            webhook_secret=os.environ.get("WEBHOOK_SECRET") or None,
            redis_url=os.environ.get("REDIS_URL") or None,
            nlu_url=os.environ.get("NLU_URL") or None,
            nlu_timeout=_float("NLU_TIMEOUT", 3.0),
            nlu_process=os.environ.get("NLU_PROCESS", "1") != "0",
            nlu_workers=max(1, _int("NLU_WORKERS", 1)),
            nlu_cache_size=_int("NLU_CACHE_SIZE", 4096),
            model_dir=_path("MODEL_DIR", PROJECT_ROOT / "models"),
            nlu_project=_path("NLU_PROJECT", PROJECT_ROOT / "nlu"),
            var_dir=var_dir,
            locales_dir=_path("LOCALES_DIR", PROJECT_ROOT / "locales"),
            responses_dir=responses_dir,
            services_file=_path("SERVICES_FILE", responses_dir / "services.yml"),
            confidence_threshold=_float("NLU_CONFIDENCE_THRESHOLD", 0.4),
            state_ttl_seconds=_int("STATE_TTL_SECONDS", 30 * 24 * 3600),
            draft_ttl_seconds=_int("DRAFT_TTL_SECONDS", 30 * 60),
            tips_redis_url=os.environ.get("TIPS_REDIS_URL") or None,
            staff_chat_id=_int("STAFF_CHAT_ID", 0) or None,
            staff_url=os.environ.get("STAFF_URL", "http://127.0.0.1:8080"),
            flood_limit=_int("FLOOD_LIMIT", 20),
            flood_window_seconds=_int("FLOOD_WINDOW_SECONDS", 60),
            log_level=os.environ.get("LOG_LEVEL", "INFO").upper(),
            log_format=os.environ.get("LOG_FORMAT", "console"),
            metrics_host=os.environ.get("METRICS_HOST", "127.0.0.1"),
            metrics_port=_int("METRICS_PORT", 9102),  # 0: no metrics/health server
            secret=secret,
            telegram_chat_rate=_float("TELEGRAM_CHAT_RATE", 1.0),  # 0: no pacing per chat
            telegram_chat_burst=_float("TELEGRAM_CHAT_BURST", 10.0),
            broadcast_max_rate=_float("BROADCAST_MAX_RATE", 25.0),
            concurrent_updates=max(1, _int("TELEGRAM_CONCURRENT_UPDATES", 256)),
            bot_username=os.environ.get("BOT_USERNAME") or None,
            run_staff=os.environ.get("RUN_STAFF") == "1",
        )
