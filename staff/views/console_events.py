"""The console's live updates: `GET /console/events`, a stream of Server-Sent Events.

Each event says only that something changed, with the ids of the conversations it
concerns among those this counsellor may see (the queue, which every counsellor sees, and
the conversations they hold): never a message's text, never who anyone is. The page
(`static/console.js`) fetches the console again when one arrives.

The stream reads the conversations' change stream in Redis (`Counselling.changes`), which
the bot's replicas and every dashboard write in the transaction of each change, so it
sees changes made anywhere. It starts after the cursor the page was rendered with
(`?since=`, or `Last-Event-ID` when the browser reconnects), so nothing that happened in
between is missed. A comment every `HEARTBEAT_SECONDS` keeps proxies from closing an idle
connection; at each, the session is checked again (the stream ends with it) and the
counsellor stays on duty, as the page's reload used to do. The stream ends when the client
goes (Starlette cancels it) and when the server begins to stop (`StaffState.stopping`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from sini.counselling.model import Change
from sini.counselling.store import Changed, ConversationNotFound, Counselling
from staff.accounts import Role
from staff.sessions import Session
from staff.web import StaffState, live_session, staff_only, state_of

# Under the store's DUTY_SECONDS (an open console stays on duty) and under the idle
# timeouts of common proxies (60 s for nginx).
HEARTBEAT_SECONDS = 15
WAKE_MS = 1000  # one read of the change stream waits this long: a stopping server waits no longer
RETRY_MS = 2000  # how soon the browser reconnects after losing the stream
_CURSOR = re.compile(r"\d{1,20}-\d{1,20}")


@staff_only(Role.COUNSELLOR)
async def events(request: Request, session: Session) -> Response:
    staff = state_of(request)
    after = (
        _cursor(request.headers.get("last-event-id"))
        or _cursor(request.query_params.get("since"))
        or await staff.counselling.last_change()
    )
    cookie = request.cookies.get(staff.session_cookie)
    return StreamingResponse(
        _stream(staff, session.account, cookie, after),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},  # nginx: pass each event on at once
    )


def _cursor(given: str | None) -> str | None:
    """A stream id as the page or the browser gave it back, or None."""
    return given if given and _CURSOR.fullmatch(given) else None


async def _stream(
    staff: StaffState, account: str, cookie: str | None, after: str
) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    beat = time.monotonic()
    while not staff.stopping.is_set():
        changes = await staff.counselling.changes(after, WAKE_MS)
        if changes:
            after = changes[-1].entry
            seen = await _visible(staff.counselling, account, changes)
            if seen:
                yield f"id: {after}\nevent: change\ndata: {json.dumps({'conversations': seen})}\n\n"
        if time.monotonic() - beat >= HEARTBEAT_SECONDS:
            beat = time.monotonic()
            if await live_session(staff, cookie) is None:
                return  # the browser reconnects, is refused, and its page goes to the login
            await staff.counselling.on_duty(account)
            yield ": still here\n\n"


async def _visible(counselling: Counselling, account: str, changes: list[Changed]) -> list[str]:
    """The ids, once each, of the changed conversations `account` may see."""
    seen: list[str] = []
    for changed in changes:
        match changed.change:
            case Change.QUEUE:
                visible = True
            case Change.CONVERSATION:
                try:
                    holder = (await counselling.get(changed.conversation)).counsellor
                except ConversationNotFound:  # purged meanwhile: nothing left to show
                    holder = None
                visible = holder == account
        if visible and changed.conversation not in seen:
            seen.append(changed.conversation)
    return seen


routes = [Route("/console/events", events, methods=["GET"])]
