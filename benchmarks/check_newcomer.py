"""A newcomer's first hour (issue 23), item by item: PASS or FAIL with the evidence.

Every complaint of issue 23 that a command can show is run here as a new user would run it:
the installed ``synthpatient`` command in a fresh folder, its output not a terminal, the README
read as text, and a few Python calls. Each check prints one line, ``PASS``/``FAIL``, its name
and what it saw, so that a reader can judge the evidence rather than trust a green mark.

Not here: the suite's time on a busy machine (``benchmarks/check_busy_suite.py``, run on an idle
machine) and torch's slowdown beside a competing process
(``benchmarks/check_torch_contention.py``).

    python benchmarks/check_newcomer.py                 # every check (a few minutes, loaded)
    python benchmarks/check_newcomer.py --skip-slow     # without the README test, demo, MST, TVAE
    python benchmarks/check_newcomer.py --only notes    # the checks whose name holds "notes"

Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from html import unescape
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


# -- CLI help ---------------------------------------------------------------------------------
@check("help: value names, not Python types; every option described")
def _help_values(work: Path) -> tuple[bool, str]:
    import click

    bad, undescribed, pages = [], [], 0
    for path, command in commands():
        text = help_text(path)
        pages += 1
        usage = next((line for line in text.splitlines() if "Usage:" in line), "")
        for word in ("<bool>", "<list[", "<str>", "<int>", "<path>", "[[", "{"):
            if word in usage or (word.startswith("<") and word in text):
                bad.append(f"{' '.join(path) or 'synthpatient'}: {word}")
        ctx = click.Context(command, info_name="synthpatient")  # type: ignore[arg-type]
        for param in command.get_params(ctx):  # type: ignore[attr-defined]
            if param.param_type_name == "option" and not param.hidden and not param.help:
                undescribed.append(f"{' '.join(path)} {param.opts[0]}")
    ok = not bad and not undescribed
    return ok, (
        f"{pages} help pages; Python type words: {bad[:4] or 'none'}; options without a "
        f"description: {undescribed[:4] or 'none'}"
    )


@check("help: --synthesizer lists every synthesizer, its extra and whether it is installed")
def _help_synthesizers(work: Path) -> tuple[bool, str]:
    from synthpatient.synthesizers import available_synthesizers

    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", help_text(["generate"])).split())
    missing = [k for k in available_synthesizers() if not re.search(rf"\b{k} \(", text)]
    said = re.search(r"ctgan \(extra deep, (?:not )?installed\)", text)
    ok = not missing and said is not None
    return ok, f"missing: {missing or 'none'}; e.g. '{said.group() if said else '-'}'"


@check("help: arguments named alike in every command (REAL, SYNTHETIC, MODEL...)")
def _help_arguments(work: Path) -> tuple[bool, str]:
    names: dict[str, list[str]] = {}
    for path, _ in commands():
        usage = next((line for line in help_text(path).splitlines() if "Usage:" in line), "").split(
            "[OPTIONS]"
        )[-1]
        for word in re.findall(r"[\[]?([A-Za-z_{}]+)[\]]?", usage):
            if word != "COMMAND" and word not in ("ARGS",):
                names.setdefault(word, []).append(" ".join(path))
    lower = [n for n in names if not n.isupper()]
    real_commands = {"generate", "fit", "schema", "evaluate"}
    real_named = real_commands <= set(names.get("REAL", []))
    return not lower and real_named, (
        f"argument names: {sorted(names)}; lower-case or braced: {lower or 'none'}; "
        f"REAL in {sorted(set(names.get('REAL', [])) & real_commands)}"
    )


@check("help: one name per option across commands")
def _help_option_names(work: Path) -> tuple[bool, str]:
    import click

    visible: dict[str, set[str]] = {}
    for path, command in commands():
        ctx = click.Context(command, info_name="synthpatient")  # type: ignore[arg-type]
        for param in command.get_params(ctx):  # type: ignore[attr-defined]
            if param.param_type_name == "option" and not param.hidden:
                for opt in param.opts:
                    visible.setdefault(opt, set()).add(" ".join(path))
    synonyms = [
        ("--llm-key-env", "--llm-api-key-env"),
        ("--out", "--output"),
        ("--rows", "--n-rows"),
        ("--seed", "--random-seed"),
        ("--overwrite", "--force"),
        ("--llm-base-url", "--base-url"),
    ]
    clashes = [f"{a} and {b}" for a, b in synonyms if a in visible and b in visible]
    key_env = sorted(visible.get("--llm-key-env", set()))
    return not clashes, f"synonyms both visible: {clashes or 'none'}; --llm-key-env in {key_env}"


@check("help: --version")
def _version(work: Path) -> tuple[bool, str]:
    from synthpatient import __version__

    code, text = cli(work, "--version")
    return code == 0 and text.strip() == f"synthpatient {__version__}", text.strip()


@check("help: the top-level description covers every command")
def _top_level(work: Path) -> tuple[bool, str]:
    import typer

    from synthpatient.cli import app

    text = help_text([]).split("Commands")[0]
    names = list(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    missing = [n for n in names if not re.search(rf"\b{re.escape(n)}\b", text)]
    return not missing, f"{len(names)} commands; not described: {missing or 'none'}"


@check("synthesizers list: whole names and the extras installed")
def _synthesizers_list(work: Path) -> tuple[bool, str]:
    from synthpatient.synthesizers import available_synthesizers

    code, text = cli(work, "synthesizers", "list")
    cut = [k for k in available_synthesizers() if not re.search(rf"(?<![\w…]){k}(?![\w…])", text)]
    installed = "installed" in text
    return code == 0 and not cut and installed and "…" not in text, (
        f"names cut or missing: {cut or 'none'}; says 'installed': {installed}"
    )


@check("install hints: the pip command matches how synthpatient was installed")
def _install_hint(work: Path) -> tuple[bool, str]:
    from synthpatient._install import editable_checkout, install_command
    from synthpatient._optional import import_optional
    from synthpatient.errors import MissingExtraError

    try:
        import_optional("synthpatient_no_such_module_h7", extra="deep")
        return False, "no error for a missing module"
    except MissingExtraError as exc:
        message = str(exc)
    checkout = editable_checkout()
    expected = "pip install -e" if checkout is not None else "pip install 'synthpatient["
    ok = expected in message and "torch==" in message and install_command("deep") in message
    return ok, f"installed {'editable from ' + str(checkout) if checkout else 'from a wheel'}: " + (
        message.split("Install it with: ")[-1]
    )


# -- warnings, files --------------------------------------------------------------------------
@check("warnings: opacus's 'optimal order' note does not reach the user", slow=True)
def _opacus(work: Path) -> tuple[bool, str]:
    split_data(work)
    code, text = cli(
        work, "generate", "train.csv", "-s", "tvae", "--epsilon", "3", "-p", "steps=20",
        "--rows", "20", "--out", "tvae-dp.csv", "--seed", "0",
    )  # fmt: skip
    note = "Optimal order" in text
    lines = [line for line in text.splitlines() if line.startswith("Training ")]
    return code == 0 and not note, (
        f"exit {code}; 'Optimal order' shown: {note}; training lines printed without a "
        f"terminal: {len(lines)} (e.g. {lines[0].strip()[:70] if lines else '-'!r})"
    )


@check("progress: training lines when output is not a terminal", slow=True)
def _progress(work: Path) -> tuple[bool, str]:
    split_data(work)
    code, text = cli(
        work, "generate", "train.csv", "-s", "tvae", "-p", "steps=30", "--rows", "20",
        "--out", "tvae.csv", "--seed", "0",
    )  # fmt: skip
    lines = [line.strip() for line in text.splitlines() if line.startswith("Training ")]
    return code == 0 and len(lines) >= 2, f"exit {code}; {len(lines)} lines, e.g. {lines[-1:]}"


@check("warnings: MST's warning speaks to a command-line user", slow=True)
def _mst(work: Path) -> tuple[bool, str]:
    split_data(work)
    code, text = cli(work, "generate", "train.csv", "-s", "mst", "--rows", "20", "--out", "mst.csv")
    warning = next((line for line in text.splitlines() if "privacy budget" in line), "")
    python_words = [w for w in ("ColumnSpec", "minimum/maximum/categories", "schema=") if w in text]
    ok = code == 0 and bool(warning) and not python_words and "--schema" in text
    return ok, f"exit {code}; Python words: {python_words or 'none'}; '{warning[:110]}...'"


@check("files: every command writes its files with the same permissions")
def _file_modes(work: Path) -> tuple[bool, str]:
    folder = work / "modes"
    folder.mkdir(exist_ok=True)
    runs = [
        ("datasets", "split", "diabetes", "--train", "t.csv", "--holdout", "h.csv"),
        ("generate", "t.csv", "--rows", "50", "--out", "g.csv", "--seed", "1"),
        ("fit", "t.csv", "--model", "m", "--seed", "1"),
        ("sample", "m", "--rows", "50", "--out", "s.parquet", "--seed", "1"),
        ("schema", "t.csv", "--out", "schema.json"),
        ("datasets", "export", "diabetes", "--out", "d.csv"),
        ("evaluate", "t.csv", "g.csv", "--holdout", "h.csv", "--json", "e.json",
         "--rules", "diabetes", "--flags", "flags.csv"),
        ("ask", "200 type 2 diabetes patients", "--out", "cohort", "--yes", "--seed", "1"),
    ]  # fmt: skip
    failed = []
    for args in runs:
        code, text = cli(folder, *args)
        if code != 0:
            failed.append(f"{args[0]}: {text.strip().splitlines()[-1:]}")
    modes: dict[str, list[str]] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            modes.setdefault(oct(path.stat().st_mode & 0o777), []).append(
                str(path.relative_to(folder))
            )
    summary = {mode: f"{len(files)} files, e.g. {files[0]}" for mode, files in modes.items()}
    return not failed and len(modes) == 1, f"modes {summary}; failed: {failed or 'none'}"


# -- ask and chat -----------------------------------------------------------------------------
@check("ask: prints what it understood and waits for a yes (none without a terminal)")
def _ask_waits(work: Path) -> tuple[bool, str]:
    code, text = cli(work, "ask", "200 type 2 diabetes patients", "--out", "ask-cohort")
    written = (work / "ask-cohort").exists()
    said = re.search(r"--yes", text) is not None
    return not written and said, (
        f"exit {code}, folder written: {written}; says how to confirm: {said}; "
        f"'{' '.join(text.split())[-120:]}'"
    )


CHAT = """generate 200 type 2 diabetes patients over 65 as csv
yes
add eGFR
export as FHIR
export as FHIR
quit
"""
_chat_runs: dict[str, tuple[int, list[str]]] = {}


def chat_answers(work: Path) -> tuple[int, list[str]]:
    """One chat session (request, yes, add eGFR, export as FHIR twice), shared by two checks."""
    if "answers" not in _chat_runs:
        code, text = cli(work, "chat", "--out", "chat-cohort", stdin=CHAT)
        _chat_runs["answers"] = code, [" ".join(a.split()) for a in text.split("you>")[1:]]
    return _chat_runs["answers"]


@check("chat: 'add eGFR' when eGFR is already included", slow=True)
def _chat_egfr(work: Path) -> tuple[bool, str]:
    code, answers = chat_answers(work)
    reply = (answers[2:3] or ["-"])[0]
    ok = code == 0 and "already" in reply.lower() and "egfr" in reply.lower()
    return ok, f"exit {code}; 'add eGFR' -> '{reply[:90]}'"


@check("chat: 'export as FHIR' writes FHIR once, not a copy of the cohort", slow=True)
def _chat_fhir(work: Path) -> tuple[bool, str]:
    code, answers = chat_answers(work)
    folders = sorted(p for p in work.glob("chat-cohort*") if p.is_dir())
    with_fhir = [p.name for p in folders if (p / "fhir").is_dir() and any((p / "fhir").iterdir())]
    first = work / "chat-cohort"
    copies = [
        f"{p.name}/{f.name}"
        for p in folders
        if p != first
        for f in sorted(p.glob("*.csv"))
        if (first / f.name).is_file() and (first / f.name).read_bytes() == f.read_bytes()
    ]
    second = (answers[4:5] or ["-"])[0]
    ok = code == 0 and len(with_fhir) == 1 and not copies and "already" in second
    return ok, (
        f"exit {code}; folders {[p.name for p in folders]}, FHIR in {with_fhir}; byte-identical "
        f"copies of the first cohort's tables: {copies or 'none'}; the second export: "
        f"'{second[:80]}'"
    )


@check("request: 'over 65' includes 65-year-olds (65+)")
def _over_65(work: Path) -> tuple[bool, str]:
    code, text = cli(work, "ask", "200 type 2 diabetes patients over 65", "--dry-run")
    flat = " ".join(text.split())
    ages = re.search(r"aged (\d+)(?:-(\d+)| or more)", flat)
    low = int(ages.group(1)) if ages else None
    return low == 65, f"exit {code}; read as: '{ages.group() if ages else flat[:100]}'" + (
        "; the reading is stated to the user" if "read as aged" in flat else ""
    )


# -- notes ------------------------------------------------------------------------------------
def _diabetes_notes() -> tuple[object, object]:
    from synthpatient import datasets
    from synthpatient.notes import write_notes

    table = datasets.load("diabetes").iloc[:200]
    return table, write_notes(table, seed=0)


@check("notes: a sex code is called a code, not '(sex 2)'")
def _notes_sex(work: Path) -> tuple[bool, str]:
    _, notes = _diabetes_notes()
    bare = int(notes.str.contains(r"\(sex [12]\)").sum())  # type: ignore[attr-defined]
    coded = int(notes.str.contains(r"sex code [12]\b").sum())  # type: ignore[attr-defined]
    return bare == 0 and coded == len(notes), (  # type: ignore[arg-type]
        f"{len(notes)} notes: '(sex N)' in {bare}, 'sex code N' in {coded}"  # type: ignore[arg-type]
    )


@check("notes: log triglycerides read in mg/dL, not '5.3 ln(mg/dL)'")
def _notes_log(work: Path) -> tuple[bool, str]:
    import numpy as np

    table, notes = _diabetes_notes()
    log_unit = int(notes.str.contains(r"ln\(|log triglycerides", case=False).sum())  # type: ignore[attr-defined]
    agree = 0
    example = ""
    for note, value in zip(notes, table["log_triglycerides"], strict=True):  # type: ignore[index]
        mg = round(float(np.exp(value)))
        found = re.search(rf"triglycerides[^.;,]*?\b{mg} mg/dL", note)
        agree += found is not None
        example = example or (found.group() if found else "")
    ok = log_unit == 0 and agree == len(notes)  # type: ignore[arg-type]
    return (
        ok,
        f"log units in {log_unit} notes; exp(value) stated in {agree}/{len(notes)}: '{example}'",
    )  # type: ignore[arg-type]


@check("notes: the CLI's notes summary reads as a sentence (no 'None', no '[]')")
def _notes_summary(work: Path) -> tuple[bool, str]:
    split_data(work)
    code, text = cli(
        work, "generate", "train.csv", "-s", "hybrid", "-p", "notes_column=note", "--rows",
        "20", "--out", "notes.csv", "--seed", "0",
    )  # fmt: skip
    line = next((s.strip() for s in text.splitlines() if "notes" in s and "templates" in s), "")
    raw = [w for w in ("None", "[]", "stopped", "problems") if w in text]
    return code == 0 and bool(
        line
    ) and not raw, f"exit {code}; '{line}'; raw fields: {raw or 'none'}"


# -- verdicts ---------------------------------------------------------------------------------
@check("report.summary prints every score and verdict")
def _report_summary(work: Path) -> tuple[bool, str]:
    from synthpatient import GaussianCopulaSynthesizer, datasets
    from synthpatient.evaluation.evaluate import evaluate

    train, holdout = datasets.split("diabetes")
    synthetic = GaussianCopulaSynthesizer(seed=0).fit(train).sample(300, seed=0)
    report = evaluate(train, synthetic, holdout=holdout, target="progression", detailed=False)
    text = str(report.summary)
    header = text.splitlines()[0].split()
    hidden = "..." in text
    missing = [
        m for m, v in zip(report.summary["metric"], report.summary["verdict"], strict=True)
        if m not in text or v not in text
    ]  # fmt: skip
    return not hidden and not missing and "score" in header, (
        f"header {header}; {len(report.summary)} rows; '...' in the text: {hidden}; rows "
        f"missing a score or verdict: {missing or 'none'}"
    )


@check("demo: console table headed family/metric/score/verdict; report cards explain", slow=True)
def _demo(work: Path) -> tuple[bool, str]:
    started = time.perf_counter()
    code, text = cli(work, "demo", "--out", "demo")
    elapsed = time.perf_counter() - started
    header = next((line for line in text.splitlines() if "metric" in line and "score" in line), "")
    columns = re.findall(r"\w+", header)
    first = next((line for line in text.splitlines() if "fidelity" in line), "")
    page = (work / "demo" / "report.html").read_text(encoding="utf-8") if code == 0 else ""
    html = unescape(page)
    cards = html.split("class=cards")[1].split("</section>")[0] if "class=cards" in html else ""
    detection = re.search(r"Detection</div><div class=\"value\">([\d.]+)</div><div>([^<]*)", cards)
    utility = re.search(
        r"ML utility[^<]*</div><div class=\"value\">([\d.]+)</div><div>([^<]*)", cards
    )
    ok = (
        code == 0
        and columns[:4] == ["family", "metric", "score", "verdict"]
        and "score" not in re.findall(r"\w+", first)[:2]
        and detection is not None
        and "ROC-AUC" in detection.group(2)
        and utility is not None
        and "trained on synthetic rows" in utility.group(2)
    )
    return ok, (
        f"exit {code} in {elapsed:.0f} s; header {columns}; first row '{' '.join(first.split())}';"
        f" detection card {detection.group(1) if detection else '-'}: "
        f"'{detection.group(2)[-95:] if detection else '-'}'; utility card "
        f"{utility.group(1) if utility else '-'}: '{utility.group(2)[:110] if utility else '-'}'"
    )


@check("evaluate: a red card comes with one line of meaning and advice")
def _red_card(work: Path) -> tuple[bool, str]:
    import numpy as np
    import pandas as pd

    split_data(work)
    train = pd.read_csv(work / "train.csv")
    rng = np.random.default_rng(0)
    broken = train.apply(lambda c: rng.permutation(c.to_numpy()))  # relations destroyed
    broken["ldl"] = broken["ldl"] * 1.6  # Friedewald broken on every row
    broken.to_csv(work / "broken.csv", index=False)
    code, text = cli(
        work, "evaluate", "train.csv", "broken.csv", "--holdout", "holdout.csv", "--target",
        "progression", "--rules", "diabetes", "--json", "broken.json", "--overwrite",
    )  # fmt: skip
    if code != 0:
        return False, f"exit {code}: {text.strip().splitlines()[-1:]}"
    summary = json.loads((work / "broken.json").read_text())["summary"]
    red = [r["metric"] for r in summary if r["level"] in ("fair", "poor")]
    lines = [" ".join(s.split()) for s in text.split("What to do:")[1:]]
    explained = [m for m in red if any(line.startswith(f"{m} is") for line in lines)]
    rule = next((line for line in lines if line.startswith("rule_violations")), "")
    return bool(red) and explained == red, (
        f"fair/poor: {red}; explained: {explained}; e.g. 'What to do: {rule[:150]}...'"
    )


# -- datasets and README ----------------------------------------------------------------------
@check("datasets list: sources and licences")
def _datasets_list(work: Path) -> tuple[bool, str]:
    from synthpatient import datasets

    code, text = cli(work, "datasets", "list")
    flat = " ".join(text.split())
    infos = datasets.list_datasets()
    missing = [
        i.key for i in infos
        if " ".join(i.licence.split()[:4]) not in flat or " ".join(i.source.split()[:3]) not in flat
    ]  # fmt: skip
    return code == 0 and not missing, (
        f"{len(infos)} datasets; without their source or licence: {missing or 'none'}"
    )


@check("README: no --condition on a column whose codes the data does not explain")
def _readme_conditions(work: Path) -> tuple[bool, str]:
    from synthpatient import datasets

    text = readme()
    unknown = {
        c.name
        for info in datasets.list_datasets()
        for c in info.columns
        if re.search(r"does not say|unknown|not known", c.description or "", re.I)
    }
    # a code of such a column ("sex=2") is a guess at its meaning; "sex": "f" of pbcseq is not
    coded = re.findall(r"(?:--condition|-c)\s+(\w+)=(\d+)\b", text)
    coded += re.findall(r"[\"'](\w+)[\"']\s*:\s*(\d+)\b", text)
    clash = sorted({f"{column}={value}" for column, value in coded if column in unknown})
    shown = re.findall(r"(?:--condition|-c)\s+(\S+)", text)
    return not clash, (
        f"README conditions: {sorted(set(shown))}; columns whose codes are unexplained: "
        f"{sorted(unknown)}; a code of one used: {clash or 'none'}"
    )


@check("README: says how to activate the environment")
def _readme_activation(work: Path) -> tuple[bool, str]:
    text = readme()
    found = re.search(r"source \.venv/bin/activate", text)
    before = found is not None and found.start() < text.find("## Quick start: command line")
    makefile = (ROOT / "Makefile").read_text()
    printed = "activate" in makefile
    return before, (
        f"README: {'before' if before else 'not before'} the first quick start; "
        f"Makefile mentions activation: {printed}"
    )


@check("README: every 'measured' paragraph names the script that prints it")
def _readme_figures(work: Path) -> tuple[bool, str]:
    paragraphs = [p for p in re.split(r"\n\s*\n", readme()) if p.strip()]
    unnamed = []
    for i, paragraph in enumerate(paragraphs):
        if not re.search(r"\bmeasured\b", paragraph, re.I) or paragraph.lstrip().startswith("|"):
            continue
        near = " ".join(paragraphs[max(0, i - 2) : i + 2])
        if not re.search(r"benchmarks/\w+\.py|make bench|synthpatient benchmark", near):
            unnamed.append(" ".join(paragraph.split())[:80])
    return not unnamed, f"paragraphs with figures but no script nearby: {unnamed or 'none'}"


@check("README: every command and Python block runs as written", slow=True)
def _readme_runs(work: Path) -> tuple[bool, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "tests/integration/test_readme.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    last = (done.stdout.strip().splitlines() or ["-"])[-1]
    return done.returncode == 0, (
        f"tests/integration/test_readme.py: '{last}' ({time.perf_counter() - started:.0f} s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-slow", action="store_true", help="skip the checks of minutes")
    parser.add_argument("--only", default="", help="run the checks whose name holds this")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    if not BIN.exists():
        print(f"FAIL: no synthpatient command beside {sys.executable}")
        return 1
    work = Path(tempfile.mkdtemp(prefix="newcomer-"))
    failed = 0
    started = time.perf_counter()
    try:
        for name, slow, function in CHECKS:
            if args.only not in name or (slow and args.skip_slow):
                continue
            began = time.perf_counter()
            try:
                ok, evidence = function(work)
            except Exception as exc:  # a crashed check is a failed one, with its reason
                ok, evidence = False, f"{type(exc).__name__}: {exc}"
            failed += not ok
            took = time.perf_counter() - began
            print(
                f"{'PASS' if ok else 'FAIL'}  {name}  [{took:.0f} s]\n      {evidence}", flush=True
            )
    finally:
        if args.keep:
            print(f"work folder: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\n{failed} check(s) failed; {time.perf_counter() - started:.0f} s in all, load "
        f"average {load:.1f} on {os.cpu_count()} cores."
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
