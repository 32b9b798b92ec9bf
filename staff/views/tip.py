"""One tip: decrypted content, attachments, thread, notes, history, and the desk's actions
(note, status with reason, assignment, reply to the tipster). Every view is audited."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timezone

from nacl.public import PublicKey
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from staff import fields, forwarding, queue, retention, stats
from staff.accounts import Role
from staff.attachments import attachment_response, shown
from staff.audit import TipJournal, named, status_detail
from staff.errors import FormRefused, NotFound
from staff.formatting import Formatter
from staff.forwarding import ForwardTargets
from staff.sessions import Session
from staff.web import StaffState, notice_url, redirect, render, staff_only, state_of
from tips.desk import Reason
from tips.keys import desk_public_key
from tips.model import AttachmentMeta, Message, Status, TipContent, tidy_label

LOOKUP = re.compile(r"^[0-9a-f]{32}$")
OTHER_TARGET = "__other__"


# The success notice of each form that holds a draft (`static/drafts.js` forgets it then).
DRAFT_SENT = {
    "note_added": "note",
    "replied": "reply",
    "status_changed": "status",
    "kept": "keep",
}


@dataclass(frozen=True)
class AttachmentItem:
    """An attachment as the page lists it: where it came from and how to show it."""

    meta: AttachmentMeta
    source: str  # "signalement" or "message du …"
    show: str  # "image" | "audio" | "video" | "download"

    @property
    def number(self) -> int:
        """Its number for people (the page, the audit), from 1; the URL keeps the index."""
        return self.meta.index + 1


def _attachments(
    content: TipContent, thread: list[Message], fmt: Formatter
) -> list[AttachmentItem]:
    items = [AttachmentItem(m, "signalement", shown(m.mime_type).show) for m in content.attachments]
    for message in thread:
        source = f"message du {fmt.datetime(message.hour)}"
        items.extend(
            AttachmentItem(m, source, shown(m.mime_type).show) for m in message.attachments
        )
    return items


def _lookup(request: Request) -> str:
    lookup = str(request.path_params.get("lookup", ""))
    if not LOOKUP.match(lookup):
        raise NotFound("Signalement introuvable.")
    return lookup


def _back(lookup: str, msg: str, anchor: str) -> Response:
    return redirect(notice_url(f"/tips/{lookup}", msg, anchor))


@staff_only()
async def tip_page(request: Request, session: Session) -> Response:
    staff = state_of(request)
    lookup = _lookup(request)
    record = await staff.desk.get(lookup)
    content = await staff.desk.open(lookup, session.keyring)
    thread = await staff.desk.thread(lookup, session.keyring)
    notes = await staff.desk.notes(lookup, session.keyring)
    history = await staff.desk.history(lookup, session.keyring)
    await staff.audit.record(session.account, "tip.view", lookup, named(record))
    now = datetime.now(timezone.utc)
    accounts = [a for a in await staff.accounts.list() if not a.disabled]
    return render(
        request,
        "tip.html",
        session,
        record=record,
        content=content,
        thread=thread,
        notes=notes,
        history=history,
        attachments=_attachments(content, thread, staff.formatter),
        transitions=[s for s in Status if record.status.can_become(s)],
        accounts=accounts,
        known_labels=await staff.desk.labels(),
        targets=await ForwardTargets(staff.redis).list(),
        other_target=OTHER_TARGET,
        draft_sent=DRAFT_SENT.get(request.query_params.get("msg", ""), ""),
        age=staff.formatter.age(record.created_hour, now),
        priority=queue.priority_level(queue.priority(record, now)),
        expires=retention.expires_at(record, staff.config.retention_days),
    )


@staff_only()
async def attachment(request: Request, session: Session) -> Response:
    """One attachment's bytes, for logged-in staff only, never cached, never sniffed.

    Only photos (re-encoded JPEG), voice notes and videos may render inline; everything
    else is a download with a neutral type and its own extension, and the response's own
    CSP sandboxes it.
    """
    staff = state_of(request)
    lookup = _lookup(request)
    index: int = request.path_params["index"]
    content = await staff.desk.open(lookup, session.keyring)
    thread = await staff.desk.thread(lookup, session.keyring)
    metas = [*content.attachments, *(m for msg in thread for m in msg.attachments)]
    meta = next((m for m in metas if m.index == index), None)
    if meta is None:
        raise NotFound("Pièce jointe introuvable.")
    data = await staff.desk.open_attachment(lookup, index, session.keyring)
    number = index + 1
    await staff.audit.record(session.account, "attachment.view", lookup, f"pièce {number}")
    return attachment_response(request, data, meta, f"signalement-{lookup[:8]}-{number}")


async def _form_text(request: Request, name: str) -> str:
    """A multi-line text field, without control characters (`fields.paragraph`)."""
    form = await request.form()
    return fields.paragraph(form.get(name))


async def _write(
    request: Request,
    session: Session,
    anchor: str,
    action: str,
    done: str,
    write: Callable[[StaffState, str, str, PublicKey, TipJournal], Awaitable[object]],
) -> Response:
    """A text written on a tip (an internal note, a reply to the tipster): sealed and
    audited in the same transaction (a refusal goes back to the form: `staff_only(back=…)`)."""
    staff = state_of(request)
    lookup = _lookup(request)
    text = await _form_text(request, "text")
    journal = staff.audit.of_tip(session.account, action, lambda _before, after: named(after))
    await write(staff, lookup, text, await desk_public_key(staff.redis), journal)
    return _back(lookup, done, anchor)


@staff_only(back="/tips/{lookup}#notes")
async def add_note(request: Request, session: Session) -> Response:
    return await _write(
        request,
        session,
        "notes",
        "tip.note",
        "note_added",
        lambda staff, lookup, text, public, journal: staff.desk.add_note(
            lookup, text, session.account, public, journal=journal
        ),
    )


@staff_only(back="/tips/{lookup}#status")
async def change_status(request: Request, session: Session) -> Response:
    staff = state_of(request)
    lookup = _lookup(request)
    form = await request.form()
    wanted = fields.one_line(form.get("status"))
    reason = fields.paragraph(form.get("reason"))
    target = fields.one_line(form.get("forwarded_to"))
    if target == OTHER_TARGET:
        target = fields.one_line(form.get("forwarded_other"))
    target = forwarding.spelling(target, await ForwardTargets(staff.redis).list())
    if wanted not in {s.value for s in Status}:
        raise FormRefused("transition")
    status = Status(wanted)
    if not reason:
        raise FormRefused("reason_required")
    if status is Status.FORWARDED and not target:
        raise FormRefused("forward_required")
    before, _ = await staff.desk.set_status(
        lookup,
        status,
        reason,
        session.account,
        forwarded_to=target if status is Status.FORWARDED else None,
        desk_public_key=await desk_public_key(staff.redis),
        journal=staff.audit.of_tip(session.account, "tip.status", status_detail),
    )
    if before.status is Status.NEW:
        await stats.record_first_review(
            staff.redis, before.created_hour, datetime.now(timezone.utc)
        )
    return _back(lookup, "status_changed", "status")


@staff_only(back="/tips/{lookup}#assign")
async def assign(request: Request, session: Session) -> Response:
    """Give the tip to an account, from its page or from its row in the queue (`queue`:
    the queue's filters, to go back there)."""
    staff = state_of(request)
    lookup = _lookup(request)
    form = await request.form()
    name = fields.one_line(form.get("account")).lower()
    if name:
        account = await staff.accounts.get(name)
        if account is None or account.disabled:
            raise FormRefused("unknown_account")
    await staff.desk.assign(
        lookup,
        name or None,
        journal=staff.audit.of_tip(
            session.account,
            "tip.assign",
            lambda _before, after: named(after, after.assigned_to or "personne"),
        ),
    )
    if "queue" in form:
        return redirect(queue.back_to_queue(fields.one_line(form.get("queue")), "assigned"))
    return _back(lookup, "assigned", "assign")


@staff_only(back="/tips/{lookup}#thread")
async def reply(request: Request, session: Session) -> Response:
    return await _write(
        request,
        session,
        "thread",
        "tip.reply",
        "replied",
        lambda staff, lookup, text, public, journal: staff.desk.reply_to_tipster(
            lookup, text, public, journal=journal
        ),
    )


@staff_only(back="/tips/{lookup}#labels")
async def label(request: Request, session: Session) -> Response:
    """Give the tip a label, or take it away (`remove=1`); audited with the change."""
    staff = state_of(request)
    lookup = _lookup(request)
    form = await request.form()
    text = fields.one_line(form.get("label"))
    remove = form.get("remove") == "1"
    await staff.desk.label(
        lookup,
        text,
        remove=remove,
        journal=staff.audit.of_tip(
            session.account,
            "tip.unlabel" if remove else "tip.label",
            lambda _before, after: named(after, tidy_label(text)),
        ),
    )
    return _back(lookup, "label_removed" if remove else "labelled", "labels")


@staff_only(back="/tips/{lookup}#labels")
async def important(request: Request, session: Session) -> Response:
    staff = state_of(request)
    lookup = _lookup(request)
    flag = (await request.form()).get("important") == "1"
    await staff.desk.mark_important(
        lookup,
        flag,
        journal=staff.audit.of_tip(
            session.account,
            "tip.important" if flag else "tip.unimportant",
            lambda _before, after: named(after),
        ),
    )
    return _back(lookup, "important_set" if flag else "important_unset", "labels")


@staff_only(Role.ADMIN, back="/tips/{lookup}#keep")
async def keep(request: Request, session: Session) -> Response:
    """An admin keeps a closed or rejected tip longer than retention would (with a reason,
    kept as a sealed note; the audit says until when)."""
    staff = state_of(request)
    lookup = _lookup(request)
    form = await request.form()
    reason = fields.paragraph(form.get("reason"))
    try:
        day = date.fromisoformat(fields.one_line(form.get("until")))
    except ValueError:
        raise FormRefused("keep_date") from None
    until = datetime.combine(day, time(), timezone.utc)
    if until <= datetime.now(timezone.utc):
        raise FormRefused("keep_date")
    if not reason:
        raise FormRefused("reason_required")
    await staff.desk.keep_until(
        lookup,
        until,
        Reason(session.account, reason, await desk_public_key(staff.redis)),
        journal=staff.audit.of_tip(
            session.account,
            "tip.keep",
            lambda _before, after: named(after, f"jusqu'au {day.isoformat()}"),
        ),
    )
    return _back(lookup, "kept", "keep")


routes = [
    Route("/tips/{lookup}", tip_page, methods=["GET"]),
    Route("/tips/{lookup}/attachments/{index:int}", attachment, methods=["GET"]),
    Route("/tips/{lookup}/note", add_note, methods=["POST"]),
    Route("/tips/{lookup}/status", change_status, methods=["POST"]),
    Route("/tips/{lookup}/assign", assign, methods=["POST"]),
    Route("/tips/{lookup}/reply", reply, methods=["POST"]),
    Route("/tips/{lookup}/label", label, methods=["POST"]),
    Route("/tips/{lookup}/important", important, methods=["POST"]),
    Route("/tips/{lookup}/keep", keep, methods=["POST"]),
]
