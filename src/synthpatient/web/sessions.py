"""Sessions: one per browser (or API client), bound to a random cookie, with its own temp folder.

A session holds everything a user made: the conversation, uploaded tables, results. Nothing is
shared between sessions, and every id a user sends is looked up *inside* their session, so one
user can never reach another's data, even with a guessed id.

Who may create a session, and what a new one may cost others (issue 16):

- Only an explicit action creates one: viewing a page (a browser always loads one before it
  calls the API) or ``POST /api/session`` (how a script starts). An API call without a valid
  session is refused with 401 and creates nothing. Letting every cookie-less API call create a
  session would let any client fill the table with one request each, and then every new user
  would be refused; refusing them costs the caller one extra request, once.
- A session that holds work (an upload, a result, a conversation, a running job) is never
  deleted to make room for a new one: it ends only when idle for ``idle_timeout_s`` (the
  ``--idle-minutes`` of ``serve``) or when the server stops. At the limit, the empty session
  seen longest ago is recycled: its owner had nothing to lose, and their next API call gets
  the 401 (the pages then start a new session by themselves; a script starts again). When none
  is empty, the new session is refused with a one-line 503
  (:class:`~synthpatient.errors.CapacityError`) rather than erasing anyone's work. No grace
  period protects a fresh empty session: it would let a flood of page views lock every new
  user out, while recycling only ever costs a cookie.
- A session a request is using at this moment is never recycled nor swept, so an upload being
  streamed into a fresh session cannot lose its folder half-way.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthpatient.errors import CapacityError

log = logging.getLogger("synthpatient.web")

COOKIE = "synthpatient_session"


def new_id(nbytes: int = 16) -> str:
    """A random, unguessable, URL-safe id."""
    return secrets.token_urlsafe(nbytes)


@dataclass
class Session:
    """One user's state. Use :attr:`lock` around anything that changes it."""

    id: str
    folder: Path
    created: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    conversation: Any = None  # synthpatient.knowledge.Conversation, made on first use
    messages: list[dict[str, Any]] = field(default_factory=list)
    uploads: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, Any] = field(default_factory=dict)
    busy: bool = False  # a job of this session is queued or running
    in_use: int = 0  # requests using it now (changed under the store's lock)

    def workdir(self, *parts: str) -> Path:
        """A folder inside this session's temp folder, created on demand (names are ours)."""
        path = self.folder.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def holds_work(self) -> bool:
        """True once the user has anything to lose: an upload, a result, a message, a job."""
        return bool(
            self.busy
            or self.uploads
            or self.results
            or self.messages
            or self.jobs
            or self.conversation is not None
        )


class SessionStore:
    """Sessions by id: idle expiry, a cap that never evicts work, cleanup of every folder on close.

    Examples:
        >>> store = SessionStore(idle_timeout_s=3600, max_sessions=50)
        >>> session = store.create()          # held by the caller until released
        >>> store.release(session)
        >>> store.checkout(session.id) is session
        True
    """

    def __init__(
        self, *, idle_timeout_s: float, max_sessions: int, root: Path | None = None
    ) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.max_sessions = max_sessions
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="synthpatient-web-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._last_sweep = time.monotonic()

    def __len__(self) -> int:
        return len(self._sessions)

    def sessions(self) -> list[Session]:
        """A snapshot of the live sessions (for checks and scripts; users reach only theirs)."""
        with self._lock:
            return list(self._sessions.values())

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (and mark it seen), or None."""
        return self._seen(session_id, hold=False)

    def checkout(self, session_id: str | None) -> Session | None:
        """Like :meth:`get`, and held (never recycled nor swept) until :meth:`release`."""
        return self._seen(session_id, hold=True)

    def _seen(self, session_id: str | None, *, hold: bool) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                session.last_seen = time.monotonic()
                session.in_use += int(hold)
            return session

    def release(self, session: Session) -> None:
        """End a hold taken by :meth:`checkout` or :meth:`create`."""
        with self._lock:
            session.in_use = max(0, session.in_use - 1)
            session.last_seen = time.monotonic()

    def create(self) -> Session:
        """A new session, held by the caller (call :meth:`release` when the request ends).

        Raises:
            CapacityError: the store is full and every session holds work or is in use.
        """
        self.sweep()
        with self._lock:
            if len(self._sessions) >= self.max_sessions:
                self._sweep_locked(time.monotonic())
            while len(self._sessions) >= self.max_sessions:
                empty = [s for s in self._sessions.values() if not s.holds_work and not s.in_use]
                if not empty:
                    minutes = self.idle_timeout_s / 60
                    raise CapacityError(
                        f"The server is full: its {self.max_sessions} sessions all hold "
                        "someone's work. Try again later (a session ends after "
                        f"{minutes:g} minutes without a request)."
                    )
                self._drop(min(empty, key=lambda s: s.last_seen).id, "recycled (it was empty)")
            session_id = new_id(32)
            session = Session(session_id, self.root / new_id(12), in_use=1)
            self._sessions[session_id] = session
            return session

    def sweep(self, *, force: bool = False) -> int:
        """Delete sessions idle for longer than the timeout (at most every 30 s unless forced)."""
        now = time.monotonic()
        if not force and now - self._last_sweep < 30:
            return 0
        with self._lock:
            return self._sweep_locked(now)

    def close(self) -> None:
        """Forget every session and delete the whole temp root (remade if the app restarts)."""
        with self._lock:
            for session_id in list(self._sessions):
                self._drop(session_id, "closed with the server")
        shutil.rmtree(self.root, ignore_errors=True)

    def _sweep_locked(self, now: float) -> int:
        self._last_sweep = now
        expired = [
            s.id
            for s in self._sessions.values()
            if not s.busy and not s.in_use and now - s.last_seen > self.idle_timeout_s
        ]
        for session_id in expired:
            self._drop(session_id, "idle too long")
        return len(expired)

    def _drop(self, session_id: str, why: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            shutil.rmtree(session.folder, ignore_errors=True)
            log.info("session ended (%s); its temp folder was deleted", why)
