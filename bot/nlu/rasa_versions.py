"""The versions of Rasa's stack that `bot.nlu.rasa_batch` was written and verified against.

The batched components replace private code of Rasa (`Message._combine_features`, a graph
node's `_fn`, the graph runner's nodes), TensorFlow (`_call_flat`), SciPy (`_sputils`, a
COO matrix's attributes) and rely on how scikit-learn's CountVectorizer analyses a
document. They reproduce Rasa's arrays exactly at these versions only: another version
may have moved or changed what they mirror, and nothing would fail loudly. So the fast
path is on only when every package below is installed at exactly its version; otherwise
Rasa's own code runs (slower, same readings).

To move a package to another version: install it, run tests/bot/nlu/test_rasa_batch.py
(the batched readings against Rasa's on the whole held-out split) and, once green, write
the new version here.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from types import MappingProxyType
from typing import Final, TypeAlias

VERIFIED: Final = MappingProxyType(
    {
        "rasa": "3.6.21",
        "tensorflow": "2.12.0",
        "scipy": "1.10.1",
        "scikit-learn": "1.1.3",
    }
)


@dataclass(frozen=True)
class FastPathOn:
    """Every package is at its verified version: the batched components may be installed."""


@dataclass(frozen=True)
class FastPathOff:
    """`package` is at `installed` (None: not installed), not at `verified`: Rasa's own
    code runs."""

    package: str
    verified: str
    installed: str | None


FastPath: TypeAlias = FastPathOn | FastPathOff


def installed_version(package: str) -> str | None:
    """The installed version of a distribution, None when it is not installed."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def fast_path() -> FastPath:
    """On when every package is at its verified version; off, naming the first that is not."""
    for package, verified in VERIFIED.items():
        installed = installed_version(package)
        if installed != verified:
            return FastPathOff(package, verified, installed)
    return FastPathOn()
