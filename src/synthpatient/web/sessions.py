"""Sessions: one per browser (or API client), bound to a random cookie, with its own temp folder.

A session holds everything a user made: the conversation, uploaded tables, results. Nothing is
shared between sessions, and every id a user sends is looked up *inside* their session, so one
user can never reach another's data, even with a guessed id. Folders are deleted when a session
has been idle too long, when there are too many sessions (the longest idle goes first), and when
the server stops.
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
    conversation: Any = None           # synthpatient.knowledge.Conversation, made on first use
    messages: list[dict[str, Any]] = field(default_factory=list)
    uploads: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, Any] = field(default_factory=dict)
    busy: bool = False                 # a job of this session is queued or running

    def workdir(self, *parts: str) -> Path:
        """A folder inside this session's temp folder, created on demand (names are ours)."""
        path = self.folder.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path


class SessionStore:
    """Sessions by id, with idle expiry, a cap, and cleanup of every folder on close."""

    def __init__(self, *, idle_timeout_s: float, max_sessions: int,
                 root: Path | None = None) -> None:
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
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                session.last_seen = time.monotonic()
            return session

    def create(self) -> Session:
        self.sweep()
        with self._lock:
            while len(self._sessions) >= self.max_sessions:
                idle = [s for s in self._sessions.values() if not s.busy]
                if not idle:
                    break
                self._drop(min(idle, key=lambda s: s.last_seen).id)
            session_id = new_id(32)
            session = Session(session_id, self.root / new_id(12))
            self._sessions[session_id] = session
            return session

    def sweep(self, *, force: bool = False) -> int:
        """Delete sessions idle for longer than the timeout (at most every 30 s unless forced)."""
        now = time.monotonic()
        if not force and now - self._last_sweep < 30:
            return 0
        self._last_sweep = now
        with self._lock:
            expired = [s.id for s in self._sessions.values()
                       if not s.busy and now - s.last_seen > self.idle_timeout_s]
            for session_id in expired:
                self._drop(session_id)
        return len(expired)

    def close(self) -> None:
        """Forget every session and delete the whole temp root (remade if the app restarts)."""
        with self._lock:
            for session_id in list(self._sessions):
                self._drop(session_id)
        shutil.rmtree(self.root, ignore_errors=True)

    def _drop(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            shutil.rmtree(session.folder, ignore_errors=True)
            log.info("session ended; its temp folder was deleted")
