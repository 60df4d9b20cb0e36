"""The fuzz campaign's cases: each builder turns a seeded RNG into inputs on disk and a
:class:`Plan` (CLI argument lists or Python API steps); :func:`execute` runs a plan and
classifies what happened.

Paths in plans are relative to the case folder (the working directory while a case runs), so
a plan's description is also a reproducer.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _fuzz_checks import (
    exception_type_from_text,
    frame_from_text,
    mask_markers,
    one_line_error,
    product_frame,
    text_has_marker,
)
from _fuzz_inputs import (
    TableInfo,
    clean_table,
    pick,
    weighted,
)

#: Case kinds and their shares of a run. CLI cases go through typer's CliRunner in-process,
#: a few of them (``SUBPROCESS_SHARE``) through a real ``synthpatient`` process.
KINDS: dict[str, float] = {
    "cli-generate": 28,
    "cli-fit-sample": 8,
    "cli-schema": 5,
    "cli-evaluate": 4,
    "cli-tampered": 7,
    "cli-ask": 5,
    "cli-chat": 1,
    "cli-junk": 3,
    "api-pipeline": 15,
    "api-io": 6,
    "api-rules": 6,
    "api-request": 5,
    "api-deep": 1.2,
    "api-tampered": 3,
    "api-evaluate": 2,
}
SUBPROCESS_SHARE = 0.03


# --- workspace and plan -------------------------------------------------------------------


@dataclass
class Workspace:
    """One case's folder: inputs under ``in/``, outputs under ``out/``."""

    root: Path
    frozen: list[Path] = field(default_factory=list)

    @property
    def inp(self) -> Path:
        return self.root / "in"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @classmethod
    def create(cls, root: Path) -> Workspace:
        if root.exists():
            thaw_tree(root)
            shutil.rmtree(root, ignore_errors=True)
        (root / "in").mkdir(parents=True)
        (root / "out").mkdir()
        return cls(root)

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def read_only_folder(self, name: str = "ro") -> Path:
        """A folder nobody can create files in, root included (chattr +i when root)."""
        folder = self.out / name
        folder.mkdir(exist_ok=True)
        folder.chmod(0o555)
        if os.geteuid() == 0 and shutil.which("chattr"):
            subprocess.run(["chattr", "+i", str(folder)], check=False, capture_output=True)
        self.frozen.append(folder)
        return folder

    def cleanup(self) -> None:
        if self.frozen:
            thaw_tree(self.root)
        shutil.rmtree(self.root, ignore_errors=True)


def thaw_tree(root: Path) -> None:
    """Undo :meth:`Workspace.read_only_folder` anywhere under ``root``."""
    if not root.exists():
        return
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "-R", "-i", str(root)], check=False, capture_output=True)
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.chmod(0o755)


Step = Callable[[dict[str, Any]], Any]


@dataclass
class Plan:
    """What a case runs and what a success must leave behind."""

    kind: str
    label: str
    channel: str = "cli"  # cli | subprocess | api
    argvs: list[list[str]] = field(default_factory=list)
    stdin: str | None = None
    steps: list[tuple[str, Step]] = field(default_factory=list)
    expected: set[str] = field(default_factory=set)  # paths a success may create or change
    #: per step, what it may leave once it has succeeded (later steps may still fail)
    step_outputs: list[set[str]] = field(default_factory=list)
    check: Callable[[], str | None] | None = None  # a success's outputs, complete?
    silent: str | None = None  # what a success would have silently dropped
    info: TableInfo | None = None  # the patient table behind the case, if any
    description: str = ""

    @property
    def sensitive(self) -> dict[str, str]:
        return self.info.sensitive if self.info else {}

    def roles(self, markers: set[str]) -> str:
        """Which kinds of patient value (name, mrn, ...) these markers were planted in."""
        known = self.info.markers if self.info else {}
        return "+".join(sorted({known.get(m, "unknown") for m in markers})) or "unknown"

    @property
    def few_patients(self) -> bool:
        """Fewer patients than the schema needs to tell a key from chance (10)."""
        return bool(self.info) and 0 < self.info.patients < 10  # type: ignore[union-attr]

    def describe(self) -> str:
        if self.description:
            return self.description
        return " && ".join(
            "synthpatient " + " ".join(_quote(a) for a in argv) for argv in self.argvs
        )


def _quote(arg: str) -> str:
    shown = arg if len(arg) <= 80 else f"{arg[:40]}...<{len(arg)} chars>"
    return (
        json.dumps(shown, ensure_ascii=True)
        if (
            not shown or any(c in shown for c in " \"'$;&|<>()[]{}*?\\\n\t`") or not shown.isascii()
        )
        else shown
    )


@dataclass
class Outcome:
    status: str  # success | clean | traceback | hang
    error_type: str = ""
    location: str = ""
    message: str = ""
    texts: dict[str, str] = field(default_factory=dict)  # label -> text to scan
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)  # label -> frame to scan
    completed: int = 0  # steps that succeeded


def allowed_outputs(plan: Plan, outcome: Outcome) -> set[str]:
    """What the case may have left: everything expected after a success; after a failure,
    only what the steps that succeeded produce."""
    if outcome.status == "success":
        return plan.expected
    return set().union(*plan.step_outputs[: outcome.completed]) if plan.step_outputs else set()


# --- execution ----------------------------------------------------------------------------


def execute(plan: Plan, ws: Workspace, deadline: float) -> Outcome:
    if plan.channel == "api":
        return _run_api(plan)
    outcome = Outcome("success")
    for argv in plan.argvs:
        step = (
            _run_subprocess(argv, plan.stdin, ws, deadline)
            if plan.channel == "subprocess"
            else _run_cli(argv, plan.stdin)
        )
        outcome.texts.update(
            {f"{k} of `{argv[0] if argv else ''}`": v for k, v in step.texts.items()}
        )
        if step.status != "success":
            step.texts, step.completed = outcome.texts, outcome.completed
            return step
        outcome.completed += 1
    return outcome


_RUNNER: Any = None


def _run_cli(argv: list[str], stdin: str | None) -> Outcome:
    global _RUNNER
    from typer.testing import CliRunner

    from synthpatient.cli import app

    _RUNNER = _RUNNER or CliRunner()
    result = _RUNNER.invoke(
        app, argv, input=stdin, catch_exceptions=True, env={"COLUMNS": "200", "NO_COLOR": "1"}
    )
    stdout, stderr = result.stdout, result.stderr
    texts = {"stdout": stdout, "stderr": stderr}
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        return Outcome(
            "traceback",
            type(exc).__name__,
            product_frame(result.exc_info[2]),
            _first_line(str(exc)),
            texts | {"exception": str(exc)},
        )
    return _classify_process(result.exit_code, stdout, stderr, texts)


def _classify_process(code: int, stdout: str, stderr: str, texts: dict[str, str]) -> Outcome:
    both = stdout + "\n" + stderr
    if "Traceback (most recent call last)" in both:
        return Outcome(
            "traceback",
            exception_type_from_text(both),
            frame_from_text(both),
            _first_line(both.strip().splitlines()[-1]),
            texts,
        )
    if code < 0:
        return Outcome("traceback", f"Signal{-code}", "?", "killed by a signal", texts)
    if code == 0:
        return Outcome("success", texts=texts)
    line = one_line_error(stderr)
    if line is None:
        return Outcome(
            "traceback",
            "MultiLineError",
            "cli",
            _first_line(stderr[stderr.rfind("Error:") :]),
            texts,
        )
    return Outcome("clean", "exit", str(code), _first_line(line or stdout or stderr), texts)


def _synthpatient_command() -> list[str]:
    script = Path(sys.executable).parent / "synthpatient"
    return [str(script)] if script.exists() else [sys.executable, "-m", "synthpatient"]


def _run_subprocess(argv: list[str], stdin: str | None, ws: Workspace, deadline: float) -> Outcome:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONFAULTHANDLER": "1"}
    try:
        proc = subprocess.run(
            _synthpatient_command() + argv,
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            cwd=ws.root,
            env=env,
            timeout=max(5.0, deadline - 3),
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        out = (
            exc.stderr
            if isinstance(exc.stderr, str)
            else (exc.stderr or b"").decode("utf-8", "replace")
        )
        return Outcome(
            "hang", "Timeout", frame_from_text(out), "no exit within the deadline", {"stderr": out}
        )
    texts = {"stdout": proc.stdout, "stderr": proc.stderr}
    return _classify_process(proc.returncode, proc.stdout, proc.stderr, texts)


def _run_api(plan: Plan) -> Outcome:
    from synthpatient.errors import SynthPatientError

    ctx: dict[str, Any] = {}
    outcome = Outcome("success")
    out, err = io.StringIO(), io.StringIO()
    step_name = ""
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        warnings.simplefilter("always")
        try:
            for step_name, step in plan.steps:
                artifact = step(ctx)
                _collect(outcome, step_name, artifact)
                outcome.completed += 1
        except SynthPatientError as exc:
            message = str(exc)
            outcome.texts["exception message"] = message
            if not message.strip() or "\n" in message.strip():
                outcome.status, outcome.error_type = "traceback", f"MultiLine:{type(exc).__name__}"
            else:
                outcome.status, outcome.error_type = "clean", type(exc).__name__
            outcome.location = product_frame(exc.__traceback__)
            outcome.message = f"[{step_name}] {_first_line(message)}"
        except BaseException as exc:  # noqa: BLE001 - every other exception is what we look for
            if isinstance(exc, KeyboardInterrupt):
                raise
            outcome.status, outcome.error_type = "traceback", type(exc).__name__
            outcome.location = product_frame(exc.__traceback__)
            outcome.message = f"[{step_name}] {_first_line(str(exc))}"
            outcome.texts["exception message"] = str(exc)
    outcome.texts["warnings"] = "\n".join(str(w.message) for w in caught)
    outcome.texts["stdout"], outcome.texts["stderr"] = out.getvalue(), err.getvalue()
    return outcome


def _collect(outcome: Outcome, name: str, artifact: Any) -> None:
    if artifact is None:
        return
    if isinstance(artifact, pd.DataFrame):
        outcome.frames[name] = artifact
    elif isinstance(artifact, dict):
        for key, value in artifact.items():
            _collect(outcome, f"{name}.{key}", value)
    else:
        outcome.texts[name] = str(artifact)


def _first_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return mask_markers(lines[0][:300]) if lines else ""


def frame_leaks(frame: pd.DataFrame) -> list[str]:
    hits = []
    for col in frame.columns:
        try:
            text = " ".join(map(str, frame[col].tolist()))
        except Exception:  # noqa: BLE001 - unprintable cells are skipped
            continue
        if text_has_marker(text) or text_has_marker(str(col)):
            hits.append(str(col))
    return hits


# --- shared builder helpers -----------------------------------------------------------------


def _channel(rng: np.random.Generator) -> str:
    return "subprocess" if rng.random() < SUBPROCESS_SHARE else "cli"


def _args_ok_for_process(argvs: list[list[str]], stdin: str | None) -> bool:
    """Arguments a real process can receive (no NUL bytes, no lone surrogates)."""
    try:
        for arg in [a for argv in argvs for a in argv] + [stdin or ""]:
            arg.encode("utf-8")
            if "\x00" in arg:
                return False
    except UnicodeEncodeError:
        return False
    return True


def _finish_channel(plan: Plan, rng: np.random.Generator) -> Plan:
    plan.channel = _channel(rng)
    if plan.channel == "subprocess" and not _args_ok_for_process(plan.argvs, plan.stdin):
        plan.channel = "cli"
    return plan


def _int_or_none(text: str | None, default: int | None = None) -> int | None:
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        return None


def _table_rows(path: Path) -> int:
    if path.suffix.lower() in (".parquet", ".pq"):
        return len(pd.read_parquet(path))
    return len(pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ","))


def _table_check(ws: Workspace, rel: str | None, rows: int | None) -> Callable[[], str | None]:
    def check() -> str | None:
        if rel is None:
            return None
        path = Path(rel) if Path(rel).is_absolute() else ws.root / rel
        if not path.is_file():
            return f"success but no output table at {rel}"
        try:
            found = _table_rows(path)
        except Exception as exc:  # noqa: BLE001 - an unreadable output is a partial file
            return f"output table unreadable: {type(exc).__name__}"
        if rows is not None and found != rows:
            return f"output table has {found} rows, {rows} were asked for"
        return None

    return check


def output_target(
    rng: np.random.Generator,
    ws: Workspace,
    suffix: str,
    *,
    folder: bool = False,
    input_rel: str | None = None,
    benign: bool = False,
) -> tuple[str, str | None, list[str], str]:
    """An output path, often hostile. Returns (argument, expected path relative to the case,
    extra flags, label)."""
    style = (
        pick(rng, ("fresh", "fresh", "fresh-alt", "existing-overwrite", "relative"))
        if benign
        else weighted(
            rng,
            {
                "fresh": 12,
                "fresh-alt": 3,
                "existing": 2,
                "existing-overwrite": 2,
                "missing-folder": 1,
                "read-only": 1,
                "bad-ext": 0 if folder else 1,
                "wrong-kind": 0.7,
                "long-name": 0.7,
                "sys": 0.3,
                "unicode": 1,
                "parent-is-file": 0.5,
                "relative": 1,
                "same-as-input": 0.5 if input_rel and not folder else 0,
            },
        )
    )
    name = "model" if folder else f"synthetic{suffix}"
    flags: list[str] = []
    if style == "fresh-alt":
        name = "model2" if folder else f"synthetic{'.parquet' if suffix == '.csv' else '.csv'}"
    if style in ("existing", "existing-overwrite"):
        target = ws.out / name
        if folder:
            target.mkdir()
            (target / "keep.txt").write_text("keep me\n", encoding="utf-8")
        else:
            target.write_text("keep me\n", encoding="utf-8")
        if style == "existing-overwrite":
            flags.append("--overwrite")
        return f"out/{name}", f"out/{name}", flags, style
    if style == "missing-folder":
        return f"out/nope/{name}", f"out/nope/{name}", flags, style
    if style == "read-only":
        ws.read_only_folder()
        return f"out/ro/{name}", f"out/ro/{name}", flags, style
    if style == "bad-ext":
        bad = pick(rng, ("synthetic.xlsx", "synthetic", "synthetic.csv.gz", "synthetic.json"))
        return f"out/{bad}", f"out/{bad}", flags, style
    if style == "wrong-kind":  # a folder where a file goes, a file where a folder goes
        if folder:
            (ws.out / name).write_text("keep me\n", encoding="utf-8")
        else:
            (ws.out / name).mkdir()
        if rng.random() < 0.5:
            flags.append("--overwrite")
        return f"out/{name}", f"out/{name}", flags, style
    if style == "long-name":
        long = "a" * int(rng.integers(250, 400)) + ("" if folder else suffix)
        return f"out/{long}", f"out/{long}", flags, style
    if style == "sys":
        return f"/sys/fuzz-{name}", None, flags, style
    if style == "unicode":
        uni = pick(rng, ("синтетика 🙂", "مريض", "a b", "naïve", "-dash")) + (
            "" if folder else suffix
        )
        return f"out/{uni}", f"out/{uni}", flags, style
    if style == "parent-is-file":
        (ws.out / "file").write_text("keep me\n", encoding="utf-8")
        return f"out/file/{name}", None, flags, style
    if style == "relative":
        return name, name, flags, style
    if style == "same-as-input" and input_rel:
        return input_rel, input_rel, ["--overwrite"], style
    return f"out/{name}", f"out/{name}", flags, style


def _schema_file(rng: np.random.Generator, ws: Workspace, frame: pd.DataFrame) -> tuple[str, str]:
    """A --schema file: inferred (then edited) or broken."""
    style = weighted(
        rng,
        {
            "inferred": 3,
            "edited": 3,
            "invalid-json": 1,
            "not-object": 1,
            "missing": 0.5,
            "csv": 0.5,
        },
    )
    path = ws.inp / "schema.json"
    if style == "missing":
        return "in/missing-schema.json", style
    if style == "csv":
        return "in/real.csv", style
    if style == "invalid-json":
        path.write_text(pick(rng, ("{", "{'a': 1}", "", "\x00", "{" * 50_000)), encoding="utf-8")
        return "in/schema.json", style
    if style == "not-object":
        path.write_text(pick(rng, ("[]", "5", '"x"', "null", '{"columns": 5}')), encoding="utf-8")
        return "in/schema.json", style
    from synthpatient import Schema

    try:
        doc = json.loads(Schema.infer(frame).to_json())
    except Exception:  # noqa: BLE001 - the table itself is broken; an empty schema then
        doc = {"format": "synthpatient.schema/1", "columns": []}
    if style == "edited" and doc["columns"]:
        col = pick(rng, doc["columns"])
        edit = pick(rng, ("kind", "drop", "bounds", "categories", "rename", "nullable"))
        if edit == "kind":
            col["kind"] = pick(
                rng, ("numeric", "integer", "categorical", "boolean", "datetime", "text")
            )
        elif edit == "drop":
            doc["columns"].remove(col)
        elif edit == "bounds":
            col["minimum"], col["maximum"] = pick(
                rng, ((0, 1), (5, -5), ("a", "b"), (-1e308, 1e308))
            )
        elif edit == "categories":
            col["categories"] = pick(rng, ([], ["x"], [1, "1"], None))
        elif edit == "rename":
            col["name"] = pick(rng, ("renamed", "", "日本"))
        else:
            col["nullable"] = False
        style = f"edited-{edit}"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return "in/schema.json", style


def _repeated_conditions(items: list[str]) -> str | None:
    seen: dict[str, str] = {}
    for item in items:
        column, _, value = item.partition("=")
        column, value = column.strip(), value.strip()
        if column in seen and seen[column] != value:
            return f"repeated -c {column}: one of two different values was silently dropped"
        seen[column] = value
    return None


def _columns(frame: pd.DataFrame) -> list[str]:
    return [str(c) for c in frame.columns]


def _split(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = max(1, int(len(frame) * 0.7))
    order = rng.permutation(len(frame))
    first, second = frame.iloc[order[:cut]], frame.iloc[order[cut:]]
    return first.reset_index(drop=True), second.reset_index(drop=True)


def _fitted_model(rng: np.random.Generator, ws: Workspace) -> tuple[str, TableInfo, pd.DataFrame]:
    """A real model folder in ``in/model``, fitted through the public API."""
    from synthpatient import make_synthesizer

    frame, info = clean_table(rng)
    key = weighted(rng, {"copula": 8, "mst": 1, "tvae": 1})
    params = {
        "mst": {"epsilon": 10.0, "n_bins": 4},
        "tvae": {"steps": 2, "batch_size": 20, "progress": False},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = make_synthesizer(key, seed=1, **params.get(key, {})).fit(frame)
        except Exception:  # noqa: BLE001 - fall back to the copula on what it cannot fit
            key = "copula"
            model = make_synthesizer(key, seed=1).fit(frame)
        model.save(ws.inp / "model")
    return key, info, frame
