"""The keyword fallback used while the NLU is down: which drug a message names.

The names are the NLU's own synonyms (`nlu/data/entities.yml`: yamba, kush, trama,
"225"…), so the fallback knows every spelling the model was taught; places come from the
regions registry (`sini.regions.in_text`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import yaml

from sini.textmatch import find_named, fold


def load_drug_names(entities_file: Path, drugs: Collection[str]) -> dict[str, str]:
    """Folded name → canonical drug, for every synonym of a drug in `drugs`."""
    data = yaml.safe_load(entities_file.read_text(encoding="utf-8")) or {}
    names: dict[str, str] = {}
    for item in data.get("nlu") or []:
        drug = item.get("synonym") if isinstance(item, dict) else None
        if not isinstance(drug, str) or drug not in drugs:
            continue
        names[fold(drug)] = drug
        for line in str(item.get("examples") or "").splitlines():
            name = line.strip().removeprefix("- ").strip()
            if name:
                names[fold(name)] = drug
    return names


def drug_in_text(text: str, names: Mapping[str, str]) -> str | None:
    """The drug the text names first, if any ("c koi le yamba" → cannabis)."""
    return find_named(text, names, longest=3)
