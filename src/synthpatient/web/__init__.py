"""The clinicians' web app: ask for a cohort or upload a table, see it, check it, download it.

``synthpatient serve`` starts it (the ``web`` extra: FastAPI and uvicorn). Everything here uses
the public Python API of synthpatient only; importing this package does not import FastAPI,
only :func:`create_app` and :func:`serve` do.

- :mod:`.settings`: limits, host, token (no web framework needed to read them).
- :mod:`.sessions`: one random, cookie-bound session per browser with its own temp folder.
- :mod:`.jobs`: long work (generation, evaluation) in background threads, polled for progress.
- :mod:`.cohorts` and :mod:`.tables`: the two flows (chat request, uploaded table).
- :mod:`.results`, :mod:`.plots`, :mod:`.report`: what is shown and downloaded (files by
  :mod:`synthpatient.exporters`).
- :mod:`.api` (JSON routes, documented by the OpenAPI schema), :mod:`.pages`, :mod:`.app`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthpatient.web.settings import Settings

if TYPE_CHECKING:
    from synthpatient.web.app import create_app
    from synthpatient.web.server import serve

__all__ = ["Settings", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from synthpatient.web.app import create_app

        return create_app
    if name == "serve":
        from synthpatient.web.server import serve

        return serve
    raise AttributeError(f"module 'synthpatient.web' has no attribute {name!r}")
