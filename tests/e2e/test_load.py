"""A burst of 5,000 messages from 500 people at once, through the Bot API emulator, to the
real bot process: nobody's answer is lost or doubled, everyone's answers come in the order
they asked, and a person who floods gets one "slow down" and then silence — while the
others are still answered.

Each person's messages are chosen so that their answers can be told apart: /start,
buttons of the main menu, /annuler, /urgence and /langue have known answers, and every free
text (from the NLU's held-out split, never trained on) and every shared location sits
between two of them. How many answers a free text gets (one, or two for a crisis or a
"where?" question) is measured first, one person per text at a time; free text is
always sent right after /annuler, so that count does not depend on what came before.

Five of the 500 flood: 29 times /urgence in a row, then a crisis. They get twenty
answers, one "slow down", silence — and then the emergency numbers anyway, since a
crisis always gets through (which also proves the silence: a person's messages are
answered in order, so the crisis answer comes after the bot has handled the rest).

Throughput is printed (`pytest -s`). What limits it, measured: the bot's one event loop
(about 100 % of a core throughout), not the emulator (about 15 %) nor sending one HTTP call
at a time (done in a third of the burst's time, so no bulk route). The test bot runs
with TELEGRAM_MAX_RATE lifted (tests/conftest.py): at Telegram's 30 messages/s the
5,500 answers alone would take three minutes.
"""

from __future__ import annotations

import itertools
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.content import LOCALES, Catalog
from tests.support.screens import screens
from tests.support.telegram_emulator import BotMessage, EmulatedUser

UserFactory = Callable[..., EmulatedUser]

HELD_OUT = Path(__file__).resolve().parents[2] / "nlu" / "tests"
PEOPLE = 500
TOTAL = 5000
FLOODERS = 5
FLOOD_LIMIT = 20  # the bot's default FLOOD_LIMIT (sini/settings.py), per 60 s
FLOOD_MESSAGES = 30  # each flooder: 29 times /urgence, then someone in danger
FLOOD_ROUND = 4
CRISIS = "mon frère a pris trop de tramadol il respire presque plus"
TEXTS_PER_PROBE = 9  # probes stay under the flood limit: 9 texts and 10 /annuler
# The buttons on the main menu's first screen and the message each one opens.
MENU_ANSWERS = {
    "show:drugs.menu": "drugs.menu",
    "show:trafficking.menu": "trafficking.menu",
    "do:services": "services.ask_kind",
    "do:report": "report.intro",
    "more:menu.main:5": "screen.more",
}
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
# Anywhere in Mali (and a little around it).
MALI = ((10.0, 25.0), (-12.5, 4.5))
WAIT = 90.0


def held_out_texts() -> list[str]:
    """The held-out NLU messages as people typed them (entity annotations removed)."""
    texts: list[str] = []
    for path in sorted(HELD_OUT.glob("*.yml")):
        for block in yaml.safe_load(path.read_text())["nlu"]:
            for line in block.get("examples", "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    texts.append(ANNOTATION.sub(r"\1", line[2:]).strip())
    return texts


@dataclass(frozen=True)
class Expect:
    """What one message should get: `count` answers; the first is `message_id`'s text in
    some language, or anything when `message_id` is None (free text, a location)."""

    count: int
    message_id: str | None = None


class Answers:
    """The texts of the known answers, in every language (a text may switch it)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def texts(self, message_id: str) -> set[str]:
        """What a phone shows first of the message: all of it, or its first screen."""
        return {self.pages(message_id, locale)[0] for locale in LOCALES}

    def pages(self, message_id: str, locale: str = "fr") -> list[str]:
        return screens(self.catalog, message_id, locale)

    def check(self, person: str, got: Sequence[BotMessage], expected: Sequence[Expect]) -> None:
        """`got` is exactly `expected`, in order: nothing lost, doubled or swapped."""
        assert len(got) == sum(e.count for e in expected), (
            f"{person}: {len(got)} answers, expected {sum(e.count for e in expected)}: "
            f"{[m.text[:40] for m in got]}"
        )
        position = 0
        for number, expect in enumerate(expected):
            if expect.message_id is not None:
                text = got[position].text
                assert text in self.texts(expect.message_id), (
                    f"{person}: message {number} should be answered by {expect.message_id}, "
                    f"got {text[:80]!r}"
                )
            position += expect.count


def measure_text_answers(
    texts: Sequence[str], user_factory: UserFactory, answers: Answers
) -> dict[str, int]:
    """How many answers each text gets right after /annuler, a few people at a time."""
    probes = []
    for start in range(0, len(texts), TEXTS_PER_PROBE):
        probe = user_factory("fr")
        chunk = texts[start : start + TEXTS_PER_PROBE]
        for text in chunk:
            probe.send_command("annuler")
            probe.send_text(text)
        probe.send_command("annuler")
        probes.append((probe, chunk))
    cancelled = answers.texts("cancel.done")
    counts: dict[str, int] = {}
    for probe, chunk in probes:
        got = probe.replies(2 * len(chunk) + 1, timeout=WAIT)  # at least one per text
        while sum(m.text in cancelled for m in got) < len(chunk) + 1:
            got += probe.replies(1, timeout=WAIT)
        marks = [i for i, m in enumerate(got) if m.text in cancelled]
        assert len(marks) == len(chunk) + 1, [m.text[:40] for m in got]
        for text, (before, after) in zip(chunk, itertools.pairwise(marks), strict=True):
            counts[text] = after - before - 1
            assert counts[text] >= 1, f"no answer to {text!r}"
    return counts


@dataclass
class Person:
    user: EmulatedUser
    expected: list[Expect]


def test_a_burst_of_5000_messages_from_500_people_is_answered_completely_and_in_order(
    user_factory: UserFactory, catalog: Catalog
) -> None:
    answers = Answers(catalog)
    texts = held_out_texts()
    rng = random.Random(7)
    text_answers = measure_text_answers(sorted(set(texts)), user_factory, answers)
    regulars = [Person(user_factory("fr"), []) for _ in range(PEOPLE - FLOODERS)]

    def menu_answer(action: str) -> Expect:
        """A notice read whole before its buttons (reporting) comes in as many messages
        as a screen needs; the others show their first screen."""
        message_id = MENU_ANSWERS[action]
        count = len(answers.pages(message_id)) if message_id == "report.intro" else 1
        return Expect(count, message_id)

    flooders = [Person(user_factory("fr"), []) for _ in range(FLOODERS)]

    # 1. Everyone opens the bot at once (500 messages).
    started = time.perf_counter()
    for person in regulars:
        person.user.send_command("start")
        person.expected.append(Expect(2, "welcome"))
    menus = {}
    for person in regulars:
        _welcome, menu = person.user.replies(2, timeout=WAIT)
        assert menu.text in answers.texts("menu.main")
        menus[person.user.user_id] = menu

    # 2. Then eight or nine more each, and the flooders, interleaved (4,500 messages).
    plans: list[list[Callable[[], object]]] = []
    later = TOTAL - len(regulars) - FLOODERS * FLOOD_MESSAGES
    for index, person in enumerate(regulars):
        user, menu = person.user, menus[person.user.user_id]
        first, second = rng.sample(sorted(MENU_ANSWERS), 2)
        one, two = rng.choice(texts), rng.choice(texts)
        lat, lon = rng.uniform(*MALI[0]), rng.uniform(*MALI[1])
        steps: list[tuple[Callable[[], object], Expect]] = [
            (lambda u=user, m=menu, d=first: u.press(m, d), menu_answer(first)),
            (lambda u=user: u.send_command("annuler"), Expect(1, "cancel.done")),
            (lambda u=user, t=one: u.send_text(t), Expect(text_answers[one])),
            (lambda u=user: u.send_command("urgence"), Expect(1, "emergency")),
            (lambda u=user, a=lat, o=lon: u.send_location(a, o), Expect(1)),
            (lambda u=user: u.send_command("annuler"), Expect(1, "cancel.done")),
            (lambda u=user, t=two: u.send_text(t), Expect(text_answers[two])),
            (lambda u=user: u.send_command("langue"), Expect(1, "language.pick")),
            (lambda u=user, m=menu, d=second: u.press(m, d), menu_answer(second)),
        ]
        steps = steps[: later // len(regulars) + (index < later % len(regulars))]
        person.expected.extend(expect for _, expect in steps)
        plans.append([send for send, _ in steps])
    floods: list[list[Callable[[], object]]] = []
    for person in flooders:
        user = person.user
        flood: list[Callable[[], object]] = [
            lambda u=user: u.send_command("urgence") for _ in range(FLOOD_MESSAGES - 1)
        ]
        floods.append([*flood, lambda u=user: u.send_text(CRISIS)])
        # Twenty answers, one "slow down", silence; someone in danger is still answered:
        # the numbers, the first aid, then the offer of a counsellor (none on duty here).
        person.expected = [
            *[Expect(1, "emergency")] * FLOOD_LIMIT,
            Expect(1, "error.flood"),
            *[Expect(0)] * (FLOOD_MESSAGES - FLOOD_LIMIT - 2),
            Expect(len(answers.pages("crisis.overdose")) + 2, "crisis.overdose"),
        ]
    sent = len(regulars)
    for round_ in range(max(len(plan) for plan in plans)):
        if round_ == FLOOD_ROUND:  # mid-burst, each flood in one go (well inside its window)
            for send in itertools.chain.from_iterable(floods):
                send()
                sent += 1
        for plan in plans:
            if round_ < len(plan):
                plan[round_]()
                sent += 1
    sending = time.perf_counter() - started

    # 3. Everything arrives, once, in order.
    for person in [*regulars, *flooders]:
        opened = 2 if person in regulars else 0  # the welcome and the menu, already seen
        person.user.replies(sum(e.count for e in person.expected) - opened, timeout=WAIT)
    elapsed = time.perf_counter() - started
    replies = sum(e.count for person in [*regulars, *flooders] for e in person.expected)
    for person in [*regulars, *flooders]:
        user = person.user
        history = [m for m in user.history() if m.event == "sent"]
        answers.check(f"user {user.user_id}", history, person.expected)
    assert sent == TOTAL
    print(
        f"\nload burst: {sent} messages from {PEOPLE} people, {replies} answers in "
        f"{elapsed:.1f} s = {sent / elapsed:.0f} messages/s "
        f"(sending took {sending:.1f} s; {len(text_answers)} free texts measured first)"
    )
