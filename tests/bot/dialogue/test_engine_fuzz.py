"""Property-based fuzzing of the dialogue engine: whatever arrives, in whatever state,
the engine answers sensibly and leaves a consistent state.

Hypothesis generates texts (huge, empty, control characters, RTL, emoji, mixed scripts),
forged callback data, unknown commands, odd locations and attachments, states with values
the engine would not write (the schema types flow, step, pending and danger: see
test_state for stored states that are damaged) and arbitrary NLU readings. The number of cases is printed with `pytest -s` (see README).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.content import LOCALES
from bot.content.catalog import MAX_CALLBACK_BYTES
from bot.dialogue.engine import COMMANDS, Engine
from bot.dialogue.events import (
    AttachmentEvent,
    CommandEvent,
    Event,
    LocationEvent,
    TextEvent,
    UnsupportedEvent,
    button_event,
)
from bot.dialogue.state import ChatState, Flow, Pending, Step
from bot.nlu import Entity, Understanding
from bot.nlu.crisis import Assessment, Reason, Verdict
from bot.nlu.safety import Crisis
from tests.support.callbacks import KNOWN_ACTIONS
from tips.model import Draft

INTENTS = [
    "greet",
    "goodbye",
    "thanks",
    "affirm",
    "deny",
    "menu",
    "bot_challenge",
    "privacy_question",
    "change_language",
    "out_of_scope",
    "drug_info",
    "drug_risks",
    "drug_myths",
    "quit_help",
    "help_friend",
    "parent_advice",
    "peer_pressure",
    "find_treatment",
    "find_victim_help",
    "find_legal_help",
    "trafficking_info",
    "safe_migration",
    "rights",
    "report_tip",
    "followup_tip",
    "talk_to_human",
    "crisis",
    "nlu_fallback",
    "made_up_intent",
]
weird_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(blacklist_categories=()), max_size=50),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "‮ مرحبا ‏",
            "😂" * 40,
            "x" * 5000,
            "/",
            "/start x",
            "🆘 Urgence",
            "🆘 Farati",
            "K7QM-2XPD",
            "aaaa bbbb cccc dddd eeee",
        ]
    ),
)
# The service answers' own buttons: pages, cards, and forgeries of both.
SERVICE_ACTIONS = [
    "svc:more:Bamako:2",
    "svc:more:Bamako:0",
    "svc:more:Bamako:x",
    "svc:more:Bamako:99999",
    "svc:more:Atlantis:2",
    "svc:more:",
    "svc:info:chu-point-g-psychiatrie",
    "svc:info:ocs-direction-bamako",
    "svc:info:nope",
    "svc:info:",
    "svc:kind:emergency",
    "svc:regs:5",
    "svc:regs:99",
    "svc:regs:-5",
    "show:rights.drug_help",
]
events = st.one_of(
    weird_text.map(TextEvent),
    st.one_of(st.sampled_from(KNOWN_ACTIONS + SERVICE_ACTIONS), st.text(max_size=80)).map(
        button_event
    ),
    st.builds(
        CommandEvent,
        st.one_of(st.sampled_from(list(COMMANDS)), st.text(max_size=20)),
        st.text(max_size=64),
    ),
    st.builds(LocationEvent, st.floats(-90, 90), st.floats(-180, 180)),
    st.builds(
        AttachmentEvent,
        st.sampled_from(["photo", "voice", "video", "document", "gif"]),
        st.text(min_size=1, max_size=40),
        st.one_of(st.none(), st.integers(0, 30_000_000)),
        st.one_of(st.none(), st.text(max_size=30)),
    ),
    st.sampled_from(["sticker", "poll", "contact", "edited", "channel_post"]).map(UnsupportedEvent),
)
drafts = st.one_of(
    st.none(),
    st.just(Draft().to_json().decode()),
    st.just(Draft().add_text("quelque chose").to_json().decode()),
    st.text(max_size=60),
)
states = st.builds(
    ChatState,
    locale=st.one_of(st.none(), st.sampled_from(LOCALES), st.text(max_size=5)),
    chosen_locale=st.one_of(st.none(), st.sampled_from(LOCALES)),
    drug=st.one_of(st.none(), st.sampled_from(["tramadol", "cannabis", "nope"])),
    pending=st.one_of(st.none(), st.sampled_from(list(Pending))),
    danger=st.one_of(st.none(), st.sampled_from(list(Crisis))),
    deferred=st.one_of(st.none(), st.sampled_from(["drug_risks", "rights", "crisis", "bogus"])),
    service_kind=st.one_of(
        st.none(), st.sampled_from(["treatment", "shelter", "emergency", "legal_aid", "bogus"])
    ),
    flow=st.one_of(st.none(), st.sampled_from(list(Flow))),
    step=st.one_of(st.none(), st.sampled_from(list(Step))),
    draft=drafts,
    code=st.one_of(st.none(), st.just("K7QM2XPD"), st.text(max_size=10)),
    note=st.one_of(st.none(), st.text(max_size=20)),
)
readings = st.one_of(
    st.none(),
    st.builds(
        Understanding,
        intent=st.sampled_from(INTENTS),
        confidence=st.floats(0, 1),
        ranking=st.lists(st.tuples(st.sampled_from(INTENTS), st.floats(0, 1)), max_size=5).map(
            tuple
        ),
        entities=st.lists(
            st.builds(Entity, st.sampled_from(["drug", "place", "person"]), st.text(max_size=20)),
            max_size=3,
        ).map(tuple),
    ),
)
CASES = 400


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    event=events,
    state=states,
    reading=readings,
    crisis=st.one_of(
        st.none(),
        st.builds(
            Assessment,
            st.sampled_from(list(Verdict)),
            st.sampled_from(list(Reason)),
            st.one_of(st.none(), st.sampled_from(list(Crisis))),
            st.booleans(),
        ),
    ),
)
def test_any_event_in_any_state_gets_a_sensible_answer(
    engine: Engine,
    event: Event,
    state: ChatState,
    reading: Understanding | None,
    crisis: Assessment | None,
) -> None:
    if not isinstance(event, TextEvent):
        crisis = None  # the safety net only reads text
    turn = engine.respond(event, state, language_code="fr", understanding=reading, crisis=crisis)
    assert turn.replies or turn.effect is not None
    for reply in turn.replies:
        assert reply.text.strip()
        assert len(reply.text) <= 4096  # Telegram's limit
        for row in reply.buttons:
            for button in row:
                assert button.label.strip()
                assert 1 <= len(button.action.encode()) <= MAX_CALLBACK_BYTES
    assert turn.state.locale in LOCALES
    if turn.state.draft is not None and turn.state.draft != state.draft:
        Draft.from_json(turn.state.draft)  # whatever the engine writes is a valid draft
    ChatState.from_json(turn.state.to_json())
