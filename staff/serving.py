"""uvicorn's server, telling the dashboard when it begins to stop.

uvicorn waits for every open response before it stops, and the console's event streams
never end by themselves: `Server` sets the dashboard's `stopping` event at the signal to
stop, so each stream ends at its next wake-up and the shutdown goes on at once.
"""

from __future__ import annotations

import threading
from types import FrameType

import uvicorn


class Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, stopping: threading.Event) -> None:
        super().__init__(config)
        self.stopping = stopping

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.stopping.set()
        super().handle_exit(sig, frame)
