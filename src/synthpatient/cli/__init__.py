"""The ``synthpatient`` command line: thin typer commands over the public Python API.

``app.py`` holds the typer application and the options the commands share; each command
module registers its commands on it when imported here, in the order ``--help`` lists them.
"""

# isort: off
from synthpatient.cli import synthesis  # noqa: F401  generate, fit, sample, schema, demo
from synthpatient.cli import schema_only  # noqa: F401  from-schema
from synthpatient.cli import quality  # noqa: F401  evaluate, benchmark
from synthpatient.cli import cohorts  # noqa: F401  ask, chat
from synthpatient.cli import tables  # noqa: F401  tables schema/generate/sample/evaluate
from synthpatient.cli import catalog  # noqa: F401  datasets, synthesizers
from synthpatient.cli import web  # noqa: F401  serve (fastapi loads lazily)

# isort: on
from synthpatient.cli.app import app, main

__all__ = ["app", "main"]
