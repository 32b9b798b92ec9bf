"""The dialogue engine: (event, state, understanding) → replies and the next state.

Pure: no I/O, no clock, no Telegram. Everything the user reads is looked up in the
content catalog, so this module holds decisions, never wording.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from bot.awareness import Quiz
from bot.content import LOCALES, Button, Catalog, negotiate_locale
from bot.dialogue.cards import service_card
from bot.dialogue.effects import Effect, Failure, Outcome, Subscribe, Unsubscribe
from bot.dialogue.events import (
    AttachmentEvent,
    ButtonEvent,
    CommandEvent,
    Event,
    LocationEvent,
    TextEvent,
    UnsupportedEvent,
)
from bot.dialogue.quizzes import QuizFlow
from bot.dialogue.replies import Key, Reply, Turn
from bot.dialogue.report import FOLLOWUP, REPORT, TipFlows
from bot.dialogue.state import ChatState
from bot.nlu import CRISIS_INTENT, FALLBACK_INTENT, Understanding
from bot.nlu.crisis import Assessment, Verdict
from bot.nlu.keywords import drug_in_text
from bot.nlu.language import guess_language
from bot.nlu.safety import Crisis
from bot.services import (
    KINDS,
    REGIONS,
    Service,
    in_region,
    nearest,
    region_in_text,
    region_of_place,
)

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
ACTION_INTENTS = {
    "menu": "do:menu",
    "change_language": "do:language",
    "report_tip": "confirm:report",
    "followup_tip": "do:followup",
}
# Intents that look for a service, and the kind of service each one wants.
SERVICE_INTENTS = {
    "find_treatment": "treatment",
    "find_victim_help": "victim_assistance",
}
# Kinds offered as buttons (emergency lines are in every answer anyway).
ASKED_KINDS = ("treatment", "victim_assistance", "legal_aid", "shelter", "psychosocial")
ANY_KIND = "any"
MAX_SERVICES_SHOWN = 4
# Intents a clarifying menu never offers: they are not topics.
NOT_TOPICS = {FALLBACK_INTENT, "out_of_scope", "affirm", "deny", "greet", "goodbye", "thanks"}
COMMANDS = {
    "start": "do:start",
    "help": "do:menu",
    "aide": "do:menu",
    "menu": "do:menu",
    "language": "do:language",
    "langue": "do:language",
    "cancel": "do:cancel",
    "annuler": "do:cancel",
    "urgence": "do:emergency",
    "emergency": "do:emergency",
    "sos": "do:emergency",
    "report": "do:report",
    "signaler": "do:report",
    "services": "do:services",
    "suivi": "do:followup",
    "followup": "do:followup",
    "quiz": "do:quiz",
    "abonner": "do:subscribe",
    "subscribe": "do:subscribe",
    "stop": "do:unsubscribe",
    "desabonner": "do:unsubscribe",
}
MAX_TEXT_FOR_NLU = 1000
# Actions that keep a report or follow-up going (see Engine._leaves_flow).
FLOW_SAFE_ACTIONS = {"do:cancel", "do:emergency"}
CLARIFY_CHOICES = 3
CHECK_IN = "checkin"
_CHECK_IN_ANSWERS = {"in_danger", "not_in_danger"}
_CRISIS_KINDS = {kind.value for kind in Crisis}


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
        self._keyboard_actions = {
            catalog.render(message_id, locale).text.casefold(): action
            for locale in LOCALES
            for message_id, action in (("key.emergency", "do:emergency"), ("key.menu", "do:menu"))
        }

    # ----------------------------------------------------------------- entry points

    def needs_nlu(self, event: Event, state: ChatState) -> bool:
        """Only free text outside a report or follow-up, and not a keyboard label, goes to
        the classifier: what a tipster writes is never parsed, counted or logged."""
        return (
            isinstance(event, TextEvent)
            and state.flow is None
            and bool(clean_text(event.text))
            and clean_text(event.text).casefold() not in self._keyboard_actions
            and not event.text.lstrip().startswith("/")
        )

    def respond(
        self,
        event: Event,
        state: ChatState,
        *,
        language_code: str | None = None,
        understanding: Understanding | None = None,
        crisis: Assessment | None = None,
        nearby: Sequence[tuple[Service, float]] | None = None,
        campaign: tuple[str, str, str | None] | None = None,
    ) -> Turn:
        """Answer one event. `understanding` is None when the NLU was not asked or is down;
        `nearby` holds the services nearest to a shared location when the caller looked
        them up in the Redis GEO index (otherwise they are computed here); `campaign` is
        (payload, target, language) when /start came with a known deep link; `crisis` is
        the crisis net's assessment of a text (None: not assessed)."""
        state = sanitize(state)
        if state.locale is None:
            state = replace(state, locale=negotiate_locale(language_code))
        if isinstance(event, TextEvent) and state.chosen_locale is None:
            state = replace(state, locale=guess_language(event.text) or state.locale)
        if state.flow is not None and self.leaves_flow(event):
            left = self.flows.end(state)
            rest = self.respond(
                event,
                left,
                language_code=language_code,
                understanding=understanding,
                crisis=crisis,
                nearby=nearby,
                campaign=campaign,
            )
            if state.flow != REPORT:
                return rest
            notice = Reply(self.catalog.render("report.left", left.language).text, protect=True)
            return replace(rest, replies=(notice, *rest.replies))
        if (
            state.flow is not None
            and isinstance(event, (TextEvent, LocationEvent, AttachmentEvent))
            and not self._is_keyboard_label(event)
        ):
            in_flow = self._in_flow(event, state, crisis)
            if in_flow is not None:
                return in_flow
        if isinstance(event, ButtonEvent):
            return self._action(event.action, state)
        if isinstance(event, CommandEvent) and campaign is not None:
            return self._campaign(*campaign, state)
        if isinstance(event, CommandEvent):
            action = COMMANDS.get(event.name.casefold())
            if action is None:
                return self._say(
                    "error.unknown_command", state, topic="unknown_command", then_menu=True
                )
            return self._action(action, state)
        if isinstance(event, LocationEvent):
            if nearby is None:
                nearby = nearest(
                    self.services,
                    event.latitude,
                    event.longitude,
                    state.service_kind,
                    limit=MAX_SERVICES_SHOWN,
                )
            return self._nearby(nearby, state)
        if isinstance(event, AttachmentEvent):
            return self._say("error.attachment_outside_report", state, topic=None, then_menu=True)
        if isinstance(event, UnsupportedEvent):
            message_id = "error.edited" if event.kind == "edited" else "error.unsupported"
            return self._say(message_id, state, topic=None)
        return self._text(event, state, understanding, crisis)

    def _is_keyboard_label(self, event: Event) -> bool:
        return isinstance(event, TextEvent) and (
            clean_text(event.text).casefold() in self._keyboard_actions
        )

    def leaves_flow(self, event: Event) -> bool:
        """Navigating elsewhere (a command, a menu button or key) ends a report or follow-up;
        the flow's own buttons, /annuler and the emergency numbers do not."""
        if isinstance(event, ButtonEvent):
            action = event.action
        elif isinstance(event, CommandEvent):
            if event.name.casefold() not in COMMANDS:
                return False  # a mistyped command is answered without losing the report
            action = COMMANDS[event.name.casefold()]
        elif self._is_keyboard_label(event):
            assert isinstance(event, TextEvent)
            action = self._keyboard_actions[clean_text(event.text).casefold()]
        else:
            return False
        return not action.startswith(("rep:", "fol:")) and action not in FLOW_SAFE_ACTIONS

    def resolve(self, effect: Effect, outcome: Outcome, state: ChatState) -> Turn:
        """Answer once the assistant has performed a turn's effect."""
        if isinstance(effect, (Subscribe, Unsubscribe)):
            if outcome is Failure.UNSUPPORTED:
                return self._say("subscribe.unsupported", state, topic=None, then_menu=True)
            if isinstance(outcome, Failure):
                return self._say("error.storage_down", state, topic=None)
            done = "subscribe.done" if isinstance(effect, Subscribe) else "unsubscribe.done"
            return self._say(done, state, topic=done, then_menu=True)
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
            return self._do("start", state, None)
        locale = state.language
        welcome = Reply(
            self.catalog.render("welcome", locale).text, keyboard=self._keyboard(locale)
        )
        return replace(opened, replies=(welcome, *opened.replies))

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
        keyboard_action = self._keyboard_actions.get(text.casefold())
        if keyboard_action:
            return self._action(keyboard_action, state)
        if text.startswith("/"):
            return self._say(
                "error.unknown_command", state, topic="unknown_command", then_menu=True
            )
        if not any(c.isalnum() for c in text):
            return self._say("error.no_words", state, topic=None, then_menu=True)
        if understanding is None:
            return self._nlu_down(text, state)
        if state.pending == CHECK_IN and understanding.intent in ("affirm", "deny"):
            return self._after_check_in(understanding.intent == "affirm", state)
        if state.pending == "confirm_report" and understanding.intent in ("affirm", "deny"):
            state = replace(state, pending=None)
            return self._action(
                "do:report" if understanding.intent == "affirm" else "do:menu", state
            )
        if understanding.intent == FALLBACK_INTENT or understanding.confidence < self.threshold:
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
            region = region_of_place(place) if place else None
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
            action = f"show:drug.{drug}.about"
            guesses.extend(
                (button,)
                for row in self.catalog.render("drugs.menu", locale).buttons
                for button in row
                if button.action == action
            )
        region = region_in_text(text)
        if region is not None:
            guesses.append((Button(region, f"svc:reg:{region}"),))
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
        rendered = self.catalog.render("clarify", locale)
        buttons = (
            tuple(
                (replace_label(self.catalog, f"topic.{name}", locale, f"intent:{name}"),)
                for name in candidates
            )
            + self.catalog.render("menu.short", locale).buttons
        )
        return Turn((Reply(rendered.text, buttons),), state, topic="clarify")

    # ----------------------------------------------------------------- actions

    def _action(self, action: str, state: ChatState, topic: str | None = None) -> Turn:
        """Run a button/command/keyboard action; unknown or forged actions are refused kindly."""
        kind, _, argument = action.partition(":")
        if (
            kind == "show"
            and argument in self.catalog
            and not argument.startswith(("key.", "topic."))
        ):
            drug = argument.split(".")[1] if argument.startswith("drug.") else state.drug
            return self._say(argument, replace(state, drug=drug), topic=topic or argument)
        if kind == "lang" and argument in LOCALES:
            state = replace(state, locale=argument, chosen_locale=argument)
            return self._say("language.set", state, topic="language", then_menu=True)
        if kind == "intent" and f"topic.{argument}" in self.catalog:
            if argument == "report_tip":
                return self._action("do:report", state, topic="report_tip")
            return self._intent(argument, None, state)
        if kind == "svc":
            return self._service_action(argument, state)
        if kind == "quiz":
            quiz_turn = self.quizzes.action(action, state)
            if quiz_turn is not None:
                return quiz_turn
        if kind in ("rep", "fol"):
            flow_turn = (
                self.flows.action(argument, state)
                if kind == "rep"
                else self.flows.followup_action(argument, state)
            )
            if flow_turn is not None:
                return flow_turn
        if kind == "confirm" and argument == "report":
            return self._say(
                "report.confirm",
                replace(state, pending="confirm_report"),
                topic=topic or "report_tip",
            )
        if kind == "do":
            return self._do(argument, state, topic)
        return self._say("error.expired_button", state, topic="bad_button", then_menu=True)

    def _do(self, name: str, state: ChatState, topic: str | None) -> Turn:
        state = replace(state, pending=None) if name not in _CHECK_IN_ANSWERS else state
        topic = topic or name
        if name == "start":
            locale = state.language
            welcome = self.catalog.render("welcome", locale)
            reply = Reply(welcome.text, keyboard=self._keyboard(locale))
            menu = self.catalog.render("menu.main", locale)
            return Turn((reply, Reply(menu.text, menu.buttons)), state, topic="start")
        if name == "menu":
            return self._say("menu.main", state, topic=topic)
        if name == "emergency":
            return self._say("emergency", state, topic=topic)
        if name in ("in_danger", "not_in_danger"):
            return self._after_check_in(name == "in_danger", state)
        if name == "language":
            return self._say("language.pick", state, topic=topic)
        if name == "cancel":
            return self._say("cancel.done", self.flows.end(state), topic=topic, then_menu=True)
        if name == "followup":
            return self.flows.start_followup(state)
        if name == "quiz":
            return self.quizzes.pick(state)
        if name == "subscribe":
            return self._say("subscribe.consent", state, topic="subscribe")
        if name == "subscribe_yes":
            return Turn((), state, topic="subscribe.yes", effect=Subscribe(state.language))
        if name == "unsubscribe":
            return Turn((), state, topic="unsubscribe", effect=Unsubscribe())
        if name == "services":
            return self._ask_kind(state, topic)
        if name == "report":
            return self.flows.intro(state)
        return self._say("error.expired_button", state, topic="bad_button", then_menu=True)

    # ----------------------------------------------------------------- services

    def _ask_kind(self, state: ChatState, topic: str) -> Turn:
        locale = state.language
        choices = [*ASKED_KINDS, ANY_KIND]
        buttons = tuple(
            tuple(
                Button(self.catalog.render(f"kind.{kind}", locale).text, f"svc:kind:{kind}")
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
        names = sorted(REGIONS)
        regions = tuple(
            tuple(Button(name, f"svc:reg:{name}") for name in names[i : i + 3])
            for i in range(0, len(names), 3)
        )
        pick = Reply(self.catalog.render("services.pick_region", locale).text, regions)
        return Turn((ask, pick), state, topic=topic)

    def _service_action(self, argument: str, state: ChatState) -> Turn:
        what, _, value = argument.partition(":")
        if what == "kind" and (value in KINDS or value == ANY_KIND):
            kind = None if value == ANY_KIND else value
            return self._ask_where(replace(state, service_kind=kind), topic=f"services.{value}")
        if what == "reg" and value in REGIONS:
            return self._in_region(value, state, topic="services.region")
        return self._say("error.expired_button", state, topic="bad_button", then_menu=True)

    def _in_region(self, region: str, state: ChatState, topic: str) -> Turn:
        found = in_region(self.services, region, state.service_kind)
        local = [s for s in found if not s.is_national][:MAX_SERVICES_SHOWN]
        national = [s for s in found if s.is_national]
        return self._service_list(
            "services.in_region",
            [(s, None) for s in local],
            national,
            state,
            topic,
            region=REGIONS[region].name,
        )

    def _nearby(self, nearby: Sequence[tuple[Service, float]], state: ChatState) -> Turn:
        local = [(s, km) for s, km in nearby if not s.is_national][:MAX_SERVICES_SHOWN]
        national = [s for s in self.services if s.is_national and s.offers(state.service_kind)]
        return self._service_list("services.nearby", local, national, state, "services.nearby")

    def _service_list(
        self,
        message_id: str,
        local: Sequence[tuple[Service, float | None]],
        national: Sequence[Service],
        state: ChatState,
        topic: str,
        **params: str,
    ) -> Turn:
        """A header with the count, the local services, then the lines valid everywhere."""
        locale = state.language
        header = self.catalog.render(message_id, locale, count=len(local), **params)
        cards = [service_card(self.catalog, s, locale, km) for s, km in local]
        if not local:
            cards.insert(0, self.catalog.render("services.none_here", locale).text)
        if national:
            cards.append(self.catalog.render("services.national", locale).text)
            cards.extend(service_card(self.catalog, s, locale) for s in national)
        text = "\n\n".join([header.text, *cards])
        buttons = self.catalog.render("services.after", locale).buttons
        return Turn((Reply(text, buttons),), state, topic=topic)

    # ----------------------------------------------------------------- rendering

    def _crisis(self, kind: Crisis | None, state: ChatState) -> Turn:
        """Emergency numbers first, with the reply keyboard that keeps them one tap away;
        the next steps follow as a second message (Telegram allows one keyboard each)."""
        message_id = f"crisis.{kind.value}" if kind is not None else "crisis.general"
        locale = state.language
        rendered = self.catalog.render(message_id, locale)
        replies = [Reply(rendered.text, keyboard=self._keyboard(locale))]
        if rendered.buttons:
            replies.append(Reply(self.catalog.render("next_steps", locale).text, rendered.buttons))
        state = replace(state, pending=None, danger=None, deferred=None)
        return Turn(tuple(replies), state, topic=message_id)

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
            pending=CHECK_IN,
            danger=kind.value if kind is not None else None,
            deferred=deferred,
        )
        return self._say("checkin", state, topic="checkin")

    def _answers(self, intent: str) -> bool:
        """Whether `intent` is a topic the engine answers directly."""
        return intent != CRISIS_INTENT and (
            intent in SERVICE_INTENTS
            or intent in DRUG_ASPECTS
            or intent in ACTION_INTENTS
            or f"intent.{intent}" in self.catalog
        )

    def _after_check_in(self, in_danger: bool, state: ChatState) -> Turn:
        danger = state.danger if state.danger in _CRISIS_KINDS else None
        deferred = state.deferred
        state = replace(state, pending=None, danger=None, deferred=None)
        if in_danger:
            return self._crisis(Crisis(danger) if danger else None, state)
        if deferred is not None and self._answers(deferred):
            return self._intent(deferred, None, state)
        return self._say("checkin.no", state, topic="checkin.no", then_menu=True)

    def _with_footer(self, turn: Turn) -> Turn:
        """An answer about danger in general, with the emergency line below it."""
        if not turn.replies:
            return turn
        first, *rest = turn.replies
        footer = self.catalog.render("emergency.footer", turn.state.language).text
        return replace(turn, replies=(replace(first, text=f"{first.text}\n\n{footer}"), *rest))

    def _say(
        self, message_id: str, state: ChatState, *, topic: str | None, then_menu: bool = False
    ) -> Turn:
        locale = state.language
        rendered = self.catalog.render(message_id, locale)
        buttons = rendered.buttons
        if then_menu and not buttons:
            buttons = self.catalog.render("menu.short", locale).buttons
        return Turn((Reply(rendered.text, buttons),), state, topic=topic)

    def _keyboard(self, locale: str) -> tuple[tuple[Key, ...], ...]:
        """The reply keyboard that keeps emergency numbers one tap away."""
        return (
            (
                Key(self.catalog.render("key.emergency", locale).text),
                Key(self.catalog.render("key.menu", locale).text),
            ),
        )


def replace_label(catalog: Catalog, message_id: str, locale: str, action: str) -> Button:
    """A button whose label is the text of a (short) message."""
    return Button(catalog.render(message_id, locale).text, action)


def sanitize(state: ChatState) -> ChatState:
    """Drop any state value the engine would not have written (an older version's, or a
    damaged one): a conversation restarts a step rather than failing."""
    return replace(
        state,
        locale=state.locale if state.locale in LOCALES else None,
        chosen_locale=state.chosen_locale if state.chosen_locale in LOCALES else None,
        drug=state.drug if state.drug in DRUGS else None,
        service_kind=state.service_kind if state.service_kind in KINDS else None,
        danger=state.danger if state.danger in _CRISIS_KINDS else None,
        **(
            {}
            if state.flow in (REPORT, FOLLOWUP)
            else {"flow": None, "step": None, "draft": None, "code": None, "note": None}
        ),
    )


def clean_text(text: str) -> str:
    """Strip control characters and surrounding space; cap the length the NLU sees."""
    printable = "".join(c if c.isprintable() or c in "\n\t" else " " for c in text)
    return printable.strip()[:MAX_TEXT_FOR_NLU]
