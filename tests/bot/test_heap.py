"""Start-up objects are kept out of the collector's full passes; later garbage is not."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot import heap


@pytest.fixture
def settled() -> Iterator[None]:
    heap.settle()
    try:
        yield
    finally:
        gc.unfreeze()


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector can free it


@pytest.mark.usefixtures("settled")
def test_settling_exempts_what_exists_and_still_frees_what_comes_later() -> None:
    assert gc.get_freeze_count() > 0
    later = Node()
    gone = weakref.ref(later)
    del later
    gc.collect()
    assert gone() is None
