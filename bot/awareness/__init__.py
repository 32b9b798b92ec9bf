"""Awareness beyond answers: quizzes, campaign deep links, opt-in weekly messages.

- `quiz`: pure quiz logic and content loading (the engine calls it, like the catalog);
- `campaigns`: deep-link payloads, their Redis registry, QR codes and anonymous counters;
- `subscribers`: the encrypted opt-in list, the paced and resumable broadcast, and the
  rotating weekly content.

All wording is French source text from `responses/`; the engine translates it with the
catalog's gettext like every other text.
"""

from bot.awareness.campaigns import (
    Campaign,
    CampaignError,
    CampaignStore,
    StatsRow,
    format_stats,
    link,
    payload_from_label,
    qr_png,
    valid_payload,
)
from bot.awareness.quiz import (
    Answer,
    AnswerChoice,
    ForgedCallback,
    Question,
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
from bot.awareness.subscribers import (
    BroadcastReport,
    RetryLater,
    Subscribers,
    Unreachable,
    WeeklyMessage,
    iso_week,
    load_weekly,
    pick_weekly,
    weekly_broadcast_id,
)

__all__ = [
    "Answer",
    "AnswerChoice",
    "BroadcastReport",
    "Campaign",
    "CampaignError",
    "CampaignStore",
    "ForgedCallback",
    "Question",
    "Quiz",
    "QuizError",
    "QuizProgress",
    "RetryLater",
    "StaleCallback",
    "StartQuiz",
    "StatsRow",
    "Subscribers",
    "Unreachable",
    "WeeklyMessage",
    "answer",
    "answer_callback",
    "choice_buttons",
    "current_question",
    "format_stats",
    "is_finished",
    "iso_week",
    "link",
    "load_quizzes",
    "load_weekly",
    "parse_callback",
    "payload_from_label",
    "pick_weekly",
    "qr_png",
    "start",
    "start_callback",
    "valid_payload",
    "weekly_broadcast_id",
]
