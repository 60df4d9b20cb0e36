"""Running the app: one uvicorn process, on 127.0.0.1 unless told otherwise, port printed."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from synthpatient._optional import import_optional
from synthpatient.errors import FileIOError
from synthpatient.web.settings import Settings


def bind(settings: Settings) -> socket.socket:
    """A listening socket on the settings' host and port (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host.strip("[]"), settings.port))
    except OSError as exc:
        sock.close()
        raise FileIOError(
            f"Cannot listen on {settings.host}:{settings.port}: "
            f"{exc.strerror or exc}. Choose another --port (or 0 for any free one)."
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def make_server(
    settings: Settings, *, log_level: str = "warning"
) -> tuple[Any, socket.socket, Any]:
    """(uvicorn server, its bound socket, the app); run it with ``server.run(sockets=[sock])``."""
    uvicorn = import_optional("uvicorn", extra="web", purpose="the web app")
    from synthpatient.web.app import create_app

    app = create_app(settings)
    sock = bind(settings)
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=5
    )
    return uvicorn.Server(config), sock, app


def serve(
    settings: Settings,
    *,
    announce: Callable[[str], None] = print,
    log_level: str = "warning",
    reveal_token: bool = True,
) -> None:
    """Serve until Ctrl-C; every session's temp folder is deleted on the way out.

    ``reveal_token=False`` keeps a token the user chose themselves off the screen (a made-up
    one has to be shown, or nobody could sign in)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    server, sock, app = make_server(settings, log_level=log_level)
    port = sock.getsockname()[1]
    url = settings.url(port)
    shown = settings.token if reveal_token else None
    announce(f"synthpatient web app at {url}" + (f"?token={shown}" if shown else ""))
    if settings.token and not shown:
        announce("Sign in with the token you gave (scripts send 'Authorization: Bearer <token>')")
    elif shown:
        announce(f"Token: {settings.token} (scripts send 'Authorization: Bearer <token>')")
    announce(f"API schema: {url}openapi.json  -  Ctrl-C to stop")
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down gracefully, then passes Ctrl-C on
        pass
    finally:
        app.state.close()
        sock.close()
    announce("Stopped; every session's files were deleted.")
