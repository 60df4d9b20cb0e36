"""Discovering exact and near-exact relations in a training table.

What is searched, and how the search is kept to seconds on 10,000 rows x 30 columns:

* **Identities and ratios** ``y = c + sum a_i f(x_i)`` (f: the value, or ``exp`` of a column
  named as a logarithm) and ``y = c prod x_i^a_i`` (a linear identity of logarithms), with at
  most three inputs. Every subset is scored from the correlation matrix of the candidate
  columns alone (R^2 = r' R^-1 r, batched 3x3 solves), never from the rows: with 30 columns
  that is ~120,000 tiny solves. Only the best three subsets of each size with R^2 > 1 - 1e-3
  (a residual under 3% of the column's spread) are refitted on the rows, coefficients snapped
  to simple fractions, and kept when at least 99% of rows agree within what rounding
  allows. Beyond 40 candidate
  columns, each target considers the 40 most correlated with it.
* **Orders** between every pair of numeric (or of date) columns that holds in every row, kept
  only when independent draws from the two columns would break it (otherwise the bounds
  already imply it) and would do so too often for chance to explain it; implied orders
  (a < b, b < c, so a < c) are dropped. One vectorised pass per pair.
* **Presence**: a column present exactly when another is missing, present together, present
  only when another is (or only when a category column has one value), with at least 5 rows on
  each side so that chance cannot make it.
* **Mappings**: a category column fixed by another, each value of the other seen at least 3
  times.

Rows beyond 5,000 are subsampled for the search; every relation's share is measured on all
rows.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Literal

import numpy as np
import pandas as pd

from synthpatient.relations._check import check_relation, numbers, predict, step
from synthpatient.schema import ColumnSpec, Relation, Schema, Term, coerce_frame

MAX_SEARCH_ROWS = 5_000
MAX_FEATURES = 40
MIN_ROWS = 30
NEAR_EXACT = 0.99
R2_GAP = 1e-3
#: A band (a column within a fixed distance of a formula in every row, as a ratio column
#: rounded to whole numbers is of total/HDL) is screened at R^2 > 0.9 and kept only when
#: that distance is at most 0.75 of the column's standard deviation (the ratio column of the
#: bundled table sits at 0.43-0.57 over five training splits).
BAND_R2_GAP = 0.1
BAND_WIDTH = 0.75
LOG_PREFIXES = ("log_", "log", "ln_")

#: A candidate input: a column, and whether it enters as its value or as exp(value).
Feature = tuple[str, Literal["value", "exp"]]


def discover_relations(data: pd.DataFrame, schema: Schema) -> tuple[Relation, ...]:
    """Relations that hold (near-)exactly in ``data``'s learned columns, each with its share.

    Examples:
        >>> discover_relations(real, Schema.infer(real).complete(real))
        (Relation(kind='identity', column='ldl', ...), ...)
    """
    learned = [s.name for s in schema.learned if s.name in data.columns]
    if len(learned) < 2 or len(data) < MIN_ROWS:
        return ()
    typed = coerce_frame(schema, data[learned]).reset_index(drop=True)
    search = typed
    if len(typed) > MAX_SEARCH_ROWS:  # a fixed subsample: the same table, the same relations
        rows = np.random.default_rng(0).choice(len(typed), MAX_SEARCH_ROWS, replace=False)
        search = typed.iloc[np.sort(rows)].reset_index(drop=True)
    found: list[Relation] = []
    found += _identities(search, schema)
    found += _orders(search, schema, found)
    found += _presence(search, schema)
    found += _mappings(search, schema)
    out = []
    for relation in found:
        share = check_relation(relation, typed, schema).share
        if np.isfinite(share) and share >= NEAR_EXACT:
            out.append(relation.model_copy(update={"share": round(share, 6)}))
    return tuple(out)


# -- identities and ratios ---------------------------------------------------------------------
def _numeric_columns(frame: pd.DataFrame, schema: Schema) -> list[str]:
    return [
        s.name
        for s in schema.learned
        if s.kind in ("numeric", "integer")
        and s.name in frame
        and frame[s.name].notna().mean() >= 0.5
        and frame[s.name].nunique() > 2
    ]


def _identities(frame: pd.DataFrame, schema: Schema) -> list[Relation]:
    columns = _numeric_columns(frame, schema)
    if len(columns) < 2:
        return []
    complete = frame[columns].dropna()
    if len(complete) < MIN_ROWS:
        return []
    values = {c: numbers(complete[c]) for c in columns}
    linear: list[Feature] = [(c, "value") for c in columns]
    linear += [(c, "exp") for c in columns if _looks_log(c, values[c])]
    identities = _search(values, linear, columns, schema, kind="identity", n=len(complete))
    positive = [c for c in columns if np.nanmin(values[c]) > 0]
    logs = {c: np.log(values[c]) for c in positive}
    ratios = _search(
        logs, [(c, "value") for c in positive], positive, schema, "ratio", len(complete)
    )
    # one relation per column: exact identities, then exact ratios where no identity explains
    # the column, then for the columns left the narrowest band (bands have a tolerance)
    found = [r for r in identities if r.tolerance is None]
    taken = {frozenset(r.columns) for r in found}
    derived = {r.column for r in found}
    for r in ratios:
        if r.tolerance is None and frozenset(r.columns) not in taken and r.column not in derived:
            found.append(r)
            derived.add(r.column)
    bands: dict[str, Relation] = {}
    for r in identities + ratios:
        if r.tolerance is None or r.column in derived:
            continue
        if r.column not in bands or r.tolerance < (bands[r.column].tolerance or 0):
            bands[r.column] = r
    return _ordered(_one_per_column_set(found + list(bands.values()), schema, complete))


def _looks_log(name: str, values: np.ndarray) -> bool:
    lower = name.lower()
    return lower.startswith(LOG_PREFIXES) and float(np.nanmax(np.abs(values))) < 30


def _search(
    values: dict[str, np.ndarray],
    features: list[Feature],
    targets: list[str],
    schema: Schema,
    kind: Literal["identity", "ratio"],
    n: int,
) -> list[Relation]:
    """The best-fitting smallest subset of features per target, refitted and checked."""
    if len(features) < 2:
        return []
    matrix = np.column_stack([np.exp(values[c]) if f == "exp" else values[c] for c, f in features])
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = matrix.std(axis=0)
        keep = np.isfinite(spread) & (spread > 0) & np.isfinite(matrix).all(axis=0)
        corr = np.corrcoef(matrix[:, keep], rowvar=False)
    features = [f for f, k in zip(features, keep, strict=True) if k]
    matrix = matrix[:, keep]
    if len(features) < 2 or not np.isfinite(corr).all():
        return []
    found: list[Relation] = []
    for target in targets:
        if (target, "value") not in features:
            continue
        t = features.index((target, "value"))
        others = [i for i, f in enumerate(features) if f[0] != target]
        if len(others) > MAX_FEATURES:
            others = sorted(others, key=lambda i: -abs(corr[t, i]))[:MAX_FEATURES]
        relation = None
        scored = _near_subsets(corr, t, others, n)
        for r2, subset in scored:
            if r2 > 1 - R2_GAP:
                relation = _refit(matrix, features, t, subset, schema, kind, values)
                if relation is not None:
                    break
        bands = [subset for r2, subset in scored if r2 > 1 - BAND_R2_GAP]
        if relation is None and bands:
            relation = _band(matrix, features, t, bands[0], schema, kind)
        if relation is not None:
            found.append(relation)
    return found


def _near_subsets(
    corr: np.ndarray, t: int, others: list[int], n: int
) -> list[tuple[float, list[int]]]:
    """Subsets of 1 to 3 columns that explain ``t`` all but exactly (scored from ``corr``),
    smallest first, the best 3 of each size: rounding leaves a residual, so the screen is
    loose (R^2 > 1 - 1e-3) and the rows decide."""
    out: list[tuple[float, list[int]]] = []
    for size in (1, 2, 3):
        if n < 10 * (size + 1):
            break
        subsets = np.array(list(itertools.combinations(others, size)), dtype=np.int64)
        if not len(subsets):
            break
        r = corr[t][subsets]  # (m, size)
        block = corr[subsets[:, :, None], subsets[:, None, :]]  # (m, size, size)
        ok = np.abs(np.linalg.det(block)) > 1e-10  # collinear inputs explain nothing new
        if not ok.any():
            continue
        r, block, subsets = r[ok], block[ok], subsets[ok]
        r2 = np.einsum("mi,mi->m", r, np.linalg.solve(block, r[:, :, None])[:, :, 0])
        best = np.argsort(-r2)[:3]
        out += [(float(r2[i]), [int(j) for j in subsets[i]]) for i in best]
    return out


def _refit(
    matrix: np.ndarray,
    features: list[Feature],
    t: int,
    subset: list[int],
    schema: Schema,
    kind: Literal["identity", "ratio"],
    values: dict[str, np.ndarray],
) -> Relation | None:
    """Least squares on the rows; coefficients snapped to simple fractions when as good."""
    design = np.column_stack([matrix[:, subset], np.ones(len(matrix))])
    coef, *_ = np.linalg.lstsq(design, matrix[:, t], rcond=None)
    target = features[t][0]

    def build(weights: np.ndarray, intercept: float) -> Relation:
        terms = tuple(
            Term(column=features[j][0], coefficient=float(w), transform=features[j][1])
            for j, w in zip(subset, weights, strict=True)
        )
        return Relation(
            kind=kind, column=target, terms=terms, constant=intercept, source="discovered"
        )

    frame = pd.DataFrame({c: v if kind == "identity" else np.exp(v) for c, v in values.items()})
    raw = float(np.exp(coef[-1])) if kind == "ratio" else float(coef[-1])
    fitted = build(coef[:-1], raw)
    fitted_share = check_relation(fitted, frame, schema).share
    # the simplest constant that does as well: 10000 rather than 9997 for BMI from cm
    for constant in _simple_constants(raw, kind, schema[target]):
        snapped = build(_snap(coef[:-1]), constant)
        share = check_relation(snapped, frame, schema).share
        if share >= fitted_share - 1e-3 and share >= NEAR_EXACT:
            return snapped
    return fitted if fitted_share >= NEAR_EXACT else None


def _band(
    matrix: np.ndarray,
    features: list[Feature],
    t: int,
    subset: list[int],
    schema: Schema,
    kind: Literal["identity", "ratio"],
) -> Relation | None:
    """The column within a fixed distance of a formula of ``subset`` in every row, when that
    distance is under BAND_WIDTH of its standard deviation; the tolerance is that distance."""
    design = np.column_stack([matrix[:, subset], np.ones(len(matrix))])
    coef, *_ = np.linalg.lstsq(design, matrix[:, t], rcond=None)
    target = features[t][0]
    # ratios were fitted on logarithms: residuals are measured on the values themselves
    y = np.exp(matrix[:, t]) if kind == "ratio" else matrix[:, t]
    inputs = np.exp(matrix[:, subset]) if kind == "ratio" else matrix[:, subset]
    spread = float(y.std())
    raw = float(np.exp(coef[-1])) if kind == "ratio" else float(coef[-1])
    weights = coef[:-1]

    def worst(w: np.ndarray, constant: float) -> float:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            fit = (
                constant * np.prod(inputs**w, axis=1) if kind == "ratio" else constant + inputs @ w
            )
        return float(np.max(np.abs(y - fit)))

    best = worst(weights, raw)
    chosen = (weights, raw)
    # a band is loose: the simplest formula (total / HDL) is taken when it is nearly as tight
    simple = _snap(weights, within=0.05)
    for constant in _simple_constants(raw, kind, schema[target]):
        if worst(simple, constant) <= 1.1 * best:
            chosen = (simple, constant)
            break
    width = worst(*chosen)
    if not np.isfinite(width) or spread <= 0 or best > BAND_WIDTH * spread:
        return None
    unit = step(schema[target]) or 1e-9
    terms = tuple(
        Term(column=features[j][0], coefficient=float(w), transform=features[j][1])
        for j, w in zip(subset, chosen[0], strict=True)
    )
    return Relation(
        kind=kind,
        column=target,
        terms=terms,
        constant=chosen[1],
        tolerance=round(float(np.ceil(width / unit) * unit + unit), 10),
        source="discovered",
    )


def _snap(weights: np.ndarray, within: float = 1e-3) -> np.ndarray:
    out = weights.copy()
    for i, w in enumerate(weights):
        simple = float(Fraction(float(w)).limit_denominator(12))
        if abs(simple - w) <= within * max(1.0, abs(w)):
            out[i] = simple
    return out


def _simple_constants(constant: float, kind: str, spec: ColumnSpec) -> list[float]:
    """Candidate constants, simplest first."""
    if kind == "ratio":
        tries = [float(f"{10.0 ** np.round(np.log10(constant)):.1g}")]
        tries += [float(f"{constant:.{d}g}") for d in (1, 2, 3, 4)]
        return [m for m in tries if m > 0]
    unit = step(spec) or 1e-6
    return [0.0, float(np.round(constant / unit) * unit)]


def _one_per_column_set(
    found: list[Relation], schema: Schema, frame: pd.DataFrame
) -> list[Relation]:
    """One identity per set of columns: the same identity is found once per column in it.
    Keep the one that derives the column with the finest rounding (LDL, not the whole-number
    total cholesterol), then the one off its formula by no more than its own rounding in most
    rows (a computed column, as BMI from weight and height: the other way round the inputs'
    rounding adds up), the most distinct values (LDL rather than HDL), the later column."""
    distinct = {c: int(frame[c].nunique()) for c in frame.columns}
    order = {name: i for i, name in enumerate(schema.names)}
    groups: dict[frozenset[str], list[Relation]] = {}
    for relation in found:
        groups.setdefault(frozenset(relation.columns), []).append(relation)
    return [
        max(
            group,
            key=lambda r: (
                _fineness(schema, r.column),
                _own_rounding(r, frame, schema),
                distinct[r.column],
                order[r.column],
            ),
        )
        for group in groups.values()
    ]


def _own_rounding(relation: Relation, frame: pd.DataFrame, schema: Schema) -> float:
    half = step(schema[relation.column]) / 2 + 1e-9
    residual = np.abs(numbers(frame[relation.column]) - predict(relation, frame))
    return round(float(np.mean(residual <= half)), 2)


def _fineness(schema: Schema, column: str) -> int:
    spec = schema[column]
    return -1 if spec.kind == "integer" else (spec.decimals if spec.decimals is not None else 12)


def _ordered(found: list[Relation]) -> list[Relation]:
    """Identities in an order where each derived column is computed before it is read; one
    that would close a cycle is dropped."""
    out: list[Relation] = []
    pending = list(found)
    while pending:
        targets = {r.column for r in pending}
        ready = [r for r in pending if not (set(r.columns[1:]) & (targets - {r.column}))]
        if not ready:
            pending = pending[1:]
            continue
        out += ready
        pending = [r for r in pending if r not in ready]
    return out


# -- orders ------------------------------------------------------------------------------------
def _orders(frame: pd.DataFrame, schema: Schema, identities: list[Relation]) -> list[Relation]:
    groups = {
        "number": [s.name for s in schema.learned if s.kind in ("numeric", "integer")],
        "date": [s.name for s in schema.learned if s.kind == "datetime"],
    }
    found: list[Relation] = []
    for names in groups.values():
        values = {c: numbers(frame[c]) for c in names}
        for a, b in itertools.combinations(names, 2):
            relation = _order(a, b, values[a], values[b])
            if relation is not None:
                found.append(relation)
    return _without_implied(found)


def _order(a: str, b: str, x: np.ndarray, y: np.ndarray) -> Relation | None:
    both = np.isfinite(x) & np.isfinite(y)
    n = int(both.sum())
    if n < MIN_ROWS:
        return None
    x, y = x[both], y[both]
    for left, right, lv, rv in ((a, b, x, y), (b, a, y, x)):
        if not np.all(lv <= rv):
            continue
        strict = bool(np.all(lv < rv))
        # share of independent (left, right) pairs that break it: the order is worth
        # recording only when the bounds do not already imply it and chance cannot explain it
        ordered = np.sort(rv)
        below = np.searchsorted(ordered, lv, side="right" if strict else "left")
        broken = float(below.mean() / n)
        if broken >= 0.01 and (1 - broken) ** n < 1e-3:
            op: Literal["<", "<="] = "<" if strict else "<="
            return Relation(kind="order", column=left, op=op, other=right, source="discovered")
    return None


def _without_implied(found: list[Relation]) -> list[Relation]:
    pairs = {(r.column, str(r.other)) for r in found}
    keep = []
    for r in found:
        middle = {b for a, b in pairs if a == r.column} & {a for a, b in pairs if b == r.other}
        if not middle:
            keep.append(r)
    return keep


# -- presence and mappings ---------------------------------------------------------------------
def _presence(frame: pd.DataFrame, schema: Schema) -> list[Relation]:
    has = {s.name: frame[s.name].notna().to_numpy() for s in schema.learned}
    partial = [c for c, h in has.items() if 5 <= h.sum() <= len(h) - 5]
    found: list[Relation] = []
    for a, b in itertools.permutations(partial, 2):
        ha, hb = has[a], has[b]
        if schema.names.index(a) > schema.names.index(b) and np.array_equal(ha, hb):
            found.append(_presence_relation(a, b, "same"))
        elif schema.names.index(a) > schema.names.index(b) and np.array_equal(ha, ~hb):
            found.append(_presence_relation(a, b, "exclusive"))
        elif not (ha & ~hb).any() and (~ha & hb).sum() >= 5 and _not_chance(ha, hb):
            found.append(_presence_relation(a, b, "only_if"))
    for a in partial:
        for spec in schema.learned:
            if spec.kind not in ("categorical", "boolean") or spec.name == a:
                continue
            found += _presence_on_value(a, spec.name, has[a], frame[spec.name], spec.kind)
    return found


def _not_chance(ha: np.ndarray, hb: np.ndarray) -> bool:
    """Whether independent columns would rarely (p < 0.001) show no row with ``a`` present
    and ``b`` missing."""
    p_break = float(ha.mean() * (1 - hb.mean()))
    return bool((1 - p_break) ** len(ha) < 1e-3)


def _presence_relation(a: str, b: str, mode: str) -> Relation:
    return Relation(kind="presence", column=a, other=b, presence=mode, source="discovered")  # type: ignore[arg-type]


def _presence_on_value(a: str, b: str, ha: np.ndarray, cue: pd.Series, kind: str) -> list[Relation]:
    counts = cue.value_counts()
    if not 2 <= len(counts) <= 20 or cue.isna().any():
        return []
    seen = cue.to_numpy()
    for value in counts.index:
        is_value = seen == value
        if (ha & ~is_value).any():
            continue
        mode = "same" if np.array_equal(ha, is_value) else "only_if"
        if mode == "only_if" and ((~ha & is_value).sum() < 5 or not _not_chance(ha, is_value)):
            continue
        plain = value.item() if hasattr(value, "item") else value
        return [
            Relation(
                kind="presence",
                column=a,
                other=b,
                presence=mode,  # type: ignore[arg-type]
                value=plain,
                source="discovered",
                observed=kind != "boolean",
            )
        ]
    return []


def _mappings(frame: pd.DataFrame, schema: Schema) -> list[Relation]:
    names = [s.name for s in schema.learned if s.kind in ("categorical", "boolean")]
    # integer codes (missing -1): a fixes b only if the pairs seen are as many as a's values,
    # one np.unique per pair; the few pairs that pass are then checked in detail
    codes = {c: pd.factorize(frame[c])[0].astype(np.int64) for c in names}
    found: list[Relation] = []
    for a, b in itertools.permutations(names, 2):
        both = (codes[a] >= 0) & (codes[b] >= 0)
        ka, kb = codes[a][both], codes[b][both]
        if len(ka) < MIN_ROWS or np.unique(ka * (kb.max() + 1) + kb).size != np.unique(ka).size:
            continue
        pairs = frame[[a, b]].dropna()
        if len(pairs) < MIN_ROWS or pairs[b].nunique() < 2 or pairs[a].nunique() < 2:
            continue
        counts = pairs.groupby(a, observed=True)[b].agg(["nunique", "size"])
        if (counts["nunique"] > 1).any() or (counts["size"] < 3).any():
            continue
        reverse = pairs.groupby(b, observed=True)[a].nunique()
        if (reverse == 1).all() and schema.names.index(a) > schema.names.index(b):
            continue  # a one-to-one pair: recorded once, the later column fixed by the earlier
        table = pairs.drop_duplicates(a)
        mapping = tuple((_plain(x), _plain(y)) for x, y in zip(table[a], table[b], strict=True))
        found.append(
            Relation(
                kind="mapping",
                column=b,
                other=a,
                mapping=mapping,
                source="discovered",
                observed=True,
            )
        )
    return found


def _plain(value: object) -> str | int | float | bool:
    item = value.item() if hasattr(value, "item") else value
    return item if isinstance(item, str | int | float | bool) else str(item)
