"""Talking to a counsellor, the young person's side: consent, the queue, the relay of
every text, the end and "did it help?". Pure, like the engine: storage work is returned
as effects (`bot.dialogue.effects`) and worded here once done.

A conversation does not end because a menu was opened: only /stop (or /annuler, or the
"end" button) ends it, so a tap on 🆘 never cuts anyone off from their counsellor.
"""

from __future__ import annotations

from dataclasses import replace

from bot.content import Button, Catalog
from bot.dialogue.actions import CounselJoin, CounselOffer, Do, ReportButton, encode
from bot.dialogue.effects import (
    CounselFeedback,
    Done,
    EndCounselling,
    Failure,
    OfferCounsellor,
    Outcome,
    Relay,
    RequestCounsellor,
)
from bot.dialogue.events import (
    AttachmentEvent,
    ButtonEvent,
    CommandEvent,
    CounsellorEnded,
    Event,
    TextEvent,
)
from bot.dialogue.replies import Reply, Turn
from bot.dialogue.screens import split_reply
from bot.dialogue.state import ChatState, Flow
from bot.nlu.crisis import Assessment, Verdict
from sini.counselling import model
from sini.counselling.model import Origin, Risk
from sini.counselling.store import Queued
from tips.model import AttachmentRef

# The commands that end a conversation with a counsellor (/stop, as the consent says).
END_COMMANDS = frozenset({"stop", "annuler", "cancel"})
# How urgent a request is, from what led to it.
ORIGIN_RISK = {Origin.CRISIS: Risk.CRISIS, Origin.CHECK_IN: Risk.UNSURE}

REPORT_INTRO = "report"  # the topic of the report's first message (`TipFlows.intro`)

CounselEffect = RequestCounsellor | OfferCounsellor | Relay | EndCounselling | CounselFeedback


def risk_of(crisis: Assessment | None) -> Risk:
    """What the crisis net's reading of a message says of the conversation's urgency."""
    match crisis:
        case Assessment(verdict=Verdict.CRISIS):
            return Risk.CRISIS
        case Assessment(verdict=Verdict.CHECK_IN):
            return Risk.UNSURE
    return Risk.ORDINARY


class CounselFlow:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def offer(self, state: ChatState, origin: Origin) -> Turn:
        """The consent message, with yes (joining, for `origin`) and no."""
        if state.flow is Flow.COUNSEL:
            return self._in_queue_again(state)
        locale = state.language
        buttons = (
            (self._button("counsel.yes_button", locale, CounselJoin(origin)),),
            (self._button("counsel.no_button", locale, Do.MENU),),
        )
        text = self.catalog.render("counsel.consent", locale).text
        return Turn(split_reply(text, buttons), state, topic=f"counsel.offer.{origin.value}")

    def join(self, origin: Origin, state: ChatState) -> Turn:
        if state.flow is Flow.COUNSEL:
            return self._in_queue_again(state)
        risk = ORIGIN_RISK.get(origin, Risk.ORDINARY)
        effect = RequestCounsellor(origin, risk, state.language)
        return Turn((), state, topic=f"counsel.join.{origin.value}", effect=effect)

    def event(self, event: Event, state: ChatState, crisis: Assessment | None) -> Turn | None:
        """An event during a conversation (flow COUNSEL); None for what is answered as
        usual (menus, buttons, the emergency key) without ending it."""
        conversation = state.counsel
        if conversation is None:
            return None
        match event:
            case TextEvent(text=text) if text.strip():
                return Turn((), state, effect=Relay(conversation, text, risk_of(crisis)))
            case CommandEvent(name=name) if name.casefold() in END_COMMANDS:
                return self.end(state)
            case ButtonEvent(action=Do.COUNSEL_END | Do.CANCEL):
                return self.end(state)
            case AttachmentEvent():
                attachment = event.ref()
                if attachment is None:
                    return self._say("counsel.media_failed", state, topic=None)
                return Turn((), state, effect=Relay(conversation, "", Risk.ORDINARY, attachment))
        return None

    def kept_open(self, turn: Turn, before: ChatState) -> Turn:
        """`turn`, answered during a conversation (`before`), unless it would start a report
        or a follow-up: that would silently take the young person's texts away from their
        counsellor, so they are asked to end the conversation first."""
        starts_flow = turn.state.flow not in (None, Flow.COUNSEL)
        if not starts_flow and turn.topic != REPORT_INTRO:
            return turn
        # The conversation as it was, in the language the turn settled on.
        state = replace(before, locale=turn.state.locale, chosen_locale=turn.state.chosen_locale)
        locale = state.language
        end = ((self._button("counsel.end_button", locale, Do.COUNSEL_END),),)
        text = self.catalog.render("counsel.still_open", locale).text
        return Turn((Reply(text, end),), state, topic="counsel.still_open")

    def end(self, state: ChatState) -> Turn:
        if state.flow is not Flow.COUNSEL or state.counsel is None:
            return self._say("counsel.not_in_conversation", state, topic=None, menu=True)
        return Turn((), state, topic="counsel.end", effect=EndCounselling(state.counsel))

    def feedback(self, helped: bool, state: ChatState) -> Turn:
        """ "Did it help?" answered: counted once per conversation."""
        if state.counsel is None or state.flow is Flow.COUNSEL:
            return self._say("counsel.thanks", state, topic=None, menu=True)
        state = replace(state, counsel=None)
        topic = "counsel.helped" if helped else "counsel.not_helped"
        return Turn((), state, topic=topic, effect=CounselFeedback(helped))

    def resolve(self, effect: CounselEffect, outcome: Outcome, state: ChatState) -> Turn:
        match effect, outcome:
            case RequestCounsellor(origin=origin), Done(queued=Queued() as queued):
                state = replace(state, flow=Flow.COUNSEL, step=None, counsel=queued.conversation)
                return self._queued(queued, origin, state)
            case RequestCounsellor(), Failure.UNSTAFFED:
                return self._unstaffed(state)
            case RequestCounsellor() | Relay(), Failure.NOT_READY:  # no desk to seal to yet
                unheld = replace(state, flow=None, counsel=None)
                return self._say("counsel.not_ready", unheld, topic=None, menu=True)
            case OfferCounsellor(origin=origin), Done():
                return self._offered("counsel.offer", "counsel.offer_button", origin, state)
            case OfferCounsellor(), Failure.UNSTAFFED:
                return self._offered(
                    "counsel.offer_later", "counsel.leave_button", Origin.MESSAGE, state
                )
            case OfferCounsellor(), _:  # storage down: the answer before it stands alone
                return Turn((), state)
            case Relay(), Done():
                return Turn((), state)
            case Relay(attachment=AttachmentRef()), Failure.UNSUPPORTED:  # could not fetch it
                return self._say("counsel.media_failed", state, topic=None)
            case Relay(), Failure.ENDED:
                return self._ended(replace(state, flow=None), "counsel.ended")
            case EndCounselling(), Done():
                return self._ended(replace(state, flow=None), "counsel.ended")
            case CounselFeedback(), _:
                return self._say("counsel.thanks", state, topic=None, menu=True)
        return self._say("error.storage_down", state, topic=None)

    def _queued(self, queued: Queued, origin: Origin, state: ChatState) -> Turn:
        locale = state.language
        if origin is Origin.MESSAGE:
            text = self.catalog.render("counsel.message_left", locale).text
            end = ((self._button("counsel.end_button", locale, Do.COUNSEL_END),),)
            return Turn((Reply(text, end),), state, topic="counsel.queued")
        return Turn((self.place(queued, locale),), state, topic="counsel.queued")

    def place(self, queued: Queued, locale: str) -> Reply:
        """ "You are number N, about M minutes": sent on joining, then edited in place."""
        if queued.wait_minutes is None:
            text = self.catalog.render(
                "counsel.queued_unknown", locale, position=queued.position
            ).text
        else:
            text = self.catalog.render(
                "counsel.queued", locale, position=queued.position, minutes=queued.wait_minutes
            ).text
        end = ((self._button("counsel.end_button", locale, Do.COUNSEL_END),),)
        return Reply(text, end, place=queued)

    def _offered(self, message_id: str, label: str, origin: Origin, state: ChatState) -> Turn:
        """The offer after an answer: its button leads to the consent for `origin`."""
        locale = state.language
        button = self._button(label, locale, CounselOffer(origin))
        text = self.catalog.render(message_id, locale).text
        return Turn((Reply(text, ((button,),)),), state)

    def _in_queue_again(self, state: ChatState) -> Turn:
        """Asking again while a conversation is open: it goes on (texts still reach it)."""
        locale = state.language
        end = ((self._button("counsel.end_button", locale, Do.COUNSEL_END),),)
        text = self.catalog.render("counsel.message_left", locale).text
        return Turn((Reply(text, end),), state, topic=None)

    def _unstaffed(self, state: ChatState) -> Turn:
        locale = state.language
        buttons = (
            (self._button("counsel.leave_button", locale, CounselJoin(Origin.MESSAGE)),),
            *self.catalog.render("menu.short", locale).buttons,
        )
        text = self.catalog.render("counsel.unstaffed", locale).text
        return Turn((Reply(text, buttons),), state, topic="counsel.unstaffed")

    def _ended(self, state: ChatState, message_id: str) -> Turn:
        locale = state.language
        ended = Reply(self.catalog.render(message_id, locale).text)
        replies = (ended, self.feedback_question(locale), self.erase_offer(locale))
        return Turn(replies, state, topic="counsel.ended")

    def erase_offer(self, locale: str) -> Reply:
        """As after a report: erase the chat (what someone looking at the phone could read),
        or keep it (the report flow's buttons, answered the same way)."""
        buttons = (
            (Button(self._t("report.erase_button", locale), encode(ReportButton.ERASE)),),
            (Button(self._t("report.keep_button", locale), encode(ReportButton.KEEP)),),
        )
        return Reply(self._t("counsel.erase_offer", locale), buttons)

    def _t(self, message_id: str, locale: str) -> str:
        return self.catalog.render(message_id, locale).text

    def feedback_question(self, locale: str) -> Reply:
        rendered = self.catalog.render("counsel.feedback", locale)
        return Reply(rendered.text, rendered.buttons)

    def counsellor_ended(self, event: CounsellorEnded, state: ChatState) -> Turn:
        """The counsellor ended the conversation: texts go to the NLU again, and "did it
        help?" is asked (just the notice when this chat has moved on to another one)."""
        locale = state.language
        closed = Reply(self.catalog.render("counsel.closed", locale, alias=event.alias).text)
        if state.flow is not Flow.COUNSEL or state.counsel != event.conversation:
            return Turn((closed,), state)
        state = replace(state, flow=None)
        replies = (closed, self.feedback_question(locale), self.erase_offer(locale))
        return Turn(replies, state, topic="counsel.closed")

    def handed_over(self, reply: model.Reply) -> Reply:
        """What the bot sends when another counsellor takes the conversation over."""
        return Reply(self._t("counsel.handover", reply.locale))

    def counsellor_says(self, reply: model.Reply) -> Reply:
        """What the bot sends for a counsellor's message."""
        text = self.catalog.render(
            "counsel.reply", reply.locale, alias=reply.alias, text=reply.text
        )
        return Reply(text.text)

    def _say(
        self, message_id: str, state: ChatState, *, topic: str | None, menu: bool = False
    ) -> Turn:
        locale = state.language
        buttons = self.catalog.render("menu.short", locale).buttons if menu else ()
        return Turn(
            (Reply(self.catalog.render(message_id, locale).text, buttons),), state, topic=topic
        )

    def _button(
        self, message_id: str, locale: str, action: Do | CounselJoin | CounselOffer
    ) -> Button:
        return Button(self.catalog.render(message_id, locale).text, encode(action))
