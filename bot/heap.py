"""Keep the garbage collector's full passes off the latency path.

A long-running process that has just loaded its content, its libraries (and, in an NLU
worker, Rasa and TensorFlow) holds a few hundred thousand objects that live as long as
it does. CPython's oldest-generation collection walks all of them: measured in the bot's
process at 500 updates/s, one such pass stopped the event loop for 40 – 65 ms every few
seconds, which was most of the p99. `gc.freeze()` after start-up moves them out of the
collector's sight (they are never freed anyway); objects made afterwards are collected
as before, so nothing leaks, and a full pass then takes about a millisecond.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect once, then exempt every surviving start-up object from later collections.
    Call it when start-up is over and before serving."""
    gc.collect()
    gc.freeze()
