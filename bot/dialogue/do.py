"""The menu's and the commands' actions (`do:<name>` buttons).

A module of its own, importing nothing, so that the content catalog can check a
`do:` button against the very enum the engine matches on without an import cycle
(the catalog is loaded by modules the rest of `bot.dialogue.actions` depends on).
"""

from __future__ import annotations

from enum import Enum


class Do(Enum):
    """`do:<name>`: the menu's and the commands' actions."""

    START = "start"
    MENU = "menu"
    EMERGENCY = "emergency"
    IN_DANGER = "in_danger"
    NOT_IN_DANGER = "not_in_danger"
    LANGUAGE = "language"
    CANCEL = "cancel"
    FOLLOWUP = "followup"
    QUIZ = "quiz"
    SUBSCRIBE = "subscribe"
    SUBSCRIBE_YES = "subscribe_yes"
    UNSUBSCRIBE = "unsubscribe"
    SERVICES = "services"
    REPORT = "report"
    COUNSEL = "counsel"
    COUNSEL_END = "counsel_end"
    COUNSEL_HELPED = "counsel_helped"
    COUNSEL_NOT_HELPED = "counsel_not_helped"
