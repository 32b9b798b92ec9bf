"""The tip model's rules: limits, rounding, life cycle and JSON round trips."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sini.regions import Region
from tips.model import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_PARTS,
    MAX_TEXT_CHARS,
    TIP_REGIONS,
    AttachmentKind,
    AttachmentMeta,
    AttachmentRef,
    AttachmentTooLarge,
    Author,
    Category,
    Draft,
    Elsewhere,
    EmptyText,
    IncompleteDraft,
    InvalidAccount,
    InvalidLocation,
    Location,
    MalformedData,
    Message,
    NaiveDatetime,
    NotAnHour,
    Note,
    Status,
    StatusChange,
    TextTooLong,
    TipContent,
    TipRecord,
    TipValidationError,
    TooManyAttachments,
    TooManyParts,
    UnknownRegion,
    When,
    floor_hour,
    hour_from_epoch,
    hour_to_epoch,
    tip_region,
    validate_account,
)

HOUR = datetime(2025, 3, 14, 14, tzinfo=timezone.utc)


def ref(n: int = 0, size: int | None = 1000) -> AttachmentRef:
    return AttachmentRef(AttachmentKind.PHOTO, f"file-{n}", size, "image/jpeg")


# ------------------------------------------------------------------ enums and life cycle


def test_enum_values_are_the_stored_names() -> None:
    assert [c.value for c in Category] == [
        "drug_trafficking",
        "human_trafficking",
        "child_exploitation",
        "sexual_exploitation",
        "other",
    ]
    assert [w.value for w in When] == ["today", "this_week", "earlier", "ongoing"]
    assert [s.value for s in Status] == ["new", "in_review", "forwarded", "closed", "rejected"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (Status.NEW, Status.IN_REVIEW),
        (Status.NEW, Status.REJECTED),
        (Status.IN_REVIEW, Status.FORWARDED),
        (Status.IN_REVIEW, Status.CLOSED),
        (Status.IN_REVIEW, Status.REJECTED),
        (Status.FORWARDED, Status.CLOSED),
        (Status.CLOSED, Status.IN_REVIEW),
        (Status.REJECTED, Status.IN_REVIEW),
    ],
)
def test_allowed_transitions(old: Status, new: Status) -> None:
    assert old.can_become(new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (Status.NEW, Status.FORWARDED),
        (Status.NEW, Status.CLOSED),
        (Status.NEW, Status.NEW),
        (Status.CLOSED, Status.NEW),
        (Status.REJECTED, Status.FORWARDED),
        (Status.FORWARDED, Status.NEW),
    ],
)
def test_refused_transitions(old: Status, new: Status) -> None:
    assert not old.can_become(new)


def test_only_closed_and_rejected_are_final() -> None:
    assert {s for s in Status if s.is_final} == {Status.CLOSED, Status.REJECTED}


# ------------------------------------------------------------------ time and place


def test_floor_hour_rounds_down_in_utc() -> None:
    bamako_noon = datetime(2025, 3, 14, 14, 59, 59, 999999, tzinfo=timezone.utc)
    assert floor_hour(bamako_noon) == HOUR
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2025, 3, 14, 16, 30, tzinfo=plus_two)
    rounded = floor_hour(local)
    assert rounded == HOUR
    assert rounded.utcoffset() == timedelta(0)


def test_floor_hour_refuses_naive_datetimes() -> None:
    with pytest.raises(NaiveDatetime):
        floor_hour(datetime(2025, 3, 14, 14, 30))


def test_hours_convert_to_epoch_and_back_but_nothing_finer() -> None:
    assert hour_from_epoch(hour_to_epoch(HOUR)) == HOUR
    assert hour_to_epoch(HOUR) % 3600 == 0
    with pytest.raises(NotAnHour):
        hour_to_epoch(HOUR + timedelta(minutes=1))
    with pytest.raises(NotAnHour):
        hour_from_epoch(hour_to_epoch(HOUR) + 1)


def test_location_is_rounded_to_about_a_kilometre() -> None:
    loc = Location.rounded(12.639231, -8.002889)
    assert (loc.lat, loc.lon) == (12.64, -8.0)
    with pytest.raises(InvalidLocation):
        Location(12.639231, -8.0)  # the constructor never accepts an exact position
    for lat, lon in [(91.0, 0.0), (0.0, 181.0), (float("nan"), 0.0), (0.0, float("inf"))]:
        with pytest.raises(InvalidLocation):
            Location.rounded(lat, lon)


def test_regions_are_a_closed_list() -> None:
    """Mali's regions, abroad and unknown: free text there could name someone."""
    assert (*Region, Elsewhere.ABROAD, Elsewhere.UNKNOWN) == TIP_REGIONS
    assert tip_region("bamako") is Region.BAMAKO
    assert tip_region("unknown") is Elsewhere.UNKNOWN
    with pytest.raises(UnknownRegion):
        tip_region("chez Moussa, rue 12")
    with pytest.raises(UnknownRegion):
        Draft(region="segou")  # type: ignore[arg-type]


def test_tips_stored_before_the_regions_were_typed_read_back_the_same() -> None:
    """Stored tips keep the region keys they were written with ("segou", "unknown")."""
    for key in ("segou", "nioro", "abroad", "unknown"):
        raw = b'{"category":"other","region":"%s","text":"x"}' % key.encode()
        content = TipContent.from_json(raw)
        assert content.region is tip_region(key)
        assert f'"region":"{key}"'.encode() in content.to_json()
    assert Draft.from_json(b'{"region":"kayes"}').region is Region.KAYES


def test_account_names_are_slugs() -> None:
    assert validate_account("awa.t") == "awa.t"
    for bad in ["", "Awa", "a b", "a:b", "x" * 65, "-x"]:
        with pytest.raises(InvalidAccount):
            validate_account(bad)


# ------------------------------------------------------------------ drafts


def test_a_draft_is_built_step_by_step_without_mutation() -> None:
    empty = Draft()
    draft = (
        empty.with_category(Category.DRUG_TRAFFICKING)
        .with_region(Region.SEGOU)
        .with_place("  près du marché  ")
        .with_location(13.4317, -6.2157)
        .with_when(When.ONGOING)
        .add_text(" des comprimés rouges vendus aux élèves ")
        .add_text("le soir")
        .add_attachment(ref())
    )
    assert empty == Draft()
    assert empty.is_empty
    assert draft.place == "près du marché"
    assert draft.location == Location(13.43, -6.22)
    assert draft.parts == ("des comprimés rouges vendus aux élèves", "le soir")
    assert draft.text == "des comprimés rouges vendus aux élèves\n\nle soir"


def test_text_limits() -> None:
    draft = Draft().add_text("x" * MAX_TEXT_CHARS)
    with pytest.raises(TextTooLong):
        draft.add_text("x" * (MAX_TEXT_CHARS + 1))
    with pytest.raises(EmptyText):
        draft.add_text(" \n\t ")
    for _ in range(MAX_PARTS - 1):
        draft = draft.add_text("encore")
    with pytest.raises(TooManyParts):
        draft.add_text("one too many")


def test_control_characters_are_dropped() -> None:
    assert Draft().add_text("a\x00b\x1bc\nd").parts == ("abc\nd",)


def test_attachment_limits() -> None:
    draft = Draft()
    for n in range(MAX_ATTACHMENTS):
        draft = draft.add_attachment(ref(n))
    with pytest.raises(TooManyAttachments):
        draft.add_attachment(ref(99))
    AttachmentRef(AttachmentKind.VOICE, "f", MAX_ATTACHMENT_BYTES)
    with pytest.raises(AttachmentTooLarge):
        AttachmentRef(AttachmentKind.VOICE, "f", MAX_ATTACHMENT_BYTES + 1)
    with pytest.raises(AttachmentTooLarge):
        AttachmentMeta(AttachmentKind.DOCUMENT, "application/pdf", MAX_ATTACHMENT_BYTES + 1)


def test_draft_json_round_trip() -> None:
    draft = (
        Draft()
        .with_category(Category.CHILD_EXPLOITATION)
        .with_region(Region.MOPTI)
        .with_place("orpailleurs")
        .with_location(14.49, -4.19)
        .with_when(When.THIS_WEEK)
        .add_text("des enfants travaillent sur le site")
        .add_attachment(ref(1))
        .add_attachment(AttachmentRef(AttachmentKind.VOICE, "v", None, None))
    )
    raw = draft.to_json()
    assert isinstance(raw, bytes)
    assert Draft.from_json(raw) == draft
    assert Draft.from_json(Draft().to_json()) == Draft()


@given(st.lists(st.text(min_size=1, max_size=200).filter(lambda t: t.strip()), max_size=MAX_PARTS))
def test_any_text_survives_the_json_round_trip(parts: list[str]) -> None:
    draft = Draft()
    for part in parts:
        try:
            draft = draft.add_text(part)
        except EmptyText:  # only control characters
            continue
    assert Draft.from_json(draft.to_json()) == draft


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"category": "weapons"}',
        b'{"parts": "not a list"}',
        b'{"parts": [1, 2]}',
        b'{"region": "nowhere"}',
        b'{"location": {"lat": 12.123456, "lon": 1}}',
        b'{"attachments": [{"kind": "photo"}]}',
        b'{"parts": ["' + b"x" * (MAX_TEXT_CHARS + 1) + b'"]}',
    ],
)
def test_malformed_draft_json_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedData):
        Draft.from_json(raw)


def test_to_content_needs_a_category_and_something_said() -> None:
    with pytest.raises(IncompleteDraft):
        Draft().add_text("x").to_content()
    with pytest.raises(IncompleteDraft):
        Draft().with_category(Category.OTHER).to_content()
    content = Draft().with_category(Category.OTHER).add_text("x").to_content()
    assert content.region is Elsewhere.UNKNOWN
    meta = AttachmentMeta(AttachmentKind.PHOTO, "image/jpeg", 1234)
    only_photo = Draft().with_category(Category.OTHER).add_attachment(ref()).to_content([meta])
    assert only_photo.attachments == (meta,)
    assert only_photo.text == ""


# ------------------------------------------------------------------ sealed values


def test_content_json_round_trip() -> None:
    content = TipContent(
        category=Category.HUMAN_TRAFFICKING,
        region=Elsewhere.ABROAD,
        text="on leur promet du travail en Algérie",
        place="gare routière",
        location=Location.rounded(12.65, -7.98),
        when=When.EARLIER,
        attachments=(AttachmentMeta(AttachmentKind.VOICE, "audio/ogg", 42, 0),),
    )
    assert TipContent.from_json(content.to_json()) == content
    with pytest.raises(MalformedData):
        TipContent.from_json(b'{"category": "other", "region": "bamako", "text": ""}')


def test_thread_messages_notes_and_history_round_trip() -> None:
    message = Message(Author.TIPSTER, HOUR, "encore une chose")
    note = Note("awa", HOUR, "appeler la brigade")
    change = StatusChange("awa", HOUR, Status.IN_REVIEW, Status.FORWARDED, "grave", "OCS")
    assert Message.from_json(message.to_json()) == message
    assert Note.from_json(note.to_json()) == note
    assert StatusChange.from_json(change.to_json()) == change
    with pytest.raises(NotAnHour):
        Message(Author.DESK, HOUR + timedelta(seconds=1), "x")
    with pytest.raises(MalformedData):
        Message.from_json(b'{"author":"desk","hour":1741961001,"text":"x","attachments":[]}')


def test_a_record_never_holds_a_time_finer_than_an_hour() -> None:
    fields = {
        "lookup": "ab" * 16,
        "status": Status.NEW,
        "category": Category.OTHER,
        "region": Region.KAYES,
        "sealed": b"x",
        "tipster_public_key": b"k" * 32,
    }
    TipRecord(created_hour=HOUR, updated_hour=HOUR, **fields)  # type: ignore[arg-type]
    with pytest.raises(NotAnHour):
        TipRecord(created_hour=HOUR.replace(minute=5), updated_hour=HOUR, **fields)  # type: ignore[arg-type]
    with pytest.raises(NaiveDatetime):
        TipRecord(created_hour=HOUR.replace(tzinfo=None), updated_hour=HOUR, **fields)  # type: ignore[arg-type]


def test_a_draft_keeps_its_submission_id_and_refuses_anything_else_there() -> None:
    """The id that makes a draft one tip however often it is sent: random hex only, so
    nothing typed can reach the key derived from it."""
    draft = Draft().with_category(Category.OTHER).add_text("x").with_submission("ab" * 16)
    assert Draft.from_json(draft.to_json()).submission == "ab" * 16
    assert draft.add_text("y").submission == "ab" * 16, "kept while more is added"
    assert Draft.from_json(b'{"parts": ["x"]}').submission is None  # a draft from before
    for bad in ("AB" * 16, "ab" * 15, "chez Moussa", ""):
        with pytest.raises(TipValidationError):
            Draft().with_submission(bad)
    with pytest.raises(MalformedData):
        Draft.from_json(b'{"submission": "chez Moussa, rue 12, 00000000000000"}')


def test_values_sealed_in_the_first_json_form_are_still_read() -> None:
    """Tips stay sealed for months: the form written before hours became RFC 3339 strings
    (epoch seconds, "ref"/"mime" keys, a "v") must open the same."""
    message = Message.from_json(
        b'{"v":1,"author":"tipster","hour":1741960800,"text":"encore",'
        b'"attachments":[{"kind":"photo","mime":"image/jpeg","size":12,"index":1}]}'
    )
    assert message == Message(
        Author.TIPSTER, HOUR, "encore", (AttachmentMeta(AttachmentKind.PHOTO, "image/jpeg", 12, 1),)
    )
    change = StatusChange.from_json(
        b'{"v":1,"actor":"awa","hour":1741960800,"old":"new","new":"in_review",'
        b'"reason":"","forwarded_to":null}'
    )
    assert change == StatusChange("awa", HOUR, Status.NEW, Status.IN_REVIEW)
    draft = Draft.from_json(
        b'{"v":1,"category":"other","region":"gao","place":null,"location":{"lat":12.65,"lon":-7.98},'
        b'"when":null,"parts":["x"],"attachments":[{"kind":"voice","ref":"AgAD","size":null,"mime":null}],'
        b'"submission":null}'
    )
    assert draft.attachments == (AttachmentRef(AttachmentKind.VOICE, "AgAD"),)
    assert draft.location == Location(12.65, -7.98)
    assert "AgAD" not in repr(draft), "Telegram's file id stays out of reprs and logs"
