"""What benchmarks/check_newcomer.py runs its checks with: the registry, the installed command
run as a new user runs it (output not a terminal), and the help pages read in this process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "synthpatient"
CHECKS: list[tuple[str, bool, Callable[[Path], tuple[bool, str]]]] = []


def check(name: str, *, slow: bool = False) -> Callable[[Callable], Callable]:
    def register(function: Callable[[Path], tuple[bool, str]]) -> Callable:
        CHECKS.append((name, slow, function))
        return function

    return register


def cli(work: Path, *args: str, stdin: str | None = None, timeout: int = 600) -> tuple[int, str]:
    """The installed command, output not a terminal, 100 columns; (exit code, stdout+stderr)."""
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    done = subprocess.run(
        [str(BIN), *args],
        cwd=work,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    return done.returncode, done.stdout + done.stderr


def split_data(work: Path) -> None:
    if not (work / "train.csv").exists():
        code, text = cli(
            work, "datasets", "split", "diabetes", "--train", "train.csv", "--holdout",
            "holdout.csv",
        )  # fmt: skip
        assert code == 0, text


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def commands() -> list[tuple[list[str], object]]:
    import click
    import typer

    from synthpatient.cli import app

    found: list[tuple[list[str], object]] = []

    def walk(command: click.Command, path: list[str]) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def help_text(path: list[str]) -> str:
    from typer.testing import CliRunner

    from synthpatient.cli import app

    return CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"}).output
