"""The counselling console: the waiting young people, most urgent first, and the
conversations this counsellor holds, with their messages and a reply form.

Nothing on it identifies anyone: a conversation shows as "Jeune n° 4821" (a number drawn
from its random id), its language, how it started and its risk. Each first reading of a
conversation, each claim, reply, transfer (to another counsellor or back to the queue),
end and change of alias is audited, never a message's text. Ending asks for a summary
(topic, risk assessed, referral) that only adds to the anonymous daily counts. The page reloads itself (`REFRESH_SECONDS`), which also keeps the counsellor on duty
unless they switched themselves off duty. Admins also supervise: every live conversation,
the queue, who is on duty, and who has waited too long (`LATE_SECONDS`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.content import LOCALES, Catalog
from bot.dialogue.cards import service_card
from bot.services import Service
from sini.counselling.model import Conversation, Message, Risk
from sini.counselling.store import ConversationNotFound, Unavailable
from sini.counselling.summary import Summary, Topic
from staff import fields
from staff.accounts import Role
from staff.attachments import attachment_response
from staff.errors import NotFound, Notice, Refused
from staff.sessions import Session
from staff.web import notice_url, redirect, render, staff_only, state_of

REFRESH_SECONDS = 10  # the fallback reload: under the store's DUTY_SECONDS, to stay on duty
LATE_SECONDS = 10 * 60  # a young person waiting longer is highlighted for supervisors


QUICK_PREFIX = "quick."  # the catalog messages a counsellor may send as ready answers


def quick_replies(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """The ready answers of `responses/messages/counsel.yml`, in each language: a
    conversation's are offered in the language the young person writes in."""
    ids = sorted(i for i in catalog.ids if i.startswith(QUICK_PREFIX))
    return {locale: tuple(catalog.render(i, locale).text for i in ids) for locale in LOCALES}


def service_cards(catalog: Catalog, services: Sequence[Service]) -> dict[tuple[str, str], str]:
    """Each directory service's card in each language, as the bot shows it, by (service
    id, locale): what a counsellor sends as a referral."""
    return {
        (service.id, locale): service_card(catalog, service, locale)
        for service in services
        for locale in LOCALES
    }


@dataclass(frozen=True)
class Open:
    """A conversation held by this counsellor, with what was said."""

    conversation: Conversation
    messages: list[Message]


def directory_entries(catalog: Catalog, services: Sequence[Service]) -> tuple[tuple[str, str], ...]:
    """Each directory service as the console's search lists it, by name: (id, "name ·
    town · kinds of help"), so that typing a town or a kind of help finds it."""
    entries = []
    for service in services:
        where = service.town or "tout le Mali"
        kinds = ", ".join(catalog.render(f"kind.{kind}", "fr").text for kind in service.kinds)
        entries.append((service.id, f"{service.label} · {where} · {kinds}"))
    return tuple(sorted(entries, key=lambda entry: entry[1].casefold()))


@staff_only(Role.COUNSELLOR)
async def console(request: Request, session: Session) -> Response:
    staff = state_of(request)
    counselling = staff.counselling
    since = await counselling.last_change()  # before the state: the events go on from here
    on_duty = await counselling.on_duty(session.account)
    held = []
    for conversation in await counselling.held_by(session.account):
        if await counselling.first_view(conversation.id, session.account):
            await staff.audit.record(session.account, "counsel.view", conversation.id)
        held.append(
            Open(conversation, await counselling.messages(conversation.id, session.keyring))
        )
    return render(
        request,
        "console.html",
        session,
        waiting=await counselling.waiting(),
        held=held,
        limit=counselling.limit,
        alias=await counselling.alias_of(session.account),
        refresh=REFRESH_SECONDS,
        since=since,
        on_duty=on_duty,
        counsellors=await counselling.available(session.account),
        topics=list(Topic),
        risks=sorted(Risk, reverse=True),
        referrals=sorted(staff.referrals.items(), key=lambda item: item[1].casefold()),
        directory=staff.directory,
        quick=staff.quick_replies,
    )


@staff_only(Role.COUNSELLOR, back="/console")
async def duty(request: Request, session: Session) -> Response:
    staff = state_of(request)
    on = (await request.form()).get("on") == "1"
    await staff.counselling.switch_duty(session.account, on)
    await staff.audit.record(session.account, "counsel.duty", detail="on" if on else "off")
    return redirect(notice_url("/console", "duty_on" if on else "duty_off"))


@staff_only(Role.ADMIN)
async def supervision(request: Request, session: Session) -> Response:
    """Every live conversation (who holds it, never what is said) and the queue; audited
    at each view."""
    staff = state_of(request)
    counselling = staff.counselling
    await staff.audit.record(session.account, "counsel.supervise")
    return render(
        request,
        "supervision.html",
        session,
        waiting=await counselling.waiting(),
        live=await counselling.live(),
        on_duty=await counselling.on_duty_now(),
        late_before=time.time() - LATE_SECONDS,
        late_minutes=LATE_SECONDS // 60,
    )


@staff_only(Role.COUNSELLOR, back="/console")
async def claim(request: Request, session: Session) -> Response:
    staff = state_of(request)
    conversation = fields.one_line((await request.form()).get("conversation"))
    await staff.counselling.claim(conversation, session.account)
    await staff.audit.record(session.account, "counsel.claim", conversation)
    return redirect(notice_url("/console", "claimed", f"c-{conversation}"))


@staff_only(Role.COUNSELLOR, back="/console")
async def reply(request: Request, session: Session) -> Response:
    staff = state_of(request)
    form = await request.form()
    conversation = fields.one_line(form.get("conversation"))
    await staff.counselling.reply(conversation, session.account, fields.paragraph(form.get("text")))
    await staff.audit.record(session.account, "counsel.reply", conversation)
    return redirect(notice_url("/console", "sent", f"c-{conversation}"))


@staff_only(Role.COUNSELLOR, back="/console")
async def card(request: Request, session: Session) -> Response:
    """A directory service's card sent to the young person, in their language, as a
    message of the counsellor's."""
    staff = state_of(request)
    form = await request.form()
    conversation, service = (fields.one_line(form.get(f)) for f in ("conversation", "service"))
    locale = (await staff.counselling.get(conversation)).locale
    text = staff.cards.get((service, locale))
    if text is None:
        raise by_conversation("card_unknown", conversation)
    await staff.counselling.reply(conversation, session.account, text)
    await staff.audit.record(session.account, "counsel.card", conversation, detail=service)
    return redirect(notice_url("/console", "card_sent", f"c-{conversation}"))


@staff_only(Role.COUNSELLOR, back="/console")
async def close(request: Request, session: Session) -> Response:
    staff = state_of(request)
    form = await request.form()
    conversation = fields.one_line(form.get("conversation"))
    topic, risk = fields.one_line(form.get("topic")), fields.one_line(form.get("risk"))
    referral = fields.one_line(form.get("referral")) or None
    if (
        topic not in Topic._value2member_map_
        or not risk.isdigit()
        or int(risk) not in Risk._value2member_map_
        or (referral is not None and referral not in staff.referrals)
    ):
        raise by_conversation("summary_missing", conversation)
    summary = Summary(Topic(topic), Risk(int(risk)), referral)
    await staff.counselling.close(conversation, session.account, summary)
    await staff.audit.record(session.account, "counsel.close", conversation)
    return redirect(notice_url("/console", "ended"))


@staff_only(Role.COUNSELLOR, back="/console")
async def transfer(request: Request, session: Session) -> Response:
    """To another counsellor (`to`), or back to the queue (`to` empty)."""
    staff = state_of(request)
    form = await request.form()
    conversation, to = fields.one_line(form.get("conversation")), fields.one_line(form.get("to"))
    if not to:
        await staff.counselling.requeue(conversation, session.account)
        await staff.audit.record(session.account, "counsel.requeue", conversation)
        return redirect(notice_url("/console", "requeued"))
    try:
        await staff.counselling.transfer(conversation, session.account, to)
    except Unavailable:
        raise by_conversation("unavailable", conversation) from None
    await staff.audit.record(session.account, "counsel.transfer", conversation, detail=to)
    return redirect(notice_url("/console", "transferred"))


@staff_only(Role.COUNSELLOR)
async def attachment(request: Request, session: Session) -> Response:
    """A photo, voice note or file the young person sent, for the counsellor holding the
    conversation only; each opening is audited (never its content)."""
    staff = state_of(request)
    conversation: str = request.path_params["conversation"]
    index: int = request.path_params["index"]
    held = {c.id for c in await staff.counselling.held_by(session.account)}
    if conversation not in held:
        raise NotFound("Conversation introuvable, ou tenue par un autre conseiller.")
    try:
        meta, data = await staff.counselling.attachment(conversation, index, session.keyring)
    except ConversationNotFound as error:
        raise NotFound("Pièce jointe introuvable.") from error
    number = index + 1
    await staff.audit.record(session.account, "counsel.attachment", conversation, f"pièce {number}")
    return attachment_response(request, data, meta, f"conversation-{conversation[:8]}-{number}")


def by_conversation(notice: str, conversation: str) -> Refused:
    """A refusal shown next to the forms of the conversation (still held) it concerns."""
    return Refused(Notice(notice, page=f"/console#c-{conversation}"))


@staff_only(Role.COUNSELLOR, back="/console")
async def alias(request: Request, session: Session) -> Response:
    staff = state_of(request)
    chosen = fields.one_line((await request.form()).get("alias"))
    await staff.counselling.set_alias(session.account, chosen)
    await staff.audit.record(session.account, "counsel.alias", detail=chosen)
    return redirect(notice_url("/console", "alias_set"))


routes = [
    Route("/console", console, methods=["GET"]),
    Route("/console/claim", claim, methods=["POST"]),
    Route("/console/reply", reply, methods=["POST"]),
    Route("/console/card", card, methods=["POST"]),
    Route("/console/close", close, methods=["POST"]),
    Route("/console/transfer", transfer, methods=["POST"]),
    Route("/console/alias", alias, methods=["POST"]),
    Route("/console/duty", duty, methods=["POST"]),
    Route("/console/supervision", supervision, methods=["GET"]),
    Route("/console/media/{conversation:str}/{index:int}", attachment, methods=["GET"]),
]
