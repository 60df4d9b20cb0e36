"""``synthpatient serve``: the clinicians' web app (the ``web`` extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from synthpatient.cli._errors import handled
from synthpatient.cli.app import app, out


@app.command()
def serve(
    host: Annotated[
        str,
        typer.Option(
            "--host",
            metavar="ADDRESS",
            help="Address to listen on. Beyond 127.0.0.1 (e.g. 0.0.0.0) a token is required.",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port (0: any free port; the one used is printed).")
    ] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="TOKEN",
            envvar="SYNTHPATIENT_WEB_TOKEN",
            help="Require this token on every request "
            "(made up and printed when --host is not local and none is given).",
        ),
    ] = None,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", help="Upload size limit.")
    ] = 50.0,
    max_rows: Annotated[
        int, typer.Option("--max-rows", help="Most rows (or patients) one request may generate.")
    ] = 200_000,
    idle_minutes: Annotated[
        float,
        typer.Option(
            "--idle-minutes", help="Delete a session's files after this long without a request."
        ),
    ] = 60.0,
) -> None:
    """Start the web app: ask for a cohort or upload a table, see it, check it, download it."""
    with handled():
        import secrets

        from synthpatient._optional import import_optional
        from synthpatient.web.settings import Settings, is_loopback

        import_optional("fastapi", extra="web", purpose="the web app")
        import_optional("uvicorn", extra="web", purpose="the web app")
        made_up = token is None and not is_loopback(host)
        if made_up:
            token = secrets.token_urlsafe(24)
        settings = Settings(
            host=host,
            port=port,
            token=token,
            max_upload_mb=max_upload_mb,
            max_rows=max_rows,
            idle_timeout_s=idle_minutes * 60,
        )
        from synthpatient.web.server import serve as run

        run(
            settings,
            announce=lambda line: out.print(line, markup=False, soft_wrap=True),
            reveal_token=made_up,
        )
