"""The queue (filters, counts, retention warnings) and its CSV export."""

from __future__ import annotations

from datetime import datetime, timezone

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from staff import queue, retention
from staff.accounts import Role
from staff.sessions import Session
from staff.web import render, staff_only, state_of
from tips.model import TIP_REGIONS, Category, Status


def _now() -> datetime:
    return datetime.now(timezone.utc)


@staff_only()
async def queue_page(request: Request, session: Session) -> Response:
    staff = state_of(request)
    wanted = queue.QueueFilter.parse(request.query_params)
    now = _now()
    records = await staff.desk.records()
    shown = queue.apply(records, wanted, session.account, now)
    days = staff.config.retention_days
    expiring = {
        r.lookup
        for r in retention.expiring_soon(records, days, staff.config.retention_warning_hours, now)
    }
    return render(
        request,
        "queue.html",
        session,
        rows=[
            {
                "record": r,
                "age": staff.formatter.age(r.created_hour, now),
                "priority": queue.priority_level(queue.priority(r, now)),
                "expires": retention.expires_at(r, days) if r.lookup in expiring else None,
            }
            for r in shown
        ],
        counts=queue.counts(records),
        total=len(records),
        expiring=len(expiring),
        wanted=wanted,
        params=wanted.as_params(),
        statuses=list(Status),
        categories=list(Category),
        regions=TIP_REGIONS,
        ages=queue.AGES,
        sorts=queue.SORTS,
        retention_days=days,
    )


@staff_only(Role.ADMIN)
async def export_csv(request: Request, session: Session) -> Response:
    """The filtered queue as CSV (admins; audited with the row count and the filter)."""
    staff = state_of(request)
    form = await request.form()
    wanted = queue.QueueFilter.parse(form)
    now = _now()
    rows = queue.apply(await staff.desk.records(), wanted, session.account, now)
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
    Route("/export", export_csv, methods=["POST"]),
]
