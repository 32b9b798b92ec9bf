"""The dialogue engine: (event, state, understanding) → replies and the next state.

Pure: no I/O, no clock, no Telegram. Everything the user reads is looked up in the
content catalog, so this module holds decisions, never wording.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from bot.awareness import Quiz
from bot.awareness.quiz import AnswerChoice, StartQuiz
from bot.content import LOCALES, Button, Catalog, negotiate_locale
from bot.content.catalog import UNSHOWABLE_PREFIXES
from bot.dialogue.actions import (
    Action,
    AskIntent,
    Confirm,
    CounselJoin,
    CounselOffer,
    Do,
    FlowAction,
    FollowupButton,
    MoreChoices,
    MoreServices,
    PickKind,
    RegionPage,
    ReportButton,
    ReportCategory,
    ReportRegion,
    ReportWhen,
    ServiceAction,
    ServiceInfo,
    ServicesIn,
    SetLanguage,
    Show,
    ShowPart,
    ShowSources,
    encode,
)
from bot.dialogue.cards import (
    PHONE_TEXT_LIMIT,
    national_line,
    service_card,
    service_line,
)
from bot.dialogue.counsel import CounselFlow
from bot.dialogue.effects import (
    CounselFeedback,
    Effect,
    EndCounselling,
    Failure,
    OfferCounsellor,
    Outcome,
    Relay,
    RequestCounsellor,
    Subscribe,
    Unsubscribe,
)
from bot.dialogue.events import (
    AttachmentEvent,
    ButtonEvent,
    CommandEvent,
    CounsellorEnded,
    Event,
    ExpiredButtonEvent,
    LocationEvent,
    TextEvent,
    UnsupportedEvent,
)
from bot.dialogue.quizzes import QuizFlow
from bot.dialogue.replies import Key, Reply, Turn
from bot.dialogue.report import TipFlows
from bot.dialogue.screens import Screens, split_reply
from bot.dialogue.state import ChatState, Flow, Pending
from bot.nlu import CRISIS_INTENT, FALLBACK_INTENT, Understanding
from bot.nlu.crisis import Assessment, Verdict
from bot.nlu.keywords import drug_in_text
from bot.nlu.language import guess_language
from bot.nlu.safety import Crisis
from bot.services import KINDS, Service
from bot.services.ranking import (
    NEAR_KM,
    Placed,
    in_region_ranked,
    national_lines,
    near,
    nearest_elsewhere,
    offers_exactly,
)
from sini import regions
from sini.counselling.model import Origin
from sini.regions import Region
from sini.textmatch import fold

DRUGS = (
    "tramadol",
    "cannabis",
    "cocaine",
    "crack",
    "heroin",
    "methamphetamine",
    "synthetic",
    "solvents",
    "alcohol",
    "codeine",
)
# Intents about one drug, and the aspect of the drug's content each one asks for.
DRUG_ASPECTS = {
    "drug_info": "about",
    "drug_risks": "effects",
    "drug_myths": "myths",
    "quit_help": "quit",
    "help_friend": "friend",
}
# Intents answered by an action rather than by a message.
ACTION_INTENTS: dict[str, Action] = {
    "menu": Do.MENU,
    "change_language": Do.LANGUAGE,
    "report_tip": Confirm.REPORT,
    "followup_tip": Do.FOLLOWUP,
}
# Intents that look for a service, and the kind of service each one wants.
SERVICE_INTENTS = {
    "find_treatment": "treatment",
    "find_victim_help": "victim_assistance",
}
# Kinds offered as buttons (emergency lines are in every answer anyway).
ASKED_KINDS = ("treatment", "victim_assistance", "legal_aid", "shelter", "psychosocial")
ANY_KIND = "any"
PAGE_SIZE = 3  # services listed in one message
# The region picker's order: the capital, where most people live, then by name.
REGION_ORDER = tuple(sorted(Region, key=lambda r: (r is not Region.BAMAKO, fold(r.label))))
MAX_BUTTONS = 6  # inline buttons in one message: more do not fit a phone
MAX_OFFSET = 1000  # "Plus…" pages further than any region's list are forged
# Intents a clarifying menu never offers: they are not topics.
NOT_TOPICS = {FALLBACK_INTENT, "out_of_scope", "affirm", "deny", "greet", "goodbye", "thanks"}
COMMANDS: dict[str, Do] = {
    "start": Do.START,
    "help": Do.MENU,
    "aide": Do.MENU,
    "menu": Do.MENU,
    "language": Do.LANGUAGE,
    "langue": Do.LANGUAGE,
    "cancel": Do.CANCEL,
    "annuler": Do.CANCEL,
    "urgence": Do.EMERGENCY,
    "emergency": Do.EMERGENCY,
    "sos": Do.EMERGENCY,
    "report": Do.REPORT,
    "signaler": Do.REPORT,
    "services": Do.SERVICES,
    "suivi": Do.FOLLOWUP,
    "followup": Do.FOLLOWUP,
    "quiz": Do.QUIZ,
    "abonner": Do.SUBSCRIBE,
    "subscribe": Do.SUBSCRIBE,
    "stop": Do.UNSUBSCRIBE,
    "desabonner": Do.UNSUBSCRIBE,
}
TALK_INTENT = "talk_to_human"  # "I want to talk to a person": the counselling offer
MAX_TEXT_FOR_NLU = 1000
CLARIFY_CHOICES = 3
CLARIFY_BEFORE_OFFER = 2  # clarifying menus in a row before a counsellor is offered


@dataclass(frozen=True)
class Page:
    """A list of services as one message: header lines, the services (with a heading
    before some of them), then what follows (local help, the emergency line) and the
    national lines that fit the need."""

    intro: list[str]
    entries: Sequence[Placed]
    headings: Mapping[int, str]
    outro: list[str] = field(default_factory=list)
    national: str | None = None

    def text(self, catalog: Catalog, locale: str, shown: int, national: str | None) -> str:
        lines = []
        for index, placed in enumerate(self.entries[:shown]):
            if index in self.headings:
                lines.append(self.headings[index])
            lines.append(service_line(catalog, placed, locale))
        tail = [national] if national else []
        parts = [*self.intro, "\n".join(lines), *tail, *self.outro]
        return "\n\n".join(part for part in parts if part)


class Engine:
    """Decides what to answer; holds only immutable configuration."""

    def __init__(
        self,
        catalog: Catalog,
        services: Sequence[Service],
        confidence_threshold: float,
        quizzes: Mapping[str, Quiz] | None = None,
        drug_names: Mapping[str, str] | None = None,
    ) -> None:
        """`drug_names` (folded name → drug, see `bot.nlu.keywords`) lets the bot still
        point to the right card when the NLU is down."""
        self.catalog = catalog
        self.drug_names = dict(drug_names or {})
        self.services = tuple(services)
        self.quizzes = QuizFlow(catalog, quizzes or {})
        self.threshold = confidence_threshold
        self.flows = TipFlows(catalog, self._keyboard)
        self.counsel = CounselFlow(catalog)
        self.screens = Screens(catalog, frozenset(filter(self._showable, catalog.ids)))
        self._keyboard_actions = {
            catalog.render(message_id, locale).text.casefold(): action
            for locale in LOCALES
            for message_id, action in (("key.emergency", Do.EMERGENCY), ("key.menu", Do.MENU))
        }

    # ----------------------------------------------------------------- what a turn needs

    def needs_nlu(self, event: Event, state: ChatState) -> bool:
        """Only free text outside a report or follow-up, and not a keyboard label, goes to
        the classifier: what a tipster writes is never parsed, counted or logged."""
        return (
            isinstance(event, TextEvent)
            and state.flow is None
            and bool(clean_text(event.text))
            and self._keyboard_action(event) is None
            and not event.text.lstrip().startswith("/")
        )

    @staticmethod
    def needs_storage(event: Event) -> bool:
        """Whether answering needs the stored state whatever it holds: a report's or a
        follow-up's buttons act on the stored draft (without Redis, they wait)."""
        match event:
            case ButtonEvent(action=action):
                return isinstance(action, FlowAction)
        return False

    def is_unsure(self, reading: Understanding) -> bool:
        """A reading the engine does not act on: the clarifying menu answers instead."""
        return reading.intent == FALLBACK_INTENT or reading.confidence < self.threshold

    def leaves_flow(self, event: Event) -> bool:
        """Navigating elsewhere (a command, a menu button or key) ends a report or follow-up;
        the flow's own buttons, /annuler and the emergency numbers do not, and neither
        does what is not navigation (a mistyped command, a button that cannot be read)."""
        match event:
            case ButtonEvent(action=action):
                return not keeps_flow(action)
            case CommandEvent(name=name):
                command = COMMANDS.get(name.casefold())
                return command is not None and not keeps_flow(command)
            case TextEvent():
                key = self._keyboard_action(event)
                return key is not None and not keeps_flow(key)
        return False

    # ----------------------------------------------------------------- entry points

    def respond(
        self,
        event: Event,
        state: ChatState,
        *,
        language_code: str | None = None,
        understanding: Understanding | None = None,
        crisis: Assessment | None = None,
        campaign: tuple[str, str, str | None] | None = None,
    ) -> Turn:
        """Answer one event. `understanding` is None when the NLU was not asked or is down;
        `campaign` is (payload, target, language) when /start came with a known deep link;
        `crisis` is the crisis net's assessment of a text (None: not assessed)."""
        turn = self._respond(
            event,
            state,
            language_code=language_code,
            understanding=understanding,
            crisis=crisis,
            campaign=campaign,
        )
        if turn.topic != "clarify" and turn.state.clarified:
            turn = replace(turn, state=replace(turn.state, clarified=0))
        if state.flow is Flow.COUNSEL:
            return self.counsel.kept_open(turn, state)
        return turn

    def _respond(
        self,
        event: Event,
        state: ChatState,
        *,
        language_code: str | None,
        understanding: Understanding | None,
        crisis: Assessment | None,
        campaign: tuple[str, str, str | None] | None,
    ) -> Turn:
        state = sanitize(state)
        if state.locale is None:
            state = replace(state, locale=negotiate_locale(language_code))
        if isinstance(event, TextEvent) and state.chosen_locale is None:
            state = replace(state, locale=guess_language(event.text) or state.locale)
        if state.flow is Flow.COUNSEL:
            in_conversation = self._in_conversation(event, state, crisis)
            if in_conversation is not None:
                return in_conversation
        elif state.flow is not None and self.leaves_flow(event):
            left = self.flows.end(state)
            rest = self.respond(
                event,
                left,
                language_code=language_code,
                understanding=understanding,
                crisis=crisis,
                campaign=campaign,
            )
            if state.flow is not Flow.REPORT:
                return rest
            notice = Reply(self.catalog.render("report.left", left.language).text, protect=True)
            return replace(rest, replies=(notice, *rest.replies))
        if state.flow in (Flow.REPORT, Flow.FOLLOWUP) and self.is_flow_input(event):
            in_flow = self._in_flow(event, state, crisis)
            if in_flow is not None:
                return in_flow
        match event:
            case ButtonEvent(action=action):
                return self._action(action, state)
            case ExpiredButtonEvent():
                return self._expired(state)
            case CommandEvent() if campaign is not None:
                return self._campaign(*campaign, state)
            case CommandEvent(name=name):
                command = COMMANDS.get(name.casefold())
                if command is None:
                    return self._say(
                        "error.unknown_command", state, topic="unknown_command", then_menu=True
                    )
                return self._do(command, state, None)
            case LocationEvent(latitude=latitude, longitude=longitude):
                return self._nearby(latitude, longitude, state)
            case AttachmentEvent():
                return self._say(
                    "error.attachment_outside_report", state, topic=None, then_menu=True
                )
            case UnsupportedEvent(kind=kind):
                message_id = "error.edited" if kind == "edited" else "error.unsupported"
                return self._say(message_id, state, topic=None)
            case TextEvent():
                return self._text(event, state, understanding, crisis)
            case CounsellorEnded():
                return self.counsel.counsellor_ended(event, state)

    def _keyboard_action(self, event: TextEvent) -> Do | None:
        """The action of a reply-keyboard key, when the text is its label."""
        return self._keyboard_actions.get(clean_text(event.text).casefold())

    def is_flow_input(self, event: Event) -> bool:
        """What a report or follow-up in progress takes as its input: text (but not a
        key's label: the keys navigate), a place, a file."""
        match event:
            case TextEvent():
                return self._keyboard_action(event) is None
            case LocationEvent() | AttachmentEvent():
                return True
        return False

    def resolve(self, effect: Effect, outcome: Outcome, state: ChatState) -> Turn:
        """Answer once the assistant has performed a turn's effect."""
        match effect, outcome:
            case Subscribe() | Unsubscribe(), Failure.UNSUPPORTED:
                return self._say("subscribe.unsupported", state, topic=None, then_menu=True)
            case Subscribe() | Unsubscribe(), Failure():
                return self._say("error.storage_down", state, topic=None)
            case (
                RequestCounsellor()
                | OfferCounsellor()
                | Relay()
                | EndCounselling()
                | CounselFeedback(),
                _,
            ):
                return self.counsel.resolve(effect, outcome, state)
            case Subscribe(), _:
                return self._say("subscribe.done", state, topic="subscribe.done", then_menu=True)
            case Unsubscribe(), _:
                return self._say(
                    "unsubscribe.done", state, topic="unsubscribe.done", then_menu=True
                )
        return self.flows.resolve(effect, outcome, state)

    def _campaign(self, payload: str, target: str, language: str | None, state: ChatState) -> Turn:
        """A deep link from a poster or a radio spot: open its quiz or message directly, in
        the poster's language unless the user already chose one."""
        state = replace(state, campaign=payload)
        if language in LOCALES and state.chosen_locale is None:
            state = replace(state, locale=language)
        opened = self.quizzes.begin(target, state)
        if opened is None and target in self.catalog:
            opened = self._say(target, state, topic=f"campaign.{target}")
        if opened is None:
            return self._do(Do.START, state, None)
        locale = state.language
        welcome = Reply(
            self.catalog.render("welcome", locale).text, keyboard=self._keyboard(locale)
        )
        return replace(opened, replies=(welcome, *opened.replies))

    def _in_conversation(
        self, event: Event, state: ChatState, crisis: Assessment | None
    ) -> Turn | None:
        """An event while talking to a counsellor: texts (not a key's label) go to the
        counsellor, and a sure crisis is answered at once too — the counsellor sees the
        conversation's risk rise. None: answered as usual, the conversation going on."""
        if isinstance(event, TextEvent) and self._keyboard_action(event) is not None:
            return None
        turn = self.counsel.event(event, state, crisis)
        if turn is None or crisis is None or not crisis.is_crisis:
            return turn
        alarm = self._crisis(crisis.kind, state)
        return replace(turn, replies=(*alarm.replies, *turn.replies), topic=alarm.topic)

    def _in_flow(self, event: Event, state: ChatState, crisis: Assessment | None) -> Turn | None:
        """A report or follow-up step. A crisis inside a report is answered first and what
        was written is still kept in the draft: nothing a tipster says is lost. (A tip
        describes danger by nature: only a sure crisis interrupts it, never a check-in.)"""
        turn = self.flows.event(event, state)
        if crisis is None or not crisis.is_crisis:
            return turn
        alarm = self._crisis(crisis.kind, state)
        if turn is None:
            return alarm
        return Turn((*alarm.replies, *turn.replies), turn.state, topic=alarm.topic)

    # ----------------------------------------------------------------- free text

    def _text(
        self,
        event: TextEvent,
        state: ChatState,
        understanding: Understanding | None,
        crisis: Assessment | None,
    ) -> Turn:
        match crisis:
            case Assessment(verdict=Verdict.CRISIS, kind=kind):
                return self._crisis(kind, state)
            case Assessment(verdict=Verdict.CHECK_IN, kind=kind):
                return self._check_in(kind, understanding, state)
            case Assessment(footer=True):
                answer = self._answer(event, state, understanding)
                return self._with_footer(answer)
        return self._answer(event, state, understanding)

    def _answer(
        self, event: TextEvent, state: ChatState, understanding: Understanding | None
    ) -> Turn:
        """The ordinary answer to a free text."""
        text = clean_text(event.text)
        if not text:
            return self._say("error.empty", state, topic=None, then_menu=True)
        key = self._keyboard_action(event)
        if key is not None:
            return self._do(key, state, None)
        if text.startswith("/"):
            return self._say(
                "error.unknown_command", state, topic="unknown_command", then_menu=True
            )
        if not any(c.isalnum() for c in text):
            return self._say("error.no_words", state, topic=None, then_menu=True)
        if understanding is None:
            return self._nlu_down(text, state)
        if state.pending is Pending.CHECK_IN and understanding.intent in ("affirm", "deny"):
            return self._after_check_in(understanding.intent == "affirm", state)
        if state.pending is Pending.CONFIRM_REPORT and understanding.intent in ("affirm", "deny"):
            return self._do(Do.REPORT if understanding.intent == "affirm" else Do.MENU, state, None)
        if self.is_unsure(understanding):
            return self._clarify(understanding, state)
        return self._intent(
            understanding.intent,
            understanding.entity("drug"),
            state,
            place=understanding.entity("place"),
        )

    def _intent(
        self, intent: str, drug: str | None, state: ChatState, place: str | None = None
    ) -> Turn:
        state = replace(state, pending=None)
        if intent == CRISIS_INTENT:
            return self._crisis(None, state)
        if intent in SERVICE_INTENTS:
            kind = SERVICE_INTENTS[intent]
            region = regions.of_place(place) if place else None
            if region is not None:
                return self._in_region(region, replace(state, service_kind=kind), topic=intent)
            return self._ask_where(replace(state, service_kind=kind), topic=intent)
        if intent in DRUG_ASPECTS:
            drug = drug if drug in DRUGS else state.drug
            if drug is not None:
                message_id = f"drug.{drug}.{DRUG_ASPECTS[intent]}"
                if message_id in self.catalog:
                    return self._say(message_id, replace(state, drug=drug), topic=intent)
        if intent in ACTION_INTENTS:
            return self._action(ACTION_INTENTS[intent], state, topic=intent)
        if intent == TALK_INTENT:
            return self.counsel.offer(state, Origin.INTENT)
        message_id = f"intent.{intent}"
        if message_id not in self.catalog:
            return self._clarify(None, state)
        return self._say(message_id, state, topic=intent)

    def _nlu_down(self, text: str, state: ChatState) -> Turn:
        """Free text while the NLU is down: say so kindly and, as a keyword fallback, offer
        the card of a drug the text names and the services of a place it names, then the
        menu — buttons still work."""
        locale = state.language
        rendered = self.catalog.render("error.nlu_down", locale)
        guesses: list[tuple[Button, ...]] = []
        drug = drug_in_text(text, self.drug_names)
        if drug is not None:
            action = encode(Show(f"drug.{drug}.about"))
            guesses.extend(
                (button,)
                for row in self.catalog.render("drugs.menu", locale).buttons
                for button in row
                if button.action == action
            )
        region = regions.in_text(text)
        if region is not None:
            guesses.append((Button(region.label, encode(ServicesIn(region.label))),))
        buttons = (*guesses, *self.catalog.render("menu.short", locale).buttons)
        return Turn((Reply(rendered.text, buttons),), state, topic="nlu_down")

    def _clarify(self, understanding: Understanding | None, state: ChatState) -> Turn:
        """Offer the likeliest topics as buttons instead of guessing."""
        candidates = [
            name
            for name, _ in (understanding.ranking if understanding else ())
            if name not in NOT_TOPICS and f"topic.{name}" in self.catalog
        ][:CLARIFY_CHOICES]
        locale = state.language
        state = replace(state, clarified=state.clarified + 1)
        offer = state.clarified == CLARIFY_BEFORE_OFFER
        rendered = self.catalog.render("clarify", locale)
        buttons = (
            tuple(
                (replace_label(self.catalog, f"topic.{name}", locale, AskIntent(name)),)
                for name in candidates
            )
            + self.catalog.render("menu.short", locale).buttons
        )
        return Turn(
            (Reply(rendered.text, buttons),),
            state,
            topic="clarify",
            effect=self._offer(state, Origin.CLARIFY) if offer else None,
        )

    # ----------------------------------------------------------------- actions

    def _action(self, action: Action, state: ChatState, topic: str | None = None) -> Turn:
        """Run a button's, a command's or a key's action; one that no longer makes sense
        (a stale button, a forged one) is refused kindly."""
        turn: Turn | None = None
        match action:
            case Show(message_id) if self._showable(message_id):
                drug = message_id.split(".")[1] if message_id.startswith("drug.") else state.drug
                turn = self._say(message_id, replace(state, drug=drug), topic=topic or message_id)
            case ShowPart(message_id, part) if self._showable(message_id):
                locale = state.language
                menu = self.catalog.render("menu.short", locale).buttons
                page = self.screens.page(message_id, locale, part, fallback=menu)
                turn = Turn((page,), state, topic=topic or message_id) if page else None
            case MoreChoices(message_id, start) if message_id in self.catalog:
                choices = self.screens.choices(message_id, start, state.language)
                turn = Turn((choices,), state, topic="screen.more") if choices else None
            case ShowSources(message_id) if message_id in self.catalog:
                sources = self.screens.sources(message_id, state.language)
                turn = Turn(sources, state, topic="screen.sources") if sources else None
            case SetLanguage(locale) if locale in LOCALES:
                state = replace(state, locale=locale, chosen_locale=locale)
                turn = self._say("language.set", state, topic="language", then_menu=True)
            case AskIntent("report_tip") if "topic.report_tip" in self.catalog:
                turn = self._do(Do.REPORT, state, "report_tip")
            case AskIntent(intent) if f"topic.{intent}" in self.catalog:
                turn = self._intent(intent, None, state)
            case PickKind() | ServicesIn() | RegionPage() | MoreServices() | ServiceInfo():
                turn = self._service_action(action, state)
            case StartQuiz() | AnswerChoice():
                turn = self.quizzes.action(action, state)
            case ReportButton() | ReportCategory() | ReportRegion() | ReportWhen():
                turn = self.flows.action(action, state)
            case CounselOffer(origin):
                turn = self.counsel.offer(state, origin)
            case CounselJoin(origin):
                turn = self.counsel.join(origin, state)
            case FollowupButton.ADD:
                turn = self.flows.followup_add(state)
            case Confirm.REPORT:
                state = replace(state, pending=Pending.CONFIRM_REPORT)
                turn = self._say("report.confirm", state, topic=topic or "report_tip")
            case Do():
                turn = self._do(action, state, topic)
        return turn if turn is not None else self._expired(state)

    def _showable(self, message_id: str) -> bool:
        """Keyboard labels and topic names are messages, but not ones to show."""
        return message_id in self.catalog and not message_id.startswith(UNSHOWABLE_PREFIXES)

    def _expired(self, state: ChatState) -> Turn:
        return self._say("error.expired_button", state, topic="bad_button", then_menu=True)

    def _do(self, action: Do, state: ChatState, topic: str | None) -> Turn:
        state = replace(state, pending=None)
        topic = topic or action.value
        match action:
            case Do.START:
                locale = state.language
                welcome = self.catalog.render("welcome", locale)
                reply = Reply(welcome.text, keyboard=self._keyboard(locale))
                menu = self._say("menu.main", state, topic=None).replies
                return Turn((reply, *menu), state, topic="start")
            case Do.MENU:
                return self._say("menu.main", state, topic=topic)
            case Do.EMERGENCY:
                return self._say("emergency", state, topic=topic)
            case Do.IN_DANGER | Do.NOT_IN_DANGER:
                return self._after_check_in(action is Do.IN_DANGER, state)
            case Do.LANGUAGE:
                return self._say("language.pick", state, topic=topic)
            case Do.CANCEL:
                return self._say("cancel.done", self.flows.end(state), topic=topic, then_menu=True)
            case Do.FOLLOWUP:
                return self.flows.start_followup(state)
            case Do.QUIZ:
                return self.quizzes.pick(state)
            case Do.SUBSCRIBE:
                return self._say("subscribe.consent", state, topic="subscribe")
            case Do.SUBSCRIBE_YES:
                return Turn((), state, topic="subscribe.yes", effect=Subscribe(state.language))
            case Do.UNSUBSCRIBE:
                return Turn((), state, topic="unsubscribe", effect=Unsubscribe())
            case Do.SERVICES:
                return self._ask_kind(state, topic)
            case Do.REPORT:
                return self.flows.intro(state)
            case Do.COUNSEL:
                return self.counsel.offer(state, Origin.MENU)
            case Do.COUNSEL_END:
                return self.counsel.end(state)
            case Do.COUNSEL_HELPED | Do.COUNSEL_NOT_HELPED:
                return self.counsel.feedback(action is Do.COUNSEL_HELPED, state)

    # ----------------------------------------------------------------- services

    def _ask_kind(self, state: ChatState, topic: str) -> Turn:
        locale = state.language
        choices: list[str | None] = [*ASKED_KINDS, None]
        buttons = tuple(
            tuple(
                Button(
                    self.catalog.render(f"kind.{kind or ANY_KIND}", locale).text,
                    encode(PickKind(kind)),
                )
                for kind in choices[i : i + 2]
            )
            for i in range(0, len(choices), 2)
        )
        text = self.catalog.render("services.ask_kind", locale).text
        return Turn((Reply(text, buttons),), state, topic=topic)

    def _ask_where(self, state: ChatState, topic: str) -> Turn:
        """Ask for a shared location (reply keyboard) or a region (inline buttons)."""
        locale = state.language
        keyboard = (
            (Key(self.catalog.render("key.location", locale).text, request_location=True),),
            *self._keyboard(locale),
        )
        ask = Reply(self.catalog.render("services.ask_where", locale).text, keyboard=keyboard)
        return Turn((ask, self._pick_region(0, locale)), state, topic=topic)

    def _pick_region(self, start: int, locale: str) -> Reply:
        """A page of the region list (Bamako first, then by name): `MAX_BUTTONS - 1`
        regions and "Plus…" for the next page, the last page going back to the first."""
        per_page = MAX_BUTTONS - 1
        shown = REGION_ORDER[start : start + per_page]
        buttons = [Button(r.label, encode(ServicesIn(r.label))) for r in shown]
        following = start + per_page if start + per_page < len(REGION_ORDER) else 0
        buttons.append(
            Button(self.catalog.render("services.more", locale).text, encode(RegionPage(following)))
        )
        rows = tuple(tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3))
        return Reply(self.catalog.render("services.pick_region", locale).text, rows)

    def _service_action(self, action: ServiceAction, state: ChatState) -> Turn | None:
        """A service button; None when it no longer makes sense."""
        match action:
            case PickKind(kind) if kind is None or kind in KINDS:
                state = replace(state, service_kind=kind)
                return self._ask_where(state, topic=f"services.{kind or ANY_KIND}")
            case ServicesIn(label) if (region := regions.by_label(label)) is not None:
                return self._in_region(region, state, topic="services.region")
            case RegionPage(start) if start < len(REGION_ORDER):
                return Turn((self._pick_region(start, state.language),), state, topic="services")
            case MoreServices(label, offset) if (
                region := regions.by_label(label)
            ) is not None and 0 < offset < MAX_OFFSET:
                return self._in_region(region, state, topic="services.more", offset=offset)
            case ServiceInfo(service_id):
                service = next((s for s in self.services if s.id == service_id), None)
                if service is not None:
                    return self._service_info(service, state)
        return None

    def _in_region(self, region: Region, state: ChatState, topic: str, offset: int = 0) -> Turn:
        """The region's services for the kind asked, most relevant first. When it has none
        of exactly that kind: the nearest ones elsewhere first, then the region's other
        help, and what to do locally — never a dead end. `offset` pages through the same
        list ("Plus…")."""
        kind, locale, name = state.service_kind, state.language, region.label
        local = [Placed(s) for s in in_region_ranked(self.services, region, kind)]
        exact_here = any(offers_exactly(p.service, kind) for p in local)
        headings: dict[int, str] = {}
        if exact_here:
            entries = local
            header = self.catalog.render(
                "services.in_region", locale, count=len(local), region=name
            ).text
        else:
            elsewhere = nearest_elsewhere(self.services, region, kind)
            entries = elsewhere + local
            headings[0] = self.catalog.render("services.nearest_elsewhere", locale).text
            if local:
                also = self.catalog.render("services.also_here", locale, region=name).text
                headings[len(elsewhere)] = also
            label = self.catalog.render(f"kind.{kind or ANY_KIND}", locale).text
            header = self.catalog.render(
                "services.none_in_region", locale, kind=label, region=name
            ).text
        if offset:
            header = self.catalog.render("services.more_header", locale, region=name).text
            page = Page([header], entries[offset:], {i - offset: h for i, h in headings.items()})
            return self._service_page(
                page, state, topic, more=lambda shown: MoreServices(name, offset + shown)
            )
        page = Page([header], entries, headings, *self._service_outro(kind, locale, not exact_here))
        return self._service_page(page, state, topic, more=lambda n: MoreServices(name, n))

    def _nearby(self, latitude: float, longitude: float, state: ChatState) -> Turn:
        """The services worth offering near a shared point, relevant kinds first; what to
        do locally when none of the kind asked is within reach. The point is not kept, so
        there is no "Plus…": another search is one tap away."""
        kind, locale = state.service_kind, state.language
        entries = near(self.services, latitude, longitude, kind)
        within_reach = any(
            offers_exactly(p.service, kind) and p.km is not None and p.km <= NEAR_KM
            for p in entries[:PAGE_SIZE]
        )
        header = self.catalog.render("services.nearby", locale).text
        page = Page([header], entries, {}, *self._service_outro(kind, locale, not within_reach))
        return self._service_page(page, state, "services.nearby", more=None)

    def _service_outro(
        self, kind: str | None, locale: str, local_help: bool
    ) -> tuple[list[str], str | None]:
        """What follows a list: what to do locally (when nothing of the kind is near) and
        the emergency line; apart, the lines valid everywhere that fit the need (the first
        thing left out when the message would not fit a phone)."""
        outro = []
        if local_help:
            victims = kind in ("victim_assistance", "shelter", "legal_aid")
            message_id = "services.local_help_victims" if victims else "services.local_help"
            outro.append(self.catalog.render(message_id, locale).text)
        lines = national_lines(self.services, kind)
        national = "\n".join(
            [self.catalog.render("services.national", locale).text]
            + [national_line(s) for s in lines]
        )
        if self.catalog.emergency[0].number not in national:  # the first crisis line, always
            outro.append(self.catalog.render("emergency.footer", locale).text)
        return outro, national if lines else None

    def _service_page(
        self,
        page: Page,
        state: ChatState,
        topic: str,
        more: Callable[[int], MoreServices] | None,
    ) -> Turn:
        """One message that fits a phone: at most `PAGE_SIZE` services (fewer if the text
        would pass `PHONE_TEXT_LIMIT`, then without the national lines), a button per
        service for its card, "Plus…" for the rest, then the usual buttons — never more
        than `MAX_BUTTONS`."""
        locale = state.language
        after = self.catalog.render("services.after", locale).buttons
        room = MAX_BUTTONS - sum(len(row) for row in after)
        entries = page.entries
        paged = more is not None and len(entries) > min(PAGE_SIZE, room)
        shown = min(len(entries), PAGE_SIZE, room - 1 if paged else room)
        national = page.national
        text = page.text(self.catalog, locale, shown, national)
        while len(text) > PHONE_TEXT_LIMIT and shown > 1:
            shown -= 1
            text = page.text(self.catalog, locale, shown, national)
        if len(text) > PHONE_TEXT_LIMIT:
            national = None
            text = page.text(self.catalog, locale, shown, national)
        buttons: list[tuple[Button, ...]] = [
            (Button(f"ℹ️ {p.service.label}", encode(ServiceInfo(p.service.id))),)
            for p in entries[:shown]
        ]
        if more is not None and shown < len(entries):
            label = self.catalog.render("services.more", locale).text
            buttons.append((Button(label, encode(more(shown))),))
        return Turn((Reply(text, (*buttons, *after)),), state, topic=topic)

    def _service_info(self, service: Service, state: ChatState) -> Turn:
        """A service's full card, cut into messages that fit a phone."""
        locale = state.language
        after = self.catalog.render("services.after", locale).buttons
        replies = split_reply(service_card(self.catalog, service, locale), after)
        return Turn(replies, state, topic="services.info")

    # ----------------------------------------------------------------- rendering

    def _crisis(
        self, kind: Crisis | None, state: ChatState, origin: Origin = Origin.CRISIS
    ) -> Turn:
        """Emergency numbers first, with the reply keyboard that keeps them one tap away;
        the next steps follow as a second message (Telegram allows one keyboard each),
        then a counsellor is offered (`origin`: what led here)."""
        message_id = f"crisis.{kind.value}" if kind is not None else "crisis.general"
        locale = state.language
        rendered = self.catalog.render(message_id, locale)
        first, *rest = split_reply(rendered.text)
        replies = [replace(first, keyboard=self._keyboard(locale)), *rest]
        if rendered.buttons:
            buttons = self.screens.buttons(message_id, rendered.buttons, locale)
            replies.append(Reply(self.catalog.render("next_steps", locale).text, buttons))
        state = replace(state, pending=None, danger=None, deferred=None)
        return Turn(tuple(replies), state, topic=message_id, effect=self._offer(state, origin))

    @staticmethod
    def _offer(state: ChatState, origin: Origin) -> OfferCounsellor | None:
        """A counsellor offered after an answer, outside any flow: never to someone already
        talking to one, nor in a report or follow-up (joining would end it)."""
        return OfferCounsellor(origin) if state.flow is None else None

    def _check_in(
        self, kind: Crisis | None, understanding: Understanding | None, state: ChatState
    ) -> Turn:
        """Unsure: the emergency line, then "are you in danger now?". What the message
        was about (its intent, never its text) waits for a "no"."""
        topic = understanding.intent if understanding is not None else None
        deferred = topic if topic is not None and self._answers(topic) else None
        drug = understanding.entity("drug") if understanding is not None else None
        state = replace(
            state,
            drug=drug if drug in DRUGS else state.drug,
            pending=Pending.CHECK_IN,
            danger=kind,
            deferred=deferred,
        )
        # Only the two answers: the question must stay as plain as the emergency line.
        rendered = self.catalog.render("checkin", state.language)
        return Turn((Reply(rendered.text, rendered.buttons),), state, topic="checkin")

    def _answers(self, intent: str) -> bool:
        """Whether `intent` is a topic the engine answers directly."""
        return intent != CRISIS_INTENT and (
            intent in SERVICE_INTENTS
            or intent in DRUG_ASPECTS
            or intent in ACTION_INTENTS
            or f"intent.{intent}" in self.catalog
        )

    def _after_check_in(self, in_danger: bool, state: ChatState) -> Turn:
        danger, deferred = state.danger, state.deferred
        state = replace(state, pending=None, danger=None, deferred=None)
        if in_danger:
            return self._crisis(danger, state, Origin.CHECK_IN)
        if deferred is not None and self._answers(deferred):
            return self._intent(deferred, None, state)
        return self._say("checkin.no", state, topic="checkin.no", then_menu=True)

    def _with_footer(self, turn: Turn) -> Turn:
        """An answer about danger in general, with the emergency line below it: under its
        first message, or right after it when a screen would not hold both."""
        if not turn.replies:
            return turn
        first, *rest = turn.replies
        footer = self.catalog.render("emergency.footer", turn.state.language).text
        below = f"{first.text}\n\n{footer}"
        if len(below) <= PHONE_TEXT_LIMIT:
            return replace(turn, replies=(replace(first, text=below), *rest))
        return replace(turn, replies=(first, Reply(footer), *rest))

    def _say(
        self, message_id: str, state: ChatState, *, topic: str | None, then_menu: bool = False
    ) -> Turn:
        locale = state.language
        menu = self.catalog.render("menu.short", locale).buttons if then_menu else ()
        page = self.screens.page(message_id, locale, fallback=menu)
        assert page is not None  # a message always has a first page
        return Turn((page,), state, topic=topic)

    def _keyboard(self, locale: str) -> tuple[tuple[Key, ...], ...]:
        """The reply keyboard that keeps emergency numbers one tap away."""
        return (
            (
                Key(self.catalog.render("key.emergency", locale).text),
                Key(self.catalog.render("key.menu", locale).text),
            ),
        )


def replace_label(catalog: Catalog, message_id: str, locale: str, action: Action) -> Button:
    """A button whose label is the text of a (short) message."""
    return Button(catalog.render(message_id, locale).text, encode(action))


def keeps_flow(action: Action) -> bool:
    """The flow's own buttons, cancelling and the emergency numbers keep a report or a
    follow-up going; any other action navigates away from it."""
    return action is Do.CANCEL or action is Do.EMERGENCY or isinstance(action, FlowAction)


def sanitize(state: ChatState) -> ChatState:
    """Drop any state value the engine would not have written (an older version's, or a
    damaged one): a conversation restarts a step rather than failing. (What the schema
    types — flow, step, pending, danger — is checked by `ChatState.from_json`.)"""
    if state.flow is None:
        state = replace(state, step=None, draft=None, code=None, note=None)
    return replace(
        state,
        locale=state.locale if state.locale in LOCALES else None,
        chosen_locale=state.chosen_locale if state.chosen_locale in LOCALES else None,
        drug=state.drug if state.drug in DRUGS else None,
        service_kind=state.service_kind if state.service_kind in KINDS else None,
    )


def clean_text(text: str) -> str:
    """Strip control characters and surrounding space; cap the length the NLU sees."""
    printable = "".join(c if c.isprintable() or c in "\n\t" else " " for c in text)
    return printable.strip()[:MAX_TEXT_FOR_NLU]
