"""The fuzz campaign's CLI cases: ``generate``, ``fit`` + ``sample``, ``schema``,
``evaluate``, ``sample`` on a tampered model, ``ask``, ``chat`` and junk argument lists.

Most cases run through typer's CliRunner in-process; ``SUBPROCESS_SHARE`` of them through a
real ``synthpatient`` process.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from _fuzz_cases import (
    Plan,
    Workspace,
    _columns,
    _finish_channel,
    _fitted_model,
    _int_or_none,
    _repeated_conditions,
    _schema_file,
    _split,
    _table_check,
    output_target,
)
from _fuzz_hostile import request_text, rules_yaml, tamper_model
from _fuzz_inputs import (
    HOSTILE_TEXT,
    TableInfo,
    hostile_conditions,
    hostile_params,
    hostile_rows,
    hostile_seed,
    pick,
    random_table,
    synthetic_like,
    weighted,
    write_table_file,
)

# --- CLI builders ---------------------------------------------------------------------------

_SYNTHS = {
    "copula": 90,
    "ctgan": 1,
    "tvae": 1,
    "mst": 1,
    "tabular_lm": 0.7,
    "hybrid": 2,
    "llm": 0.5,
    "CTGAN": 0.5,
    "": 0.3,
    "nope": 0.5,
}
_SYNTH_PARAMS = {
    "ctgan": ["-p", "steps=3", "-p", "batch_size=20"],
    "tvae": ["-p", "steps=3", "-p", "batch_size=20"],
    "mst": ["--epsilon", "10", "-p", "n_bins=4"],
    "tabular_lm": ["-p", "epochs=1", "-p", "d_model=16"],
}


def _model_args(
    rng: np.random.Generator,
    frame: pd.DataFrame,
    info: TableInfo,
    ws: Workspace,
    benign: bool = False,
) -> tuple[list[str], list[str]]:
    """Synthesizer, seed, parameters, identifier/categorical/schema options; and labels."""
    args: list[str] = []
    labels: list[str] = []
    synth = weighted(rng, _SYNTHS)
    if benign:
        seed = hostile_seed(rng, benign=True)
        return (["--seed", seed] if seed else []), ["benign"]
    if synth != "copula" or rng.random() < 0.3:
        args += ["-s", synth] + _SYNTH_PARAMS.get(synth, [])
        labels.append(f"synth={synth or 'empty'}")
    seed = hostile_seed(rng)
    if seed is not None:
        args += ["--seed", seed]
    if rng.random() < 0.12:
        params = hostile_params(rng)
        for item in params:
            args += ["-p", item]
        labels.append("params")
    columns = _columns(frame)
    plain = [c for c in columns if c not in info.sensitive]
    if rng.random() < 0.1:
        args += ["--identifier", pick(rng, columns + ["nope"])]
        labels.append("identifier")
    if rng.random() < 0.1 and plain:
        args += ["--categorical", pick(rng, plain + ["nope"])]
        labels.append("categorical")
    if rng.random() < 0.07:
        path, style = _schema_file(rng, ws, frame)
        args += ["--schema", path]
        labels.append(f"schema:{style}")
    if rng.random() < 0.03:
        args += [
            pick(rng, ("--epsilon", "--delta")),
            pick(rng, ("0", "-1", "nan", "inf", "1e-300", "abc", "3")),
        ]
        labels.append("epsilon")
    return args, labels


#: Share of CLI cases whose arguments and files are all valid (only the table's content is odd),
#: so that the deep paths (fit, sample, write) are exercised and searched for the marker.
BENIGN_SHARE = 0.4


def build_cli_generate(rng: np.random.Generator, ws: Workspace) -> Plan:
    benign = rng.random() < BENIGN_SHARE
    frame, info = random_table(rng, benign=benign)
    path, variant = write_table_file(rng, frame, ws.inp, benign=benign)
    input_rel = ws.rel(path)
    suffix = ".parquet" if rng.random() < 0.25 else ".csv"
    out, expected, flags, out_style = output_target(
        rng, ws, suffix, input_rel=input_rel, benign=benign
    )
    argv = ["generate", input_rel, "-o", out, *flags]
    rows = hostile_rows(rng, benign) if rng.random() < 0.95 else None
    if rows is not None:
        argv += [pick(rng, ("--rows", "-n")), rows]
    model_args, labels = _model_args(rng, frame, info, ws, benign)
    argv += model_args
    conditions = hostile_conditions(rng, frame, info, benign) if rng.random() < 0.35 else []
    for item in conditions:
        argv += ["-c", item]
    plan = Plan(
        "cli-generate",
        f"{variant} {info.label()} out:{out_style} "
        f"{' '.join(labels + (['conditions'] if conditions else []))}".strip(),
        argvs=[argv],
        expected={expected} if expected else set(),
        info=info,
    )
    plan.check = _table_check(ws, expected, _int_or_none(rows, 1000))
    plan.silent = _repeated_conditions(conditions)
    return _finish_channel(plan, rng)


def build_cli_fit_sample(rng: np.random.Generator, ws: Workspace) -> Plan:
    benign = rng.random() < BENIGN_SHARE
    frame, info = random_table(rng, odd=0.3, benign=benign)
    path, variant = write_table_file(rng, frame, ws.inp, benign=benign)
    model, model_expected, flags, model_style = output_target(
        rng, ws, "", folder=True, benign=benign
    )
    fit = ["fit", ws.rel(path), "-m", model, *flags]
    model_args, labels = _model_args(rng, frame, info, ws, benign)
    fit += model_args
    out, expected, out_flags, out_style = output_target(
        rng, ws, ".csv" if rng.random() < 0.7 else ".parquet", benign=benign
    )
    if out == model or out.startswith(model + "/"):  # keep the sample beside the model
        out, expected, out_flags = "out/sample.csv", "out/sample.csv", []
    rows = hostile_rows(rng, benign)
    sample = ["sample", model, "-o", out, "--rows", rows, *out_flags]
    seed = hostile_seed(rng, benign)
    if seed is not None:
        sample += ["--seed", seed]
    conditions = hostile_conditions(rng, frame, info, benign) if rng.random() < 0.3 else []
    for item in conditions:
        sample += ["-c", item]
    plan = Plan(
        "cli-fit-sample",
        f"{variant} {info.label()} model:{model_style} out:{out_style} {' '.join(labels)}".strip(),
        argvs=[fit, sample],
        expected={e for e in (model_expected, expected) if e},
        info=info,
        step_outputs=[{model_expected} if model_expected else set(), set()],
    )
    plan.check = _table_check(ws, expected, _int_or_none(rows))
    plan.silent = _repeated_conditions(conditions)
    return _finish_channel(plan, rng)


def build_cli_schema(rng: np.random.Generator, ws: Workspace) -> Plan:
    benign = rng.random() < BENIGN_SHARE
    frame, info = random_table(rng, benign=benign)
    path, variant = write_table_file(rng, frame, ws.inp, benign=benign)
    out, expected, flags, out_style = output_target(rng, ws, ".json", benign=benign)
    argv = ["schema", ws.rel(path), "-o", out, *flags]
    if rng.random() < 0.5:
        argv.append("--include-observed")
    plain = [c for c in _columns(frame) if c not in info.sensitive]
    if rng.random() < 0.15:
        argv += ["--identifier", pick(rng, _columns(frame) + ["nope"])]
    if rng.random() < 0.15 and plain:
        argv += ["--categorical", pick(rng, plain)]
    plan = Plan(
        "cli-schema",
        f"{variant} {info.label()} out:{out_style}",
        argvs=[argv],
        expected={expected} if expected else set(),
        info=info,
    )

    def check() -> str | None:
        target = ws.root / expected if expected and not Path(expected).is_absolute() else None
        if target is None:
            return None
        try:
            json.loads(target.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return f"schema output unreadable: {type(exc).__name__}"
        return None

    plan.check = check
    return _finish_channel(plan, rng)


def build_cli_evaluate(rng: np.random.Generator, ws: Workspace) -> Plan:
    frame, info = random_table(rng, odd=0.3, max_patients=15)
    real, holdout = _split(frame, rng)
    synthetic = synthetic_like(rng, real, info)
    broken = rng.random() < 0.2
    real_path, variant = write_table_file(
        rng, real, ws.inp, "real", variant=None if broken else "csv"
    )
    synth_path, _ = write_table_file(rng, synthetic, ws.inp, "synthetic", variant="csv")
    argv = ["evaluate", ws.rel(real_path), ws.rel(synth_path)]
    expected: set[str] = set()
    labels = [variant]
    if rng.random() < 0.6 and len(holdout):
        hold_path, _ = write_table_file(rng, holdout, ws.inp, "holdout", variant="csv")
        argv += ["--holdout", ws.rel(hold_path)]
    columns = _columns(frame)
    if rng.random() < 0.4:
        sensitive = list(info.sensitive)
        argv += [
            "--target",
            pick(rng, sensitive)
            if sensitive and rng.random() < 0.2
            else pick(rng, columns + ["nope"]),
        ]
        labels.append("target")
    rules = None
    if rng.random() < 0.3:
        text, style = rules_yaml(rng, columns)
        if style == "pack":
            rules = "diabetes"
        else:
            (ws.inp / "rules.yaml").write_text(text, encoding="utf-8")
            rules = "in/rules.yaml"
        argv += ["--rules", rules]
        labels.append(f"rules:{style}")
    for option, name, share in (
        ("--report", "report.html", 0.15),
        ("--json", "scores.json", 0.5),
        ("--flags", "flags.csv", 0.15),
    ):
        if rng.random() < share:
            argv += [option, f"out/{name}"]
            expected.add(f"out/{name}")
    if rng.random() < 0.2:
        argv += ["--seeds", pick(rng, ("0", "-1", "2", "abc", "1"))]
    if rng.random() < 0.2:
        argv += ["--sensitive", pick(rng, columns + ["nope"])]
    if rng.random() < 0.3 and expected:
        existing = sorted(expected)[0]
        (ws.root / existing).write_text("keep me\n", encoding="utf-8")
        if rng.random() < 0.5:
            argv.append("--overwrite")
        labels.append("existing-output")
    plan = Plan(
        "cli-evaluate",
        f"{' '.join(labels)} {info.label()}",
        argvs=[argv],
        expected=expected,
        info=info,
    )
    return _finish_channel(plan, rng)


def build_cli_tampered(rng: np.random.Generator, ws: Workspace) -> Plan:
    key, info, frame = _fitted_model(rng, ws)
    how = tamper_model(rng, ws.inp / "model")
    out, expected, flags, out_style = output_target(rng, ws, ".csv")
    rows = str(int(rng.integers(1, 60)))
    argv = ["sample", "in/model", "-o", out, "--rows", rows, "--seed", "1", *flags]
    if rng.random() < 0.2:
        argv += ["-c", hostile_conditions(rng, frame, info)[0]]
    plan = Plan(
        "cli-tampered",
        f"{key} {how} out:{out_style}",
        argvs=[argv],
        expected={expected} if expected else set(),
        info=info,
    )
    plan.check = _table_check(ws, expected, int(rows))
    return _finish_channel(plan, rng)


def build_cli_ask(rng: np.random.Generator, ws: Workspace) -> Plan:
    dry = rng.random() < 0.6
    text, style = request_text(rng, small=not dry)
    out, expected, flags, out_style = output_target(rng, ws, "", folder=True)
    out = out.replace("model", "cohort")
    expected = expected.replace("model", "cohort") if expected else None
    argv = ["ask", text, "-o", out, *flags]
    # not a terminal: generating needs --yes (without it `ask` stops with a one-line error)
    argv.append("--dry-run" if dry else "--yes")
    if rng.random() < 0.3:
        argv += ["--seed", hostile_seed(rng) or "7"]
    if rng.random() < 0.04:
        argv += ["--llm-base-url", "http://127.0.0.1:9/v1", "--llm-model", "x"]
    plan = Plan(
        "cli-ask",
        f"{style} {'dry-run' if dry else 'generate'} out:{out_style}",
        argvs=[argv],
        expected={expected} if expected else set(),
    )
    return _finish_channel(plan, rng)


def build_cli_chat(rng: np.random.Generator, ws: Workspace) -> Plan:
    lines = []
    for _ in range(int(rng.integers(1, 5))):
        text, _ = request_text(rng, small=rng.random() < 0.7)
        lines.append(text.replace("\n", " "))
        if rng.random() < 0.5:
            lines.append(
                pick(
                    rng,
                    (
                        "yes",
                        "no",
                        "now make them all over 65",
                        "add eGFR",
                        "export as FHIR",
                        "which sources did you use?",
                        "only women",
                    ),
                )
            )
    if rng.random() < 0.8:
        lines.append("quit")
    expected = {"out/cohort"} | {f"out/cohort-{i}" for i in range(2, 10)}
    plan = Plan(
        "cli-chat",
        f"{len(lines)} lines",
        argvs=[["chat", "-o", "out/cohort"]],
        stdin="\n".join(lines) + "\n",
        expected=expected,
    )
    return _finish_channel(plan, rng)


def build_cli_junk(rng: np.random.Generator, ws: Workspace) -> Plan:
    frame, _ = random_table(rng, sensitive=False, odd=0.0)
    frame.to_csv(ws.inp / "real.csv", index=False)
    choices: list[tuple[list[str], set[str]]] = [
        ([], set()),
        (["--help"], set()),
        (["nope"], set()),
        (["generate"], set()),
        (["generate", "--rows"], set()),
        (["generate", "in/real.csv"], set()),
        (["datasets", "list"], set()),
        (["synthesizers", "list"], set()),
        (["sample"], set()),
        (["evaluate", "in/real.csv"], set()),
        (["benchmark", "--seeds", "0"], set()),
        (["benchmark", "--epsilons", "abc"], set()),
        (["benchmark", "--datasets", "nope"], set()),
        (["benchmark", "--llm-base-url", "http://x"], set()),
        (["ask"], set()),
        (
            [
                "datasets",
                "export",
                pick(rng, ("diabetes", "nope", "", "../x", "DIABETES")),
                "-o",
                "out/d.csv",
            ],
            {"out/d.csv"},
        ),
        (["generate", "in/real.csv", "-o", "out/s.csv", "--rows=-1"], set()),
        (["generate", "in/real.csv", "-o", "out/s.csv", "--bogus"], set()),
        (["schema", "in/real.csv"], set()),
        ([pick(rng, HOSTILE_TEXT) for _ in range(int(rng.integers(1, 4)))], set()),
        (
            ["generate", "in/real.csv", "-o", "out/s.csv", "-n", "5", "--seed", "1", "--", "extra"],
            {"out/s.csv"},
        ),
    ]
    argv, expected = choices[int(rng.integers(len(choices)))]
    plan = Plan("cli-junk", "argv", argvs=[argv], expected=expected)
    return _finish_channel(plan, rng)
