"""The terminal chat: the same assistant as on Telegram, in a shell.

Buttons are numbered — type the number to press one. A location is typed as
"lat,lon" (e.g. "12.65,-8.0"), commands as on Telegram ("/start", "/urgence").
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
from dataclasses import replace
from typing import TextIO

from bot.adapters.counsellor_replies import consumer_name, relay_replies, remember_place, stop_relay
from bot.assistant import Assistant
from bot.dialogue.events import CommandEvent, Event, LocationEvent, TextEvent, button_event
from bot.dialogue.replies import Reply

CHAT_ID = "terminal"
PROMPT = "vous> "
QUIT_WORDS = {"/quit", "/exit", "quit", "exit"}
EDITED = "message mis à jour"  # a terminal cannot edit what it printed: it says so
_LOCATION = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


def parse_input(line: str, actions: list[str]) -> Event:
    """Turn a typed line into an event, given the actions of the buttons on screen."""
    stripped = line.strip()
    if stripped.isdigit() and 1 <= int(stripped) <= len(actions):
        return button_event(actions[int(stripped) - 1])
    location = _LOCATION.match(stripped)
    if location:
        return LocationEvent(float(location.group(1)), float(location.group(2)))
    if stripped.startswith("/") and len(stripped) > 1:
        name, _, argument = stripped[1:].partition(" ")
        return CommandEvent(name, argument.strip())
    return TextEvent(line)


def render(replies: list[Reply], out: TextIO) -> list[str]:
    """Print replies; return the actions of the numbered buttons now on screen."""
    actions: list[str] = []
    for reply in replies:
        out.write(f"\nsini> {reply.text}\n")
        for row in reply.buttons:
            labels = []
            for button in row:
                actions.append(button.action)
                labels.append(f"[{len(actions)}] {button.label}")
            out.write("      " + "   ".join(labels) + "\n")
        if reply.keyboard:
            keys = " | ".join(key.label for row in reply.keyboard for key in row)
            out.write(f"      (clavier : {keys})\n")
    out.flush()
    return actions


async def chat(
    assistant: Assistant,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    language_code: str | None = None,
) -> None:
    """Run the conversation until EOF or /quit; counsellors' replies are printed as they
    come, between two prompts."""
    loop = asyncio.get_running_loop()
    stdout.write("Sini — terminal chat. /quit pour sortir; tapez le numéro d'un bouton.\n")
    screen = Screen(stdout)
    numbers = itertools.count(1)  # the terminal's message ids, for places in the queue

    async def show(replies: tuple[Reply, ...]) -> None:
        screen.show(list(replies))
        for reply, number in zip(replies, numbers, strict=False):  # numbers never ends
            if reply.place is not None:
                await remember_place(assistant, reply.place, number)

    first = await assistant.handle(CHAT_ID, CommandEvent("start"), language_code)
    await show(first.replies)

    async def from_counsellor(chat_id: int | str, reply: Reply) -> None:
        screen.show([reply])
        stdout.write(PROMPT)
        stdout.flush()

    async def edited(chat_id: int | str, message: int, reply: Reply) -> None:
        await from_counsellor(chat_id, replace(reply, text=f"({EDITED}) {reply.text}"))

    relay = asyncio.create_task(relay_replies(assistant, from_counsellor, consumer_name(), edited))
    try:
        while True:
            stdout.write(PROMPT)
            stdout.flush()
            line = await loop.run_in_executor(None, stdin.readline)
            if not line or line.strip() in QUIT_WORDS:
                stdout.write("\n")
                return
            event = parse_input(line.rstrip("\n"), screen.actions)
            turn = await assistant.handle(CHAT_ID, event, language_code)
            await show(turn.replies)
    finally:
        await stop_relay(relay)


class Screen:
    """What is printed, and the actions of the numbered buttons last shown."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.actions: list[str] = []

    def show(self, replies: list[Reply]) -> None:
        self.actions = render(replies, self.out) or self.actions
