"""The bot's own small HTTP server: Prometheus metrics, liveness and readiness.

It runs inside the bot's event loop (started from PTB's `post_init`, stopped from
`post_shutdown`), in polling and webhook mode alike, so `/healthz` answering *is* the proof
that the loop is alive. Every handler is a coroutine that awaits; none blocks the loop.
It listens on 127.0.0.1 by default: metrics are for the host's scraper, not the world.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.metrics import REGISTRY
from sini.logging import get_logger

log = get_logger(__name__)

# Kubernetes manifests probe exactly these paths (on METRICS_PORT, 9102 by default).
METRICS_PATH = "/metrics"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"

Readiness = Callable[[], Awaitable[dict[str, bool]]]


def create_app(readiness: Readiness, registry: CollectorRegistry = REGISTRY) -> Starlette:
    """The three endpoints; `readiness()` says which parts (Redis, NLU…) are up."""

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_request: Request) -> Response:
        parts = await readiness()
        ready = all(parts.values())
        body = {
            "ready": ready,
            "down": sorted(name for name, up in parts.items() if not up),
            "checks": {name: "up" if up else "down" for name, up in parts.items()},
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    return Starlette(
        routes=[
            Route(METRICS_PATH, metrics, methods=["GET"]),
            Route(HEALTH_PATH, healthz, methods=["GET"]),
            Route(READY_PATH, readyz, methods=["GET"]),
        ]
    )


class _InLoopServer(uvicorn.Server):
    """uvicorn without its signal handlers: the bot's loop (PTB) owns SIGINT and SIGTERM,
    and stops this server itself on shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ObservabilityServer:
    """Serves `create_app(readiness)` on host:port as a task of the running loop.

    The socket is bound in `start()`, so a port already in use fails the bot's start-up
    with a clear OSError, and requests queue in the backlog from that moment on."""

    def __init__(self, host: str, port: int, readiness: Readiness) -> None:
        self.host = host
        self._requested_port = port
        config = uvicorn.Config(
            create_app(readiness),
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",  # no websockets here (and Rasa pins an old `websockets`)
            server_header=False,
            timeout_graceful_shutdown=2,
        )
        self._server = _InLoopServer(config)
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port (the OS's choice when 0 was asked for, as tests do)."""
        assert self._socket is not None, "start() first"
        return int(self._socket.getsockname()[1])

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._socket = socket.create_server((self.host, self._requested_port), family=family)
        self._task = asyncio.get_running_loop().create_task(
            self._server.serve(sockets=[self._socket]), name="observability-server"
        )
        log.info("observability.serving", host=self.host, port=self.port)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None
        if self._socket is not None:
            self._socket.close()
