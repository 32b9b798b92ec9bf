"""Quizzes: the shipped content is sound, runs are shuffled and scored, buttons can't lie."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.awareness.quiz import (
    MAX_CALLBACK_BYTES,
    AnswerChoice,
    ForgedCallback,
    Quiz,
    QuizError,
    QuizProgress,
    StaleCallback,
    StartQuiz,
    answer,
    answer_callback,
    choice_buttons,
    current_question,
    is_finished,
    load_quizzes,
    parse_callback,
    start,
    start_callback,
)
from bot.content import Catalog, ContentError
from bot.content.extract import extract_content
from tests.bot.awareness import PHONE, QUIZZES_DIR, cited_sources, write

EXPECTED = {"tramadol", "cannabis", "alcohol", "recruitment", "safe_migration", "rights"}


@pytest.fixture(scope="module")
def quizzes() -> dict[str, Quiz]:
    return load_quizzes(QUIZZES_DIR)


@pytest.fixture
def tramadol(quizzes: dict[str, Quiz]) -> Quiz:
    return quizzes["tramadol"]


# ----------------------------------------------------------------- the shipped content


def test_every_topic_has_a_quiz_of_five_questions(quizzes: dict[str, Quiz]) -> None:
    assert set(quizzes) == EXPECTED
    assert all(len(quiz.questions) == 5 for quiz in quizzes.values())


@pytest.mark.parametrize("path", sorted(QUIZZES_DIR.glob("*.yml")), ids=lambda p: p.stem)
def test_every_question_has_exactly_one_correct_answer_in_the_file(path: Path) -> None:
    """Read the YAML directly, so this holds even if the loader were lenient."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    for question in document["questions"]:
        flags = [choice.get("correct") is True for choice in question["choices"]]
        assert flags.count(True) == 1, question["text"]
        assert 2 <= len(flags) <= 4


def test_labels_and_explanations_fit_buttons_and_screens(quizzes: dict[str, Quiz]) -> None:
    for quiz in quizzes.values():
        assert len(quiz.id) <= 20
        for question in quiz.questions:
            assert all(0 < len(label) <= 30 for label in question.choices), question.text
            assert 0 < len(question.explanation) <= 300, question.text


def test_the_right_answer_is_not_always_in_the_same_place(quizzes: dict[str, Quiz]) -> None:
    for quiz in quizzes.values():
        assert len({q.correct for q in quiz.questions}) > 1, quiz.id


def test_quizzes_cite_sources_listed_in_sources_md(quizzes: dict[str, Quiz]) -> None:
    listed = cited_sources()
    for quiz in quizzes.values():
        assert quiz.sources, quiz.id
        assert set(quiz.sources) <= listed, (quiz.id, set(quiz.sources) - listed)


def test_quiz_texts_hold_no_phone_number_and_no_brace(quizzes: dict[str, Quiz]) -> None:
    for quiz in quizzes.values():
        texts = [quiz.title]
        for question in quiz.questions:
            texts += [question.text, question.explanation, *question.choices]
        for text in texts:
            assert not PHONE.search(text), (quiz.id, text)
            assert "{" not in text, (quiz.id, text)
            assert "}" not in text, (quiz.id, text)


def test_more_links_exist_and_quiz_ids_do_not_clash_with_messages(
    quizzes: dict[str, Quiz], catalog: Catalog
) -> None:
    for quiz in quizzes.values():
        assert quiz.more is None or quiz.more in catalog, (quiz.id, quiz.more)
    assert not set(quizzes) & catalog.ids


@pytest.mark.parametrize("path", sorted(QUIZZES_DIR.glob("*.yml")), ids=lambda p: p.stem)
def test_every_visible_text_is_extracted_for_translation(path: Path) -> None:
    quiz = load_quizzes(QUIZZES_DIR)[path.stem]
    with path.open("rb") as handle:
        extracted = {entry[2] for entry in extract_content(handle, {}, [], {})}
    visible = {quiz.title}
    for question in quiz.questions:
        visible |= {question.text, question.explanation, *question.choices}
    assert visible <= extracted


def test_every_callback_fits_telegram(quizzes: dict[str, Quiz]) -> None:
    for quiz in quizzes.values():
        progress = start(quiz, 1)
        while not is_finished(quiz, progress):
            for _, data in choice_buttons(quiz, progress):
                assert len(data.encode()) <= MAX_CALLBACK_BYTES
            progress = answer(quiz, progress, 0).progress
        assert len(start_callback(quiz.id).encode()) <= MAX_CALLBACK_BYTES


# ----------------------------------------------------------------- playing


def test_a_full_run_scores_and_explains_every_answer(tramadol: Quiz) -> None:
    progress = start(tramadol, 7)
    seen = []
    right_answers = 0
    while not is_finished(tramadol, progress):
        question = current_question(tramadol, progress)
        seen.append(question)
        pick_right = len(seen) % 2 == 1
        choice = question.correct if pick_right else (question.correct + 1) % len(question.choices)
        correct, explanation, progress = answer(tramadol, progress, choice)
        assert correct is pick_right
        assert explanation == question.explanation
        right_answers += pick_right
    assert sorted(tramadol.questions.index(q) for q in seen) == [0, 1, 2, 3, 4]
    assert progress.score == right_answers == 3
    with pytest.raises(QuizError):
        answer(tramadol, progress, 0)


def test_the_same_seed_gives_the_same_order_and_seeds_vary_it(tramadol: Quiz) -> None:
    assert start(tramadol, 42) == start(tramadol, 42)
    assert len({start(tramadol, seed).order for seed in range(30)}) > 10


def test_a_replay_always_gives_a_new_order(tramadol: Quiz) -> None:
    previous = start(tramadol, 0)
    for seed in range(500):  # includes seeds whose plain shuffle repeats `previous`
        replay = start(tramadol, seed, previous=previous)
        assert replay.order != previous.order
        assert sorted(replay.order) == [0, 1, 2, 3, 4]
        assert (replay.position, replay.score) == (0, 0)
        previous = replay


def test_progress_fits_a_short_string_field(tramadol: Quiz, quizzes: dict[str, Quiz]) -> None:
    progress = answer(tramadol, start(tramadol, 3), 1).progress
    assert QuizProgress.loads(progress.dumps()) == progress
    for quiz in quizzes.values():
        assert len(start(quiz, 3).dumps()) <= 40


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "tramadol",
        "tramadol:01234:0",
        "Tramadol:01234:0:0",
        "tramadol:01134:0:0",  # not a permutation
        "tramadol:01234:6:0",  # past the end
        "tramadol:01234:1:2",  # more points than answers
        "tramadol:01234:²:0",  # a Unicode digit
        "tramadol:01234:-1:0",
        "tramadol:0123!:0:0",
        "tramadol::0:0",
    ],
)
def test_unreadable_progress_is_a_fresh_start_not_a_crash(raw: str | None) -> None:
    assert QuizProgress.loads(raw) is None


def test_progress_of_a_changed_quiz_is_refused(tramadol: Quiz) -> None:
    shorter = QuizProgress("tramadol", (1, 0, 2), 0, 0)
    assert not shorter.fits(tramadol)
    with pytest.raises(QuizError):
        answer(tramadol, shorter, 0)


# ----------------------------------------------------------------- buttons


def test_a_start_button_and_an_answer_button_are_read_back(
    tramadol: Quiz, quizzes: dict[str, Quiz]
) -> None:
    assert parse_callback(start_callback("tramadol"), quizzes, None) == StartQuiz("tramadol")
    progress = start(tramadol, 5)
    data = answer_callback(progress, 2)
    assert parse_callback(data, quizzes, progress) == AnswerChoice(
        "tramadol", 0, progress.order[0], 2
    )
    labels = [label for label, _ in choice_buttons(tramadol, progress)]
    assert labels == list(current_question(tramadol, progress).choices)


@pytest.mark.parametrize(
    "data",
    [
        "quiz",
        "quiz:",
        "quiz:unknown",
        "quiz:tramadol:0",
        "quiz:tramadol:0:0",
        "quiz:tramadol:0:0:0:0",
        "quiz:tramadol:x:0:0",
        "quiz:tramadol:-1:0:0",
        "quiz:tramadol:00:0:0",
        "quiz:tramadol:²:0:0",
        "quiz:tramadol:5:0:0",  # position past the end
        "quiz:tramadol:0:9:0",  # no such question
        "quiz:tramadol:0:0:7",  # no such choice
        "quiz:../etc:0:0:0",
        "show:drug.tramadol.about",
        "quiz:tramadol:0:0:" + "0" * 80,
    ],
)
def test_forged_callbacks_are_rejected(data: str, quizzes: dict[str, Quiz]) -> None:
    progress = start(quizzes["tramadol"], 5)
    with pytest.raises(ForgedCallback):
        parse_callback(data, quizzes, progress)


def test_a_button_from_an_earlier_question_is_stale(
    tramadol: Quiz, quizzes: dict[str, Quiz]
) -> None:
    progress = start(tramadol, 5)
    first = answer_callback(progress, 0)
    progress = answer(tramadol, progress, 0).progress
    with pytest.raises(StaleCallback):
        parse_callback(first, quizzes, progress)  # pressed twice, or an old message


def test_a_button_from_an_earlier_run_is_stale(tramadol: Quiz, quizzes: dict[str, Quiz]) -> None:
    old_run = start(tramadol, 1)
    new_run = start(tramadol, 2, previous=old_run)
    # Same position, but the old run asked another question there: not an answer to this one.
    position = next(i for i in range(5) if old_run.order[i] != new_run.order[i])
    old = old_run._replace(position=position)
    new = new_run._replace(position=position)
    with pytest.raises(StaleCallback):
        parse_callback(answer_callback(old, 0), quizzes, new)


def test_answer_buttons_are_stale_without_a_run_or_after_it(
    tramadol: Quiz, quizzes: dict[str, Quiz]
) -> None:
    progress = start(tramadol, 5)
    data = answer_callback(progress, 0)
    with pytest.raises(StaleCallback):
        parse_callback(data, quizzes, None)
    with pytest.raises(StaleCallback):
        parse_callback(data, quizzes, QuizProgress("cannabis", (0, 1, 2, 3, 4), 0, 0))
    finished = progress._replace(position=5)
    with pytest.raises(StaleCallback):
        parse_callback(answer_callback(progress._replace(position=4), 0), quizzes, finished)


# ----------------------------------------------------------------- content errors

GOOD_QUESTION = """
  - text: "Question ?"
    choices:
      - label: "Oui"
        correct: true
      - label: "Non"
    explanation:
      text: "Parce que."
"""


def _quiz_file(tmp_path: Path, questions: str, name: str = "demo", head: str = "") -> Path:
    body = (
        f"id: {name}\ntitle:\n  text: Démo\nsources:\n  - OMS\n{head}questions:"
        + GOOD_QUESTION * 2
        + questions
    )
    return write(tmp_path / f"{name}.yml", body)


@pytest.mark.parametrize(
    ("question", "problem"),
    [
        (GOOD_QUESTION.replace('"Non"', '"Non"\n        correct: true'), "exactly one choice"),
        (GOOD_QUESTION.replace("        correct: true\n", ""), "exactly one choice"),
        (GOOD_QUESTION.replace('"Oui"', '"' + "x" * 31 + '"'), "at most 30"),
        (GOOD_QUESTION.replace("correct: true", "corect: true"), "unknown field"),
        (
            GOOD_QUESTION.replace("Parce que.", "Voir {emergency}"),
            "must be a non-empty text without",
        ),
        (GOOD_QUESTION.replace("      text: ", "      texte: "), "unknown field"),
        (GOOD_QUESTION.replace("correct: true", "correct: oui"), "true or false"),
        (GOOD_QUESTION.replace('"Non"', '"Oui"'), "appears twice"),
    ],
)
def test_a_broken_quiz_names_file_line_and_field(
    tmp_path: Path, question: str, problem: str
) -> None:
    _quiz_file(tmp_path, question)
    with pytest.raises(ContentError, match=rf"demo\.yml:\d+: questions\[2\].*{problem}"):
        load_quizzes(tmp_path)


def test_a_quiz_id_must_be_a_short_slug_matching_its_file(tmp_path: Path) -> None:
    _quiz_file(tmp_path, GOOD_QUESTION, name="Demo-1")
    with pytest.raises(ContentError, match=r"Demo-1\.yml:1: id"):
        load_quizzes(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    path = _quiz_file(other, GOOD_QUESTION)
    path.rename(other / "renamed.yml")
    with pytest.raises(ContentError, match="must match the file name"):
        load_quizzes(other)


def test_a_quiz_needs_sources_and_enough_questions(tmp_path: Path) -> None:
    write(tmp_path / "demo.yml", "id: demo\ntitle:\n  text: Démo\nquestions:" + GOOD_QUESTION * 3)
    with pytest.raises(ContentError, match="sources"):
        load_quizzes(tmp_path)
    write(
        tmp_path / "demo.yml",
        "id: demo\ntitle:\n  text: Démo\nsources: [OMS]\nquestions:" + GOOD_QUESTION,
    )
    with pytest.raises(ContentError, match="3 to 10 questions"):
        load_quizzes(tmp_path)
