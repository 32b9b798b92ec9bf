"""Service directory tests; helpers here build small hand-made directories with exact,
stable data (the real file changes as services are added)."""

from __future__ import annotations

from bot.services import Service
from sini.regions import Coordinates, Region


def make_service(
    service_id: str,
    region: Region | None,
    lat: float | None = None,
    lon: float | None = None,
    kinds: tuple[str, ...] = ("treatment",),
    town: str | None = None,
) -> Service:
    """A service in `region`, or a national line when `region` is None."""
    located = lat is not None and lon is not None
    return Service(
        id=service_id,
        name=service_id.replace("-", " ").title(),
        kinds=kinds,
        region=region,
        town=town if town is not None else (region.label if region else None),
        address=None,
        coordinates=Coordinates(lat, lon) if lat is not None and lon is not None else None,
        coordinates_precision="town" if located else None,
        phones=(),
        how_to_reach="Passer par le commissariat le plus proche.",
        hours=None,
        languages=(),
        cost=None,
        source="test",
        verified=False,
        verified_on=None,
    )


# Town centres, as in responses/services.yml and sini.regions.
BAMAKO = (12.6392, -8.0029)
SEGOU = (13.45, -6.2667)
MOPTI = (14.4958, -4.1986)
SIKASSO = (11.3167, -5.6667)
GAO = (16.264, -0.028)
KAYES = (14.4368, -11.4453)
SEVARE = (14.53, -4.10)


def small_directory() -> list[Service]:
    """Distinct positions (no ties), several kinds, one national line."""
    return [
        make_service("hopital-bamako", Region.BAMAKO, *BAMAKO, kinds=("treatment",)),
        make_service(
            "foyer-bamako", Region.BAMAKO, 12.60, -7.95, kinds=("shelter", "victim_assistance")
        ),
        make_service("centre-segou", Region.SEGOU, *SEGOU, kinds=("treatment", "psychosocial")),
        make_service("foyer-mopti", Region.MOPTI, *MOPTI, kinds=("shelter",)),
        make_service("aide-sikasso", Region.SIKASSO, *SIKASSO, kinds=("legal_aid",)),
        make_service("foyer-gao", Region.GAO, *GAO, kinds=("shelter", "victim_assistance")),
        make_service("ligne-nationale", None, kinds=("emergency", "victim_assistance")),
    ]
