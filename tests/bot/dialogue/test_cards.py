"""How services read in a chat: one line per service with where it is, and texts cut to
fit a phone."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.content import Catalog
from bot.dialogue.cards import (
    PHONE_TEXT_LIMIT,
    format_km,
    national_line,
    service_line,
    split_for_phone,
    where,
)
from bot.services.ranking import Placed
from sini.regions import Region
from tests.bot.services import BAMAKO, make_service

CLINIC = make_service("clinique-bamako", Region.BAMAKO, *BAMAKO)


@pytest.mark.parametrize(
    ("km", "locale", "expected"),
    [
        (None, "fr", "à Bamako"),
        (0.0, "fr", "à Bamako"),  # a town-centre position: never "0,0 km"
        (3.2, "fr", "à Bamako"),
        (370.4, "fr", "à 370 km, à Bamako"),
        (1197.0, "fr", "à 1\u202f197 km, à Bamako"),
        (370.4, "en", "370 km away, in Bamako"),
        (0.0, "en", "in Bamako"),
    ],
)
def test_where_gives_the_town_and_a_distance_only_when_it_means_something(
    catalog: Catalog, km: float | None, locale: str, expected: str
) -> None:
    assert where(catalog, Placed(CLINIC, km), locale) == expected


def test_an_exact_position_shows_short_distances(catalog: Catalog) -> None:
    exact = replace(CLINIC, coordinates_precision="exact")
    assert where(catalog, Placed(exact, 0.4), "fr") == "à 0,4 km, à Bamako"
    assert where(catalog, Placed(exact, 0.01), "fr") == "à Bamako"
    assert format_km(0.4, "en") == "0.4 km"


def test_a_list_line_uses_the_short_name(catalog: Catalog) -> None:
    short = replace(CLINIC, short_name="Clinique")
    assert service_line(catalog, Placed(short, 294.0), "fr") == "• Clinique — à 294 km, à Bamako"


def test_a_national_line_shows_its_numbers() -> None:
    line = replace(make_service("ligne", None), phones=("80 00 11 32",), short_name="Ligne")
    assert national_line(line) == "☎️ Ligne : 80 00 11 32"


def test_a_long_text_is_cut_between_lines_into_phone_sized_messages() -> None:
    lines = [f"ligne {n} " + "x" * 90 for n in range(12)]
    pieces = split_for_phone("\n".join(lines))
    assert all(len(piece) <= PHONE_TEXT_LIMIT for piece in pieces)
    assert "\n".join(pieces) == "\n".join(lines)


def test_a_single_overlong_line_is_cut_between_words() -> None:
    words = " ".join(["mot"] * 400)
    pieces = split_for_phone(words)
    assert all(len(piece) <= PHONE_TEXT_LIMIT for piece in pieces)
    assert " ".join(pieces).split() == words.split()


def test_a_short_text_stays_one_message() -> None:
    assert split_for_phone("Bonjour\nÇa va ?") == ["Bonjour\nÇa va ?"]


def test_a_long_text_is_cut_between_paragraphs_before_lines() -> None:
    numbers = "\n".join(f"☎️ Ligne {n} : numéro" for n in range(10))
    first_aid = "\n".join(f"• geste {n} " + "x" * 60 for n in range(5))
    assert len(numbers) + len(first_aid) > PHONE_TEXT_LIMIT
    assert split_for_phone(f"{numbers}\n\n{first_aid}") == [numbers, first_aid]
