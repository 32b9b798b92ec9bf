"""The queue (filters, pages, counts, retention warnings), going to a tip by its
reference, and the CSV export."""

from __future__ import annotations

from datetime import datetime, timezone

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from staff import paging, queue, retention
from staff.accounts import Role
from staff.sessions import Session
from staff.web import redirect, render, staff_only, state_of
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
    shown = await paging.queue_page(
        staff.desk, wanted, session.account, now, (number - 1) * size, size
    )
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
    )


@staff_only()
async def go_to_reference(request: Request, session: Session) -> Response:
    """The tip a typed reference names (e.g. "T-26-0172"), or the queue with a notice."""
    reference = Reference.typed(request.query_params.get("ref", ""))
    lookup = await state_of(request).desk.find(reference) if reference else None
    return redirect(f"/tips/{lookup}" if lookup else "/?msg=unknown_reference")


@staff_only(Role.ADMIN)
async def export_csv(request: Request, session: Session) -> Response:
    """The filtered queue as CSV (admins; audited with the row count and the filter)."""
    staff = state_of(request)
    form = await request.form()
    wanted = queue.QueueFilter.parse(form)
    now = _now()
    rows = (await paging.queue_page(staff.desk, wanted, session.account, now, 0, None)).records
    body = queue.to_csv(rows, staff.formatter)
    described = ", ".join(f"{k}={v}" for k, v in sorted(wanted.as_params().items()))
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
]
