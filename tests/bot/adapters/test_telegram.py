"""How the Telegram adapter reads Telegram's refusals."""

from __future__ import annotations

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError

from bot.adapters.telegram import reaching
from bot.awareness import Unreachable


@pytest.mark.parametrize(
    "refusal",
    [Forbidden("Forbidden: bot was blocked by the user"), BadRequest("Chat not found")],
    ids=["blocked", "account deleted"],
)
def test_a_chat_gone_for_good_is_unreachable(refusal: Exception) -> None:
    with pytest.raises(Unreachable), reaching():
        raise refusal


@pytest.mark.parametrize(
    "error", [BadRequest("Message is too long"), NetworkError("timed out")], ids=str
)
def test_other_errors_pass_as_they_are(error: Exception) -> None:
    with pytest.raises(type(error)), reaching():
        raise error
