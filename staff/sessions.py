"""Server-side sessions holding the unwrapped desk keyring, and CSRF tokens.

Sessions live in this process's memory only: the keyring must never be written anywhere
(not Redis, not a signed cookie, not disk), so the cookie carries a random id and nothing
else. Consequences, accepted on purpose: one worker process, and a restart logs everyone out.

Sessions end after `idle_seconds` without a request, and after `max_seconds` whatever
happens; a new id is issued at every login (no fixation).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from staff.accounts import Role
from tips.crypto import DeskKeyring


def new_token() -> str:
    """A 256-bit random token (session ids, CSRF tokens)."""
    return secrets.token_urlsafe(32)


def tokens_match(expected: str, given: object) -> bool:
    """Constant-time comparison that treats anything but a non-empty string as a mismatch."""
    if not isinstance(given, str) or not given or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


@dataclass
class Session:
    """One logged-in staff member. `csrf` is the synchronizer token of every form."""

    id: str = field(repr=False)
    account: str
    role: Role
    keyring: DeskKeyring = field(repr=False)
    csrf: str = field(repr=False)
    created: float
    last_seen: float
    must_change: bool = False
    epoch: int = 0  # the account's epoch at login (`Account.epoch`): another one ends it

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def reviews(self) -> bool:
        """May see the tips (the queue, a tip, its files): reviewers and admins, never a
        counsellor alone."""
        return self.role in (Role.REVIEWER, Role.ADMIN)

    @property
    def counsels(self) -> bool:
        """May use the counselling console."""
        return self.role in (Role.COUNSELLOR, Role.ADMIN)


class SessionStore:
    """In-memory sessions with idle and absolute expiry."""

    def __init__(
        self,
        idle_seconds: float,
        max_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_empty: Callable[[], None] = lambda: None,
    ) -> None:
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.clock = clock
        self.on_empty = on_empty  # called when the last session ends (what it opened goes)
        self._sessions: dict[str, Session] = {}

    def _remove(self, session_ids: list[str]) -> None:
        for sid in session_ids:
            self._sessions.pop(sid, None)
        if session_ids and not self._sessions:
            self.on_empty()

    def __len__(self) -> int:
        return len(self._sessions)

    def _expired(self, session: Session, now: float) -> bool:
        return (
            now - session.last_seen > self.idle_seconds or now - session.created > self.max_seconds
        )

    def _sweep(self, now: float) -> None:
        self._remove([s.id for s in self._sessions.values() if self._expired(s, now)])

    def create(
        self,
        account: str,
        role: Role,
        keyring: DeskKeyring,
        *,
        must_change: bool = False,
        epoch: int = 0,
    ) -> Session:
        now = self.clock()
        self._sweep(now)
        session = Session(
            new_token(), account, role, keyring, new_token(), now, now, must_change, epoch
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session for this cookie value (and mark it used), or None."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self.clock()
        if self._expired(session, now):
            self._remove([session_id])
            return None
        session.last_seen = now
        return session

    def delete(self, session_id: str) -> None:
        self._remove([session_id] if session_id in self._sessions else [])

    def drop_account(self, account: str, keep: str | None = None) -> int:
        """End every session of `account` (disabled, or its password was reset or changed)
        but the one whose id is `keep`."""
        doomed = [s.id for s in self._sessions.values() if s.account == account and s.id != keep]
        self._remove(doomed)
        return len(doomed)

    def drop_all(self) -> None:
        """End every session (after a desk-key rotation, every keyring in memory is stale)."""
        self._sessions.clear()
        self.on_empty()
