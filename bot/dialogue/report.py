"""The anonymous report flow and the receipt follow-up flow, step by step.

Pure like the engine: every step takes the chat state and an event and returns a Turn
(the one random thing is the submission id the first review gives a draft).
The draft lives in the chat state (which the store encrypts at rest, and which expires
after DRAFT_TTL_SECONDS); what is typed during a report never goes to the NLU, and
storage work (sealing, opening) is returned as an effect for the assistant to perform.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace

from babel.dates import format_date

from bot.content import Button, Catalog
from bot.dialogue.actions import (
    Action,
    Do,
    FollowupButton,
    ReportAction,
    ReportButton,
    ReportCategory,
    ReportRegion,
    ReportWhen,
    encode,
)
from bot.dialogue.effects import (
    AddFollowup,
    Done,
    Effect,
    EraseChat,
    Failure,
    OpenFollowup,
    Outcome,
    SubmitTip,
)
from bot.dialogue.events import (
    AttachmentEvent,
    Event,
    LocationEvent,
    TextEvent,
)
from bot.dialogue.replies import Key, Reply, Turn
from bot.dialogue.screens import split_reply
from bot.dialogue.state import ChatState, Flow, Step
from bot.services import haversine_km
from sini import regions
from sini.regions import Region
from tips.model import (
    Author,
    Category,
    Draft,
    TipError,
    TipView,
    When,
)
from tips.receipts import MalformedReceipt, Receipt, normalize_code, normalize_passphrase

KeyboardFactory = Callable[[str], tuple[tuple[Key, ...], ...]]


def new_submission() -> str:
    """A draft's submission id: random, so it says nothing about the chat or the tip."""
    return secrets.token_hex(16)


def closest_region(lat: float, lon: float) -> Region:
    """The region whose capital is nearest to a shared point (good enough for triage)."""
    return min(Region, key=lambda r: haversine_km(lat, lon, r.capital.lat, r.capital.lon))


class TipFlows:
    """Reporting and following up; the engine delegates to it while a flow is active."""

    def __init__(self, catalog: Catalog, keyboard: KeyboardFactory) -> None:
        self.catalog = catalog
        self.keyboard = keyboard

    # ----------------------------------------------------------------- helpers

    def _t(self, message_id: str, locale: str, **params: str) -> str:
        return self.catalog.render(message_id, locale, None, **params).text

    def _say(
        self,
        message_id: str,
        state: ChatState,
        *,
        topic: str | None = None,
        buttons: tuple[tuple[Button, ...], ...] | None = None,
        effect: Effect | None = None,
        forget_message: bool = False,
        **params: str,
    ) -> Turn:
        locale = state.language
        rendered = self.catalog.render(message_id, locale, None, **params)
        replies = split_reply(
            rendered.text, rendered.buttons if buttons is None else buttons, protect=True
        )
        return Turn(replies, state, topic=topic, effect=effect, forget_message=forget_message)

    def _cancel_row(self, locale: str) -> tuple[Button, ...]:
        return (Button(self._t("report.cancel_button", locale), encode(Do.CANCEL)),)

    @staticmethod
    def _draft(state: ChatState) -> Draft:
        """The draft in the state; a damaged one (it can only be tampered with or from an
        older version) starts over rather than failing the conversation."""
        if not state.draft:
            return Draft()
        try:
            return Draft.from_json(state.draft)
        except TipError:
            return Draft()

    @staticmethod
    def _with_draft(state: ChatState, draft: Draft, step: Step) -> ChatState:
        return replace(state, flow=Flow.REPORT, step=step, draft=draft.to_json().decode())

    @staticmethod
    def end(state: ChatState) -> ChatState:
        """Leave any flow; the draft and anything typed are dropped."""
        return replace(state, flow=None, step=None, draft=None, code=None, note=None)

    # ----------------------------------------------------------------- report

    def intro(self, state: ChatState) -> Turn:
        """What is and is not kept, that it is not an emergency service; then start."""
        locale = state.language
        buttons = (
            (Button(self._t("report.start_button", locale), encode(ReportButton.START)),),
            self._cancel_row(locale),
        )
        return self._say("report.intro", state, topic="report", buttons=buttons)

    def action(self, action: ReportAction, state: ChatState) -> Turn | None:
        """A report button; None when it does not fit the current step (stale or forged)."""
        locale = state.language
        in_report = state.flow is Flow.REPORT
        match action:
            case ReportButton.START:
                # A stale "start" button pressed mid-report asks the category again but
                # keeps what was already written (only /annuler or navigating away drops it).
                draft = self._draft(state) if in_report else Draft()
                return self._ask_category(self._with_draft(state, draft, Step.CATEGORY))
            case ReportCategory(category) if in_report:
                draft = self._draft(state).with_category(category)
                return self._ask_where(self._with_draft(state, draft, Step.WHERE))
            case ReportRegion(None) if in_report and state.step is Step.WHERE:
                return self._ask_when(self._with_draft(state, self._draft(state), Step.WHEN))
            case ReportRegion(str(label)) if (
                in_report and state.step is Step.WHERE and (region := regions.by_label(label))
            ):
                draft = self._draft(state).with_region(region)
                return self._ask_when(self._with_draft(state, draft, Step.WHEN))
            case ReportWhen(when) if in_report:
                draft = self._draft(state).with_when(when)
                return self._ask_what(self._with_draft(state, draft, Step.WHAT), locale)
            case ReportButton.REVIEW if in_report:
                return self._review(state)
            case ReportButton.MORE if in_report:
                return self._ask_what(replace(state, step=Step.WHAT), locale)
            case ReportButton.SEND if in_report and state.step is Step.REVIEW:
                return self._send(state)
            case ReportButton.ERASE:
                return Turn((), state, topic="report.erase", effect=EraseChat())
            case ReportButton.KEEP:
                return self._say("report.kept", state, topic="report.keep", buttons=())
        return None

    def _send(self, state: ChatState) -> Turn:
        draft = self._draft(state)
        if draft.category is None or draft.is_empty:
            return self._ask_what(replace(state, step=Step.WHAT), state.language)
        if draft.submission is None:  # a review shown by an older version
            draft = draft.with_submission(new_submission())
            state = self._with_draft(state, draft, Step.REVIEW)
        return Turn((), state, topic="report.send", effect=SubmitTip(draft))

    def _ask_choice(
        self, message_id: str, state: ChatState, topic: str, choices: list[tuple[str, Action]]
    ) -> Turn:
        """A question answered with one button per (label's message id, action)."""
        locale = state.language
        rows = tuple((Button(self._t(label, locale), encode(action)),) for label, action in choices)
        return self._say(message_id, state, topic=topic, buttons=(*rows, self._cancel_row(locale)))

    def _ask_category(self, state: ChatState) -> Turn:
        choices: list[tuple[str, Action]] = [
            (f"tipcat.{category.value}", ReportCategory(category)) for category in Category
        ]
        return self._ask_choice("report.ask_category", state, "report.start", choices)

    def _ask_where(self, state: ChatState) -> Turn:
        """Region buttons, free text, or a shared location (rounded to ~1 km)."""
        locale = state.language
        keyboard = (
            (Key(self._t("key.location", locale), request_location=True),),
            *self.keyboard(locale),
        )
        ask = Reply(self._t("report.ask_where", locale), keyboard=keyboard, protect=True)
        names = sorted(region.label for region in Region)
        rows = tuple(
            tuple(Button(name, encode(ReportRegion(name))) for name in names[i : i + 3])
            for i in range(0, len(names), 3)
        )
        skip = (Button(self._t("report.skip_place", locale), encode(ReportRegion(None))),)
        pick = Reply(
            self._t("report.pick_region", locale),
            (*rows, skip, self._cancel_row(locale)),
            protect=True,
        )
        return Turn((ask, pick), state, topic="report.category")

    def _ask_when(self, state: ChatState) -> Turn:
        choices: list[tuple[str, Action]] = [
            (f"tipwhen.{when.value}", ReportWhen(when)) for when in When
        ]
        return self._ask_choice("report.ask_when", state, "report.where", choices)

    def _ask_what(self, state: ChatState, locale: str) -> Turn:
        turn = self._say(
            "report.ask_what", state, topic="report.when", buttons=(self._cancel_row(locale),)
        )
        return replace(
            turn,
            replies=(
                *turn.replies,
                Reply(self._t("report.keyboard_back", locale), keyboard=self.keyboard(locale)),
            ),
        )

    def _noted(self, state: ChatState) -> Turn:
        locale = state.language
        draft = self._draft(state)
        buttons = (
            (Button(self._t("report.done_button", locale), encode(ReportButton.REVIEW)),),
            self._cancel_row(locale),
        )
        return self._say(
            "report.noted",
            state,
            topic="report.what",
            buttons=buttons,
            parts=str(len(draft.parts)),
            attachments=str(len(draft.attachments)),
        )

    def _review(self, state: ChatState) -> Turn:
        """What will be sent, with the send button. The first review gives the draft its
        submission id, kept while the draft lives (more parts may still be added): the
        store keeps one tip per id, however often "send" reaches it."""
        locale = state.language
        draft = self._draft(state)
        if draft.is_empty:
            return self._ask_what(replace(state, step=Step.WHAT), locale)
        if draft.submission is None:
            draft = draft.with_submission(new_submission())
            state = self._with_draft(state, draft, Step.REVIEW)
        category = self._t(f"tipcat.{draft.category.value}", locale) if draft.category else "—"
        when = self._t(f"tipwhen.{draft.when.value}", locale) if draft.when else "—"
        region = draft.region.label if isinstance(draft.region, Region) else None
        place = ", ".join(x for x in (draft.place, region) if x) or "—"
        buttons = (
            (Button(self._t("report.send_button", locale), encode(ReportButton.SEND)),),
            (Button(self._t("report.more_button", locale), encode(ReportButton.MORE)),),
            self._cancel_row(locale),
        )
        return self._say(
            "report.review",
            replace(state, step=Step.REVIEW),
            topic="report.review",
            buttons=buttons,
            category=category,
            when=when,
            place=place,
            parts=str(len(draft.parts)),
            attachments=str(len(draft.attachments)),
        )

    def event(self, event: Event, state: ChatState) -> Turn | None:
        """Text, location or attachment during a flow; None if the flow does not take it."""
        match state.flow:
            case Flow.REPORT:
                return self._report_event(event, state)
            case Flow.FOLLOWUP:
                return self._followup_event(event, state)
        return None

    def _report_event(self, event: Event, state: ChatState) -> Turn | None:
        draft = self._draft(state)
        locale = state.language
        try:
            match state.step, event:
                case Step.WHERE, LocationEvent(latitude=latitude, longitude=longitude):
                    draft = draft.with_location(latitude, longitude)
                    draft = draft.with_region(closest_region(latitude, longitude))
                    return self._ask_when(self._with_draft(state, draft, Step.WHEN))
                case Step.WHERE, TextEvent(text=text) if text.strip():
                    draft = draft.with_place(text)
                    region = regions.in_text(text)
                    if region is not None:
                        draft = draft.with_region(region)
                    return self._ask_when(self._with_draft(state, draft, Step.WHEN))
                case Step.WHAT | Step.REVIEW, TextEvent(text=text):
                    if not text.strip():
                        return self._noted(state)
                    return self._noted(self._with_draft(state, draft.add_text(text), Step.WHAT))
                case Step.WHAT | Step.REVIEW, AttachmentEvent():
                    ref = event.ref()
                    if ref is None:
                        return self._say("report.attachment_refused", state, buttons=None)
                    draft = draft.add_attachment(ref)
                    return self._noted(self._with_draft(state, draft, Step.WHAT))
        except TipError:
            return self._say(
                "report.limit",
                state,
                topic="report.limit",
                buttons=(
                    (Button(self._t("report.done_button", locale), encode(ReportButton.REVIEW)),),
                    self._cancel_row(locale),
                ),
            )
        match event:
            case TextEvent() | LocationEvent() | AttachmentEvent():
                return self._say(
                    "report.use_buttons",
                    state,
                    topic="report.use_buttons",
                    buttons=(self._cancel_row(locale),),
                )
        return None

    # ----------------------------------------------------------------- follow-up

    def start_followup(self, state: ChatState) -> Turn:
        locale = state.language
        state = replace(self.end(state), flow=Flow.FOLLOWUP, step=Step.CODE)
        return self._say(
            "followup.ask_code", state, topic="followup", buttons=(self._cancel_row(locale),)
        )

    def followup_add(self, state: ChatState) -> Turn | None:
        """ "Add information" under a tip's status; None outside a follow-up."""
        locale = state.language
        if state.flow is Flow.FOLLOWUP and state.code:
            return self._say(
                "followup.ask_text",
                replace(state, step=Step.ADD_TEXT),
                topic="followup.add",
                buttons=(self._cancel_row(locale),),
            )
        return None

    def _followup_event(self, event: Event, state: ChatState) -> Turn | None:
        locale = state.language
        cancel = (self._cancel_row(locale),)
        if not isinstance(event, TextEvent):
            return self._say("followup.text_only", state, buttons=cancel)
        match state.step:
            case Step.CODE:
                try:
                    code = normalize_code(event.text)
                except MalformedReceipt:
                    return self._say("followup.bad_code", state, buttons=cancel)
                return self._say(
                    "followup.ask_passphrase",
                    replace(state, step=Step.PASSPHRASE, code=code),
                    buttons=cancel,
                )
            case Step.PASSPHRASE | Step.ADD_CONFIRM if state.code:
                try:
                    passphrase = normalize_passphrase(event.text)
                except MalformedReceipt:
                    return self._say("followup.invalid", state, buttons=cancel, forget_message=True)
                effect: Effect = (
                    AddFollowup(state.code, passphrase, state.note)
                    if state.step is Step.ADD_CONFIRM and state.note
                    else OpenFollowup(state.code, passphrase)
                )
                return Turn((), state, topic="followup.open", effect=effect, forget_message=True)
            case Step.ADD_TEXT | Step.VIEW if event.text.strip():
                # On the status screen, writing is adding: the passphrase confirms it.
                return self._say(
                    "followup.confirm_passphrase",
                    replace(state, step=Step.ADD_CONFIRM, note=event.text.strip()[:4000]),
                    buttons=cancel,
                )
        return None

    # ----------------------------------------------------------------- outcomes

    def resolve(self, effect: Effect, outcome: Outcome, state: ChatState) -> Turn:
        """Word the result of an effect the assistant performed."""
        locale = state.language
        match effect, outcome:
            case _, Failure():
                return self._failure(outcome, state)
            case SubmitTip(), Done(receipt=Receipt() as receipt):
                erase = (
                    (Button(self._t("report.erase_button", locale), encode(ReportButton.ERASE)),),
                    (Button(self._t("report.keep_button", locale), encode(ReportButton.KEEP)),),
                )
                done = self._say(
                    "report.receipt",
                    self.end(state),
                    topic="report.submitted",
                    buttons=(),
                    code=receipt.code,
                    passphrase=receipt.passphrase,
                )
                offer = Reply(self._t("report.erase_offer", locale), erase, protect=True)
                return replace(done, replies=(*done.replies, offer))
            case OpenFollowup(), Done(view=TipView() as view):
                return self._show(view, replace(state, step=Step.VIEW))
            case AddFollowup(), _:
                return self._say(
                    "followup.added", self.end(state), topic="followup.added", buttons=None
                )
            case EraseChat(), _:
                return self._say("report.erased", state, topic="report.erased", buttons=None)
        return self._say("error.internal", state, buttons=None)

    def _failure(self, failure: Failure, state: ChatState) -> Turn:
        cancel = (self._cancel_row(state.language),)
        match failure:
            case Failure.INVALID:
                state = replace(state, step=Step.CODE, code=None)
                return self._say("followup.invalid", state, buttons=cancel)
            case Failure.LOCKED:
                return self._say("followup.locked", self.end(state), buttons=None)
            case Failure.QUOTA:
                return self._say("report.quota", self.end(state), buttons=None)
            case Failure.UNSUPPORTED:
                return self._say("report.erase_unsupported", state, buttons=None)
            case Failure.NOT_READY:
                return self._say("report.not_ready", self.end(state), buttons=None)
            case Failure.ALREADY_STORED:
                # The receipt cannot be shown again (only the passphrase's key is stored):
                # say so plainly, and leave the report, whose draft is stored.
                return self._say(
                    "report.already_stored",
                    self.end(state),
                    topic="report.already_stored",
                    buttons=None,
                )
        return self._say("error.storage_down", state, buttons=None)

    def _show(self, view: TipView, state: ChatState) -> Turn:
        locale = state.language
        status = self._t(f"tipstatus.{view.status.value}", locale)
        since = format_date(view.created_hour.date(), format="long", locale=locale)
        lines = [self._t("followup.status", locale, status=status, date=since)]
        replies = [m for m in view.thread if m.author is Author.DESK]
        if replies:
            lines.append(self._t("followup.replies", locale))
            lines.extend(
                f"— {format_date(m.hour.date(), format='medium', locale=locale)} : {m.text}"
                for m in replies
            )
        else:
            lines.append(self._t("followup.no_reply", locale))
        buttons = (
            (Button(self._t("followup.add_button", locale), encode(FollowupButton.ADD)),),
            (Button(self._t("followup.done_button", locale), encode(Do.CANCEL)),),
        )
        return Turn((Reply("\n".join(lines), buttons, protect=True),), state, topic="followup.view")


__all__ = ["Done", "Failure", "TipFlows", "closest_region"]
