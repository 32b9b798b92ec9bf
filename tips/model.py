"""Tip values and rules: what a tip is made of, its limits and its life cycle.

Pure: no Redis, no cryptography, no clock. Everything that can be stored has a JSON form
(bytes) and is validated when built, so a value that exists is a value that may be stored:
a location is already rounded, a time is already an hour, a region is one of a closed list.

What stays in clear in Redis is only what the queue filters and the statistics need
(`TipRecord`: category, region, status, hours, assignment); what the tipster said is in
`TipContent`, which only ever leaves this module to be sealed.
"""

from __future__ import annotations

import math
import re
from abc import ABC
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, TypeAlias, TypeVar

import msgspec

from sini.regions import Region
from tips.references import Reference

# Limits. Telegram messages are at most 4096 characters and bots may download files of at
# most 20 MB (getFile), so these never cut a normal message; they bound what one tip can
# cost in memory, Argon2/sealing time and Redis space.
MAX_TEXT_CHARS = 4000
MAX_PARTS = 20
MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_PLACE_CHARS = 200
MAX_REASON_CHARS = 500
MAX_FORWARDED_TO_CHARS = 100
MAX_LABEL_CHARS = 40
MAX_LABELS = 10  # per tip: labels sort tips, they are not where a tip is described
LOCATION_DECIMALS = 2  # 0.01° ≈ 1.1 km: enough to send help, too coarse to find a house
PART_SEPARATOR = "\n\n"
MAX_CONTENT_TEXT_CHARS = MAX_PARTS * MAX_TEXT_CHARS + (MAX_PARTS - 1) * len(PART_SEPARATOR)

_ACCOUNT_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_SUBMISSION_RE = re.compile(r"^[0-9a-f]{32}$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
FORMAT_VERSION = 1  # the "v" of every JSON form; readers ignore it until a v2 exists
_ENCODER = msgspec.json.Encoder(order="sorted")
_T = TypeVar("_T")


# --------------------------------------------------------------------------- errors


class TipError(Exception):
    """Root of every error the tip domain raises on purpose."""


class TipValidationError(TipError, ValueError):
    """A value breaks a rule of the tip model (a limit, a closed list, a format)."""


class EmptyText(TipValidationError):
    """A text part, note or reply is empty once trimmed."""


class TextTooLong(TipValidationError):
    """A text part is longer than `MAX_TEXT_CHARS` (or a place/reason than its limit)."""


class TooManyParts(TipValidationError):
    """A draft already holds `MAX_PARTS` text parts."""


class TooManyLabels(TipValidationError):
    """A tip would carry more than `MAX_LABELS` labels."""


class TooManyAttachments(TipValidationError):
    """A draft or message would hold more than `MAX_ATTACHMENTS` attachments."""


class AttachmentTooLarge(TipValidationError):
    """An attachment is larger than `MAX_ATTACHMENT_BYTES` (Telegram's bot download limit)."""


class UnknownRegion(TipValidationError):
    """A region that is not one of `TIP_REGIONS`."""


class InvalidLocation(TipValidationError):
    """Latitude/longitude out of range, not finite, or finer than `LOCATION_DECIMALS`."""


class InvalidAccount(TipValidationError):
    """A staff account name that is not a short lowercase slug."""


class NaiveDatetime(TipValidationError):
    """A datetime without a timezone: it cannot be turned into a UTC hour safely."""


class NotAnHour(TipValidationError):
    """A stored time that is finer than an hour: the store must never hold one."""


class IncompleteDraft(TipValidationError):
    """A draft cannot become a tip yet (no category, or nothing said and nothing attached)."""


class InvalidTransition(TipValidationError):
    """A status change the life cycle does not allow (e.g. closed → new)."""

    def __init__(self, old: Status, new: Status) -> None:
        super().__init__(f"status cannot go from {old.value} to {new.value}")
        self.old = old
        self.new = new


class MalformedData(TipValidationError):
    """Stored JSON that does not describe a valid value (corrupted or from a newer version)."""


# --------------------------------------------------------------------------- enums


class Category(str, Enum):
    """What the tip is about; kept in clear for the queue filters and the statistics."""

    DRUG_TRAFFICKING = "drug_trafficking"
    HUMAN_TRAFFICKING = "human_trafficking"
    CHILD_EXPLOITATION = "child_exploitation"
    SEXUAL_EXPLOITATION = "sexual_exploitation"
    OTHER = "other"


class When(str, Enum):
    """When it happened, as coarse as a tipster can say it without exposing themselves."""

    TODAY = "today"
    THIS_WEEK = "this_week"
    EARLIER = "earlier"
    ONGOING = "ongoing"


class Status(str, Enum):
    """Where a tip is in the desk's work: new → in review → forwarded → closed/rejected."""

    NEW = "new"
    IN_REVIEW = "in_review"
    FORWARDED = "forwarded"
    CLOSED = "closed"
    REJECTED = "rejected"

    def can_become(self, new: Status) -> bool:
        """Whether the life cycle allows going from this status to `new`."""
        return new in _TRANSITIONS[self]

    @property
    def is_final(self) -> bool:
        """Closed and rejected tips are the only ones retention may purge."""
        return self in (Status.CLOSED, Status.REJECTED)


# Reopening (closed/rejected → in review) is allowed: a follow-up can bring new facts, and
# a tip marked as spam by mistake must be recoverable before retention purges it.
_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.IN_REVIEW, Status.REJECTED}),
    Status.IN_REVIEW: frozenset({Status.FORWARDED, Status.CLOSED, Status.REJECTED}),
    Status.FORWARDED: frozenset({Status.IN_REVIEW, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.IN_REVIEW}),
    Status.REJECTED: frozenset({Status.IN_REVIEW}),
}


class AttachmentKind(str, Enum):
    """The Telegram media kinds a tip may carry."""

    PHOTO = "photo"
    VOICE = "voice"
    VIDEO = "video"
    DOCUMENT = "document"


class Author(str, Enum):
    """Who wrote a message of the thread; staff are "desk" so no staff name reaches a tipster."""

    TIPSTER = "tipster"
    DESK = "desk"


class Elsewhere(str, Enum):
    """Where a tip happened when it is not one of Mali's regions."""

    ABROAD = "abroad"  # trafficking often happens on the route
    UNKNOWN = "unknown"  # the tipster did not say, or said it in words we do not know


if TYPE_CHECKING:
    TipRegion: TypeAlias = Region | Elsewhere
    """Where a tip happened, stored in clear as its value ("segou", "abroad"). A closed list
    on purpose: free text there could carry a name or an address."""
else:

    class TipRegion(ABC):  # noqa: B024 - a marker, nothing to implement
        """At run time, the name msgspec finds in annotations for a `Region | Elsewhere`
        (it cannot tell two string enums apart by itself): `_decode_hook` reads it, and
        both enums are registered as its kinds so what the hook returns is accepted."""

    TipRegion.register(Region)
    TipRegion.register(Elsewhere)


TIP_REGIONS: tuple[TipRegion, ...] = (*Region, *Elsewhere)
"""Every tip region, in the order the dashboard lists them."""

_TIP_REGIONS_BY_KEY: Mapping[str, TipRegion] = {region.value: region for region in TIP_REGIONS}


# --------------------------------------------------------------------------- helpers


def floor_hour(moment: datetime) -> datetime:
    """`moment` in UTC, rounded down to the hour: the finest time the store may keep."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetime("a timezone-aware datetime is required")
    return moment.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def _check_hour(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetime("a timezone-aware datetime is required")
    if floor_hour(moment) != moment or moment.utcoffset() != timezone.utc.utcoffset(None):
        raise NotAnHour(f"{moment.isoformat()} is not a UTC hour")
    return moment


def hour_to_epoch(hour: datetime) -> int:
    """Seconds since the epoch of a UTC hour (used as sorted-set scores)."""
    return int(_check_hour(hour).timestamp())


def hour_from_epoch(seconds: int) -> datetime:
    """The UTC hour back from `hour_to_epoch`; refuses anything finer than an hour."""
    return _check_hour(datetime.fromtimestamp(seconds, tz=timezone.utc))


def clean_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Trim, drop control characters (keeping newlines and tabs) and enforce `limit`."""
    cleaned = _CONTROL_RE.sub("", text).strip()
    if not cleaned:
        raise EmptyText("text is empty")
    if len(cleaned) > limit:
        raise TextTooLong(f"text has {len(cleaned)} characters, the limit is {limit}")
    return cleaned


def find_tip_region(key: str) -> TipRegion | None:
    """The tip region stored as `key` ("segou", "unknown"), or None."""
    return _TIP_REGIONS_BY_KEY.get(key)


def tip_region(key: str) -> TipRegion:
    """The tip region stored as `key`; `UnknownRegion` if there is none."""
    region = find_tip_region(key)
    if region is None:
        raise UnknownRegion(f"unknown region {key!r}")
    return region


def _check_region(region: object) -> None:
    """Constructors check it too: code outside the type checker may still pass a string."""
    if not isinstance(region, (Region, Elsewhere)):
        raise UnknownRegion(f"not a tip region: {region!r}")


def validate_account(account: str) -> str:
    """`account` when it is a safe staff account name (it appears in Redis keys)."""
    if not _ACCOUNT_RE.match(account):
        raise InvalidAccount("account names are 1-64 characters: a-z, 0-9, '.', '_', '-'")
    return account


class InvalidSubmission(TipValidationError):
    """A submission id that is not 32 lowercase hex digits."""


def validate_submission(submission: str) -> str:
    """`submission` when it is a draft's submission id (random, never typed by anyone)."""
    if not _SUBMISSION_RE.match(submission):
        raise InvalidSubmission("a submission id is 32 lowercase hex digits")
    return submission


def _dumps(value: object) -> bytes:
    """The JSON form of a value: its fields by name, sorted, with the format version."""
    data = msgspec.to_builtins(value, order="sorted")
    return _ENCODER.encode({"v": FORMAT_VERSION, **data})


def _decode_hook(kind: type, value: object) -> object:
    # At run time `TipRegion` is the marker class msgspec hands over (see its definition).
    if kind is TipRegion and isinstance(value, str):  # type: ignore[comparison-overlap]
        return tip_region(value)
    raise NotImplementedError(f"no JSON form for {kind}")


def _loads(raw: bytes | str, kind: type[_T]) -> _T:
    """A value back from its JSON form, validated by its own constructor; `MalformedData`
    for anything else. Hours written as epoch seconds (before the format used RFC 3339)
    are read too, hence the lax number/time conversion."""
    try:
        return msgspec.json.decode(raw, type=kind, strict=False, dec_hook=_decode_hook)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise MalformedData(str(error)) from error


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Location:
    """A shared location, rounded to `LOCATION_DECIMALS` decimals (≈1 km) before it is kept.

    Build it with `Location.rounded`: the constructor refuses finer coordinates so an exact
    position can never be stored by mistake, even sealed.
    """

    lat: float
    lon: float

    def __post_init__(self) -> None:
        for name, value, bound in (("lat", self.lat, 90.0), ("lon", self.lon, 180.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidLocation(f"{name} must be a number")
            if not math.isfinite(value) or abs(value) > bound:
                raise InvalidLocation(f"{name} out of range")
            if round(value, LOCATION_DECIMALS) != value:
                raise InvalidLocation(f"{name} is finer than {LOCATION_DECIMALS} decimals")

    @classmethod
    def rounded(cls, lat: float, lon: float) -> Location:
        """The location rounded to ≈1 km (what a tipster shares is a position, not a house)."""
        for name, value in (("lat", lat), ("lon", lon)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidLocation(f"{name} must be a number")
            if not math.isfinite(value):
                raise InvalidLocation(f"{name} must be finite")
        return cls(round(float(lat), LOCATION_DECIMALS), round(float(lon), LOCATION_DECIMALS))


class AttachmentRef(msgspec.Struct, frozen=True, rename={"file_ref": "ref", "mime_type": "mime"}):
    """An attachment announced in a draft, not downloaded yet.

    `file_ref` is Telegram's file_id: it only lives in the (encrypted) draft and is
    discarded at submission, when the file is downloaded, stripped and sealed; it is left
    out of the repr. No file name is kept: names like "IMG_Awa_Traore.jpg" identify people.
    """

    kind: AttachmentKind
    file_ref: str
    size: int | None = None
    mime_type: str | None = None

    def __post_init__(self) -> None:
        if not self.file_ref:
            raise TipValidationError("attachment reference is empty")
        if self.size is not None and self.size > MAX_ATTACHMENT_BYTES:
            raise AttachmentTooLarge(f"{self.size} bytes > {MAX_ATTACHMENT_BYTES}")
        if self.size is not None and self.size < 0:
            raise TipValidationError("negative size")

    def __repr__(self) -> str:
        return (
            f"AttachmentRef(kind={self.kind!r}, size={self.size!r}, mime_type={self.mime_type!r})"
        )


class AttachmentMeta(msgspec.Struct, frozen=True, rename={"mime_type": "mime"}):
    """What is known about a stored (stripped, sealed) attachment; sealed with the content.

    `index` is the attachment's number in the tip (its blob is `...:att:<index>`); the store
    assigns it, so callers may leave it at 0.
    """

    kind: AttachmentKind
    mime_type: str
    size: int
    index: int = 0

    def __post_init__(self) -> None:
        if self.size < 0 or self.size > MAX_ATTACHMENT_BYTES:
            raise AttachmentTooLarge(f"{self.size} bytes > {MAX_ATTACHMENT_BYTES}")
        if self.index < 0:
            raise TipValidationError("negative attachment index")
        if not self.mime_type or len(self.mime_type) > 100:
            raise TipValidationError("invalid MIME type")

    def numbered(self, index: int) -> AttachmentMeta:
        """The same attachment as the `index`-th of its tip."""
        return msgspec.structs.replace(self, index=index)


def _check_attachments(items: Sequence[object]) -> None:
    if len(items) > MAX_ATTACHMENTS:
        raise TooManyAttachments(f"{len(items)} attachments, the limit is {MAX_ATTACHMENTS}")


@dataclass(frozen=True)
class TipContent:
    """Everything the tipster told, as it is sealed: only desk and tipster keys open it.

    Category and region are repeated here (they are also in clear in `TipRecord`) so that
    the sealed content is complete on its own.
    """

    category: Category
    region: TipRegion
    text: str = ""
    place: str | None = None
    location: Location | None = None
    when: When | None = None
    attachments: tuple[AttachmentMeta, ...] = ()

    def __post_init__(self) -> None:
        _check_region(self.region)
        if len(self.text) > MAX_CONTENT_TEXT_CHARS:
            raise TextTooLong("tip text exceeds the limit")
        if self.place is not None and len(self.place) > MAX_PLACE_CHARS:
            raise TextTooLong("place exceeds the limit")
        _check_attachments(self.attachments)
        if not self.text and not self.attachments:
            raise IncompleteDraft("a tip needs text or an attachment")

    def to_json(self) -> bytes:
        """The bytes that get sealed."""
        return _dumps(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> TipContent:
        return _loads(raw, cls)


@dataclass(frozen=True)
class Draft:
    """A tip being written, kept in the chat state (encrypted with `crypto.draft_box`).

    Immutable: every step returns a new draft, so the dialogue engine stays a pure function.

    `submission` is the draft's submission id (32 random hex digits), given when the
    review is first shown and kept until the draft is dropped: the store keeps a tip only
    once per submission id, so sending the same draft again cannot make a second tip.
    """

    category: Category | None = None
    region: TipRegion | None = None
    place: str | None = None
    location: Location | None = None
    when: When | None = None
    parts: tuple[str, ...] = ()
    attachments: tuple[AttachmentRef, ...] = ()
    submission: str | None = None

    def __post_init__(self) -> None:
        if self.submission is not None:
            validate_submission(self.submission)
        if self.region is not None:
            _check_region(self.region)
        if self.place is not None and len(self.place) > MAX_PLACE_CHARS:
            raise TextTooLong("place exceeds the limit")
        if len(self.parts) > MAX_PARTS:
            raise TooManyParts(f"{len(self.parts)} parts, the limit is {MAX_PARTS}")
        for part in self.parts:
            if not part or len(part) > MAX_TEXT_CHARS:
                raise TextTooLong("a text part is empty or exceeds the limit")
        _check_attachments(self.attachments)

    def with_category(self, category: Category) -> Draft:
        return replace(self, category=category)

    def with_region(self, region: TipRegion) -> Draft:
        return replace(self, region=region)

    def with_place(self, place: str) -> Draft:
        return replace(self, place=clean_text(place, MAX_PLACE_CHARS))

    def with_location(self, lat: float, lon: float) -> Draft:
        """Keep a shared location, rounded to ≈1 km before it is stored anywhere."""
        return replace(self, location=Location.rounded(lat, lon))

    def with_when(self, when: When) -> Draft:
        return replace(self, when=when)

    def with_submission(self, submission: str) -> Draft:
        return replace(self, submission=validate_submission(submission))

    def add_text(self, text: str) -> Draft:
        """One more message of the tipster's account (at most `MAX_PARTS`)."""
        cleaned = clean_text(text)
        if len(self.parts) >= MAX_PARTS:
            raise TooManyParts(f"the limit is {MAX_PARTS} parts")
        return replace(self, parts=(*self.parts, cleaned))

    def add_attachment(self, ref: AttachmentRef) -> Draft:
        """One more attachment (at most `MAX_ATTACHMENTS`)."""
        if len(self.attachments) >= MAX_ATTACHMENTS:
            raise TooManyAttachments(f"the limit is {MAX_ATTACHMENTS} attachments")
        return replace(self, attachments=(*self.attachments, ref))

    @property
    def text(self) -> str:
        return PART_SEPARATOR.join(self.parts)

    @property
    def is_empty(self) -> bool:
        return not self.parts and not self.attachments

    def to_content(self, attachments: Sequence[AttachmentMeta] = ()) -> TipContent:
        """The content to seal, with the metadata of the attachments actually stored.

        Region defaults to `Elsewhere.UNKNOWN`: a tipster who does not want to say where
        must still be able to report.
        """
        if self.category is None:
            raise IncompleteDraft("no category chosen")
        if not self.parts and not attachments:
            raise IncompleteDraft("nothing written and nothing attached")
        return TipContent(
            category=self.category,
            region=self.region or Elsewhere.UNKNOWN,
            text=self.text,
            place=self.place,
            location=self.location,
            when=self.when,
            attachments=tuple(attachments),
        )

    def to_json(self) -> bytes:
        return _dumps(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Draft:
        return _loads(raw, cls)


@dataclass(frozen=True)
class Message:
    """One message of the thread between tipster and desk; sealed to both."""

    author: Author
    hour: datetime
    text: str
    attachments: tuple[AttachmentMeta, ...] = ()

    def __post_init__(self) -> None:
        _check_hour(self.hour)
        if len(self.text) > MAX_TEXT_CHARS:
            raise TextTooLong("message exceeds the limit")
        _check_attachments(self.attachments)
        if not self.text and not self.attachments:
            raise EmptyText("a message needs text or an attachment")

    def to_json(self) -> bytes:
        return _dumps(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Message:
        return _loads(raw, cls)


@dataclass(frozen=True)
class Note:
    """A staff note on a tip; sealed to the desk only (the tipster never sees it)."""

    actor: str
    hour: datetime
    text: str

    def __post_init__(self) -> None:
        _check_hour(self.hour)
        validate_account(self.actor)
        if not self.text or len(self.text) > MAX_TEXT_CHARS:
            raise TextTooLong("note is empty or exceeds the limit")

    def to_json(self) -> bytes:
        return _dumps(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Note:
        return _loads(raw, cls)


@dataclass(frozen=True)
class StatusChange:
    """One step of a tip's history; sealed to the desk (a reason may quote the tip)."""

    actor: str
    hour: datetime
    old: Status
    new: Status
    reason: str = ""
    forwarded_to: str | None = None

    def __post_init__(self) -> None:
        _check_hour(self.hour)
        validate_account(self.actor)
        if len(self.reason) > MAX_REASON_CHARS:
            raise TextTooLong("reason exceeds the limit")

    def to_json(self) -> bytes:
        return _dumps(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> StatusChange:
        return _loads(raw, cls)


@dataclass(frozen=True)
class TipRecord:
    """The public envelope of a tip: what the queue shows without any key.

    `lookup` is the keyed hash of the reference code (never the code). `sealed` is the
    serialised `crypto.Sealed` content and `tipster_public_key` the 32-byte key replies are
    sealed to. Times are UTC hours — the constructor refuses anything finer.
    """

    lookup: str
    status: Status
    category: Category
    region: TipRegion
    created_hour: datetime
    updated_hour: datetime
    sealed: bytes = field(repr=False)
    tipster_public_key: bytes = field(repr=False)
    assigned_to: str | None = None
    forwarded_to: str | None = None
    attachment_count: int = 0
    awaiting_reply: bool = False
    reference: Reference | None = None  # None until given (tips from before references)
    labels: tuple[str, ...] = ()  # as `normalise_label` leaves them, each once
    important: bool = False
    kept_until: datetime | None = None  # an admin's extension of retention (an hour)

    def __post_init__(self) -> None:
        _check_hour(self.created_hour)
        _check_hour(self.updated_hour)
        if self.kept_until is not None:
            _check_hour(self.kept_until)
        _check_region(self.region)
        if self.assigned_to is not None:
            validate_account(self.assigned_to)
        if len(self.tipster_public_key) != 32:
            raise TipValidationError("tipster public key must be 32 bytes")


@dataclass(frozen=True)
class TipView:
    """What a tipster sees with code and passphrase: status, their tip, and the thread."""

    status: Status
    created_hour: datetime
    updated_hour: datetime
    content: TipContent
    thread: tuple[Message, ...]


def validate_forwarded_to(value: str) -> str:
    """An organisation name (kept in clear for statistics): one short line."""
    cleaned = value.strip()
    if not cleaned or "\n" in cleaned or len(cleaned) > MAX_FORWARDED_TO_CHARS:
        raise TextTooLong(
            f"forwarded_to must be one line of at most {MAX_FORWARDED_TO_CHARS} characters"
        )
    return cleaned


def tidy_label(value: str) -> str:
    """A label as typed, trimmed with one space between words; `TextTooLong` when empty
    or longer than `MAX_LABEL_CHARS` (labels are kept in clear, so they stay short)."""
    cleaned = " ".join(_CONTROL_RE.sub("", value).split())
    if not cleaned or len(cleaned) > MAX_LABEL_CHARS:
        raise TextTooLong(f"a label is one line of at most {MAX_LABEL_CHARS} characters")
    return cleaned


def label_key(label: str) -> str:
    """What makes two spellings one label: case and spacing do not count."""
    return tidy_label(label).casefold()
