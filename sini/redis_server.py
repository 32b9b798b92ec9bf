"""Start a project-local `redis-server` (for `helpline run` and the test suite).

Each instance has its own port and data directory; AOF settings come from
`deploy/redis.conf`. Readiness is detected from Redis's own "Ready to accept connections"
log line rather than by polling.
"""

from __future__ import annotations

import fcntl
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import IO

from sini.settings import PROJECT_ROOT

CONFIG_FILE = PROJECT_ROOT / "deploy" / "redis.conf"
READY_MARK = "Ready to accept connections"
LOCK_FILE = "local-redis.lock"


class RedisServerError(RuntimeError):
    """redis-server is missing or did not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def running_url(data_dir: Path) -> str | None:
    """The URL of the local redis-server that owns `data_dir` (its lock file names the
    port), or None when no server ever started there."""
    try:
        owner = (data_dir / LOCK_FILE).read_text().strip()
    except OSError:
        return None
    return f"redis://127.0.0.1:{owner}/0" if owner.isdigit() else None


class LocalRedis:
    """A redis-server child process bound to 127.0.0.1.

    One server per data directory: a lock file holds the port of the server that owns the
    directory, and a second `LocalRedis` on it (say `helpline keys init` while `make run`
    is chatting) joins that server instead of starting another on the same AOF files."""

    def __init__(
        self, data_dir: Path, port: int | None = None, appendfsync: str = "always"
    ) -> None:
        """`appendfsync` overrides deploy/redis.conf's "always" — "everysec" suits a
        dialogue-only Redis, whose writes then need not wait for the disk."""
        self.data_dir = data_dir
        self.appendfsync = appendfsync
        self.port = port or free_port()
        self.process: subprocess.Popen[str] | None = None
        self._lock: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> LocalRedis:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RedisServerError(
                "redis-server not found: install Redis 7+ (apt install redis-server)"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = (self.data_dir / LOCK_FILE).open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip()
            lock.close()
            if not owner.isdigit():
                raise RedisServerError(
                    f"{self.data_dir} is in use by another redis-server"
                ) from None
            self.port = int(owner)  # join the server that owns this directory
            return self
        lock.seek(0)
        lock.truncate()
        lock.write(str(self.port))
        lock.flush()
        self._lock = lock
        self.process = subprocess.Popen(  # noqa: S603 - fixed executable and arguments
            [
                executable,
                str(CONFIG_FILE),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                "--logfile",
                "",
                "--daemonize",
                "no",
                "--appendfsync",
                self.appendfsync,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        seen: list[str] = []
        for line in self.process.stdout:
            seen.append(line)
            if READY_MARK in line:
                # Keep reading so a full pipe can never block the server.
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        self.process.wait()
        raise RedisServerError("redis-server exited: " + "".join(seen[-5:]).strip())

    def _drain(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for _ in self.process.stdout:
            pass

    def kill(self) -> None:
        """SIGKILL: what a crash looks like (used to prove durability)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._release()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
