"""The queue (search, filters, pages, counts, previews, retention warnings), going to a tip
by its reference, actions on several tips at once, and the CSV export."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from staff import bulk, fields, paging, queue, retention, search
from staff.accounts import Role
from staff.sessions import Session
from staff.views.tip import LOOKUP
from staff.web import redirect, render, staff_only, state_of
from tips.keys import desk_public_key
from tips.model import TIP_REGIONS, Category, Status
from tips.references import Reference


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _page_number(request: Request) -> int:
    """The 1-based page the URL asks for (anything unreadable: the first)."""
    text = request.query_params.get("page", "")
    return max(int(text), 1) if text.isdigit() else 1


@staff_only()
async def queue_page(request: Request, session: Session) -> Response:
    staff = state_of(request)
    wanted = queue.QueueFilter.parse(request.query_params)
    now = _now()
    number = _page_number(request)
    size = paging.PAGE_SIZE
    found = None
    if wanted.text:
        await staff.search.catch_up(staff.redis, session.keyring)
        found = staff.search.matching(wanted.text)
    shown = await paging.queue_page(
        staff.desk, wanted, session.account, now, (number - 1) * size, size, found
    )
    if wanted.text:  # how many were found, never what was searched for
        await staff.audit.record(session.account, "tip.search", detail=f"{shown.total} résultats")
    total, counts = await staff.desk.counts()
    days, warning = staff.config.retention_days, staff.config.retention_warning_hours
    return render(
        request,
        "queue.html",
        session,
        rows=[
            {
                "record": r,
                "age": staff.formatter.age(r.created_hour, now),
                "priority": queue.priority_level(queue.priority(r, now)),
                "expires": retention.expires_soon(r, days, warning, now),
                "preview": search.preview(staff.search.text(r, session.keyring)),
            }
            for r in shown.records
        ],
        matching=shown.total,
        page=number,
        pages=max((shown.total + size - 1) // size, 1),
        counts=counts,
        total=total,
        expiring=await retention.expiring(staff.desk, days, warning, now),
        wanted=wanted,
        params=wanted.as_params(),
        statuses=list(Status),
        categories=list(Category),
        regions=TIP_REGIONS,
        ages=queue.AGES,
        sorts=queue.SORTS,
        retention_days=days,
        accounts=[a for a in await staff.accounts.list() if not a.disabled],
        known_labels=await staff.desk.labels(),
        bulk_actions=bulk.ACTIONS,
        back=urlencode(wanted.as_params()),
    )


@staff_only()
async def go_to_reference(request: Request, session: Session) -> Response:
    """The tip a typed reference names (e.g. "T-26-0172"), or the queue with a notice."""
    reference = Reference.typed(request.query_params.get("ref", ""))
    lookup = await state_of(request).desk.find(reference) if reference else None
    return redirect(f"/tips/{lookup}" if lookup else "/?msg=unknown_reference")


@staff_only(back="/")
async def bulk_action(request: Request, session: Session) -> Response:
    """One action on the tips checked in the queue, with its reason; back to the same
    queue (filters and search kept) with how it went."""
    staff = state_of(request)
    form = await request.form()
    back = fields.one_line(form.get("back"))

    def to_queue(notice: str) -> Response:
        return redirect(queue.back_to_queue(back, notice))

    lookups = [v for v in form.getlist("tip") if isinstance(v, str) and LOOKUP.match(v)]
    action = fields.one_line(form.get("action"))
    reason = fields.paragraph(form.get("reason"))
    account = fields.one_line(form.get("account")).lower() or None
    label = fields.one_line(form.get("label")) or None
    if not lookups:
        return to_queue("bulk_none")
    if action not in {a.value for a in bulk.BulkAction}:
        return to_queue("transition")
    if not reason:
        return to_queue("bulk_reason")
    chosen = bulk.BulkAction(action)
    if (chosen is bulk.BulkAction.ASSIGN and account is None) or (
        chosen is bulk.BulkAction.LABEL and label is None
    ):
        return to_queue("bulk_argument")
    if chosen is bulk.BulkAction.ASSIGN and account is not None:
        known = await staff.accounts.get(account)
        if known is None or known.disabled:
            return to_queue("unknown_account")
    outcome = await bulk.apply(
        staff.desk,
        staff.audit,
        await desk_public_key(staff.redis),
        bulk.Bulk(chosen, reason, account, label),
        lookups,
        session.account,
        _now(),
    )
    return to_queue("bulk_partial" if outcome.skipped else "bulk_done")


@staff_only(Role.ADMIN)
async def export_csv(request: Request, session: Session) -> Response:
    """The filtered queue as CSV (admins; audited with the row count and the filter)."""
    staff = state_of(request)
    form = await request.form()
    wanted = replace(queue.QueueFilter.parse(form), text="")
    now = _now()
    rows = (await paging.queue_page(staff.desk, wanted, session.account, now, 0, None)).records
    body = queue.to_csv(rows, staff.formatter)
    # The filters, never words searched for (the export does not search, and the audit
    # must not hold what staff looked for).
    filters = {k: v for k, v in wanted.as_params().items() if k != "q"}
    described = ", ".join(f"{k}={v}" for k, v in sorted(filters.items()))
    await staff.audit.record(
        session.account, "export.csv", detail=f"{len(rows)} lignes; {described or 'tout'}"
    )
    filename = f"signalements-{now:%Y%m%d-%H%M}.csv"
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


routes = [
    Route("/", queue_page, methods=["GET"]),
    Route("/ref", go_to_reference, methods=["GET"]),
    Route("/export", export_csv, methods=["POST"]),
    Route("/bulk", bulk_action, methods=["POST"]),
]
