"""French wording the pages build from numbers and dates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from staff.formatting import Formatter, fold

NOW = datetime(2026, 12, 4, 9, tzinfo=timezone.utc)


@pytest.mark.parametrize(("count", "word"), [(0, "sera"), (1, "sera"), (2, "seront")])
def test_french_plurals_take_the_singular_for_zero_and_one(count: int, word: str) -> None:
    assert Formatter("fr").plural(count, "sera", "seront") == word


def test_a_deletion_date_is_only_announced_while_it_is_ahead() -> None:
    fmt = Formatter("fr")
    assert fmt.deletion(NOW + timedelta(hours=5), NOW) == "supprimé le 4 déc. 2026 à 14:00"
    assert fmt.deletion(NOW - timedelta(days=5), NOW) == "suppression en attente"
    assert fmt.deletion(NOW, NOW) == "suppression en attente"


def test_a_long_text_is_folded_between_words() -> None:
    text = "mot " * 5000
    head, rest = fold(text)
    assert head + rest == text
    assert len(head) <= 1500
    assert head.endswith("mot")
    assert rest.startswith(" ")


def test_a_short_text_is_not_folded() -> None:
    assert fold("court") == ("court", "")


def test_a_text_without_spaces_is_cut_at_the_limit() -> None:
    assert fold("x" * 2000, 1500) == ("x" * 1500, "x" * 500)
