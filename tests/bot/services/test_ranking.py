"""Ranking for the person asking: relevant kinds first, then distance; the police only for
emergencies; the nearest services elsewhere when a region has none; distances only where
the coordinates allow them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.services import Service
from bot.services.ranking import (
    NEAR_KM,
    PRECISION_RADIUS_KM,
    in_region_ranked,
    national_lines,
    near,
    nearest_elsewhere,
    offers_exactly,
    shown_km,
    tier,
)
from sini.regions import Region
from tests.bot.services import BAMAKO, GAO, MOPTI, SIKASSO, make_service


def directory() -> list[Service]:
    """Bamako has a drug squad, a clinic, a listening centre and a shelter, all at the
    town centre (as most real entries are); Gao has only a shelter."""
    return [
        replace(
            make_service("brigade-stups", Region.BAMAKO, *BAMAKO, kinds=("emergency",)),
            enforcement=True,
        ),
        make_service("ecoute-bamako", Region.BAMAKO, *BAMAKO, kinds=("psychosocial",)),
        make_service("clinique-bamako", Region.BAMAKO, *BAMAKO, kinds=("treatment",)),
        make_service("foyer-bamako", Region.BAMAKO, *BAMAKO, kinds=("shelter",)),
        make_service("aide-bamako", Region.BAMAKO, *BAMAKO, kinds=("victim_assistance",)),
        make_service("foyer-gao", Region.GAO, *GAO, kinds=("shelter",)),
        make_service("juriste-mopti", Region.MOPTI, *MOPTI, kinds=("legal_aid",)),
        replace(make_service("police-secours", None, kinds=("emergency",)), enforcement=True),
        make_service("ligne-victimes", None, kinds=("emergency", "victim_assistance")),
    ]


def ids(services: list[Service]) -> list[str]:
    return [service.id for service in services]


def test_for_drug_use_treatment_comes_before_listening_and_nothing_else_is_offered() -> None:
    ranked = near(directory(), *BAMAKO, kind="treatment")
    assert [p.service.id for p in ranked] == ["clinique-bamako", "ecoute-bamako"]


def test_for_trafficking_victim_assistance_comes_before_shelters() -> None:
    ranked = [p.service.id for p in near(directory(), *BAMAKO, kind="victim_assistance")]
    assert ranked[:2] == ["aide-bamako", "foyer-bamako"]


def test_the_drug_squad_is_never_offered_as_care() -> None:
    for kind in (None, "treatment", "psychosocial", "victim_assistance", "shelter", "legal_aid"):
        offered = [p.service.id for p in near(directory(), *BAMAKO, kind=kind)]
        assert "brigade-stups" not in offered, kind
        assert "brigade-stups" not in ids(in_region_ranked(directory(), Region.BAMAKO, kind)), kind


def test_the_drug_squad_and_the_police_are_there_for_emergencies() -> None:
    assert "brigade-stups" in [p.service.id for p in near(directory(), *BAMAKO, "emergency")]
    assert ids(national_lines(directory(), "emergency")) == ["police-secours", "ligne-victimes"]


def test_national_lines_fit_the_need() -> None:
    assert ids(national_lines(directory(), "victim_assistance")) == ["ligne-victimes"]
    assert ids(national_lines(directory(), "treatment")) == []
    assert "police-secours" not in ids(national_lines(directory(), None))


def test_a_location_without_a_kind_gets_care_first() -> None:
    ranked = [p.service.id for p in near(directory(), *BAMAKO, kind=None)]
    assert ranked[:2] == ["clinique-bamako", "ecoute-bamako"]


def test_within_reach_relevance_wins_beyond_reach_distance_still_counts() -> None:
    """In Gao, the local shelter comes before an assistance office 1,000 km away, even
    though assistance is the more relevant kind for a victim."""
    ranked = near(directory(), *GAO, kind="victim_assistance")
    assert ranked[0].service.id == "foyer-gao"
    assert ranked[0].km is not None
    assert ranked[0].km <= NEAR_KM
    assert ranked[1].service.id == "aide-bamako"


def test_a_region_without_the_kind_gets_the_nearest_elsewhere_with_the_distance() -> None:
    assert in_region_ranked(directory(), Region.SIKASSO, "treatment") == []
    (elsewhere,) = nearest_elsewhere(directory(), Region.SIKASSO, "treatment", limit=1)
    assert elsewhere.service.id == "clinique-bamako"
    assert elsewhere.km == pytest.approx(294, abs=5)  # Sikasso–Bamako as the crow flies


def test_nearest_elsewhere_offers_exactly_the_kind_asked_and_never_the_region_itself() -> None:
    found = nearest_elsewhere(directory(), Region.BAMAKO, "shelter", limit=5)
    assert [p.service.id for p in found] == ["foyer-gao"]
    assert all(offers_exactly(p.service, "shelter") for p in found)


def test_far_away_a_verified_service_comes_before_a_slightly_nearer_unverified_one() -> None:
    unverified = make_service("unite-kati", Region.KOULIKORO, 12.744, -8.073)
    verified = replace(make_service("hopital-bamako", Region.BAMAKO, *BAMAKO), verified=True)
    found = nearest_elsewhere([unverified, verified], Region.KAYES, "treatment")
    assert [p.service.id for p in found] == ["hopital-bamako", "unite-kati"]
    assert found[1].km is not None
    assert found[0].km is not None
    assert found[1].km < found[0].km


def test_a_region_ranks_its_own_services_by_relevance() -> None:
    assert ids(in_region_ranked(directory(), Region.BAMAKO, "psychosocial")) == [
        "ecoute-bamako",
        "clinique-bamako",
    ]


def test_substitutes_are_not_what_was_asked() -> None:
    listening = make_service("ecoute", Region.BAMAKO, *BAMAKO, kinds=("psychosocial",))
    assert tier(listening, "treatment") == 1
    assert not offers_exactly(listening, "treatment")
    assert offers_exactly(listening, None)  # any care is what "any help" asks for


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        near(directory(), *BAMAKO, kind="massage")


@pytest.mark.parametrize(
    ("precision", "km", "shown"),
    [
        ("town", 0.0, None),  # same town centre: "à Bamako", never "0,0 km"
        ("town", PRECISION_RADIUS_KM["town"], None),
        ("town", 13.5, 13.5),  # Kati from Bamako
        ("town", 294.0, 294.0),
        ("district", 1.5, None),
        ("district", 4.0, 4.0),
        ("exact", 0.01, None),
        ("exact", 0.4, 0.4),
    ],
)
def test_a_distance_is_shown_only_where_the_precision_allows(
    precision: str, km: float, shown: float | None
) -> None:
    service = replace(make_service("lieu", Region.BAMAKO, *BAMAKO), coordinates_precision=precision)
    assert shown_km(service, km) == shown


def test_national_lines_have_no_distance() -> None:
    line = make_service("ligne", None, kinds=("emergency",))
    assert shown_km(line, 12.0) is None


def test_every_region_has_a_capital_to_measure_from() -> None:
    for region in Region:
        found = nearest_elsewhere(directory(), region, "legal_aid", limit=1)
        assert found or region is Region.MOPTI


def test_sikasso_town_centre_is_the_reference_for_its_region() -> None:
    assert (Region.SIKASSO.capital.lat, Region.SIKASSO.capital.lon) == SIKASSO
