"""Fuzz campaign over the synthpatient CLI and Python API (issue 16: no identifier ever leaks,
no traceback, no lost work).

Thousands of seeded hostile inputs (tables with odd dtypes and broken files, hostile CLI
arguments, tampered model folders, rule expressions, cohort requests) go through the CLI
(typer's CliRunner in-process, and a few real ``synthpatient`` processes) and the Python API.
Every cell of the identifier and free-text columns (name, MRN, phone, email, remark) holds a
marker ``ZQXJ<hex>``; every output file, model file, report, stdout/stderr, warning and
exception message is searched for it. Each case runs in its own folder, in a pool of worker
processes that are killed when a case passes the deadline.

Usage:
    python benchmarks/fuzz_campaign.py                     # 5,000 cases, seed 0 (~15 min, 2 cores)
    python benchmarks/fuzz_campaign.py --quick             # 400 cases
    python benchmarks/fuzz_campaign.py --cases 20000 --seed 7 --workers 4 --json fuzz.json
    python benchmarks/fuzz_campaign.py --seed 0 --replay 1234 --keep   # one case again, verbose

Outcomes: success; clean one-line error (a non-zero exit or a SynthPatientError whose message
is one line, no "Traceback"); traceback (any other exception, a multi-line error, a signal);
hang (no result within ``--deadline`` seconds). Independently of the outcome, a case can leak
the marker and can leave partial or stale files (anything beyond the complete expected
outputs, an output after a failure, an existing file changed or removed, a temporary file
left in TMPDIR). The exit status is 1 when any traceback, hang, leak or partial file was seen.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import multiprocessing as mp
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter, defaultdict, deque
from multiprocessing import connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _fuzz_api import (  # noqa: E402
    build_api_deep,
    build_api_evaluate,
    build_api_io,
    build_api_pipeline,
    build_api_request,
    build_api_rules,
    build_api_tampered,
)
from _fuzz_cases import (  # noqa: E402
    KINDS,
    Workspace,
    allowed_outputs,
    execute,
    frame_leaks,
    thaw_tree,
)
from _fuzz_checks import (  # noqa: E402
    file_leak,
    folder_problems,
    frame_from_text,
    markers_in_text,
    mask_markers,
    pattern,
    snapshot,
    text_has_marker,
)
from _fuzz_cli import (  # noqa: E402
    build_cli_ask,
    build_cli_chat,
    build_cli_evaluate,
    build_cli_fit_sample,
    build_cli_generate,
    build_cli_junk,
    build_cli_schema,
    build_cli_tampered,
)
from _fuzz_inputs import weighted  # noqa: E402

BUILDERS = {
    "cli-generate": build_cli_generate,
    "cli-fit-sample": build_cli_fit_sample,
    "cli-schema": build_cli_schema,
    "cli-evaluate": build_cli_evaluate,
    "cli-tampered": build_cli_tampered,
    "cli-ask": build_cli_ask,
    "cli-chat": build_cli_chat,
    "cli-junk": build_cli_junk,
    "api-pipeline": build_api_pipeline,
    "api-io": build_api_io,
    "api-rules": build_api_rules,
    "api-request": build_api_request,
    "api-deep": build_api_deep,
    "api-tampered": build_api_tampered,
    "api-evaluate": build_api_evaluate,
}
DEFAULT_CASES, QUICK_CASES = 5000, 400
FAILURE_KINDS = ("tracebacks", "hangs", "leaks", "partial")
ROW_NAMES = {
    "tried": "tried",
    "clean": "clean one-line errors",
    "success": "successes",
    "tracebacks": "tracebacks",
    "hangs": "hangs over {deadline:g} s",
    "leaks": "leaked marker values",
    "partial": "partial or stale files left",
}
RECYCLE_AFTER = 300  # cases per worker process, so that memory creep cannot build up


# --- one case -------------------------------------------------------------------------------


def case_kind(seed: int, index: int) -> str:
    """The kind of case ``index`` (the first draw of its RNG)."""
    return weighted(np.random.default_rng([seed, index]), KINDS)


def _roles(text: str, sensitive: dict[str, str]) -> str:
    """Column names in a leak description replaced by their roles (name, mrn, ...), so that
    one cause gives one signature whatever the column is called."""
    for column, role in sorted(sensitive.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(repr(column), f"<{role}>")
    return text


def _leaks(
    plan: Any, outcome: Any, before: dict[str, str], after: dict[str, str], root: Path
) -> list[str]:
    """Every place the marker came out, as ``ROLES -> WHERE: detail``; ROLES names the kind of
    patient value (name, mrn, phone, email, remark) whose planted markers were found."""
    few = " (under ten patients)" if plan.few_patients else ""
    leaks = []
    for label, text in outcome.texts.items():
        found = markers_in_text(text)
        if found:
            leaks.append(
                f"{plan.roles(found)} -> {label}{few}: {_roles(_leak_line(text), plan.sensitive)}"
            )
    for label, frame in outcome.frames.items():
        columns = frame_leaks(frame)
        if columns:
            found = markers_in_text(frame[columns].to_string())
            leaks.append(
                f"{plan.roles(found)} -> {label}() result{few}: columns "
                f"{_roles(repr(columns), plan.sensitive)}"
            )
    for rel, digest in after.items():
        if digest in ("dir", "link") or before.get(rel) == digest:
            continue
        hit = file_leak(root / rel)
        if hit:
            where, found = hit
            leaks.append(
                f"{plan.roles(found)} -> file {pattern(rel)}{few}: {_roles(where, plan.sensitive)}"
            )
    return leaks


def _leak_line(text: str) -> str:
    for line in text.splitlines():
        if text_has_marker(line):
            return mask_markers(line.strip())[:160]
    return ""


def run_case(
    index: int, seed: int, root: Path, deadline: float, *, keep: bool = False, verbose: bool = False
) -> dict[str, Any]:
    """Build, run and check case ``index``; returns a JSON-able record."""
    started = time.perf_counter()
    rng = np.random.default_rng([seed, index])
    kind = weighted(rng, KINDS)
    ws = Workspace.create(root / f"c{index:06d}")
    record: dict[str, Any] = {"index": index, "kind": kind, "leaks": [], "problems": []}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = BUILDERS[kind](rng, ws)
    except Exception as exc:  # noqa: BLE001 - a bug in this script, reported as such
        record.update(
            status="harness",
            error_type=type(exc).__name__,
            label="",
            location=_harness_frame(exc),
            message=mask_markers(str(exc))[:300],
            description="building the case",
        )
        ws.cleanup()
        return record
    record.update(
        label=plan.label, channel=plan.channel, description=mask_markers(plan.describe())[:600]
    )
    current = os.environ.get("FUZZ_CURRENT")
    if current:
        Path(current).write_text(json.dumps(record), encoding="utf-8")
    before = snapshot(ws.root)
    tmp = Path(tempfile.gettempdir())
    tmp_before = set(os.listdir(tmp))
    cwd = os.getcwd()
    os.chdir(ws.root)
    try:
        outcome = execute(plan, ws, deadline)
    finally:
        os.chdir(cwd)
    succeeded = outcome.status == "success"
    after = snapshot(ws.root)
    problems = folder_problems(
        before, after, succeeded=succeeded, allowed=allowed_outputs(plan, outcome)
    )
    if succeeded and plan.check is not None:
        problem = plan.check()
        if problem:
            problems.append(problem)
    for name in sorted(set(os.listdir(tmp)) - tmp_before):
        problems.append(f"left in TMPDIR: {pattern(name)}")
        leftover = tmp / name
        with contextlib.suppress(OSError):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    leaks = _leaks(plan, outcome, before, after, ws.root)
    record.update(
        status=outcome.status,
        error_type=outcome.error_type,
        location=outcome.location,
        message=mask_markers(outcome.message)[:300],
        leaks=leaks,
        problems=[pattern(p) for p in problems],
        silent=plan.silent if succeeded else None,
        seconds=round(time.perf_counter() - started, 3),
    )
    if verbose:
        record["texts"] = {k: mask_markers(v)[-3000:] for k, v in outcome.texts.items()}
        record["workspace"] = str(ws.root)
    if not keep:
        ws.cleanup()
    return record


def _harness_frame(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


# --- the worker pool ------------------------------------------------------------------------


def _worker(
    conn: Any, worker_dir: str, root: str, seed: int, deadline: float, memory_gb: float
) -> None:
    import resource

    limit = int(memory_gb * 2**30)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    folder = Path(worker_dir)
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(folder / "tmp")
    os.environ["FUZZ_CURRENT"] = str(folder / "current.json")
    tempfile.tempdir = None
    warnings.simplefilter("always")
    with open(folder / "fault.txt", "w+", encoding="utf-8") as fault:
        while True:
            index = conn.recv()
            if index is None:
                break
            fault.seek(0)
            fault.truncate()
            faulthandler.dump_traceback_later(max(1.0, deadline - 2), file=fault)
            try:
                record = run_case(index, seed, Path(root), deadline)
            except BaseException as exc:  # noqa: BLE001 - keep the worker alive
                record = {
                    "index": index,
                    "kind": case_kind(seed, index),
                    "status": "harness",
                    "error_type": type(exc).__name__,
                    "location": _harness_frame(exc),
                    "message": mask_markers(str(exc))[:300],
                    "leaks": [],
                    "problems": [],
                }
            finally:
                faulthandler.cancel_dump_traceback_later()
            conn.send(record)


class _Slot:
    def __init__(
        self, ctx: Any, number: int, root: Path, seed: int, deadline: float, memory_gb: float
    ) -> None:
        self.ctx, self.number, self.root = ctx, number, root
        self.args = (seed, deadline, memory_gb)
        self.dir = root / f"worker{number}"
        self.process: Any = None
        self.conn: Any = None
        self.done = 0
        self.start()

    def start(self) -> None:
        parent, child = self.ctx.Pipe()
        self.process = self.ctx.Process(
            target=_worker,
            args=(child, str(self.dir), str(self.root / "cases"), *self.args),
            daemon=True,
        )
        self.process.start()
        child.close()
        self.conn, self.done = parent, 0

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.join(5)
        with contextlib.suppress(Exception):
            self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(None)
            self.process.join(10)
        self.kill()


def _lost_case(slot: _Slot, index: int, seed: int, root: Path, status: str) -> dict[str, Any]:
    """A record for a case whose worker hung (and was killed) or died."""
    fault = (
        (slot.dir / "fault.txt").read_text(encoding="utf-8", errors="replace")
        if (slot.dir / "fault.txt").exists()
        else ""
    )
    current: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        current = json.loads((slot.dir / "current.json").read_text(encoding="utf-8"))
    if current.get("index") != index:
        current = {}
    code = slot.process.exitcode
    record = {
        "index": index,
        "kind": case_kind(seed, index),
        "status": status,
        "label": current.get("label", ""),
        "channel": current.get("channel", ""),
        "description": current.get("description", ""),
        "leaks": [],
        "problems": [],
    }
    if status == "hang":
        record.update(
            error_type="Hang",
            location=frame_from_text(fault),
            message="no result within the deadline; worker killed",
        )
    else:
        record.update(
            error_type=f"WorkerDied(exit {code})",
            location=frame_from_text(fault),
            message="the worker process died (a crash, or killed for memory)",
        )
    case_dir = root / "cases" / f"c{index:06d}"
    thaw_tree(case_dir)
    shutil.rmtree(case_dir, ignore_errors=True)
    return record


def run_pool(
    indices: list[int],
    *,
    seed: int,
    workers: int,
    deadline: float,
    memory_gb: float,
    root: Path,
    progress: bool,
) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    slots = [_Slot(ctx, n, root, seed, deadline, memory_gb) for n in range(workers)]
    pending = deque(indices)
    busy: dict[int, tuple[int, float]] = {}  # slot number -> (case index, start time)
    records: list[dict[str, Any]] = []
    started, last_report = time.monotonic(), time.monotonic()
    try:
        while pending or busy:
            for slot in slots:
                if slot.number not in busy and pending:
                    if slot.done >= RECYCLE_AFTER:
                        slot.stop()
                        slot.start()
                    index = pending.popleft()
                    slot.conn.send(index)
                    busy[slot.number] = (index, time.monotonic())
            conns = {slots[n].conn: slots[n] for n in busy}
            for conn in connection.wait(list(conns), timeout=0.5):
                slot = conns[conn]
                index = busy.pop(slot.number)[0]
                try:
                    records.append(conn.recv())
                    slot.done += 1
                except (EOFError, OSError):
                    records.append(_lost_case(slot, index, seed, root, "crash"))
                    slot.kill()
                    slot.start()
            now = time.monotonic()
            for number, (index, since) in list(busy.items()):
                slot = slots[number]
                if now - since > deadline:
                    slot.kill()
                    records.append(_lost_case(slot, index, seed, root, "hang"))
                    busy.pop(number)
                    slot.start()
                elif not slot.process.is_alive() and not slot.conn.poll():
                    records.append(_lost_case(slot, index, seed, root, "crash"))
                    busy.pop(number)
                    slot.kill()
                    slot.start()
            if progress and now - last_report > 30:
                last_report = now
                counts = Counter(_bucket(r) for r in records)
                print(
                    f"  {len(records)}/{len(indices)} cases in {now - started:.0f} s: "
                    + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        for slot in slots:
            slot.stop()
    return sorted(records, key=lambda r: r["index"])


# --- summary --------------------------------------------------------------------------------


def _bucket(record: dict[str, Any]) -> str:
    status = record["status"]
    return {"success": "success", "clean": "clean", "hang": "hangs", "harness": "harness"}.get(
        status, "tracebacks"
    )


def signatures(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Failure kind -> signature -> {count, examples}."""
    out: dict[str, dict[str, dict[str, Any]]] = {
        k: {} for k in (*FAILURE_KINDS, "harness", "silent")
    }

    def add(kind: str, signature: str, record: dict[str, Any], detail: str) -> None:
        entry = out[kind].setdefault(signature, {"count": 0, "examples": []})
        entry["count"] += 1
        if len(entry["examples"]) < 3:
            entry["examples"].append(
                {
                    "case": record["index"],
                    "input": record.get("label", ""),
                    "detail": detail,
                    "what": record.get("description", ""),
                }
            )

    for record in records:
        bucket = _bucket(record)
        if bucket in ("tracebacks", "hangs", "harness"):
            sig = f"{record.get('error_type')} at {record.get('location')} [{record['kind']}]"
            add(bucket, sig, record, record.get("message", ""))
        for leak in record.get("leaks", []):
            where = leak.split(": ", 1)[0]  # roles -> place; the detail is kept as an example
            add("leaks", f"{_generic(where)} [{record['kind']}]", record, leak)
        for problem in record.get("problems", []):
            add("partial", f"{_generic(problem)} [{record['kind']}]", record, problem)
        if record.get("silent"):
            add(
                "silent",
                f"{record['silent'].split(':')[0].split(' ')[0]} "
                f"{record['silent'].split(': ', 1)[-1]} [{record['kind']}]",
                record,
                record["silent"],
            )
    return out


def _generic(text: str) -> str:
    """Strip case-specific names (output file names, numbers) from a signature."""
    text = re.sub(r"out/[^/ :]*\.(csv|parquet|tsv|json|html)", r"out/<file>.\1", text)
    text = re.sub(r"'(?:Impossible|Cannot|The)[^']*'", "'...'", text)
    return re.sub(r"\d+", "N", text)


def summarize(records: list[dict[str, Any]]) -> dict[str, int]:
    buckets = Counter(_bucket(r) for r in records)
    return {
        "tried": len(records),
        "clean": buckets["clean"],
        "success": buckets["success"],
        "tracebacks": buckets["tracebacks"],
        "hangs": buckets["hangs"],
        "leaks": sum(1 for r in records if r.get("leaks")),
        "partial": sum(1 for r in records if r.get("problems")),
        "harness": buckets["harness"],
    }


def by_kind(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for record in records:
        row = table[record["kind"]]
        row["tried"] += 1
        row[_bucket(record)] += 1
        row["leaks"] += bool(record.get("leaks"))
        row["partial"] += bool(record.get("problems"))
        row["seconds"] += record.get("seconds") or 0.0
    return {k: dict(v) for k, v in sorted(table.items())}


def print_report(
    records: list[dict[str, Any]],
    *,
    seed: int,
    elapsed: float,
    workers: int,
    deadline: float,
    show: int,
) -> dict[str, Any]:
    summary = summarize(records)
    print(
        f"\nsynthpatient fuzz campaign: seed {seed}, {summary['tried']} cases, {workers} "
        f"workers, {elapsed:.0f} s\n"
    )
    print("| result                          |  cases |")
    print("|---------------------------------|-------:|")
    for key, name in ROW_NAMES.items():
        print(f"| {name.format(deadline=deadline):<31} | {summary[key]:>6} |")
    print(
        "\n(clean errors + successes + tracebacks + hangs = tried; leaks and partial or "
        "stale files are counted over all cases.)"
    )
    processes = sum(1 for r in records if r.get("channel") == "subprocess")
    print(
        f"{processes} of the CLI cases ran in real `synthpatient` processes, the others "
        "in-process (typer's CliRunner)."
    )
    if summary["harness"]:
        print(
            f"Harness errors (bugs in the campaign script, not counted above): {summary['harness']}"
        )
    print("\nBy case kind (tried / success / clean / traceback / hang / leak / partial / mean s):")
    for kind, row in by_kind(records).items():
        tried = row["tried"]
        print(
            f"  {kind:<15} {tried:>5.0f} {row.get('success', 0):>5.0f} "
            f"{row.get('clean', 0):>5.0f} {row.get('tracebacks', 0):>5.0f} "
            f"{row.get('hangs', 0):>4.0f} {row.get('leaks', 0):>5.0f} "
            f"{row.get('partial', 0):>5.0f} {row['seconds'] / tried:>6.2f}"
        )
    sigs = signatures(records)
    titles = {
        "tracebacks": "Tracebacks",
        "hangs": f"Hangs over {deadline:g} s",
        "leaks": "Leaked marker values",
        "partial": "Partial or stale files left",
        "harness": "Harness errors",
        "silent": "Silently not honoured (successes)",
    }
    for kind, title in titles.items():
        entries = sorted(sigs[kind].items(), key=lambda kv: -kv[1]["count"])
        if not entries:
            continue
        print(
            f"\n{title}: {sum(e['count'] for _, e in entries)} in {len(entries)} distinct "
            f"signature(s); the first {min(show, len(entries))}:"
        )
        for signature, entry in entries[:show]:
            example = entry["examples"][0]
            print(f"  [{entry['count']}x] {signature}")
            print(f"      input:  {example['input']}")
            if example["detail"]:
                print(f"      detail: {example['detail'][:200]}")
            print(f"      what:   {example['what'][:300]}")
            print(
                f"      replay: python benchmarks/fuzz_campaign.py --seed {seed} "
                f"--replay {example['case']} --keep"
            )
    return {"summary": summary, "by_kind": by_kind(records), "signatures": sigs}


# --- entry point ----------------------------------------------------------------------------


def _replay(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="spfuzz-replay-"))
    (root / "tmp").mkdir()
    os.environ["TMPDIR"] = str(root / "tmp")  # a private TMPDIR, as the workers have
    tempfile.tempdir = None
    record = run_case(args.replay, args.seed, root, args.deadline, keep=args.keep, verbose=True)
    texts = record.pop("texts", {})
    print(json.dumps(record, indent=2, default=str))
    for label, text in texts.items():
        if text.strip():
            print(f"--- {label} ---\n{text.rstrip()}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    failed = _bucket(record) in ("tracebacks", "hangs") or record["leaks"] or record["problems"]
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cases",
        type=int,
        default=None,
        help=f"number of cases (default {DEFAULT_CASES}; {QUICK_CASES} with --quick)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds before a hang")
    parser.add_argument(
        "--memory-gb",
        type=float,
        default=4.0,
        help="address-space limit of each worker (huge allocations then fail)",
    )
    parser.add_argument("--start", type=int, default=0, help="first case index")
    parser.add_argument("--show", type=int, default=5, help="signatures shown per failure kind")
    parser.add_argument("--json", type=Path, default=None, help="write all results here")
    parser.add_argument("--replay", type=int, default=None, help="run one case, verbosely")
    parser.add_argument("--keep", action="store_true", help="with --replay: keep its folder")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    if args.replay is not None:
        return _replay(args)
    cases = args.cases or (QUICK_CASES if args.quick else DEFAULT_CASES)
    root = Path(tempfile.mkdtemp(prefix="spfuzz-"))
    (root / "cases").mkdir()
    started = time.monotonic()
    try:
        records = run_pool(
            list(range(args.start, args.start + cases)),
            seed=args.seed,
            workers=args.workers,
            deadline=args.deadline,
            memory_gb=args.memory_gb,
            root=root,
            progress=not args.quiet,
        )
    finally:
        thaw_tree(root)
        shutil.rmtree(root, ignore_errors=True)
    elapsed = time.monotonic() - started
    result = print_report(
        records,
        seed=args.seed,
        elapsed=elapsed,
        workers=args.workers,
        deadline=args.deadline,
        show=args.show,
    )
    if args.json is not None:
        payload = {
            "seed": args.seed,
            "cases": cases,
            "start": args.start,
            "workers": args.workers,
            "deadline_s": args.deadline,
            "elapsed_s": round(elapsed, 1),
            **result,
            "failures": [
                r
                for r in records
                if _bucket(r) not in ("success", "clean") or r.get("leaks") or r.get("problems")
            ],
        }
        args.json.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
        print(f"\nResults written to {args.json}")
    summary = result["summary"]
    return 1 if any(summary[k] for k in FAILURE_KINDS) else 0


if __name__ == "__main__":
    sys.exit(main())
