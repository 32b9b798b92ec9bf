"""Quizzes in the conversation: pick, answer with buttons, learn from each explanation.

Pure like the engine: the question order of a run is seeded by the previous run (stored
in the chat state), so a replay always asks the questions in a new order.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import replace

from bot.awareness import (
    AnswerChoice,
    Quiz,
    QuizError,
    QuizProgress,
    StartQuiz,
    answer,
    choice_buttons,
    current_question,
    is_finished,
    start,
)
from bot.content import Button, Catalog
from bot.dialogue.actions import Do, QuizAction, Show, encode
from bot.dialogue.replies import Reply, Turn
from bot.dialogue.state import ChatState


class QuizFlow:
    """Quiz turns; `Turn.quiz` reports starts and completions for the anonymous counters."""

    def __init__(self, catalog: Catalog, quizzes: Mapping[str, Quiz]) -> None:
        self.catalog = catalog
        self.quizzes = dict(quizzes)

    def pick(self, state: ChatState) -> Turn:
        """The list of quizzes, one button each."""
        locale = state.language
        buttons = tuple(
            (Button(self.catalog.gettext(quiz.title, locale), encode(StartQuiz(quiz.id))),)
            for quiz in self.quizzes.values()
        )
        menu = self.catalog.render("menu.short", locale).buttons
        text = self.catalog.render("quiz.pick", locale).text
        return Turn((Reply(text, (*buttons, *menu)),), state, topic="quiz.pick")

    def begin(self, quiz_id: str, state: ChatState) -> Turn | None:
        """Start (or replay) a quiz; None for an unknown quiz."""
        quiz = self.quizzes.get(quiz_id)
        if quiz is None:
            return None
        seed = zlib.crc32(f"{quiz_id}:{state.quiz or ''}".encode())
        progress = start(quiz, seed, previous=QuizProgress.loads(state.quiz))
        state = replace(state, quiz=progress.dumps())
        question = self._question(quiz, progress, state)
        return Turn((question,), state, topic=f"quiz.{quiz.id}", quiz=("started", quiz.id, 0))

    def action(self, action: QuizAction, state: ChatState) -> Turn | None:
        """A quiz button; None when forged or stale (the engine answers kindly). Any quiz
        can be started at any time; an answer counts only for the question asked now."""
        match action:
            case StartQuiz(quiz_id):
                return self.begin(quiz_id, state)
            case AnswerChoice(quiz_id, position, question, choice):
                quiz = self.quizzes.get(quiz_id)
                progress = QuizProgress.loads(state.quiz)
                if (
                    quiz is None
                    or progress is None
                    or not progress.fits(quiz)
                    or is_finished(quiz, progress)
                    or (progress.position, progress.order[progress.position])
                    != (position, question)
                ):
                    return None
                try:
                    return self._answer(quiz, progress, choice, state)
                except QuizError:  # a choice the question does not have
                    return None

    def _question(self, quiz: Quiz, progress: QuizProgress, state: ChatState) -> Reply:
        locale = state.language
        question = current_question(quiz, progress)
        text = self.catalog.render(
            "quiz.question",
            locale,
            None,
            title=self.catalog.gettext(quiz.title, locale),
            number=str(progress.position + 1),
            total=str(len(quiz)),
            question=self.catalog.gettext(question.text, locale),
        ).text
        buttons = tuple(
            (Button(self.catalog.gettext(label, locale), data),)
            for label, data in choice_buttons(quiz, progress)
        )
        return Reply(text, buttons)

    def _answer(self, quiz: Quiz, progress: QuizProgress, choice: int, state: ChatState) -> Turn:
        locale = state.language
        question = current_question(quiz, progress)
        result = answer(quiz, progress, choice)
        verdict = (
            self.catalog.render("quiz.right", locale).text
            if result.correct
            else self.catalog.render(
                "quiz.wrong",
                locale,
                None,
                answer=self.catalog.gettext(question.correct_label, locale),
            ).text
        )
        feedback = Reply(f"{verdict}\n{self.catalog.gettext(result.explanation, locale)}")
        state = replace(state, quiz=result.progress.dumps())
        if not is_finished(quiz, result.progress):
            next_question = self._question(quiz, result.progress, state)
            return Turn((feedback, next_question), state, topic=f"quiz.{quiz.id}")
        score = self.catalog.render(
            "quiz.score",
            locale,
            None,
            score=str(result.progress.score),
            total=str(len(quiz)),
        )
        buttons: list[tuple[Button, ...]] = [
            (
                Button(
                    self.catalog.render("quiz.replay_button", locale).text,
                    encode(StartQuiz(quiz.id)),
                ),
            ),
        ]
        if quiz.more and quiz.more in self.catalog:
            buttons.append(
                (
                    Button(
                        self.catalog.render("quiz.more_button", locale).text,
                        encode(Show(quiz.more)),
                    ),
                )
            )
        buttons.append(
            (Button(self.catalog.render("quiz.other_button", locale).text, encode(Do.QUIZ)),)
        )
        buttons.extend(self.catalog.render("menu.short", locale).buttons)
        return Turn(
            (feedback, Reply(score.text, tuple(buttons))),
            state,
            topic=f"quiz.{quiz.id}.done",
            quiz=("completed", quiz.id, result.progress.score),
        )
