"""The queue's pages, asked of the desk's indexes.

"Newest" and "oldest" are paged in Redis: the indexes are scored by creation hour, so a
filter is an intersection and a page a range of it. "Priority" changes with time (waiting
raises it), so no stored score can hold it: it is computed here over the open tips the
filter keeps — bounded by the desk's workload — and paged in Python; closed and rejected
tips, whose score is fixed (their category's weight), follow, paged in Redis by weight
and age.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from staff.queue import QueueFilter, by_priority, sinking_order
from tips.desk import Desk, Order, Page, TipQuery
from tips.model import Status, TipRecord

PAGE_SIZE = 50
FINAL = frozenset(s for s in Status if s.is_final)
OPEN = frozenset(Status) - FINAL


def tip_query(wanted: QueueFilter, account: str, now: datetime) -> TipQuery:
    """The desk query a queue filter stands for (`account`: whose "mine" it is)."""
    after, before = wanted.created_between(now)
    if wanted.mine and wanted.assignee not in (None, account):
        return TipQuery(statuses=frozenset())  # mine and someone else's: nothing
    return TipQuery(
        statuses=frozenset({wanted.status}) if wanted.status else None,
        categories=frozenset({wanted.category}) if wanted.category else None,
        region=wanted.region,
        assignee=account if wanted.mine else wanted.assignee,
        label=wanted.label,
        important=wanted.important,
        created_after=after,
        created_before=before,
    )


def _within(chosen: frozenset[Status] | None, allowed: frozenset[Status]) -> frozenset[Status]:
    return allowed if chosen is None else chosen & allowed


async def _among(
    desk: Desk, query: TipQuery, wanted: QueueFilter, found: set[str], now: datetime
) -> list[TipRecord]:
    """The tips `query` selects whose text matched a search (`found`), in `wanted`'s
    order. A search's results are read whole: the text matched in memory, not in Redis."""
    order = Order.OLDEST if wanted.sort == "priority" else Order(wanted.sort)
    records = await desk.read([lk for lk in await desk.lookups(query, order) if lk in found])
    return by_priority(records, now) if wanted.sort == "priority" else records


async def queue_page(
    desk: Desk,
    wanted: QueueFilter,
    account: str,
    now: datetime,
    offset: int,
    limit: int | None,
    found: set[str] | None = None,
) -> Page:
    """The tips `wanted` selects, in its order, `limit` from `offset` (all when None);
    only those in `found` when a search is asked (`staff.search.SearchIndex.matching`)."""
    query = tip_query(wanted, account, now)
    if found is not None:
        records = await _among(desk, query, wanted, found, now)
        return Page(records[offset : None if limit is None else offset + limit], len(records))
    if wanted.sort != "priority":
        return await desk.page(query, Order(wanted.sort), offset, limit)
    opened = replace(query, statuses=_within(query.statuses, OPEN))
    ranked = by_priority((await desk.page(opened, Order.OLDEST)).records, now)
    end = None if limit is None else offset + limit
    head = ranked[offset:end]
    final = replace(query, statuses=_within(query.statuses, FINAL))
    sinking = [
        replace(final, categories=group if final.categories is None else final.categories & group)
        for group in sinking_order()
    ]
    rest = await desk.pages(
        sinking,
        Order.OLDEST,
        max(offset - len(ranked), 0),
        None if limit is None else limit - len(head),
    )
    return Page(head + rest, await desk.count(query))
