"""Writing a directory as a services file: what `helpline services import` produces, for a
deployment to point SERVICES_FILE at.

The file starts with the rules of the seed's header, so whoever edits it next reads them
too; `load_services` gives the written services back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import takewhile
from pathlib import Path
from typing import Any

import yaml

from bot.services.directory import Service, as_entry
from sini.settings import PROJECT_ROOT

SEED = PROJECT_ROOT / "responses" / "services.yml"
"""The directory shipped with the code; its header states the rules every directory keeps."""

# The seed's header is the rules, then a "DEPLOYMENT" paragraph about the seed itself
# (where its entries were found), which is not true of another directory.
_SEED_ONLY = "# DEPLOYMENT"


# Quoted as in the seed: free text, and phone numbers so that "80331" stays a string.
_QUOTED = ("name", "short_name", "address", "phones", "how_to_reach", "hours", "cost", "source")


WIDTH = 92
"""Longer texts are folded over several lines (`>-`), as the seed writes its sources."""


class _Quoted(str):
    """A string written in double quotes, or folded when long."""


class _Flow(list[_Quoted]):
    """A list written on one line: ["80 00 11 15", "80 331"]."""


def _represent_quoted(dumper: yaml.SafeDumper, text: _Quoted) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, ">" if len(text) > WIDTH else '"')


def _represent_flow(dumper: yaml.SafeDumper, items: _Flow) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=True)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Quoted, _represent_quoted)
_Dumper.add_representer(_Flow, _represent_flow)


def _quoted(value: Any) -> Any:
    if isinstance(value, list):
        return _Flow(_Quoted(item) for item in value)
    return None if value is None else _Quoted(value)


def _entry_yaml(service: Service) -> str:
    entry = as_entry(service)
    entry.update({field: _quoted(entry[field]) for field in _QUOTED if field in entry})
    # Flow style for the leaf lists and mappings, as in the seed: phones: ["80 00 11 15"],
    # coordinates: {lat: …, lon: …}.
    text = yaml.dump(
        [entry],
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=WIDTH,
        default_flow_style=None,
    )
    return "".join(f"  {line}\n" for line in text.splitlines())


def rules(seed: Path = SEED) -> list[str]:
    """The comment lines of the seed's header up to its seed-only paragraph."""
    lines = seed.read_text(encoding="utf-8").splitlines()
    header = list(
        takewhile(lambda line: line.startswith("#") and not line.startswith(_SEED_ONLY), lines)
    )
    while header and header[-1] == "#":
        header.pop()
    return header


def services_yaml(services: Sequence[Service], origin: str, header: Iterable[str]) -> str:
    """The services file for `services`, in their order, saying it was made from `origin`."""
    return (
        "\n".join(header)
        + f"\n#\n# Written by `helpline services import` from {origin}.\n\nservices:\n\n"
        + "\n".join(_entry_yaml(service) for service in services)
    )
