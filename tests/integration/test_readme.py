"""The README runs as written: every ``bash`` and ``python`` block, in order, in one fresh folder.

A block that cannot run here (set-up with make or pip, a server, a benchmark taking minutes, a
command needing an LLM server) is marked in the README by a ``<!-- not-run: reason -->``
comment on the line before it; the reason is required. Commands run in this process through
typer's runner (a new Python process per command would cost seconds each), exactly as written
once the shell's line continuations and comments are removed; Python blocks run with
``exec``. Earlier blocks make the files later ones read, as they would for a reader.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthpatient.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)\s*$")
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(?P<reason>.*?)\s*-->")


@dataclass
class Block:
    lang: str
    line: int  # 1-based line of the opening fence
    text: str
    not_run: str | None  # the reason, for a block marked not-run


def readme_blocks(text: str) -> list[Block]:
    """The fenced blocks of the README (indented ones in lists included), in order."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match or not match["lang"]:
            i += 1
            continue
        indent, start = len(match["indent"]), i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:])
            i += 1
        previous = next((line for line in reversed(lines[:start]) if line.strip()), "")
        marked = NOT_RUN.search(previous)
        reason = marked["reason"] if marked else None
        blocks.append(Block(match["lang"], start + 1, "\n".join(body) + "\n", reason))
        i += 1
    return blocks


def shell_commands(text: str) -> list[list[str]]:
    """A shell block as argument lists: continuations joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def _run_shell(block: Block, runner: CliRunner) -> None:
    for words in shell_commands(block.text):
        assert words[0] == "synthpatient", (
            f"README line {block.line}: '{' '.join(words)}' is not a synthpatient command; "
            "mark the block <!-- not-run: reason --> if it cannot run in the test"
        )
        started = time.perf_counter()
        result = runner.invoke(app, words[1:])
        assert result.exit_code == 0, (
            f"README line {block.line}: `{' '.join(words)}` exited {result.exit_code}:\n"
            f"{result.output}{result.exception!r}"
        )
        print(f"{time.perf_counter() - started:5.1f} s  {' '.join(words)[:90]}")


def test_readme_blocks_are_marked_with_a_reason() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    runnable = [b for b in blocks if b.lang in ("bash", "python") and b.not_run is None]
    assert len(runnable) >= 4, "the quick starts must stay runnable"
    for block in blocks:
        assert block.not_run is None or block.not_run, f"line {block.line}: give the reason"


def test_the_block_parser_reads_what_a_reader_sees() -> None:
    text = (
        "<!-- not-run: needs a server -->\n```bash\nsynthpatient serve\n```\n\n"
        "- item\n\n  ```bash\n  synthpatient a \\\n      --b 1   # note\n  ```\n"
    )
    first, second = readme_blocks(text)
    assert first.not_run == "needs a server" and second.not_run is None
    assert shell_commands(second.text) == [["synthpatient", "a", "--b", "1"]]


@pytest.mark.slow
def test_readme_runs_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "120")
    runner = CliRunner()
    timings = []
    for block in readme_blocks(README.read_text(encoding="utf-8")):
        if block.not_run is not None or block.lang not in ("bash", "python"):
            continue
        started = time.perf_counter()
        if block.lang == "bash":
            _run_shell(block, runner)
        else:
            code = compile(block.text, f"README.md block at line {block.line}", "exec")
            exec(code, {"__name__": "__readme__"})  # noqa: S102  the README's own code
        timings.append((block.line, round(time.perf_counter() - started, 1)))
    print("README blocks (line, seconds):", timings)
