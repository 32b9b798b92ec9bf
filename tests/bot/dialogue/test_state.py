"""The chat state as stored: typed on the way in, the earlier versions' JSON still loads,
and whatever is damaged starts a fresh conversation rather than failing it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.dialogue.state import ChatState, Flow, Pending, Step
from bot.nlu.safety import Crisis
from tips.model import Draft

DRAFT = Draft().add_text("le dealer passe le soir").to_json().decode()
# A state as the version before typed states saved it (json.dumps, compact separators).
SAVED_BEFORE = json.dumps(
    {
        "locale": "bm",
        "chosen_locale": "bm",
        "drug": "tramadol",
        "pending": None,
        "service_kind": "treatment",
        "flow": "report",
        "step": "what",
        "draft": DRAFT,
        "code": None,
        "note": None,
        "quiz": "tramadol:01234:2:1",
        "campaign": "radio_segou",
        "danger": None,
        "deferred": None,
    },
    separators=(",", ":"),
)


def test_a_state_saved_by_the_previous_version_loads_typed() -> None:
    state = ChatState.from_json(SAVED_BEFORE)
    assert state == ChatState(
        locale="bm",
        chosen_locale="bm",
        drug="tramadol",
        service_kind="treatment",
        flow=Flow.REPORT,
        step=Step.WHAT,
        draft=DRAFT,
        quiz="tramadol:01234:2:1",
        campaign="radio_segou",
    )
    assert Draft.from_json(state.draft or "").parts == ("le dealer passe le soir",)


def test_a_check_in_waiting_for_an_answer_loads_its_danger() -> None:
    saved = '{"locale":"fr","pending":"checkin","danger":"overdose","deferred":"drug_risks"}'
    state = ChatState.from_json(saved)
    assert (state.pending, state.danger, state.deferred) == (
        Pending.CHECK_IN,
        Crisis.OVERDOSE,
        "drug_risks",
    )


def test_fields_written_by_another_version_are_ignored_and_missing_ones_defaulted() -> None:
    assert ChatState.from_json('{"locale":"en","mood":"happy"}') == ChatState(locale="en")


@pytest.mark.parametrize(
    "state",
    [
        ChatState(),
        ChatState(locale="fr", pending=Pending.CONFIRM_REPORT),
        ChatState(locale="en", flow=Flow.FOLLOWUP, step=Step.PASSPHRASE, code="K7QM2XPD"),
        ChatState(locale="fr", danger=Crisis.CHILD, deferred="rights"),
    ],
)
def test_what_is_written_reads_back_the_same(state: ChatState) -> None:
    assert ChatState.from_json(state.to_json()) == state


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"",
        "not json",
        "[1, 2]",
        '{"flow":"bogus","locale":"fr"}',
        '{"step":"elsewhere"}',
        '{"pending":"maybe"}',
        '{"danger":"bogus"}',
        '{"locale":5}',
    ],
)
def test_a_damaged_state_starts_a_fresh_conversation(raw: str | bytes | None) -> None:
    assert ChatState.from_json(raw) == ChatState()


@given(
    st.dictionaries(
        st.sampled_from(["locale", "flow", "step", "pending", "danger", "draft", "x"]),
        st.one_of(st.none(), st.text(max_size=12), st.integers(), st.booleans()),
    )
)
def test_any_stored_object_loads_as_a_state(data: dict[str, object]) -> None:
    assert isinstance(ChatState.from_json(json.dumps(data)), ChatState)
