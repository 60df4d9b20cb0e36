"""The fuzz campaign's Python API cases: schema inference, synthesizers end to end, conditions,
persistence, evaluation, reading and writing tables, rules and the cohort request parser.

Each builder returns a :class:`Plan` whose steps run in order; the first exception ends the
case and is classified by :func:`_fuzz_cases.execute`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from _fuzz_cases import Plan, Workspace, _columns, _fitted_model, _split, output_target
from _fuzz_hostile import request_text, rules_yaml, tamper_model
from _fuzz_inputs import (
    HOSTILE_TEXT,
    TableInfo,
    clean_table,
    pick,
    random_table,
    synthetic_like,
    weighted,
    write_table_file,
)

_N_ROWS: tuple[Any, ...] = (0, 1, 3, 50, 200, 17)
_HOSTILE_N_ROWS: tuple[Any, ...] = (-1, 2.5, True, "10", np.int64(7), None, 10**15, float("nan"))


def _n_rows(rng: np.random.Generator) -> Any:
    return pick(rng, _HOSTILE_N_ROWS) if rng.random() < 0.08 else pick(rng, _N_ROWS)


def _seed(rng: np.random.Generator) -> Any:
    if rng.random() < 0.1:
        return pick(rng, (-1, 2**64, "abc", 1.5, np.int64(3), True))
    return None if rng.random() < 0.3 else int(rng.integers(0, 2**31))


def api_conditions(
    rng: np.random.Generator, frame: pd.DataFrame, info: TableInfo, benign: bool = False
) -> Any:
    """``conditions=`` values: real ones and every malformed shape (``benign``: real ones)."""
    if rng.random() < 0.6:
        return None
    plain = [c for c in frame.columns if c not in info.sensitive]
    col = pick(rng, plain) if plain else "age"
    values = []
    if col in frame:
        try:
            values = list(frame[col].dropna().unique()[:5])
        except TypeError:
            values = []
    style = (
        pick(rng, ("value", "range"))
        if benign
        else weighted(
            rng,
            {
                "value": 4,
                "range": 4,
                "unknown": 1,
                "sensitive": 1,
                "list": 1,
                "open": 1,
                "nan": 1,
                "huge-int": 0.5,
                "inf": 0.5,
                "dates": 1,
                "not-mapping": 0.5,
                "dict": 0.5,
                "bytes": 0.5,
                "hostile": 1,
            },
        )
    )
    if style == "value":
        return {col: pick(rng, values) if values else 1}
    if style == "range":
        low, high = sorted(rng.normal(30, 30, 2))
        return {col: (float(low), float(high))}
    if style == "unknown":
        return {"nope": 1}
    if style == "sensitive" and info.sensitive:
        return {pick(rng, list(info.sensitive)): "x"}
    if style == "list":
        return {col: [1, 2, 3]}
    if style == "open":
        return {col: (None, None)}
    if style == "nan":
        return {col: (float("nan"), 5)}
    if style == "huge-int":
        return {col: 10**400}
    if style == "inf":
        return {col: float("inf")}
    if style == "dates":
        return {col: ("1066-01-01", "9999-12-31")}
    if style == "not-mapping":
        return [col]
    if style == "dict":
        return {col: {"a": 1}}
    if style == "bytes":
        return {col: b"\xff"}
    return {col: pick(rng, HOSTILE_TEXT)}


def build_api_pipeline(rng: np.random.Generator, ws: Workspace) -> Plan:
    """Schema.infer -> copula fit -> sample (conditions) -> save -> load -> sample ->
    quality_summary -> (evaluate) -> write_table, on an in-memory table with odd dtypes."""
    from synthpatient import GaussianCopulaSynthesizer, Schema, Synthesizer, quality_summary
    from synthpatient._io import write_table

    benign = rng.random() < 0.4  # valid arguments; only the table's content is odd
    frame, info = random_table(rng, odd=0.6, benign=benign)
    columns = _columns(frame)
    options: dict[str, Any] = {}
    if rng.random() < 0.1 and not benign:
        options["identifiers"] = [pick(rng, columns + ["nope"])]
    if rng.random() < 0.1 and not benign:
        plain = [c for c in columns if c not in info.sensitive]
        options["categorical"] = [pick(rng, plain + ["nope"])] if plain else []
    params: dict[str, Any] = {}
    if rng.random() < 0.1 and not benign:
        params[pick(rng, ("n_quantiles", "missing_tree_depth", "missing_min_leaf"))] = pick(
            rng, (2, 1, 0, -1, 10**6, 2.5, "3", None, True)
        )
    if benign:
        seed, n_rows, n_again = int(rng.integers(0, 2**31)), pick(rng, _N_ROWS), 5
        conditions = api_conditions(rng, frame, info, benign=True)
    else:
        seed, n_rows, n_again = _seed(rng), _n_rows(rng), _n_rows(rng)
        conditions = api_conditions(rng, frame, info)
    with_schema = rng.random() < 0.5
    save_overwrite = rng.random() < 0.2
    if save_overwrite:
        (ws.out / "model").mkdir()
        (ws.out / "model" / "keep.txt").write_text("keep me\n", encoding="utf-8")
    out_name = "synthetic.parquet" if rng.random() < 0.3 else "synthetic.csv"
    evaluate_too = rng.random() < 0.12

    def infer(ctx: dict[str, Any]) -> Any:
        ctx["schema"] = Schema.infer(frame, **options)
        return {
            "schema JSON": ctx["schema"].to_json(),
            "schema JSON with observed values": ctx["schema"].to_json(include_observed=True),
        }

    def fit(ctx: dict[str, Any]) -> Any:
        model = GaussianCopulaSynthesizer(seed=seed, **params)
        ctx["model"] = model.fit(frame, schema=ctx["schema"] if with_schema else None)
        return None

    def sample(ctx: dict[str, Any]) -> Any:
        ctx["synthetic"] = ctx["model"].sample(n_rows, conditions=conditions)
        return ctx["synthetic"]

    def save(ctx: dict[str, Any]) -> Any:
        ctx["model"].save(ws.out / "model", overwrite=save_overwrite)
        return None

    def load(ctx: dict[str, Any]) -> Any:
        return Synthesizer.load(ws.out / "model").sample(n_again, seed=1)

    def quality(ctx: dict[str, Any]) -> Any:
        if len(ctx["synthetic"]) == 0:
            return None
        return json.dumps(quality_summary(frame, ctx["synthetic"]), default=str)

    def evaluation(ctx: dict[str, Any]) -> Any:
        if not evaluate_too or len(ctx["synthetic"]) == 0:
            return None
        from synthpatient.evaluation.evaluate import evaluate

        real, holdout = _split(frame, rng)
        report = evaluate(real, ctx["synthetic"], holdout=holdout if len(holdout) else None)
        return report.to_json()

    def write(ctx: dict[str, Any]) -> Any:
        write_table(ctx["synthetic"], ws.out / out_name)
        return None

    steps = [
        ("Schema.infer", infer),
        ("fit", fit),
        ("sample", sample),
        ("save", save),
        ("load", load),
        ("quality_summary", quality),
        ("evaluate", evaluation),
        ("write_table", write),
    ]
    description = (
        f"table={info.label()}; Schema.infer(df, {options}); "
        f"GaussianCopulaSynthesizer(seed={seed!r}, {params}).fit(df"
        f"{', schema=schema' if with_schema else ''}).sample({n_rows!r}, "
        f"conditions={_short(conditions)}); save(out/model, overwrite="
        f"{save_overwrite}); load().sample({n_again!r}); quality_summary"
        f"{'; evaluate' if evaluate_too else ''}; write_table(out/{out_name})"
    )
    return Plan(
        "api-pipeline",
        info.label(),
        channel="api",
        steps=steps,
        expected={"out/model", f"out/{out_name}"},
        info=info,
        description=description,
        step_outputs=[set(), set(), set(), {"out/model"}, set(), set(), set(), {f"out/{out_name}"}],
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 120 else text[:100] + "..."


def build_api_io(rng: np.random.Generator, ws: Workspace) -> Plan:
    """read_table on hostile files; write_table of odd frames to hostile paths; schema JSON."""
    from synthpatient import Schema
    from synthpatient._io import read_table, write_table

    mode = weighted(rng, {"read": 5, "write": 3, "schema-json": 1})
    if mode == "read":
        frame, info = random_table(rng)
        path, variant = write_table_file(rng, frame, ws.inp)

        def read(ctx: dict[str, Any]) -> Any:
            ctx["frame"] = read_table(ws.rel(path))
            return None

        def infer(ctx: dict[str, Any]) -> Any:
            return Schema.infer(ctx["frame"]).to_json()

        return Plan(
            "api-io",
            f"read {variant} {info.label()}",
            channel="api",
            steps=[("read_table", read), ("Schema.infer", infer)],
            info=info,
            description=f"read_table('{ws.rel(path)}') [{variant}, {info.label()}]; "
            "Schema.infer(...).to_json()",
        )
    if mode == "write":
        frame, info = random_table(rng, sensitive=False, odd=0.8)
        suffix = pick(rng, (".csv", ".parquet", ".tsv"))
        out, expected, flags, style = output_target(rng, ws, suffix)
        overwrite = "--overwrite" in flags or rng.random() < 0.1

        def write(ctx: dict[str, Any]) -> Any:
            write_table(frame, out, overwrite=overwrite)
            return None

        return Plan(
            "api-io",
            f"write {info.label()} out:{style}",
            channel="api",
            steps=[("write_table", write)],
            expected={expected} if expected else set(),
            description=f"write_table(<{info.label()}>, '{out}', overwrite={overwrite})",
        )
    text = pick(
        rng,
        (
            "{",
            "[]",
            "null",
            '{"columns": 5}',
            '{"columns": [{"name": "a"}]}',
            '{"format": "x", "columns": []}',
            '{"columns": [{"name": "a", "kind": "numeric", "minimum": 5, "maximum": 1}]}',
            "{" * 100_000,
            '{"columns": [{"name": "a", "kind": "identifier"}]}',
            "\ufeff{}",
            '{"columns": [{"name": "' + "x" * 10**5 + '", "kind": "numeric"}]}',
        ),
    )
    target = pick(rng, ("out/schema.json", "out/nope/schema.json", "/sys/schema.json"))

    def load_schema(ctx: dict[str, Any]) -> Any:
        schema = Schema.from_json(text)
        schema.to_json(target)
        return None

    return Plan(
        "api-io",
        "schema-json",
        channel="api",
        steps=[("Schema.from_json", load_schema)],
        expected={target},
        description=f"Schema.from_json({_short(text)}).to_json('{target}')",
    )


def build_api_rules(rng: np.random.Generator, ws: Workspace) -> Plan:
    from synthpatient.rules import RuleSet, load_rule_pack

    frame, info = random_table(rng, odd=0.3)
    text, style = rules_yaml(rng, _columns(frame))
    from_file = rng.random() < 0.3 and style != "pack"
    if from_file:
        (ws.inp / "rules.yaml").write_text(text, encoding="utf-8")

    def load(ctx: dict[str, Any]) -> Any:
        if style == "pack":
            ctx["rules"] = load_rule_pack(pick(rng, ("diabetes", "nope", "../diabetes", "")))
        else:
            ctx["rules"] = RuleSet.from_yaml(str(ws.inp / "rules.yaml") if from_file else text)
        return None

    def check(ctx: dict[str, Any]) -> Any:
        results = ctx["rules"].check(frame)
        return "\n".join(r.message for r in results)

    def flags(ctx: dict[str, Any]) -> Any:
        return ctx["rules"].flags(frame)

    def compare(ctx: dict[str, Any]) -> Any:
        return ctx["rules"].compare(frame, synthetic_like(rng, frame, info))

    return Plan(
        "api-rules",
        f"{style} {'file' if from_file else 'text'}",
        channel="api",
        steps=[("load", load), ("check", check), ("flags", flags), ("compare", compare)],
        info=info,
        description=f"RuleSet.from_yaml({_short(text)}).check/flags/compare(<{info.label()}>)",
    )


def build_api_request(rng: np.random.Generator, ws: Workspace) -> Plan:
    from synthpatient.knowledge import Conversation, load_knowledge_base
    from synthpatient.knowledge.request import parse_request

    text, style = request_text(rng, small=rng.random() < 0.3)
    follow = pick(
        rng,
        (
            "yes",
            "no",
            "now make them all over 65",
            "add eGFR",
            "export as FHIR",
            "only women",
            "which sources did you use?",
            "",
            "now " + "x" * 2001,
        ),
    )
    confirm = rng.random() < 0.25

    def parse(ctx: dict[str, Any]) -> Any:
        kb = load_knowledge_base()
        try:
            request = parse_request(text, kb)
        except Exception as exc:
            from synthpatient.knowledge.request import Clarification

            if isinstance(exc, Clarification):
                return str(exc)
            raise
        return request.describe(kb) + str(request.to_spec(kb))

    def converse(ctx: dict[str, Any]) -> Any:
        chat = Conversation(out_dir=ws.out / "cohort")
        replies = [chat.send(text)]
        if rng.random() < 0.5:
            replies.append(chat.send(follow))
        pending = chat.pending
        if confirm and pending is not None and pending.count <= 300:
            replies.append(chat.confirm())
        return "\n".join(r.text for r in replies)

    return Plan(
        "api-request",
        style,
        channel="api",
        steps=[("parse_request", parse), ("Conversation", converse)],
        expected={"out/cohort"} | {f"out/cohort-{i}" for i in range(2, 5)},
        description=f"parse_request({_short(text)}); Conversation.send(same); "
        f"send({_short(follow)}); confirm={confirm}",
    )


_DEEP = {
    "ctgan": {"steps": 3, "batch_size": 20, "progress": False},
    "tvae": {"steps": 3, "batch_size": 20, "progress": False},
    "mst": {"epsilon": 10.0, "n_bins": 4},
    "tabular_lm": {"epochs": 1, "d_model": 16, "progress": False},
    "hybrid": {},
}


def build_api_deep(rng: np.random.Generator, ws: Workspace) -> Plan:
    from synthpatient import Synthesizer, make_synthesizer

    key = pick(rng, sorted(_DEEP))
    frame, info = (
        clean_table(rng, n_patients=25)
        if rng.random() < 0.7
        else random_table(rng, odd=0.5, max_patients=25, min_rows=60)
    )
    n_rows = _n_rows(rng)
    conditions = api_conditions(rng, frame, info) if rng.random() < 0.3 else None

    def fit(ctx: dict[str, Any]) -> Any:
        ctx["model"] = make_synthesizer(key, seed=3, **_DEEP[key]).fit(frame)
        return None

    def sample(ctx: dict[str, Any]) -> Any:
        return ctx["model"].sample(n_rows, conditions=conditions)

    def save(ctx: dict[str, Any]) -> Any:
        ctx["model"].save(ws.out / "model")
        return None

    def load(ctx: dict[str, Any]) -> Any:
        return Synthesizer.load(ws.out / "model").sample(5, seed=2)

    return Plan(
        "api-deep",
        f"{key} {info.label()}",
        channel="api",
        steps=[("fit", fit), ("sample", sample), ("save", save), ("load", load)],
        expected={"out/model"},
        info=info,
        step_outputs=[set(), set(), {"out/model"}, set()],
        description=f"make_synthesizer('{key}', seed=3, **{_DEEP[key]})"
        f".fit(<{info.label()}>)"
        f".sample({n_rows!r}, conditions={_short(conditions)}); save; load",
    )


def build_api_tampered(rng: np.random.Generator, ws: Workspace) -> Plan:
    from synthpatient import Synthesizer

    key, info, _ = _fitted_model(rng, ws)
    how = tamper_model(rng, ws.inp / "model")

    def load(ctx: dict[str, Any]) -> Any:
        ctx["model"] = Synthesizer.load(ws.inp / "model")
        return None

    def sample(ctx: dict[str, Any]) -> Any:
        return ctx["model"].sample(int(rng.integers(1, 40)), seed=1)

    return Plan(
        "api-tampered",
        f"{key} {how}",
        channel="api",
        steps=[("Synthesizer.load", load), ("sample", sample)],
        info=info,
        description=f"Synthesizer.load('in/model').sample(n) on a {key} model, {how}",
    )


def build_api_evaluate(rng: np.random.Generator, ws: Workspace) -> Plan:
    from synthpatient.evaluation.evaluate import evaluate
    from synthpatient.rules import RuleSet

    frame, info = random_table(rng, odd=0.4, max_patients=15)
    real, holdout = _split(frame, rng)
    synthetic = synthetic_like(rng, real, info)
    columns = _columns(frame)
    kwargs: dict[str, Any] = {}
    if rng.random() < 0.6 and len(holdout):
        kwargs["holdout"] = holdout
    if rng.random() < 0.4:
        kwargs["target"] = pick(rng, columns + ["nope"])
    if rng.random() < 0.2:
        kwargs["sensitive"] = pick(rng, columns)
    if rng.random() < 0.15:
        kwargs["seeds"] = pick(rng, (0, -1, 2, 1.5))
    rules_text = None
    if rng.random() < 0.2:
        rules_text, _ = rules_yaml(rng, columns)
    html = rng.random() < 0.1

    def run(ctx: dict[str, Any]) -> Any:
        rules = None
        if rules_text is not None and rules_text != "diabetes":
            rules = RuleSet.from_yaml(rules_text)
        report = evaluate(real, synthetic, rules=rules, **kwargs)
        texts = {"report JSON": report.to_json(), "summary": report.summary.to_string()}
        if html:
            texts["report HTML"] = report.to_html()
        return texts

    shown = {k: (v if not isinstance(v, pd.DataFrame) else "<frame>") for k, v in kwargs.items()}
    return Plan(
        "api-evaluate",
        f"{info.label()} {sorted(kwargs)}",
        channel="api",
        steps=[("evaluate", run)],
        info=info,
        description=f"evaluate(<{info.label()}>, <synthetic>, **{shown}, "
        f"rules={'yes' if rules_text else None}){'.to_html()' if html else ''}",
    )
