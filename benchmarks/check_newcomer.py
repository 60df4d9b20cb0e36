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

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from html import unescape
from pathlib import Path

import _newcomer_cli  # noqa: F401  (registers the command-line checks first)
from _newcomer import BIN, CHECKS, ROOT, check, cli, readme, split_data


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
