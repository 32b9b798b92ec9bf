"""The one way to change Redis keys that depend on what was just read.

`transaction` WATCHes the keys, lets a step read them and decide, then queues the step's
writes between MULTI and EXEC. If a watched key changed in between, Redis refuses the EXEC
and the step runs again from a fresh read, so a decision is never applied to data that
moved under it. Several stores can join one transaction by watching their keys together
and queueing their writes in the same `Writes` (the staff audit entry and the tip change it
records, for instance).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

T = TypeVar("T")

Writes = Callable[["Pipeline[bytes]"], None]
"""Queues the commands of a transaction on a pipeline in MULTI mode (no reads there)."""

Step = Callable[["Pipeline[bytes]"], Awaitable[tuple[T, Writes | None]]]
"""Reads through the watching pipeline (immediate mode) and returns the result with the
writes to apply, or None to write nothing."""


class Contended(Exception):
    """The watched keys kept changing under concurrent writers; nothing was written."""


def both(first: Writes, second: Writes) -> Writes:
    """The writes of two parts of one transaction, in order."""

    def queued(pipe: Pipeline[bytes]) -> None:
        first(pipe)
        second(pipe)

    return queued


async def transaction(
    redis: Redis[bytes],
    watch: Sequence[str],
    step: Step[T],
    *,
    attempts: int = 8,
    contended: Callable[[], Exception] = lambda: Contended("try again"),
) -> T:
    """Run `step` under WATCH of `watch` and apply its writes atomically; run it again
    (at most `attempts` times in all) while a watched key changes before EXEC, then raise
    what `contended` makes."""
    for _ in range(attempts):
        async with redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(*watch)
                result, writes = await step(pipe)
                if writes is None:
                    return result
                pipe.multi()
                writes(pipe)
                await pipe.execute()
                return result
            except WatchError:
                continue
    raise contended()
