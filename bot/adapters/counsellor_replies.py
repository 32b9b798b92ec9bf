"""Counsellors' replies, from the outbox stream to the young person's chat.

Every bot process runs `relay_replies` beside its handlers (the Telegram adapter from
`post_init`, the terminal chat beside its prompt). Each process reads the stream's
consumer group under its own name, so a reply goes to one process; it is acknowledged
only once sent, and what a process took without acknowledging (it died mid-send) is
taken over by another after `sini.counselling.store.REDELIVER_AFTER_MS`. A reply may so
arrive twice after a crash between sending and acknowledging, never be lost.

A chat that can no longer receive anything (`Unreachable`: the young person blocked the
bot) ends its conversation, as /stop would, and its reply is acknowledged: it would
otherwise be tried again forever, and the counsellor left waiting for an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from bot.assistant import Assistant
from bot.awareness import Unreachable
from bot.dialogue.replies import Reply
from sini.counselling.store import ConversationNotFound, Delivery, Moved, Queued
from sini.logging import get_logger

log = get_logger(__name__)
RETRY_SECONDS = 1.0  # after Redis did not answer

Send = Callable[[int | str, Reply], Awaitable[None]]
# Replace the text and buttons of a message the bot sent (chat, message id, new reply).
Edit = Callable[[int | str, int, Reply], Awaitable[None]]


def consumer_name() -> str:
    """This process's name in the consumer group."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def relay_replies(assistant: Assistant, send: Send, consumer: str, edit: Edit) -> None:
    """Deliver replies until cancelled, and edit the places in the queue that moved. A
    reply whose sending fails stays pending and is tried again once it has been idle long
    enough."""
    counselling = assistant.counselling
    while True:
        try:
            deliveries = await counselling.pending_replies(consumer)
            moved = await counselling.moved_places(consumer)
        except RedisError as error:
            log.warning("counsel.outbox_unavailable", error_type=type(error).__name__)
            await asyncio.sleep(RETRY_SECONDS)
            continue
        for delivery in deliveries:
            try:
                await _deliver(assistant, send, delivery)
            except Exception as error:  # one reply that cannot be sent stops no other
                log.warning("counsel.delivery_failed", error_type=type(error).__name__)
        for place in moved:
            try:
                await _move(assistant, edit, place)
            except Exception as error:  # a place left as it was is corrected next time
                log.warning("counsel.place_failed", error_type=type(error).__name__)


async def stop_relay(relay: asyncio.Task[None]) -> None:
    """Cancel the relay and wait until it has ended. redis-py can turn a cancellation that
    lands inside a command into a connection error, which the relay takes for Redis being
    down and outlives: so it is cancelled again until it is done."""
    while not relay.done():
        relay.cancel()
        await asyncio.wait([relay], timeout=RETRY_SECONDS)


async def remember_place(assistant: Assistant, place: Queued, message: int) -> None:
    """Tell the store which message shows a place in the queue (it is edited when the
    place changes); without Redis the message simply stays as sent."""
    try:
        await assistant.counselling.shown(place, message)
    except RedisError as error:
        log.warning("redis.unavailable", error_type=type(error).__name__)


async def _move(assistant: Assistant, edit: Edit, moved: Moved) -> None:
    reply = assistant.engine.counsel.place(moved.queued, moved.locale)
    await edit(moved.chat_id, moved.message, reply)
    await assistant.counselling.shown(moved.queued, moved.message)


async def _deliver(assistant: Assistant, send: Send, delivery: Delivery) -> None:
    counselling = assistant.counselling
    try:
        for reply in await assistant.counsellor_replies(delivery):
            await send(delivery.chat_id, reply)
    except Unreachable:
        log.info("counsel.unreachable")
        with contextlib.suppress(ConversationNotFound):
            await counselling.end(delivery.reply.conversation)
    await counselling.delivered(delivery)
