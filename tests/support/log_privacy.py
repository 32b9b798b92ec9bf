"""What the log-privacy tests need: a bot process of their own (polling or webhook, at
LOG_LEVEL=DEBUG, with its own Redis and AOF), a user with a full Telegram identity, a
portrait photo full of EXIF, and a scanner for what must never be written anywhere.

The bot is not the session's `bot` fixture: these tests feed it updates python-telegram-bot
cannot read, which must not be able to wedge the bot the other tests talk to.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, TiffImagePlugin

from sini.redis import connect_redis
from sini.redis_server import LocalRedis, free_port
from tests.support.telegram_emulator import EmulatedUser, TelegramEmulator
from tips.crypto import MINIMUM_FOR_TESTS
from tips.keys import init_desk_keys

STARTUP_SECONDS = 180  # model load + start-up, as for the session's bots

# The photo's metadata, as Pillow would print it: camera, serial, time and position.
EXIF_MAKE = "LeakyPhoneMaker"
EXIF_MODEL = "LeakyModel X9"
EXIF_SERIAL = "SN-4815162342"
EXIF_TAKEN = "2024:05:17 13:37:42"
LATITUDE = (12, 38, (21123, 1000))  # 12°38'21.123" N
LONGITUDE = (8, 0, (10456, 1000))  # 8°0'10.456" W
# The coordinates in the forms a log line could take: degree tuples, seconds, decimal
# degrees — never as short as a timestamp's seconds ("…T17:06:21.123788Z").
COORDINATES = ["12.0, 38.0", "38.0, 21.123", "8.0, 0.0, 10.456", "21.123)", "10.456)",
               "12.639200", "8.002904"]  # fmt: skip
EXIF_STRINGS = [EXIF_MAKE, EXIF_MODEL, EXIF_SERIAL, EXIF_TAKEN, "2024:05:17"]


def portrait_with_exif() -> bytes:
    """A JPEG as a phone takes it held upright: Orientation 6 (rotate 90°), camera make,
    model and body serial, the time it was taken and where (GPS latitude and longitude)."""
    rational = TiffImagePlugin.IFDRational

    def dms(value: tuple[int, int, tuple[int, int]]) -> tuple[Any, ...]:
        degrees, minutes, (numerator, denominator) = value
        return (rational(degrees), rational(minutes), rational(numerator, denominator))

    exif = Image.Exif()
    exif[0x010F] = EXIF_MAKE
    exif[0x0110] = EXIF_MODEL
    exif[0x0112] = 6  # Orientation: the sensor is landscape, the photo portrait
    exif[0x8769] = {0x9003: EXIF_TAKEN, 0xA431: EXIF_SERIAL}  # DateTimeOriginal, BodySerialNumber
    exif[0x8825] = {1: "N", 2: dms(LATITUDE), 3: "W", 4: dms(LONGITUDE)}  # GPS IFD
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 110, 30)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


@dataclass(frozen=True)
class Identity:
    """Everything Telegram tells a bot about a person."""

    user_id: int
    first_name: str
    last_name: str
    username: str

    def needles(self) -> list[str]:
        return [str(self.user_id), self.first_name, self.last_name, self.username]

    def user(self) -> dict[str, Any]:
        """The Bot API User object."""
        return {
            "id": self.user_id,
            "is_bot": False,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
            "language_code": "fr",
        }

    def chat(self) -> dict[str, Any]:
        """The Bot API Chat object of the private chat with the bot."""
        return {
            "id": self.user_id,
            "type": "private",
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
        }


class IdentifiedUser(EmulatedUser):
    """An emulated user who also has a last name (EmulatedUser sends first name and
    username only)."""

    def __init__(self, emulator: TelegramEmulator, token: str, identity: Identity) -> None:
        super().__init__(
            emulator, token, identity.user_id, identity.first_name, identity.username, "fr"
        )
        self.identity = identity

    def _user(self) -> dict[str, Any]:
        user = super()._user()
        user["last_name"] = self.identity.last_name
        return user


@dataclass
class PrivateBot:
    """`python -m bot bot` with its own token, Redis (AOF on) and log file."""

    mode: str  # "polling" or "webhook"
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path
    redis: LocalRedis
    webhook_url: str | None = None
    webhook_secret: str | None = None

    def post_update(self, update: dict[str, Any]) -> int:
        """POST a raw update to the webhook, as Telegram would; the HTTP status."""
        assert self.webhook_url is not None
        assert self.webhook_secret is not None
        response = httpx.post(
            self.webhook_url,
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret},
            timeout=30,
        )
        return response.status_code

    def stop(self) -> None:
        """Stop the bot (its last lines are then in the log file)."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def log(self) -> bytes:
        return self.log_path.read_bytes()


def init_desk(redis_url: str, password: str) -> None:
    """Desk keys, so the bot can seal a tip."""

    async def init() -> None:
        client = connect_redis(redis_url)
        try:
            await init_desk_keys(client, "admin", password, limits=MINIMUM_FOR_TESTS)
        finally:
            await client.close()

    asyncio.run(init())


def start_private_bot(
    emulator: TelegramEmulator,
    mode: str,
    token: str,
    redis: LocalRedis,
    var_dir: Path,
    log_path: Path,
    secret_hex: str,
) -> PrivateBot:
    """Start the bot at LOG_LEVEL=DEBUG and return once it polls (or has set its webhook)."""
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{emulator.port}",
        "REDIS_URL": redis.url,
        "SINI_SECRET": secret_hex,
        "SINI_VAR_DIR": str(var_dir),
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "METRICS_PORT": "0",
        "TELEGRAM_MAX_RATE": "100000",
    }
    webhook_url = secret = None
    if mode == "webhook":
        port = free_port()
        secret = f"s{time.monotonic_ns()}"
        webhook_url = f"http://127.0.0.1:{port}/telegram"
        env |= {
            "WEBHOOK_URL": f"http://127.0.0.1:{port}",
            "WEBHOOK_LISTEN": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
            "WEBHOOK_SECRET": secret,
        }
        before = emulator.webhook(token)["set_webhook_calls"]
    else:
        before = emulator.call("bot/polling", {"token": token, "timeout": 0})["get_updates_calls"]
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "bot"], env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    if mode == "webhook":
        emulator.wait_webhook(token, before, timeout=STARTUP_SECONDS)
    else:
        polled = emulator.call(
            "bot/polling",
            {"token": token, "timeout": STARTUP_SECONDS, "after_calls": before},
            wait=STARTUP_SECONDS,
        )
        assert polled["polling"], f"the bot did not poll within {STARTUP_SECONDS} s"
    return PrivateBot(mode, token, process, log_path, redis, webhook_url, secret)


def stored_files(data_dir: Path) -> bytes:
    """Every file Redis wrote (the AOF and its manifest, any RDB), concatenated."""
    return b"\n".join(path.read_bytes() for path in sorted(data_dir.rglob("*")) if path.is_file())


def hits(needles: list[str], **haystacks: bytes) -> list[str]:
    """`where: needle` for each needle found in each haystack (compared as UTF-8 and as
    JSON's \\u escapes); empty when nothing leaked."""
    found = []
    for where, haystack in haystacks.items():
        for needle in needles:
            forms = {needle.encode(), json.dumps(needle)[1:-1].encode()}
            if any(form in haystack for form in forms):
                found.append(f"{where}: {needle}")
    return found
