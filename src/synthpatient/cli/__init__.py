"""The ``synthpatient`` command line: thin typer commands over the public Python API."""

from synthpatient.cli.app import app, main

__all__ = ["app", "main"]
