"""When the bot is behind, an answer's parts are folded into fewer messages
(bot/adapters/folding.py): the user reads the same text in the same order under the same
buttons, and receipts and buttons keep their own messages."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.folding import MAX_TEXT, SEPARATOR, fold
from bot.content import Button
from bot.dialogue.replies import Key, Reply

MENU = ((Button("🏠 Menu", "menu"),),)


def test_text_parts_join_the_part_that_carries_the_buttons() -> None:
    answer = (Reply("Le tramadol…"), Reply("Les risques…"), Reply("Et après ?", MENU))

    assert fold(answer) == (Reply("Le tramadol…\n\nLes risques…\n\nEt après ?", MENU),)


def test_a_part_with_buttons_or_a_keyboard_keeps_its_buttons_under_its_own_text() -> None:
    keyboard = ((Key("📍 Ma position", request_location=True),),)
    answer = (Reply("Choisis :", MENU), Reply("Ou partage ta position", keyboard=keyboard))

    assert fold(answer) == answer


def test_receipts_and_report_messages_are_never_folded() -> None:
    answer = (Reply("Merci."), Reply("Code : K7P-2QX", protect=True), Reply("Menu", MENU))

    assert fold(answer) == (answer[0], answer[1], answer[2])


def test_a_fold_never_exceeds_telegrams_length_for_one_message() -> None:
    long = "🆘" * (MAX_TEXT // 2 - 3)  # an emoji counts two of Telegram's characters
    answer = (Reply(long), Reply("suite"))

    assert fold(answer) == answer


replies = st.builds(
    Reply,
    text=st.text(min_size=1, max_size=3000),
    buttons=st.sampled_from(((), MENU)),
    protect=st.booleans(),
)


@given(st.lists(replies, max_size=6).map(tuple))
def test_folding_keeps_every_text_in_order_and_every_button(answer: tuple[Reply, ...]) -> None:
    folded = fold(answer)

    assert SEPARATOR.join(r.text for r in folded) == SEPARATOR.join(r.text for r in answer)
    assert [r.buttons for r in folded if r.buttons] == [r.buttons for r in answer if r.buttons]
    assert sum(r.protect for r in folded) == sum(r.protect for r in answer)
    assert all(len(r.text.encode("utf-16-le")) // 2 <= MAX_TEXT for r in folded if r not in answer)
    assert len(folded) <= len(answer)
