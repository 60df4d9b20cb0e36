"""The app factory: ``create_app(settings)`` wires sessions, jobs, security, API and pages."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from synthpatient._optional import import_optional
from synthpatient.errors import CapacityError, MissingExtraError, SynthPatientError
from synthpatient.web.jobs import INTERNAL_ERROR, BusyError, JobRunner
from synthpatient.web.sessions import COOKIE, SessionStore
from synthpatient.web.settings import Settings
from synthpatient.web.tables import NotFoundError, UploadTooLargeError

log = logging.getLogger("synthpatient.web")
AUTH_COOKIE = "synthpatient_token"
TOKEN_HEADER = "x-synthpatient-token"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_STATUS = (
    (NotFoundError, 404),
    (BusyError, 409),
    (UploadTooLargeError, 413),
    (CapacityError, 503),
    (MissingExtraError, 400),
    (SynthPatientError, 400),
)


# long: the error handlers and middleware are closures registered on the app it builds
def create_app(settings: Settings | None = None) -> Any:
    """A FastAPI application serving the pages and the JSON API.

    Examples:
        >>> app = create_app(Settings())
        >>> # uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    import_optional("fastapi", extra="web", purpose="the web app")
    import_optional("python_multipart", extra="web", purpose="uploads in the web app")
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from synthpatient import __version__
    from synthpatient.web import api, pages

    settings = settings or Settings()
    store = SessionStore(idle_timeout_s=settings.idle_timeout_s, max_sessions=settings.max_sessions)
    runner = JobRunner(settings.workers)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        close()

    def close() -> None:
        runner.shutdown()
        store.close()

    app = FastAPI(
        title="synthpatient web app",
        version=__version__,
        lifespan=lifespan,
        description="Synthetic patients from a plain-English request or from an "
        "uploaded table, with their evaluation, provenance and downloads. Sessions "
        "are bound to a cookie: a script starts one with POST /api/session (a page "
        "view starts one for a browser); long actions return a job to poll.",
        docs_url=None,
        redoc_url=None,
    )  # their pages load scripts from a CDN
    app.state.settings, app.state.store, app.state.runner, app.state.close = (
        settings,
        store,
        runner,
        close,
    )

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(SynthPatientError)
    async def _ours(request: Request, exc: SynthPatientError) -> Any:
        status = next(code for kind, code in _STATUS if isinstance(exc, kind))
        message = str(exc).splitlines()[0] if str(exc) else "Bad input."
        if status == 503:  # full: a page view gets a page, a script its one line
            headers = {"Retry-After": "120"}
            if not request.url.path.startswith("/api/"):
                return HTMLResponse(pages.busy_page(message), 503, headers=headers)
            return JSONResponse({"error": message}, status_code=503, headers=headers)
        return error(status, message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, _validation_message(exc.errors()))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Any:
        path = request.url.path
        if exc.status_code == 404 and not path.startswith(("/api/", "/static/", "/openapi")):
            return HTMLResponse(pages.not_found_page(), 404)  # a person typed or followed it
        message = exc.detail if isinstance(exc.detail, str) else "Request refused."
        return JSONResponse(
            {"error": message}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error(500, INTERNAL_ERROR)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        path = request.url.path
        # static files (style, scripts, icon) hold no data: public, so the sign-in page is styled
        if settings.token and not path.startswith("/static/"):
            given = request.query_params.get("token")
            if given is not None and request.method == "GET" and not path.startswith("/api/"):
                if not _same(given, settings.token):
                    return HTMLResponse(pages.login_page("That token is not right."), 401)
                rest = {k: v for k, v in request.query_params.items() if k != "token"}
                response = RedirectResponse(path + (f"?{urlencode(rest)}" if rest else ""), 303)
                response.set_cookie(AUTH_COOKIE, settings.token, httponly=True, samesite="strict")
                return response
            if not _authorised(request, settings.token):
                if path.startswith(("/api/", "/openapi.json")):
                    return error(
                        401,
                        "This server needs its token: send the header "
                        "'Authorization: Bearer TOKEN' or sign in on the page.",
                    )
                return HTMLResponse(pages.login_page(), 401)
        if path.startswith("/api/") and _too_large(request, settings):
            return error(
                413, f"The upload is larger than the limit of {settings.max_upload_mb:g} MB."
            )
        # held for the whole request, so it is never recycled or swept while in use
        request.state.session = store.checkout(request.cookies.get(COOKIE))
        request.state.new_session = None
        try:
            response = await call_next(request)
        finally:
            held = request.state.session
            if held is not None:
                store.release(held)
        new = request.state.new_session
        if new is not None:
            response.set_cookie(COOKIE, new.id, httponly=True, samesite="strict", path="/")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if path.startswith("/api/") and "/plots/" not in path:
            response.headers["Cache-Control"] = "no-store"
        return response

    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.hosts())
    app.include_router(api.router)
    app.include_router(pages.router)
    static = resources.files("synthpatient.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app


def _same(given: str, token: str) -> bool:
    return secrets.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


def _authorised(request: Any, token: str) -> bool:
    header = request.headers.get("authorization", "")
    candidates = [
        header[7:] if header.lower().startswith("bearer ") else None,
        request.headers.get(TOKEN_HEADER),
        request.cookies.get(AUTH_COOKIE),
    ]
    return any(c is not None and _same(c, token) for c in candidates)


def _too_large(request: Any, settings: Settings) -> bool:
    length = request.headers.get("content-length")
    try:
        return length is not None and int(length) > settings.max_upload_bytes + 1_000_000
    except ValueError:
        return False


def _validation_message(errors: Any) -> str:
    """The first validation problem in one line: 'n_rows: Input should be a valid integer'."""
    items = list(errors)
    if not items:
        return "The request is not valid."
    first = items[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    message = str(first.get("msg", "is not valid")).splitlines()[0]
    more = (
        f" (and {len(items) - 1} more problem{'s' if len(items) > 2 else ''})"
        if len(items) > 1
        else ""
    )
    return f"{where + ': ' if where else ''}{message}{more}"[:300]
