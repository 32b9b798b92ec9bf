"""How a tip lies in Redis, for both sides: the intake (`tips.intake`) and the desk
(`tips.desk`).

What Redis holds (and nothing else):

- ``sini:tip:<lookup>`` — hash: status, category, region, created/updated hour (epoch of
  the UTC hour), assignee, forwarded-to, the sealed content, the tipster's public key,
  attachment count, awaiting-reply flag. `<lookup>` is an HMAC of the reference code.
- ``sini:tip:<lookup>:att:<n>`` — one sealed attachment each (desk + tipster).
- ``sini:tip:<lookup>:thread`` — list of sealed messages between tipster and desk.
- ``sini:tip:<lookup>:notes`` / ``:history`` — lists sealed to the desk only.
- ``sini:tips:all``, ``sini:tips:status:<status>`` — sorted sets of lookups, scored by the
  creation hour (equal scores sort by the random-looking lookup, so order within an hour
  says nothing).
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

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from nacl.public import PrivateKey, PublicKey
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from sini.redis import PREFIX
from sini.transactions import Writes, transaction
from tips.crypto import open_sealed, seal
from tips.model import (
    Category,
    MalformedData,
    Status,
    TipError,
    TipRecord,
    hour_from_epoch,
    tip_region,
)

ALL_INDEX = f"{PREFIX}:tips:all"

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
        )
    except (KeyError, ValueError, UnicodeDecodeError) as error:
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


async def open_list(redis: Redis[bytes], key: str, keys: Sequence[PrivateKey]) -> list[bytes]:
    """Every sealed entry of a list, opened, oldest first."""
    return [open_sealed(raw, keys) for raw in await redis.lrange(key, 0, -1)]
