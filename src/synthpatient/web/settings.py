"""The web app's settings: where it listens, who may use it, and how much it accepts."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from synthpatient.errors import InvalidParameterError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know; validated on creation.

    Examples:
        >>> Settings()                                    # local only, no token
        >>> Settings(host="0.0.0.0", token="s3cret")      # reachable from the network
    """

    host: str = "127.0.0.1"
    port: int = 8000
    #: required on every request (header, or the login cookie) when set; required beyond
    #: localhost (``synthpatient serve`` makes one when none is given)
    token: str | None = None
    max_upload_mb: float = 50.0
    max_upload_rows: int = 100_000
    max_upload_columns: int = 300
    min_rows: int = 1
    max_rows: int = 200_000
    #: FHIR NDJSON is written with every resource validated; above this many patients (or
    #: rows) it is not offered (it would take minutes and gigabytes)
    max_fhir_patients: int = 20_000
    #: a session and its files end after this long without a request (``--idle-minutes``)
    idle_timeout_s: float = 3600.0
    #: sessions at once; at the limit an empty one is recycled, never one holding work: a new
    #: session is refused (503) instead
    max_sessions: int = 50
    workers: int = 2
    #: how long a POST that starts a job waits for it before answering "still running"
    job_wait_s: float = 1.5
    allowed_hosts: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InvalidParameterError(f"--port must be between 0 and 65535. Got {self.port}.")
        if not is_loopback(self.host) and not self.token:
            raise InvalidParameterError(
                f"Listening on {self.host} (beyond this computer) needs a token: pass --token, "
                "or let `synthpatient serve` make one."
            )
        if self.token is not None and len(self.token) < 8:
            raise InvalidParameterError("--token must be at least 8 characters long.")
        for name in ("max_upload_mb", "idle_timeout_s"):
            if getattr(self, name) <= 0:
                raise InvalidParameterError(f"{name} must be greater than 0.")
        for name in (
            "max_upload_rows",
            "max_upload_columns",
            "max_rows",
            "max_sessions",
            "workers",
            "min_rows",
        ):
            if getattr(self, name) < 1:
                raise InvalidParameterError(f"{name} must be at least 1.")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def local_only(self) -> bool:
        return is_loopback(self.host)

    def hosts(self) -> list[str]:
        """Host headers accepted: loopback names when local (against DNS rebinding), else any."""
        if self.allowed_hosts:
            return list(self.allowed_hosts)
        if self.local_only:
            return ["127.0.0.1", "localhost", "[::1]", "::1"]
        return ["*"]

    def url(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port or self.port}/"
