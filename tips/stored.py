"""How a tip lies in Redis, for both sides: the intake (`tips.intake`) and the desk
(`tips.desk`).

What Redis holds (and nothing else):

- ``sini:tip:<lookup>`` — hash: status, category, region, created/updated hour (epoch of
  the UTC hour), assignee, forwarded-to, the sealed content, the tipster's public key,
  attachment count, awaiting-reply flag. `<lookup>` is an HMAC of the reference code.
- ``sini:tip:<lookup>:att:<n>`` — one sealed attachment each (desk + tipster).
- ``sini:tip:<lookup>:thread`` — list of sealed messages between tipster and desk.
- ``sini:tip:<lookup>:notes`` / ``:history`` — lists sealed to the desk only.
- ``sini:tips:all``, ``sini:tips:status:<status>``, ``sini:tips:category:<category>``,
  ``sini:tips:region:<region>``, ``sini:tips:assignee:<account>`` — sorted sets of lookups,
  scored by the creation hour (equal scores sort by the random-looking lookup, so order
  within an hour says nothing); every write that changes what one indexes updates it in
  the same script or MULTI. ``sini:tips:updated`` — the same lookups scored by the hour of
  the last change (retention warnings). ``sini:tips:label:<digest>`` (the label's
  `label_key` hashed, so no typed text is in a key name) and ``sini:tips:important`` the
  same way, for the labels and the "important" flag.
- ``labels`` (a JSON array), ``important`` ("1") and ``keep`` (the hour an admin kept the
  tip until) in the tip hash; ``sini:tips:labels`` — hash `label_key` → the spelling first
  used, so one label is spelled one way.
- ``ref`` in the tip hash, and ``sini:tips:refs`` — hash reference → lookup: the short
  reference staff quote (`tips.references`), from ``sini:tips:refcount:<yy>``, a per-year
  counter passed through a keyed permutation (`REFERENCE_LUA`).
- ``sini:tips:attempts:<lookup>`` — failed-receipt counter, expires after the window.
- ``sini:tips:quota:<hmac>`` — submissions per chat per day, under an HMAC keyed by a daily
  secret, so the counter cannot be tied to the chat's dialogue state key without the
  installation secret, nor to the same chat's counter on another day.
- ``sini:tips:submitted:<hmac>`` — "this draft was stored": an HMAC of the draft's random
  submission id, value "1", expiring on an hour boundary two days after the hour it was
  stored in. It names neither the chat nor the tip.

Never: Telegram ids, names, phone numbers, receipt codes or passphrases, plaintext, or a
time finer than an hour. A change that depends on what it read runs in
`sini.transactions.transaction`; storing a new tip is one script.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from nacl.public import PrivateKey, PublicKey
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from sini.redis import PREFIX
from sini.transactions import Writes, transaction
from tips.crypto import derive_secret, open_sealed, seal
from tips.model import (
    TIP_REGIONS,
    Category,
    MalformedData,
    Status,
    TipError,
    TipRecord,
    TipRegion,
    hour_from_epoch,
    label_key,
    tip_region,
)
from tips.references import Reference

ALL_INDEX = f"{PREFIX}:tips:all"
UPDATED_INDEX = f"{PREFIX}:tips:updated"
REFERENCES = f"{PREFIX}:tips:refs"
IMPORTANT_INDEX = f"{PREFIX}:tips:important"
LABELS = f"{PREFIX}:tips:labels"

DeskKeys = PrivateKey | Iterable[PrivateKey]


def tip_key(lookup: str) -> str:
    return f"{PREFIX}:tip:{lookup}"


def attachment_key(lookup: str, index: int) -> str:
    return f"{PREFIX}:tip:{lookup}:att:{index}"


def thread_key(lookup: str) -> str:
    return f"{PREFIX}:tip:{lookup}:thread"


def notes_key(lookup: str) -> str:
    return f"{PREFIX}:tip:{lookup}:notes"


def history_key(lookup: str) -> str:
    return f"{PREFIX}:tip:{lookup}:history"


def status_index(status: Status) -> str:
    return f"{PREFIX}:tips:status:{status.value}"


def category_index(category: Category) -> str:
    return f"{PREFIX}:tips:category:{category.value}"


def region_index(region: TipRegion) -> str:
    return f"{PREFIX}:tips:region:{region.value}"


def assignee_index(account: str) -> str:
    return f"{PREFIX}:tips:assignee:{account}"


def label_index(label: str) -> str:
    """The index of one label (any spelling of it)."""
    digest = hashlib.sha256(label_key(label).encode()).hexdigest()[:32]
    return f"{PREFIX}:tips:label:{digest}"


def reference_counter(year: int) -> str:
    """The counter of references given for tips submitted in `year` (two digits)."""
    return f"{PREFIX}:tips:refcount:{year:02d}"


def reference_secret(secret: bytes) -> str:
    """The key of the reference permutation, from the installation secret (hex: Lua
    concatenates it as text)."""
    return derive_secret(secret, "tips:reference").hex()


def reference_year(hour: datetime) -> int:
    """The year a reference names: the submission's, modulo 100."""
    return hour.year % 100


# Gives a tip its reference: n, the year's counter before this INCR, is split into blocks
# of 10,000 whose members a four-round Feistel network over (n // 100 % 100, n % 100),
# keyed by a secret the caller passes, shuffles. Within a block the numbers are a
# permutation (unique), and without the secret they say neither the order of arrival nor
# how many tips the year has seen; blocks only grow the number of digits.
REFERENCE_LUA = """
local function give_reference(counter, refs, tip, lookup, year, secret)
  local n = redis.call('INCR', counter) - 1
  local block = math.floor(n / 10000)
  local left = math.floor(n / 100) % 100
  local right = n % 100
  for round = 1, 4 do
    local digest = redis.sha1hex(secret .. ':' .. year .. ':' .. block .. ':' .. round .. ':' .. right)
    left, right = right, (left + tonumber(string.sub(digest, 1, 8), 16)) % 100
  end
  local ref = string.format('T-%s-%04d', year, block * 10000 + left * 100 + right)
  redis.call('HSET', tip, 'ref', ref)
  redis.call('HSET', refs, ref, lookup)
  return ref
end
"""


def attempts_key(lookup: str) -> str:
    return f"{PREFIX}:tips:attempts:{lookup}"


class TipNotFound(TipError):
    """No tip under this lookup id (never existed, or purged)."""


class StoreConflict(TipError):
    """A tip kept changing under concurrent writers; nothing was written."""


def _text(data: Mapping[bytes, bytes], name: str) -> str | None:
    value = data.get(name.encode())
    return value.decode() if value else None


def record_from_hash(lookup: str, data: Mapping[bytes, bytes]) -> TipRecord:
    """A `TipRecord` from the stored hash; `MalformedData` if a field is missing or bad."""
    try:
        return TipRecord(
            lookup=lookup,
            status=Status(data[b"status"].decode()),
            category=Category(data[b"category"].decode()),
            region=tip_region(data[b"region"].decode()),
            created_hour=hour_from_epoch(int(data[b"created"])),
            updated_hour=hour_from_epoch(int(data[b"updated"])),
            sealed=data[b"sealed"],
            tipster_public_key=data[b"tipster_pk"],
            assigned_to=_text(data, "assigned"),
            forwarded_to=_text(data, "forwarded"),
            attachment_count=int(data.get(b"att", b"0")),
            awaiting_reply=data.get(b"awaiting") == b"1",
            reference=Reference.stored(ref) if (ref := _text(data, "ref")) else None,
            labels=tuple(str(label) for label in json.loads(data.get(b"labels", b"[]"))),
            important=data.get(b"important") == b"1",
            kept_until=hour_from_epoch(int(keep)) if (keep := data.get(b"keep")) else None,
        )
    except (KeyError, ValueError, TypeError, UnicodeDecodeError) as error:
        raise MalformedData(f"tip record {lookup} is malformed") from error


async def read_record(redis: Redis[bytes] | Pipeline[bytes], lookup: str) -> TipRecord:
    """The clear envelope of one tip (`TipNotFound` if absent)."""
    data = await redis.hgetall(tip_key(lookup))
    if not data:
        raise TipNotFound("no such tip")
    return record_from_hash(lookup, data)


T = TypeVar("T")

Decide = Callable[[TipRecord, "Pipeline[bytes]"], Awaitable[tuple[T, Writes]]]
"""Validates a change against the tip as read under WATCH and returns its result and
writes; it may read more through the pipeline (keys the caller also watches)."""


async def change(
    redis: Redis[bytes], lookup: str, decide: Decide[T], *, also_watch: Sequence[str] = ()
) -> T:
    """Apply `decide`'s writes to a tip atomically with the state it was decided on.
    `TipNotFound`, or `StoreConflict` after repeated interference."""

    async def step(pipe: Pipeline[bytes]) -> tuple[T, Writes]:
        return await decide(await read_record(pipe, lookup), pipe)

    return await transaction(
        redis,
        [tip_key(lookup), *also_watch],
        step,
        contended=lambda: StoreConflict("the tip changed too often; try again"),
    )


def seal_many(
    main: bytes, blobs: Sequence[bytes], recipients: Sequence[PublicKey]
) -> tuple[bytes, list[bytes]]:
    """Seal a record and its attachments (run in a thread: attachments weigh up to 100 MB)."""
    return seal(main, recipients).to_bytes(), [seal(b, recipients).to_bytes() for b in blobs]


def index_keys(record: TipRecord) -> list[str]:
    """The sorted sets scored by creation hour that hold this tip."""
    keys = [
        ALL_INDEX,
        status_index(record.status),
        category_index(record.category),
        region_index(record.region),
    ]
    keys += [assignee_index(record.assigned_to)] if record.assigned_to else []
    keys += [IMPORTANT_INDEX] if record.important else []
    return keys + [label_index(label) for label in record.labels]


def unindex(pipe: Pipeline[bytes], lookup: str, record: TipRecord | None) -> None:
    """Queue the removal of a tip from every index; without its record (a dangling entry)
    from every index a closed list names (status, category, region, important; a label's
    index keeps it, and a page simply does not show a tip whose hash is gone)."""
    if record is None:
        keys = [ALL_INDEX, IMPORTANT_INDEX, *(status_index(s) for s in Status)]
        keys += [category_index(c) for c in Category]
        keys += [region_index(r) for r in TIP_REGIONS]
    else:
        keys = index_keys(record)
        if record.reference is not None:
            pipe.hdel(REFERENCES, str(record.reference))
    for key in [*keys, UPDATED_INDEX]:
        pipe.zrem(key, lookup)


async def open_list(redis: Redis[bytes], key: str, keys: Sequence[PrivateKey]) -> list[bytes]:
    """Every sealed entry of a list, opened, oldest first."""
    return [open_sealed(raw, keys) for raw in await redis.lrange(key, 0, -1)]
