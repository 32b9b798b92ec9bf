"""What the tip store's specifications share: a desk with its keys, the intake the bot
uses, the desk staff use, and tips as the bot builds them."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pytest
from nacl.public import PublicKey
from PIL import ExifTags, Image
from redis.asyncio import Redis

from sini.regions import Region
from tests.conftest import Keys
from tips.crypto import MINIMUM_FOR_TESTS, Sealed, fingerprint
from tips.desk import Desk
from tips.intake import Intake
from tips.model import Category, Draft, TipContent, TipRegion, When
from tips.receipts import Receipt
from tips.stored import label_index

SECRET = bytes.fromhex("5e" * 32)
WHEN = datetime(2025, 3, 14, 14, 37, 12, 345678, tzinfo=timezone.utc)
HOUR = datetime(2025, 3, 14, 14, tzinfo=timezone.utc)
MARKER = "ZEBRA-MARKER-7731 le dealer Moussa vend du tramadol derrière l'école"
TELEGRAM_ID = 770_123_457
USERNAME = "awa_traore_bko"
FIRST_NAME = "Awatoutou"
PHONE = "+22376543210"


@pytest.fixture
async def intake(redis: Redis[bytes]) -> Intake:
    return Intake(redis, SECRET, kdf_limits=MINIMUM_FOR_TESTS)


@pytest.fixture
async def desk(redis: Redis[bytes]) -> Desk:
    return Desk(redis)


def content(
    text: str = "des comprimés vendus aux élèves",
    category: Category = Category.DRUG_TRAFFICKING,
    region: TipRegion = Region.BAMAKO,
) -> TipContent:
    draft = (
        Draft()
        .with_category(category)
        .with_region(region)
        .with_place("Badalabougou, près du grin")
        .with_location(12.6258, -7.9919)
        .with_when(When.ONGOING)
        .add_text(text)
    )
    return draft.to_content()


async def submit(
    intake: Intake, keys: Keys, tip: TipContent | None = None, now: datetime = WHEN
) -> Receipt:
    tip = tip or content()
    return await intake.submit(tip, keys.public, now)


def sealed_to(sealed: Sealed, public_key: PublicKey) -> bool:
    """Whether `public_key` is one of the sealed value's recipients."""
    return fingerprint(public_key) in {print_ for print_, _ in sealed.recipients}


def gps_photo() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SPYPHONE"
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (12.0, 37.0, 33.0), 3: "W", 4: (7.0, 59.0, 31.0)}
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 10)).save(out, "JPEG", exif=exif)
    return out.getvalue()


INDEX_PATTERNS = ("sini:tips:all", "sini:tips:updated", "sini:tips:status:*")
INDEX_PATTERNS += ("sini:tips:category:*", "sini:tips:region:*", "sini:tips:assignee:*")
INDEX_PATTERNS += ("sini:tips:label:*", "sini:tips:important")


async def indexes(redis: Redis[bytes]) -> dict[str, dict[str, float]]:
    """Every index as stored: key → {lookup: score} (empty indexes are absent)."""
    found: dict[str, dict[str, float]] = {}
    for pattern in INDEX_PATTERNS:
        async for key in redis.scan_iter(match=pattern):
            members = await redis.zrange(key, 0, -1, withscores=True)
            found[key.decode()] = {m.decode(): s for m, s in members}
    return found


async def indexes_from_hashes(redis: Redis[bytes]) -> dict[str, dict[str, float]]:
    """What the indexes must hold, derived from the tip hashes alone."""
    wanted: dict[str, dict[str, float]] = {}
    async for key in redis.scan_iter(match="sini:tip:*"):
        name = key.decode()
        if name.count(":") != 2:
            continue  # attachments, threads, notes, history
        lookup = name.split(":")[2]
        tip = {
            k.decode(): v.decode()
            for k, v in (await redis.hgetall(key)).items()
            if k != b"sealed" and k != b"tipster_pk"
        }
        created = float(tip["created"])
        names = ["sini:tips:all", f"sini:tips:status:{tip['status']}"]
        names += [f"sini:tips:category:{tip['category']}", f"sini:tips:region:{tip['region']}"]
        names += [f"sini:tips:assignee:{tip['assigned']}"] if tip.get("assigned") else []
        names += ["sini:tips:important"] if tip.get("important") == "1" else []
        names += [label_index(label) for label in json.loads(tip.get("labels", "[]"))]
        for index in names:
            wanted.setdefault(index, {})[lookup] = created
        wanted.setdefault("sini:tips:updated", {})[lookup] = float(tip["updated"])
    return wanted


async def references(redis: Redis[bytes]) -> tuple[dict[str, str], dict[str, str]]:
    """(reference → lookup as indexed, lookup → reference as in the tip hashes)."""
    indexed = {k.decode(): v.decode() for k, v in (await redis.hgetall("sini:tips:refs")).items()}
    held: dict[str, str] = {}
    async for key in redis.scan_iter(match="sini:tip:*"):
        name = key.decode()
        if name.count(":") == 2 and (ref := await redis.hget(key, "ref")) is not None:
            held[name.split(":")[2]] = ref.decode()
    return indexed, held
