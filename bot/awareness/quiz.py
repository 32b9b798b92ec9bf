"""Quizzes: short multiple-choice modules loaded from `responses/quizzes/*.yml`.

Pure, like the dialogue engine: no I/O besides loading, no clock, no randomness of its own
(the caller passes a seed, so the engine stays a function of its inputs and tests are
reproducible). Every user-visible string here is the French source; the engine translates
it with `Catalog.gettext`, exactly like message texts, so `make messages` extracts quiz
texts through the same `text`/`label` keys.

A quiz in progress is a `QuizProgress`, small enough to sit in a `str` field of the chat
state. Answer buttons carry the position *and* the question they belong to, so a button
from an old message (or a forged one) can never score an answer to another question.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from bot.yamlfile import LINE_KEY, ContentError, line_of, load_yaml

QUIZ_ID = re.compile(r"[a-z_]{1,20}")
MIN_QUESTIONS = 3
MAX_QUESTIONS = 10
MIN_CHOICES = 2
MAX_CHOICES = 4
MAX_LABEL = 30  # a button label, readable on a phone without being cut
MAX_TITLE = 60
MAX_QUESTION = 300
MAX_EXPLANATION = 300
MAX_CALLBACK_BYTES = 64  # Telegram's limit on callback_data
CALLBACK_PREFIX = "quiz"
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"  # one character per question index
_QUIZ_KEYS = {"id", "title", "sources", "more", "questions"}
_QUESTION_KEYS = {"text", "choices", "explanation"}
_CHOICE_KEYS = {"label", "correct"}


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Question:
    """One question: French text, choice labels, the index of the right one, and the
    explanation shown after any answer (learning happens there, not in the score)."""

    text: str
    choices: tuple[str, ...]
    correct: int
    explanation: str

    @property
    def correct_label(self) -> str:
        return self.choices[self.correct]


@dataclass(frozen=True)
class Quiz:
    """A quiz as written in its content file (French source).

    `more` optionally names a message to offer at the end ("En savoir plus"); whether it
    exists is checked against the catalog by the tests, since this module does not load it.
    """

    id: str
    title: str
    sources: tuple[str, ...]
    questions: tuple[Question, ...]
    more: str | None = None

    def __len__(self) -> int:
        return len(self.questions)


class QuizProgress(NamedTuple):
    """Where a chat is in a quiz: the question order of this run, the position in it (the
    number of questions answered) and the score so far. Serialised by `dumps` to e.g.
    `tramadol:31042:2:1` (about 30 characters) for the chat state."""

    quiz_id: str
    order: tuple[int, ...]
    position: int
    score: int

    def dumps(self) -> str:
        order = "".join(_DIGITS[i] for i in self.order)
        return f"{self.quiz_id}:{order}:{self.position}:{self.score}"

    @classmethod
    def loads(cls, raw: str | None) -> QuizProgress | None:
        """Parse `dumps` output; anything malformed is None (a fresh start, never a crash)."""
        if not raw:
            return None
        parts = raw.split(":")
        if len(parts) != 4 or not QUIZ_ID.fullmatch(parts[0]):
            return None
        quiz_id, order_text, position_text, score_text = parts
        if not order_text or any(c not in _DIGITS for c in order_text):
            return None
        order = tuple(_DIGITS.index(c) for c in order_text)
        if sorted(order) != list(range(len(order))):
            return None
        if not (_is_small_int(position_text) and _is_small_int(score_text)):
            return None
        position, score = int(position_text), int(score_text)
        if position > len(order) or score > position:
            return None
        return cls(quiz_id, order, position, score)

    def fits(self, quiz: Quiz) -> bool:
        """Whether this progress belongs to `quiz` as it is now (content may have changed
        since the progress was stored: then it is dropped rather than misread)."""
        return self.quiz_id == quiz.id and len(self.order) == len(quiz.questions)


class Answer(NamedTuple):
    """The outcome of one answer: right or not, the explanation to show (French source),
    and the progress to store."""

    correct: bool
    explanation: str
    progress: QuizProgress


class QuizError(ValueError):
    """A quiz operation that does not fit the progress (wrong quiz, finished, bad choice)."""


class ForgedCallback(QuizError):
    """Callback data that Sini never produced: malformed, unknown quiz, out of range."""


class StaleCallback(QuizError):
    """A real button, but not for the question being asked now (an old message, a quiz
    already finished or replaced): the engine says the button has expired."""


@dataclass(frozen=True)
class StartQuiz:
    """`quiz:<id>`: start (or replay) a quiz."""

    quiz_id: str


@dataclass(frozen=True)
class AnswerChoice:
    """`quiz:<id>:<position>:<question>:<choice>`: answer the current question."""

    quiz_id: str
    position: int
    question: int
    choice: int


# --------------------------------------------------------------------------- playing


def start(quiz: Quiz, rng_seed: int, previous: QuizProgress | None = None) -> QuizProgress:
    """A new run with the questions shuffled by `rng_seed`.

    Pass the last run as `previous` to guarantee a replay never repeats its order (a plain
    shuffle of five questions repeats one time in 120)."""
    order = list(range(len(quiz.questions)))
    random.Random(rng_seed).shuffle(order)  # noqa: S311 - ordering questions, not secrets
    if (
        previous is not None
        and previous.quiz_id == quiz.id
        and tuple(order) == previous.order
        and len(order) > 1
    ):
        order = order[1:] + order[:1]
    return QuizProgress(quiz.id, tuple(order), 0, 0)


def is_finished(quiz: Quiz, progress: QuizProgress) -> bool:
    return progress.position >= len(quiz.questions)


def current_question(quiz: Quiz, progress: QuizProgress) -> Question:
    """The question to ask now; QuizError if the run is finished or not for this quiz."""
    _check(quiz, progress)
    if is_finished(quiz, progress):
        raise QuizError(f"quiz {quiz.id!r} is finished")
    return quiz.questions[progress.order[progress.position]]


def answer(quiz: Quiz, progress: QuizProgress, choice_index: int) -> Answer:
    """Score `choice_index` for the current question and move to the next one."""
    question = current_question(quiz, progress)
    if not 0 <= choice_index < len(question.choices):
        raise QuizError(f"choice {choice_index} out of range")
    correct = choice_index == question.correct
    following = progress._replace(
        position=progress.position + 1, score=progress.score + int(correct)
    )
    return Answer(correct, question.explanation, following)


def _check(quiz: Quiz, progress: QuizProgress) -> None:
    if not progress.fits(quiz):
        raise QuizError(f"progress {progress.dumps()!r} is not for quiz {quiz.id!r}")


# --------------------------------------------------------------------------- callbacks


def start_callback(quiz_id: str) -> str:
    """Callback data of a button that starts (or replays) a quiz."""
    return f"{CALLBACK_PREFIX}:{quiz_id}"


def answer_callback(progress: QuizProgress, choice_index: int) -> str:
    """Callback data of an answer button for the current question of `progress`."""
    question = progress.order[progress.position]
    return f"{CALLBACK_PREFIX}:{progress.quiz_id}:{progress.position}:{question}:{choice_index}"


def choice_buttons(quiz: Quiz, progress: QuizProgress) -> tuple[tuple[str, str], ...]:
    """(French label, callback data) for each choice of the current question, in the order
    written in the content file (authors place the right answer; "Vrai" stays before
    "Faux"). The engine translates the labels and makes one button per row."""
    question = current_question(quiz, progress)
    return tuple(
        (label, answer_callback(progress, index)) for index, label in enumerate(question.choices)
    )


def parse_callback(
    data: str, quizzes: Mapping[str, Quiz], progress: QuizProgress | None
) -> StartQuiz | AnswerChoice:
    """Read a `quiz:` callback against the current progress.

    ForgedCallback: not something Sini produces (bad shape, unknown quiz, numbers out of
    range). StaleCallback: a real answer button that is not for the question asked now.
    Starting a quiz is never stale: any quiz can be started at any time.
    """
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ForgedCallback("callback data too long")
    parts = data.split(":")
    if parts[0] != CALLBACK_PREFIX or len(parts) not in (2, 5):
        raise ForgedCallback("not a quiz callback")
    quiz = quizzes.get(parts[1])
    if quiz is None:
        raise ForgedCallback("unknown quiz")
    if len(parts) == 2:
        return StartQuiz(quiz.id)
    numbers = parts[2:]
    if not all(_is_small_int(n) for n in numbers):
        raise ForgedCallback("malformed numbers")
    position, question, choice = (int(n) for n in numbers)
    if (
        position >= len(quiz.questions)
        or question >= len(quiz.questions)
        or choice >= len(quiz.questions[question].choices)
    ):
        raise ForgedCallback("out of range")
    if (
        progress is None
        or not progress.fits(quiz)
        or progress.position != position
        or progress.order[position] != question
    ):
        raise StaleCallback("not the question asked now")
    return AnswerChoice(quiz.id, position, question, choice)


def _is_small_int(text: str) -> bool:
    # isdigit() alone accepts "²" and other Unicode digits: only the canonical ASCII form
    # Sini writes (no sign, no leading zero, at most two digits) is accepted.
    return (
        0 < len(text) <= 2
        and all("0" <= c <= "9" for c in text)
        and (text == "0" or text[0] != "0")
    )


# --------------------------------------------------------------------------- loading


def load_quizzes(quizzes_dir: Path) -> dict[str, Quiz]:
    """Every `*.yml` under `quizzes_dir`, validated; a mistake fails the start-up with its
    file, line and field rather than a user's button press."""
    from bot.content.phones import check_no_phone_numbers  # lazy: no import cycle

    quizzes: dict[str, Quiz] = {}
    for path in sorted(quizzes_dir.glob("*.yml")):
        check_no_phone_numbers(path)
        quiz = parse_quiz(load_yaml(path), path)
        if quiz.id in quizzes:
            raise ContentError(path, None, "id", f"quiz {quiz.id!r} defined twice")
        quizzes[quiz.id] = quiz
    if not quizzes:
        raise ContentError(quizzes_dir, None, "quizzes", "no quiz file (*.yml) found")
    return quizzes


def parse_quiz(document: Any, path: Path) -> Quiz:
    """One quiz file's content (as returned by `load_yaml`) → Quiz, or ContentError."""
    if not isinstance(document, dict):
        raise ContentError(path, None, "quiz", "must be a mapping with id, title, questions")
    _no_unknown_keys(document, _QUIZ_KEYS, path, "quiz")
    quiz_id = document.get("id")
    if not isinstance(quiz_id, str) or not QUIZ_ID.fullmatch(quiz_id):
        raise ContentError(path, line_of(document), "id", "must be 1-20 characters of a-z and _")
    if path.stem != quiz_id:
        raise ContentError(path, line_of(document), "id", f"must match the file name {path.stem!r}")
    title = _text_block(document, "title", path, "title", MAX_TITLE)
    sources = document.get("sources")
    if (
        not isinstance(sources, list)
        or not sources
        or not all(isinstance(s, str) and s.strip() for s in sources)
    ):
        raise ContentError(
            path, line_of(document), "sources", "must be a non-empty list of citations"
        )
    more = document.get("more")
    if more is not None and (not isinstance(more, str) or not more.strip()):
        raise ContentError(path, line_of(document), "more", "must be a message id")
    raw_questions = document.get("questions")
    if not isinstance(raw_questions, list) or not (
        MIN_QUESTIONS <= len(raw_questions) <= MAX_QUESTIONS
    ):
        raise ContentError(
            path,
            line_of(document),
            "questions",
            f"must be a list of {MIN_QUESTIONS} to {MAX_QUESTIONS} questions",
        )
    questions = tuple(
        _parse_question(raw, path, f"questions[{index}]", line_of(document))
        for index, raw in enumerate(raw_questions)
    )
    return Quiz(
        id=quiz_id,
        title=title,
        sources=tuple(s.strip() for s in sources),
        questions=questions,
        more=more.strip() if isinstance(more, str) else None,
    )


def _parse_question(raw: Any, path: Path, where: str, parent_line: int | None) -> Question:
    if not isinstance(raw, dict):
        raise ContentError(
            path, parent_line, where, "must be a mapping: text, choices, explanation"
        )
    _no_unknown_keys(raw, _QUESTION_KEYS, path, where)
    text = _checked_text(raw.get("text"), path, line_of(raw), f"{where}.text", MAX_QUESTION)
    raw_choices = raw.get("choices")
    if not isinstance(raw_choices, list) or not (MIN_CHOICES <= len(raw_choices) <= MAX_CHOICES):
        raise ContentError(
            path,
            line_of(raw),
            f"{where}.choices",
            f"must be a list of {MIN_CHOICES} to {MAX_CHOICES} choices",
        )
    labels: list[str] = []
    correct: list[int] = []
    for index, choice in enumerate(raw_choices):
        at = f"{where}.choices[{index}]"
        if not isinstance(choice, dict):
            raise ContentError(path, line_of(raw), at, "must be a mapping: label, correct")
        _no_unknown_keys(choice, _CHOICE_KEYS, path, at)
        label = _checked_text(choice.get("label"), path, line_of(choice), f"{at}.label", MAX_LABEL)
        if label in labels:
            raise ContentError(path, line_of(choice), f"{at}.label", "appears twice")
        labels.append(label)
        flag = choice.get("correct", False)
        if not isinstance(flag, bool):
            raise ContentError(path, line_of(choice), f"{at}.correct", "must be true or false")
        if flag:
            correct.append(index)
    if len(correct) != 1:
        raise ContentError(
            path,
            line_of(raw),
            f"{where}.choices",
            f"exactly one choice must be `correct: true` (found {len(correct)})",
        )
    explanation = _text_block(raw, "explanation", path, f"{where}.explanation", MAX_EXPLANATION)
    return Question(text, tuple(labels), correct[0], explanation)


def _text_block(data: dict[str, Any], key: str, path: Path, where: str, limit: int) -> str:
    """A `{text: …}` mapping: the shape that makes `make messages` extract the text."""
    block = data.get(key)
    if not isinstance(block, dict):
        raise ContentError(path, line_of(data), where, "must be a mapping with a `text` key")
    _no_unknown_keys(block, {"text"}, path, where)
    return _checked_text(block.get("text"), path, line_of(block), f"{where}.text", limit)


def _checked_text(value: Any, path: Path, line: int | None, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ContentError(path, line, where, "must be a non-empty string")
    text = value.strip()
    if len(text) > limit:
        raise ContentError(path, line, where, f"is {len(text)} characters (at most {limit})")
    if "{" in text or "}" in text:
        # Translations go through str.format elsewhere; a stray brace would break them.
        raise ContentError(path, line, where, "must not contain { or }")
    return text


def _no_unknown_keys(data: dict[str, Any], allowed: set[str], path: Path, where: str) -> None:
    unknown = sorted(str(k) for k in data if k != LINE_KEY and k not in allowed)
    if unknown:
        raise ContentError(
            path, line_of(data), where, f"unknown key(s) {', '.join(unknown)} (typo?)"
        )
