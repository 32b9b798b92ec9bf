"""Score what a user gets from the real assistant, on messages nobody here trained on.

`helpline evaluate --e2e` sends every message of `nlu/blind/` through the assistant as
it runs for real (real Redis, the trained model, the crisis net), each from a fresh chat,
and judges the answer the way the person would:

- a crisis message must get emergency numbers in the first message, either the full
  crisis answer or the check-in ("are you in danger now?") that carries the line; a
  message that gets neither is a *silent miss*;
- an ordinary message must get its topic, without a crisis takeover, and without a report
  flow it did not ask for; a check-in there is counted apart (cheap, but not the answer);
- the reply must be in the message's own language (mixed messages: any of the three).

The blind set is never used for training or tuning: see `nlu/blind/README.md`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Extra, validator

from bot.assistant import Assistant
from bot.dialogue.events import TextEvent
from bot.dialogue.replies import Turn
from bot.dialogue.state import Flow

Language = Literal["fr", "bm", "en", "mixed"]
CrisisKind = Literal["overdose", "self_harm", "held", "child", "violence"]
CRISIS = "crisis"
CHECK_IN = "checkin"
# The Telegram interface language a Malian phone most often has: the message's own
# language must win over it.
TELEGRAM_LANGUAGE = "fr"
# Turn topics that are another name for an intent.
_TOPIC_ALIASES = {
    "report": "report_tip",
    "followup": "followup_tip",
    "language": "change_language",
    "counsel.offer.intent": "talk_to_human",  # the consent message, asked in one's own words
}


class BlindMessage(BaseModel, extra=Extra.forbid):
    """One message of the blind set and what its writer expects the user to get."""

    text: str
    language: Language
    expect: str
    also: tuple[str, ...] = ()
    crisis: CrisisKind | None = None
    lookalike: bool = False

    @validator("crisis", always=True)
    def _crisis_needs_crisis_topic(cls, kind: str | None, values: dict[str, Any]) -> str | None:
        if (kind is not None) != (values.get("expect") == CRISIS):
            raise ValueError("`crisis:` is given exactly when `expect: crisis`")
        return kind


class BlindFile(BaseModel, extra=Extra.forbid):
    writer: str
    messages: list[BlindMessage]


def load_blind_set(directory: Path) -> list[BlindMessage]:
    """Every message of every writer's file, in file order."""
    messages: list[BlindMessage] = []
    for path in sorted(directory.glob("*.yml")):
        messages.extend(BlindFile.parse_obj(yaml.safe_load(path.read_text("utf-8"))).messages)
    return messages


@dataclass(frozen=True)
class Judged:
    """What one message got, as the user sees it."""

    message: BlindMessage
    got: str  # an intent name, "crisis", "checkin", "clarify", …
    numbers_first: bool  # the first reply carries the first emergency number
    locale: str
    opened_report: bool

    @property
    def truth(self) -> str:
        return self.message.expect

    @property
    def predicted(self) -> str:
        """The outcome folded for scoring: numbers (crisis or check-in) on a crisis
        message is the crisis answer; an accepted alternative topic counts as right."""
        if self.truth == CRISIS:
            return CRISIS if self.numbers_first else self.got
        if self.got in self.message.also:
            return self.truth
        return self.got

    @property
    def right(self) -> bool:
        return self.predicted == self.truth

    @property
    def language_right(self) -> bool:
        return self.message.language == "mixed" or self.locale == self.message.language


def judge(message: BlindMessage, turn: Turn, emergency_number: str) -> Judged:
    topic = turn.topic or ""
    if topic.startswith("crisis."):
        got = CRISIS
    else:
        got = _TOPIC_ALIASES.get(topic, topic.removeprefix("intent."))
    first = turn.replies[0].text if turn.replies else ""
    return Judged(
        message=message,
        got=got,
        numbers_first=emergency_number in first,
        locale=turn.state.language,
        opened_report=got == "report_tip" or turn.state.flow is Flow.REPORT,
    )


async def converse(
    assistant: Assistant, messages: Sequence[BlindMessage], first_chat: int = 9_000_000_000
) -> list[Turn]:
    """One fresh chat per message, as a stranger writing for the first time."""
    return [
        await assistant.handle(first_chat + i, TextEvent(m.text), TELEGRAM_LANGUAGE)
        for i, m in enumerate(messages)
    ]


def _macro_f1(judged: Sequence[Judged]) -> float:
    from sklearn.metrics import f1_score

    labels = sorted({j.truth for j in judged})
    return float(
        f1_score(
            [j.truth for j in judged],
            [j.predicted for j in judged],
            labels=labels,
            average="macro",
            zero_division=0,
        )
    )


def _share(items: Iterable[bool]) -> float:
    flags = list(items)
    return sum(flags) / len(flags) if flags else 0.0


def figures(judged: Sequence[Judged]) -> dict[str, Any]:
    """The blind figures: safety first, then what the user gets."""
    crises = [j for j in judged if j.truth == CRISIS]
    ordinary = [j for j in judged if j.truth != CRISIS]
    languages = sorted({j.message.language for j in judged})
    return {
        "messages": len(judged),
        "crisis_messages": len(crises),
        "crisis_numbers_first": _share(j.numbers_first for j in crises),
        "crisis_full_answer": _share(j.got == CRISIS for j in crises),
        "crisis_check_in": _share(j.got == CHECK_IN for j in crises),
        "silent_misses": sum(not j.numbers_first for j in crises),
        "ordinary_messages": len(ordinary),
        "ordinary_takeovers": _share(j.got == CRISIS for j in ordinary),
        "ordinary_check_ins": _share(j.got == CHECK_IN for j in ordinary),
        "lookalike_takeovers": sum(j.got == CRISIS for j in ordinary if j.message.lookalike),
        "lookalikes": sum(j.message.lookalike for j in ordinary),
        "report_opened_unasked": sum(j.opened_report and j.truth != "report_tip" for j in judged),
        "accuracy": _share(j.right for j in judged),
        "macro_f1": _macro_f1(judged),
        "per_language": {
            language: {
                "messages": sum(j.message.language == language for j in judged),
                "macro_f1": _macro_f1([j for j in judged if j.message.language == language]),
                "accuracy": _share(j.right for j in judged if j.message.language == language),
            }
            for language in languages
        },
        "reply_language_right": _share(
            j.language_right for j in judged if j.message.language != "mixed"
        ),
    }


def misses(judged: Sequence[Judged]) -> list[dict[str, Any]]:
    return [
        {
            "text": j.message.text,
            "language": j.message.language,
            "expected": j.truth,
            "crisis": j.message.crisis,
            "got": j.got,
            "numbers_first": j.numbers_first,
            "reply_locale": j.locale,
        }
        for j in judged
        if not j.right or not j.language_right
    ]


def confusion(judged: Sequence[Judged]) -> str:
    """Expected topic → what users got, for the topics with mistakes."""
    lines = []
    for truth in sorted({j.truth for j in judged}):
        got = Counter(j.predicted for j in judged if j.truth == truth)
        wrong = {k: n for k, n in got.items() if k != truth}
        if wrong:
            listed = ", ".join(f"{k} {n}" for k, n in sorted(wrong.items(), key=lambda kv: -kv[1]))
            lines.append(f"  {truth:<18} {got[truth]:>3} right · {listed}")
    return "\n".join(lines)


def summary(numbers: dict[str, Any]) -> str:
    per_language = " · ".join(
        f"{language} {values['macro_f1']:.3f} (n={values['messages']})"
        for language, values in numbers["per_language"].items()
    )
    return "\n".join(
        [
            f"{numbers['messages']} messages, each from a fresh chat",
            f"crisis: {numbers['crisis_messages']} messages · numbers in the first reply "
            f"{numbers['crisis_numbers_first']:.1%} (full answer "
            f"{numbers['crisis_full_answer']:.1%}, check-in {numbers['crisis_check_in']:.1%}) "
            f"· silent misses {numbers['silent_misses']}",
            f"ordinary: {numbers['ordinary_messages']} messages · crisis takeovers "
            f"{numbers['ordinary_takeovers']:.1%} (look-alikes {numbers['lookalike_takeovers']}"
            f"/{numbers['lookalikes']}) · check-ins {numbers['ordinary_check_ins']:.1%} "
            f"· report opened unasked {numbers['report_opened_unasked']}",
            f"what the user gets: macro-F1 {numbers['macro_f1']:.3f} · accuracy "
            f"{numbers['accuracy']:.1%}",
            f"per language: {per_language}",
            f"reply language right: {numbers['reply_language_right']:.1%}",
        ]
    )


async def evaluate_e2e(
    assistant: Assistant, messages: Sequence[BlindMessage], out_dir: Path
) -> str:
    """Run the blind set through `assistant`; write the report and every miss to
    `out_dir`; return the printable summary."""
    turns = await converse(assistant, messages)
    number = assistant.engine.catalog.emergency[0].number
    judged = [judge(m, t, number) for m, t in zip(messages, turns, strict=True)]
    numbers = figures(judged)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "e2e_report.json").write_text(json.dumps(numbers, indent=2, ensure_ascii=False))
    (out_dir / "e2e_misses.json").write_text(
        json.dumps(misses(judged), indent=2, ensure_ascii=False)
    )
    return f"{summary(numbers)}\nwhere the user got something else:\n{confusion(judged)}"
