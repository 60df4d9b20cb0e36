"""The ``synthpatient`` command line: thin typer commands over the public Python API."""

from synthpatient.cli import cohorts as _cohorts  # noqa: F401  (registers ask, chat)
from synthpatient.cli.app import app, main

__all__ = ["app", "main"]
