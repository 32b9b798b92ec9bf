"""Every environment variable Sini reads — bot and dashboard — declared in one place.

Each setting is a field of `Settings` (the bot's, and what the dashboard shares with it) or
of `StaffSettings` (the dashboard's own knobs) that names its variable, its default, its
bounds (`msgspec.Meta`) and one line of meaning. `from_env()` reads the declared variables
and msgspec converts each text to its field's type; nothing else in Sini reads
`os.environ` for a setting. `VARIABLES` lists them all for the README's tables
(tests/test_readme.py compares the two, name by name and default by default).

Rules every variable follows: an empty variable counts as unset; a value Sini cannot use
stops the program with a `ConfigError` of one line that names the variable (and never
repeats its value: it may be a secret).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_type_hints

import msgspec

from sini.counselling.hours import ALWAYS, OpeningHours, parse_hours

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET_BYTES = 32
MAX_RETENTION_DAYS = 3650

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
OptionalPort = Annotated[int, msgspec.Meta(ge=0, le=65535)]  # 0: the server is off
Positive = Annotated[int, msgspec.Meta(ge=1)]
Count = Annotated[int, msgspec.Meta(ge=0)]
Rate = Annotated[float, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["console", "json"]

_VARIABLE = "sini.variable"  # the key of a field's metadata that holds its Variable
S = TypeVar("S")


class ConfigError(ValueError):
    """A setting has a value Sini cannot run with; the message names the variable."""


@dataclass(frozen=True)
class Variable:
    """An environment variable: its name, one line for the README, and how its text is
    prepared before msgspec converts it to the field's type (`prepare`, when the type
    alone cannot say: the secret's hex, a level written in lower case)."""

    name: str
    meaning: str
    prepare: Callable[[str], object] | None = None


def variable(
    name: str, meaning: str, prepare: Callable[[str], object] | None = None
) -> dict[str, Variable]:
    """The metadata of a settings field read from the variable `name`."""
    return {_VARIABLE: Variable(name, meaning, prepare)}


def parse_secret(text: str, where: str = "SINI_SECRET") -> bytes:
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


def load_or_create_secret(path: Path) -> bytes:
    """The per-installation secret kept in `path`, created once (0600) when missing.

    It keys the HMAC that turns chat ids into Redis keys, so it must survive restarts:
    a new secret would orphan every stored conversation state.
    """
    if path.exists():
        return parse_secret(path.read_text(), str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(SECRET_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value.hex())
    return value


def parse_counsel_hours(text: str) -> OpeningHours:
    """COUNSEL_HOURS, read by `sini.counselling.hours`."""
    try:
        return parse_hours(text)
    except ValueError as error:
        raise ConfigError(f"COUNSEL_HOURS: {error}") from None


def _decode(kind: type, text: object) -> object:
    """msgspec's hook for the types it does not convert from text itself."""
    if kind is Path and isinstance(text, str):
        return Path(text)
    raise NotImplementedError


def variables_of(cls: type) -> Iterator[tuple[Field[Any], Variable]]:
    """Each field of the settings class `cls` read from a variable, with that variable."""
    for each in fields(cls):
        variable = each.metadata.get(_VARIABLE)
        if variable is not None:
            yield each, variable


def read(cls: type, environ: Mapping[str, str]) -> dict[str, Any]:
    """Field name → value, for each of `cls`'s variables that `environ` sets (not empty)."""
    types = get_type_hints(cls, include_extras=True)
    values: dict[str, Any] = {}
    for each, variable in variables_of(cls):
        text = environ.get(variable.name)
        if not text:
            continue
        raw = variable.prepare(text) if variable.prepare else text
        try:
            values[each.name] = msgspec.convert(
                raw, types[each.name], strict=False, dec_hook=_decode
            )
        except msgspec.ValidationError as error:
            raise ConfigError(f"{variable.name}: {error}") from None
    return values


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The bot's runtime configuration, and what the dashboard shares with it (Redis, the
    secret, the paths). `Settings.from_env()` in production; tests `dataclasses.replace` it."""

    secret: bytes = field(
        repr=False,
        metadata=variable(
            "SINI_SECRET",
            "32-byte hex installation secret (HMAC of chat ids, state encryption, receipts); "
            "generated once in var/secret.key when unset",
            prepare=parse_secret,
        ),
    )
    telegram_token: str | None = field(
        default=None,
        metadata=variable(
            "TELEGRAM_BOT_TOKEN", "bot token from @BotFather; without it, the terminal chat"
        ),
    )
    telegram_api_url: str | None = field(
        default=None,
        metadata=variable(
            "TELEGRAM_API_URL", "base URL of another Bot API server (local server, emulator)"
        ),
    )
    telegram_max_rate: Rate = field(
        default=0.0,
        metadata=variable(
            "TELEGRAM_MAX_RATE",
            "ceiling on messages per second for all replicas together; 0: none, 429s set the pace",
        ),
    )
    telegram_chat_rate: Rate = field(
        default=1.0,
        metadata=variable(
            "TELEGRAM_CHAT_RATE", "messages per second to one chat; 0: no pacing per chat"
        ),
    )
    telegram_chat_burst: Rate = field(
        default=10.0,
        metadata=variable("TELEGRAM_CHAT_BURST", "the short burst allowed to one chat"),
    )
    broadcast_max_rate: Rate = field(
        default=25.0,
        metadata=variable(
            "BROADCAST_MAX_RATE", "messages per second for weekly messages and notices"
        ),
    )
    concurrent_updates: Positive = field(
        default=256,
        metadata=variable(
            "TELEGRAM_CONCURRENT_UPDATES", "updates handled at once; more wait their turn"
        ),
    )
    webhook_url: str | None = field(
        default=None,
        metadata=variable(
            "WEBHOOK_URL", "public HTTPS base URL: a webhook at <url>/telegram instead of polling"
        ),
    )
    webhook_listen: str = field(
        default="0.0.0.0",  # noqa: S104 - a container's default
        metadata=variable("WEBHOOK_LISTEN", "address the webhook server listens on"),
    )
    webhook_port: Port = field(
        default=8443, metadata=variable("WEBHOOK_PORT", "port the webhook server listens on")
    )
    webhook_secret: str | None = field(
        default=None,
        metadata=variable(
            "WEBHOOK_SECRET", "checked against Telegram's X-Telegram-Bot-Api-Secret-Token"
        ),
    )
    redis_url: str | None = field(
        default=None,
        metadata=variable(
            "REDIS_URL", "Redis for state, counters, tips; unset: a local redis-server in var/redis"
        ),
    )
    tips_redis_url: str | None = field(
        default=None,
        metadata=variable(
            "TIPS_REDIS_URL",
            "a separate Redis for tips, desk keys and staff data; unset: REDIS_URL",
        ),
    )
    nlu_url: str | None = field(
        default=None,
        metadata=variable("NLU_URL", "a Rasa server to call; unset: the model runs in-process"),
    )
    nlu_timeout: Seconds = field(
        default=3.0,
        metadata=variable(
            "NLU_TIMEOUT", "seconds before the Rasa server (or NLU worker) counts as down"
        ),
    )
    nlu_process: bool = field(
        default=True,
        metadata=variable(
            "NLU_PROCESS", "1: the model runs in child processes; 0: in the bot's own process"
        ),
    )
    nlu_workers: Positive = field(
        default=1, metadata=variable("NLU_WORKERS", "NLU worker processes serving one queue")
    )
    nlu_cache_size: Count = field(
        default=4096,
        metadata=variable("NLU_CACHE_SIZE", "readings kept for repeated texts; 0: no cache"),
    )
    confidence_threshold: Annotated[float, msgspec.Meta(ge=0, le=1)] = field(
        default=0.4,
        metadata=variable(
            "NLU_CONFIDENCE_THRESHOLD", "below this the bot asks instead of guessing"
        ),
    )
    model_dir: Path = field(
        default=PROJECT_ROOT / "models", metadata=variable("MODEL_DIR", "trained NLU models")
    )
    nlu_project: Path = field(
        default=PROJECT_ROOT / "nlu", metadata=variable("NLU_PROJECT", "the Rasa project")
    )
    responses_dir: Path = field(
        default=PROJECT_ROOT / "responses", metadata=variable("RESPONSES_DIR", "content")
    )
    locales_dir: Path = field(
        default=PROJECT_ROOT / "locales", metadata=variable("LOCALES_DIR", "translations")
    )
    # When unset, it follows RESPONSES_DIR (see `from_env`).
    services_file: Path = field(
        default=PROJECT_ROOT / "responses" / "services.yml",
        metadata=variable("SERVICES_FILE", "the service directory"),
    )
    var_dir: Path = field(
        default=PROJECT_ROOT / "var",
        metadata=variable("SINI_VAR_DIR", "local data: secret, local Redis, QR codes, heartbeat"),
    )
    state_ttl_seconds: Positive = field(
        default=30 * 24 * 3600,
        metadata=variable("STATE_TTL_SECONDS", "how long a chat's state is kept"),
    )
    draft_ttl_seconds: Positive = field(
        default=30 * 60,
        metadata=variable(
            "DRAFT_TTL_SECONDS", "a report in progress expires after this much silence"
        ),
    )
    flood_limit: Positive = field(
        default=20,
        metadata=variable(
            "FLOOD_LIMIT", "messages per chat per window before one 'slow down' and silence"
        ),
    )
    flood_window_seconds: Positive = field(
        default=60, metadata=variable("FLOOD_WINDOW_SECONDS", "the window of FLOOD_LIMIT")
    )
    staff_chat_id: int | None = field(
        default=None,
        metadata=variable(
            "STAFF_CHAT_ID", "Telegram chat told of each new tip (category and region only)"
        ),
    )
    staff_url: str = field(
        default="http://127.0.0.1:8080",
        metadata=variable("STAFF_URL", "the dashboard link in that notice"),
    )
    bot_username: str | None = field(
        default=None,
        metadata=variable(
            "BOT_USERNAME", "the bot's @username, for `helpline campaigns add` links"
        ),
    )
    run_staff: bool = field(
        default=False, metadata=variable("RUN_STAFF", "1: `make run` also serves the dashboard")
    )
    log_level: LogLevel = field(
        default="INFO",
        metadata=variable(
            "LOG_LEVEL", "level of Sini's own loggers (libraries are capped)", prepare=str.upper
        ),
    )
    log_format: LogFormat = field(
        default="console", metadata=variable("LOG_FORMAT", "console, or json for machines")
    )
    counsel_hours: OpeningHours = field(
        default=ALWAYS,
        metadata=variable(
            "COUNSEL_HOURS",
            "when counsellors answer, Mali time: e.g. `mon-fri=08:00-18:00 sat=09:00-13:00`",
            prepare=parse_counsel_hours,
        ),
    )
    counsel_limit: Positive = field(
        default=4,
        metadata=variable("COUNSEL_LIMIT", "conversations one counsellor holds at once"),
    )
    counsel_retention_days: Annotated[int, msgspec.Meta(ge=1, le=MAX_RETENTION_DAYS)] = field(
        default=30,
        metadata=variable(
            "COUNSEL_RETENTION_DAYS",
            "a counselling conversation is deleted this long after it ends",
        ),
    )
    metrics_host: str = field(
        default="127.0.0.1",
        metadata=variable("METRICS_HOST", "address of the /metrics, /healthz, /readyz server"),
    )
    metrics_port: OptionalPort = field(
        default=9102, metadata=variable("METRICS_PORT", "port of that server; 0: no server")
    )

    @classmethod
    def from_env(cls) -> Settings:
        given = read(cls, os.environ)
        responses_dir = given.get("responses_dir", cls.responses_dir)
        given.setdefault("services_file", responses_dir / "services.yml")
        if "secret" not in given:
            var_dir = given.get("var_dir", cls.var_dir)
            given["secret"] = load_or_create_secret(var_dir / "secret.key")
        return cls(**given)


@dataclass(frozen=True, kw_only=True)
class StaffSettings:
    """The dashboard's own knobs read from the environment (`staff.config.StaffConfig`
    adds the costs that are not)."""

    host: str = field(
        default="127.0.0.1", metadata=variable("STAFF_HOST", "where `helpline staff` listens")
    )
    port: Port = field(
        default=8080, metadata=variable("STAFF_PORT", "the port `helpline staff` listens on")
    )
    insecure_cookies: bool = field(
        default=False,
        metadata=variable("STAFF_INSECURE_COOKIES", "1: cookies without Secure (local http only)"),
    )
    session_idle_minutes: Positive = field(
        default=30, metadata=variable("STAFF_SESSION_MINUTES", "idle time before a session ends")
    )
    session_max_hours: Positive = field(
        default=12,
        metadata=variable("STAFF_SESSION_MAX_HOURS", "a session ends after this, active or not"),
    )
    lockout_attempts: Positive = field(
        default=5,
        metadata=variable("STAFF_LOCKOUT_ATTEMPTS", "failed logins for one name before a lock"),
    )
    lockout_minutes: Positive = field(
        default=15, metadata=variable("STAFF_LOCKOUT_MINUTES", "the length of a lock")
    )
    client_lockout_attempts: Positive = field(
        default=20,
        metadata=variable(
            "STAFF_CLIENT_LOCKOUT_ATTEMPTS", "failed logins from one address before it is locked"
        ),
    )
    retention_days: Annotated[int, msgspec.Meta(ge=1, le=MAX_RETENTION_DAYS)] = field(
        default=90,
        metadata=variable(
            "RETENTION_DAYS", "closed/rejected tips are purged this long after their last change"
        ),
    )
    purge_every_hours: Count = field(
        default=24,
        metadata=variable("STAFF_PURGE_EVERY_HOURS", "how often the server purges; 0: never"),
    )
    locale: str = field(
        default="fr", metadata=variable("STAFF_LOCALE", "Babel locale for dates and numbers")
    )

    @property
    def secure_cookies(self) -> bool:
        return not self.insecure_cookies

    @classmethod
    def from_env(cls: type[S]) -> S:
        return cls(**read(cls, os.environ))


# Read by the staff commands themselves, one password each (never a command-line argument).
STAFF_PASSWORD = Variable(
    "STAFF_PASSWORD", "CLI only: the password of the account being created or reset"
)
STAFF_ADMIN_PASSWORD = Variable(
    "STAFF_ADMIN_PASSWORD", "CLI only: the password of the admin whose desk keys are copied"
)


def _defaults(cls: type) -> Iterator[tuple[Variable, Any]]:
    for each, variable in variables_of(cls):
        yield variable, None if each.default is MISSING else each.default


# Every variable Sini reads, with its default (None: unset).
VARIABLES: dict[Variable, Any] = {
    **dict(_defaults(Settings)),
    **dict(_defaults(StaffSettings)),
    STAFF_PASSWORD: None,
    STAFF_ADMIN_PASSWORD: None,
}
