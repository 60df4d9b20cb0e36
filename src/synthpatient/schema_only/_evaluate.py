"""Evaluating a table made from a description alone, with no real rows to compare against.

What can be measured without data: does every cell fit its column (kind, values, range);
are the relations kept (row by row for "after", as a measurable dependence for "depends
on"); is the table diverse (unique names, spread of each category, duplicate rows); is it
plausible against the knowledge base (each row's drug and test belong to its condition, and
the test values follow the sourced distribution); what did it cost per 1,000 rows that are
both valid and unique. The result is an ``EvaluationReport``, like ``evaluate()``'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from synthpatient.evaluation import Verdicts
from synthpatient.evaluation.report import RESULT_COLUMNS, SUMMARY_COLUMNS, EvaluationReport
from synthpatient.schema_only import _clinical as clinical
from synthpatient.schema_only._roles import match_columns
from synthpatient.schema_only._spec import ColumnDef, Relation, TableSchema, load_table_schema

_TEST = re.compile(r"^(?P<name>.+?):\s*(?P<value>-?\d+(?:\.\d+)?)\s+(?P<unit>\S.*)$")
#: a "depends on" relation counts as kept when the source explains at least this much
MIN_DEPENDENCE = 0.01
_SHARE = Verdicts(0.99, 0.9, "kept", "mostly kept", "often broken")


@dataclass(frozen=True)
class _Metric:
    family: str
    key: str
    verdicts: Verdicts
    lower_is_better: bool = False


METRICS = {
    m.key: m
    for m in (
        _Metric("validity", "schema_validity", _SHARE),
        _Metric(
            "consistency", "relation_violations", Verdicts(1.0, 0.99, "none", "few", "many"), True
        ),
        _Metric(
            "diversity",
            "unique_names",
            Verdicts(0.95, 0.8, "diverse", "some repeats", "repetitive"),
        ),
        _Metric(
            "diversity", "category_entropy", Verdicts(0.8, 0.5, "spread", "uneven", "collapsed")
        ),
        _Metric("diversity", "duplicate_rows", Verdicts(1.0, 0.99, "none", "few", "many"), True),
        _Metric("plausibility", "medication_consistency", _SHARE),
        _Metric("plausibility", "test_consistency", _SHARE),
        _Metric(
            "plausibility",
            "test_distribution",
            Verdicts(0.9, 0.8, "close to the source", "roughly", "far from the source"),
        ),
        _Metric(
            "cost",
            "seconds_per_1000_valid_unique_rows",
            Verdicts(np.inf, np.inf, "", "", "measured"),
        ),
    )
}


def evaluate_schema_only(
    data: pd.DataFrame,
    schema: TableSchema | str | dict[str, Any],
    *,
    seconds: float | None = None,
    seed: int = 0,
) -> EvaluationReport:
    """Measure ``data`` against its table description alone (no real rows needed).

    ``seconds``: the time the rows took, for the cost per 1,000 valid unique rows.

    Examples:
        >>> result = generate_from_schema("admissions", 1000, seed=0)
        >>> report = evaluate_schema_only(result.data, "admissions", seconds=result.seconds)
        >>> report.summary[["metric", "score", "verdict"]]
    """
    table = schema if isinstance(schema, TableSchema) else load_table_schema(schema)
    roles = {m.role: m.column for m in match_columns(table) if m.role}
    scores: dict[str, tuple[float, dict[str, Any]]] = {}
    valid = _validity(data, table)
    scores["schema_validity"] = (
        float(valid.mean()) if len(data) else float("nan"),
        {"invalid_by_column": _invalid_counts(data, table)},
    )
    scores["relation_violations"] = _relations(data, table.relations, roles)
    scores.update(_diversity(data, table, roles))
    scores.update(_plausibility(data, roles, seed))
    unique = ~data.astype(str).duplicated()
    good = int((valid & unique.to_numpy()).sum())
    per_1000 = seconds * 1000 / good if seconds is not None and good else float("nan")
    scores["seconds_per_1000_valid_unique_rows"] = (
        per_1000,
        {"valid_unique_rows": good, "seconds": seconds},
    )
    return _report(data, scores)


def _validity(data: pd.DataFrame, table: TableSchema) -> np.ndarray:
    ok = np.ones(len(data), dtype=bool)
    for column in table.columns:
        ok &= _column_ok(data, column)
    return ok


def _invalid_counts(data: pd.DataFrame, table: TableSchema) -> dict[str, int]:
    return {
        c.name: int((~_column_ok(data, c)).sum())
        for c in table.columns
        if (~_column_ok(data, c)).any()
    }


def _column_ok(data: pd.DataFrame, column: ColumnDef) -> np.ndarray:
    if column.name not in data.columns:
        return np.zeros(len(data), dtype=bool)
    values = data[column.name]
    present = values.notna().to_numpy()
    if column.kind in ("integer", "numeric"):
        numbers = pd.to_numeric(values, errors="coerce")
        ok = numbers.notna().to_numpy().copy()
        if column.kind == "integer":
            ok &= (numbers.fillna(0.5) % 1 == 0).to_numpy()
        if column.range is not None:
            ok &= numbers.between(float(column.range[0]), float(column.range[1])).to_numpy()
        return ok
    if column.kind == "date":
        dates = pd.to_datetime(values, errors="coerce")
        ok = dates.notna().to_numpy().copy()
        if column.range is not None:
            ok &= dates.between(
                pd.Timestamp(str(column.range[0])), pd.Timestamp(str(column.range[1]))
            ).to_numpy()
        return ok
    ok = present & (values.astype(str).str.strip() != "").to_numpy(dtype=bool)
    if column.values:
        ok &= values.isin(column.values).to_numpy()
    return ok


def _relations(
    data: pd.DataFrame, relations: tuple[Relation, ...], roles: dict[str, str]
) -> tuple[float, dict[str, Any]]:
    """Share of rows breaking an 'after' relation (plus, for each unmeasurable or absent
    dependence, every row: a table where billing ignores the stay breaks the relation)."""
    if not relations:
        return float("nan"), {"error": "the schema lists no relations"}
    broken = np.zeros(len(data), dtype=bool)
    per_relation = []
    for relation in relations:
        if relation.kind == "after":
            later = pd.to_datetime(data[relation.target], errors="coerce")
            earlier = pd.to_datetime(data[relation.sources[0]], errors="coerce")
            bad = ~(later > earlier).to_numpy()
            broken |= bad
            per_relation.append({"relation": relation.text, "violations": int(bad.sum())})
            continue
        strengths = {s: _dependence(data, relation.target, s, roles) for s in relation.sources}
        kept = all(v >= MIN_DEPENDENCE for v in strengths.values())
        if not kept:
            broken[:] = True
        per_relation.append({"relation": relation.text, "kept": kept, "strength": strengths})
    return float(broken.mean()) if len(data) else float("nan"), {"relations": per_relation}


def _dependence(data: pd.DataFrame, target: str, source: str, roles: dict[str, str]) -> float:
    """How much of the target the source explains: the squared Spearman correlation with the
    length of stay; eta squared of the target's ranks between the source's categories for a
    number; the squared bias-corrected Cramer's V for a category (a test result counts by the
    test's name), which small samples do not inflate."""
    values = data[target]
    numbers = pd.to_numeric(values, errors="coerce")
    if source == "length of stay":
        x = (
            pd.to_datetime(data[roles["discharge_date"]], errors="coerce")
            - pd.to_datetime(data[roles["admission_date"]], errors="coerce")
        ).dt.days
        rho = stats.spearmanr(x, numbers, nan_policy="omit").statistic
        return float(rho**2) if np.isfinite(rho) else 0.0
    groups = data[source].astype(str)
    if groups.nunique() < 2:
        return 0.0
    if numbers.notna().mean() <= 0.5:
        labels = values.astype(str).str.split(":").str[0].str.strip()
        return _cramers_v(labels, groups) ** 2
    ranks = numbers.rank()
    total = float(((ranks - ranks.mean()) ** 2).sum())
    if total == 0:
        return 0.0
    means = ranks.groupby(groups).transform("mean")
    return float(((means - ranks.mean()) ** 2).sum() / total)


def _cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Cramer's V with Bergsma's (2013) bias correction."""
    table = pd.crosstab(a, b).to_numpy(dtype=float)
    n = table.sum()
    r, k = table.shape
    if n < 2 or r < 2 or k < 2:
        return 0.0
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    r_c, k_c = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    denominator = min(k_c - 1, r_c - 1)
    return float(np.sqrt(phi2 / denominator)) if denominator > 0 else 0.0


def _diversity(
    data: pd.DataFrame, table: TableSchema, roles: dict[str, str]
) -> dict[str, tuple[float, dict[str, Any]]]:
    out: dict[str, tuple[float, dict[str, Any]]] = {}
    name = roles.get("person_name")
    if name and len(data):
        unique = float(data[name].nunique() / len(data))
        top = data[name].value_counts().head(3)
        out["unique_names"] = (unique, {"most_repeated": {str(k): int(v) for k, v in top.items()}})
    entropy = {}
    for column in table.columns:
        if column.kind != "categorical" or column.name not in data:
            continue
        counts = data[column.name].value_counts().to_numpy(dtype=float)
        k = len(column.values) if column.values else len(counts)
        if k > 1 and counts.sum():
            p = counts / counts.sum()
            entropy[column.name] = float(-(p * np.log(p)).sum() / np.log(k))
    out["category_entropy"] = (
        float(np.mean(list(entropy.values()))) if entropy else float("nan"),
        {"by_column": entropy},
    )
    duplicated = data.astype(str).duplicated(keep="first")
    out["duplicate_rows"] = (
        float(duplicated.mean()) if len(data) else float("nan"),
        {"duplicates": int(duplicated.sum())},
    )
    return out


def _plausibility(
    data: pd.DataFrame, roles: dict[str, str], seed: int
) -> dict[str, tuple[float, dict[str, Any]]]:
    condition = roles.get("condition")
    if condition is None or not len(data):
        why = {"error": "no condition column to check drugs and tests against"}
        return {
            k: (float("nan"), why)
            for k in ("medication_consistency", "test_consistency", "test_distribution")
        }
    kb = clinical.knowledge_base()
    labels = data[condition].astype(str)
    found = {label: kb.find_condition(label) for label in labels.unique()}
    out: dict[str, tuple[float, dict[str, Any]]] = {}
    if "medication" in roles:
        ok = [
            c is not None and any(_same(v, m.name, m.synonyms) for m in c.medications)
            for v, c in zip(data[roles["medication"]].astype(str), labels.map(found), strict=True)
        ]
        out["medication_consistency"] = (float(np.mean(ok)), {"rows_checked": len(ok)})
    if "test_result" in roles:
        out.update(
            _tests(data[roles["test_result"]].astype(str), labels.map(found), data, roles, seed)
        )
    return out


def _same(value: str, name: str, synonyms: tuple[str, ...]) -> bool:
    value = value.strip().lower()
    return value == name.lower() or value in (s.lower() for s in synonyms)


def _tests(
    results: pd.Series, conditions: pd.Series, data: pd.DataFrame, roles: dict[str, str], seed: int
) -> dict[str, tuple[float, dict[str, Any]]]:
    female = _female(data, roles)
    ok = np.zeros(len(results), dtype=bool)
    values: dict[str, list[tuple[float, bool]]] = {}
    for i, (text, condition) in enumerate(zip(results, conditions, strict=True)):
        match = _TEST.match(text.strip())
        if condition is None or match is None:
            continue
        test = next(
            (o for o in condition.observations if o.name.lower() == match["name"].lower()), None
        )
        if test is None or match["unit"].strip() != test.unit:
            continue
        value = float(match["value"])
        low, high = test.distribution.get("min", -np.inf), test.distribution.get("max", np.inf)
        ok[i] = low <= value <= high
        if ok[i] and not test.derived:
            values.setdefault(f"{condition.key}:{test.key}", []).append((value, bool(female[i])))
    ks = _ks_against_source(values, seed)
    mean_ks = float(np.mean(list(ks.values()))) if ks else float("nan")
    return {
        "test_consistency": (float(ok.mean()), {"rows_checked": len(ok)}),
        "test_distribution": (
            1 - mean_ks,
            {
                "ks_by_test": ks,
                "how": "1 - mean Kolmogorov-Smirnov distance to the sourced distribution",
            },
        ),
    }


def _female(data: pd.DataFrame, roles: dict[str, str]) -> np.ndarray:
    if "sex" not in roles:
        return np.zeros(len(data), dtype=bool)
    return (
        data[roles["sex"]]
        .astype(str)
        .str.strip()
        .str.lower()
        .isin(["f", "female", "woman"])
        .to_numpy()
    )


def _ks_against_source(values: dict[str, list[tuple[float, bool]]], seed: int) -> dict[str, float]:
    kb = clinical.knowledge_base()
    rng = np.random.default_rng(seed)
    out = {}
    for key, pairs in values.items():
        if len(pairs) < 20:
            continue
        condition_key, test_key = key.split(":")
        test = next(o for o in kb.conditions[condition_key].observations if o.key == test_key)
        seen = np.array([v for v, _ in pairs])
        female = np.array([f for _, f in pairs])
        reference = clinical.draw_test(test, np.repeat(female, 10), rng)
        out[key] = float(stats.ks_2samp(seen, reference).statistic)
    return out


def _report(
    data: pd.DataFrame, scores: dict[str, tuple[float, dict[str, Any]]]
) -> EvaluationReport:
    summary, results, sections = [], [], {}
    for key, (score, details) in scores.items():
        metric = METRICS[key]
        normalized = 1 - score if metric.lower_is_better else score
        level, verdict = metric.verdicts.read(normalized)
        if key.startswith("seconds") and np.isfinite(score):
            level, verdict = "info", "measured"
        if np.isnan(score) and details.get("error"):
            verdict = f"not computed ({details['error']})"
        summary.append(
            {
                "family": metric.family,
                "metric": key,
                "score": score,
                "sd": 0.0,
                "verdict": verdict,
                "level": level,
            }
        )
        results.append({"family": metric.family, "metric": key, "seed": 0, "value": score})
        sections[key] = details
    meta = {
        "n_real": 0,
        "n_synthetic": len(data),
        "n_holdout": 0,
        "columns": list(data.columns),
        "seeds": 1,
        "ignored_columns": [],
        "notices": [
            "No real data: measured against the table description and the knowledge base only."
        ],
        "skipped": {},
        "not_computed": {
            k: d["error"] for k, (s, d) in scores.items() if np.isnan(s) and d.get("error")
        },
    }
    return EvaluationReport(
        summary=pd.DataFrame(summary, columns=SUMMARY_COLUMNS),
        results=pd.DataFrame(results, columns=RESULT_COLUMNS),
        sections=sections,
        meta=meta,
        _synthetic=data,
    )
