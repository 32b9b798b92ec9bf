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
from typing import Annotated, Any, NamedTuple

import msgspec
from msgspec import Meta

from bot.yamlfile import TRANSLATABLE, ContentError, Said, convert, line_of, load_yaml

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


Label = Annotated[str, Meta(pattern=TRANSLATABLE, max_length=MAX_LABEL)]
Title = Annotated[str, Meta(pattern=TRANSLATABLE, max_length=MAX_TITLE)]
QuestionText = Annotated[str, Meta(pattern=TRANSLATABLE, max_length=MAX_QUESTION)]
Explanation = Annotated[str, Meta(pattern=TRANSLATABLE, max_length=MAX_EXPLANATION)]


class _Choice(msgspec.Struct, forbid_unknown_fields=True):
    label: Label
    correct: bool = False


class _Explanation(msgspec.Struct, forbid_unknown_fields=True):
    text: Explanation


class _Title(msgspec.Struct, forbid_unknown_fields=True):
    text: Title


class _Question(msgspec.Struct, forbid_unknown_fields=True):
    text: QuestionText
    choices: Annotated[list[_Choice], Meta(min_length=MIN_CHOICES, max_length=MAX_CHOICES)]
    explanation: _Explanation


class _QuizFile(msgspec.Struct, forbid_unknown_fields=True):
    """A quiz file as written. Texts sit in `{text: …}` mappings and labels under
    `label`: the shapes `make messages` extracts."""

    id: Annotated[str, Meta(pattern=f"^{QUIZ_ID.pattern}$")]
    title: _Title
    sources: Annotated[list[Said], Meta(min_length=1)]
    questions: Annotated[list[_Question], Meta(min_length=MIN_QUESTIONS, max_length=MAX_QUESTIONS)]
    more: Said | None = None


_TEXT_HINT = "a non-empty text without { or }"
_HINTS = {
    "id": "1-20 characters of a-z and _",
    "title.text": f"{_TEXT_HINT}, at most {MAX_TITLE} characters",
    "sources": "a non-empty list of citations",
    "more": "a message id",
    "questions": f"{MIN_QUESTIONS} to {MAX_QUESTIONS} questions",
    "questions.text": f"{_TEXT_HINT}, at most {MAX_QUESTION} characters",
    "questions.choices": f"{MIN_CHOICES} to {MAX_CHOICES} choices",
    "questions.choices.label": f"{_TEXT_HINT}, at most {MAX_LABEL} characters",
    "questions.choices.correct": "true or false",
    "questions.explanation.text": f"{_TEXT_HINT}, at most {MAX_EXPLANATION} characters",
}


def parse_quiz(document: Any, path: Path) -> Quiz:
    """One quiz file's content (as returned by `load_yaml`) → Quiz, or ContentError: its
    shape by `_QuizFile`, then what holds between fields (the id is the file's name; in
    each question the labels differ and exactly one choice is right)."""
    if not isinstance(document, dict):
        raise ContentError(path, None, "quiz", "must be a mapping with id, title, questions")
    quiz = convert(path, document, _QuizFile, hints=_HINTS)
    if path.stem != quiz.id:
        raise ContentError(path, line_of(document), "id", f"must match the file name {path.stem!r}")
    questions = tuple(
        _question(question, path, f"questions[{index}]", document["questions"][index])
        for index, question in enumerate(quiz.questions)
    )
    return Quiz(
        id=quiz.id,
        title=quiz.title.text.strip(),
        sources=tuple(source.strip() for source in quiz.sources),
        questions=questions,
        more=quiz.more.strip() if quiz.more is not None else None,
    )


def _question(question: _Question, path: Path, where: str, raw: Any) -> Question:
    labels = [choice.label.strip() for choice in question.choices]
    for index, label in enumerate(labels):
        if label in labels[:index]:
            line = line_of(raw["choices"][index])
            raise ContentError(path, line, f"{where}.choices[{index}].label", "appears twice")
    correct = [index for index, choice in enumerate(question.choices) if choice.correct]
    if len(correct) != 1:
        raise ContentError(
            path,
            line_of(raw),
            f"{where}.choices",
            f"exactly one choice must be `correct: true` (found {len(correct)})",
        )
    return Question(
        question.text.strip(), tuple(labels), correct[0], question.explanation.text.strip()
    )
