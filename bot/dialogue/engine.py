"""The dialogue engine: (event, state, understanding) → replies and the next state.

Pure: no I/O, no clock, no Telegram. Everything the user reads is looked up in the
content catalog, so this module holds decisions, never wording.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.content import LOCALES, Button, Catalog, negotiate_locale
from bot.dialogue.events import (
    ButtonEvent,
    CommandEvent,
    Event,
    LocationEvent,
    TextEvent,
    UnsupportedEvent,
)
from bot.dialogue.replies import Key, Reply
from bot.dialogue.state import ChatState
from bot.nlu import FALLBACK_INTENT, Understanding
from bot.nlu.language import guess_language
from bot.nlu.safety import Crisis

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
# Intents answered by the action of the same name rather than by a message.
ACTION_INTENTS = {
    "menu": "do:menu",
    "change_language": "do:language",
    "find_treatment": "do:services",
    "find_victim_help": "do:services",
    "report_tip": "confirm:report",
}
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
}
MAX_TEXT_FOR_NLU = 1000
CLARIFY_CHOICES = 3


@dataclass(frozen=True)
class Turn:
    """The engine's answer: replies to send, the state to store, and the anonymous topic
    to count (an intent or action name; never text)."""

    replies: tuple[Reply, ...]
    state: ChatState
    topic: str | None = None


class Engine:
    """Decides what to answer; holds only immutable configuration."""

    def __init__(self, catalog: Catalog, confidence_threshold: float) -> None:
        self.catalog = catalog
        self.threshold = confidence_threshold
        self._keyboard_actions = {
            catalog.render(message_id, locale).text.casefold(): action
            for locale in LOCALES
            for message_id, action in (("key.emergency", "do:emergency"), ("key.menu", "do:menu"))
        }

    # ----------------------------------------------------------------- entry points

    def needs_nlu(self, event: Event) -> bool:
        """Only free text that is not a keyboard label goes to the classifier."""
        return (
            isinstance(event, TextEvent)
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
        crisis: Crisis | None = None,
    ) -> Turn:
        """Answer one event. `understanding` is None when the NLU was not asked or is down."""
        if state.locale is None:
            state = replace(state, locale=negotiate_locale(language_code))
        if isinstance(event, TextEvent) and state.chosen_locale is None:
            state = replace(state, locale=guess_language(event.text) or state.locale)
        if isinstance(event, ButtonEvent):
            return self._action(event.action, state)
        if isinstance(event, CommandEvent):
            action = COMMANDS.get(event.name.casefold())
            if action is None:
                return self._say(
                    "error.unknown_command", state, topic="unknown_command", then_menu=True
                )
            return self._action(action, state)
        if isinstance(event, LocationEvent):
            return self._action("do:services", state)
        if isinstance(event, UnsupportedEvent):
            message_id = "error.edited" if event.kind == "edited" else "error.unsupported"
            return self._say(message_id, state, topic=None)
        return self._text(event, state, understanding, crisis)

    # ----------------------------------------------------------------- free text

    def _text(
        self,
        event: TextEvent,
        state: ChatState,
        understanding: Understanding | None,
        crisis: Crisis | None,
    ) -> Turn:
        text = clean_text(event.text)
        if crisis is not None:
            return self._crisis(f"crisis.{crisis.value}", state)
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
            return self._say("error.nlu_down", state, topic="nlu_down", then_menu=True)
        if state.pending == "confirm_report" and understanding.intent in ("affirm", "deny"):
            state = replace(state, pending=None)
            return self._action(
                "do:report" if understanding.intent == "affirm" else "do:menu", state
            )
        if understanding.intent == FALLBACK_INTENT or understanding.confidence < self.threshold:
            return self._clarify(understanding, state)
        return self._intent(understanding.intent, understanding.entity("drug"), state)

    def _intent(self, intent: str, drug: str | None, state: ChatState) -> Turn:
        state = replace(state, pending=None)
        if intent == "crisis":
            return self._crisis("crisis.general", state)
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

    def _clarify(self, understanding: Understanding | None, state: ChatState) -> Turn:
        """Offer the likeliest topics as buttons instead of guessing."""
        candidates = [
            name
            for name, _ in (understanding.ranking if understanding else ())
            if name not in NOT_TOPICS and f"topic.{name}" in self.catalog
        ][:CLARIFY_CHOICES]
        locale = _locale(state)
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
        state = replace(state, pending=None)
        topic = topic or name
        if name == "start":
            locale = _locale(state)
            welcome = self.catalog.render("welcome", locale)
            reply = Reply(welcome.text, keyboard=self._keyboard(locale))
            menu = self.catalog.render("menu.main", locale)
            return Turn((reply, Reply(menu.text, menu.buttons)), state, topic="start")
        if name == "menu":
            return self._say("menu.main", state, topic=topic)
        if name == "emergency":
            return self._say("emergency", state, topic=topic)
        if name == "language":
            return self._say("language.pick", state, topic=topic)
        if name == "cancel":
            return self._say("cancel.done", state, topic=topic, then_menu=True)
        if name == "services":
            return self._say("services.overview", state, topic=topic)
        if name == "report":
            return self._say("report.intro", state, topic=topic)
        return self._say("error.expired_button", state, topic="bad_button", then_menu=True)

    # ----------------------------------------------------------------- rendering

    def _crisis(self, message_id: str, state: ChatState) -> Turn:
        """Emergency numbers first, with the reply keyboard that keeps them one tap away;
        the next steps follow as a second message (Telegram allows one keyboard each)."""
        locale = _locale(state)
        rendered = self.catalog.render(message_id, locale)
        replies = [Reply(rendered.text, keyboard=self._keyboard(locale))]
        if rendered.buttons:
            replies.append(Reply(self.catalog.render("next_steps", locale).text, rendered.buttons))
        return Turn(tuple(replies), replace(state, pending=None), topic=message_id)

    def _say(
        self, message_id: str, state: ChatState, *, topic: str | None, then_menu: bool = False
    ) -> Turn:
        locale = _locale(state)
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


def clean_text(text: str) -> str:
    """Strip control characters and surrounding space; cap the length the NLU sees."""
    printable = "".join(c if c.isprintable() or c in "\n\t" else " " for c in text)
    return printable.strip()[:MAX_TEXT_FOR_NLU]


def _locale(state: ChatState) -> str:
    return state.locale or negotiate_locale(None)
