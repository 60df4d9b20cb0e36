"""What a data card measures beyond how the data were made: who is represented (sex, age
bands, race/ethnicity: real vs synthetic vs the knowledge base's target), the privacy
guarantee or what was measured instead, and the known limitations of this dataset.

Only aggregates: shares of demographic groups, never a row. A group that fewer than
:data:`MIN_CELL` real rows belong to is not shown on its own (it is folded into "other
groups"), so the card cannot single out a rare real patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

#: the smallest real group shown on its own in the representation table
MIN_CELL = 5
OTHER = "other groups (each under 5 real rows)"
SEX_COLUMNS = ("sex", "gender")
RACE_COLUMNS = ("race_ethnicity", "race", "ethnicity")
#: age bands of a table whose knowledge base states none (lower bound, label)
AGE_BANDS = ((0, "0-17"), (18, "18-39"), (40, "40-59"), (60, "60-79"), (80, "80+"))
OUT_OF_SCOPE = (
    "Clinical decisions about any real patient, or use as real patients' records.",
    "Estimating real prevalence, risks or treatment effects: analyse the real data for that.",
    "Linking to or re-identifying real people.",
)
NOT_PRIVATE_USE = (
    "Sharing outside the team that may see the real data: the generator gives no formal "
    "privacy guarantee (see Privacy)."
)


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    lower = {str(c).lower(): str(c) for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


def _bands(targets: Mapping[str, Any] | None) -> list[tuple[float, float, str]]:
    """(low, high, label) age bands: the knowledge base's own ('20-39'), else the defaults."""
    if targets:
        bands = []
        for label in targets:
            low, _, high = str(label).partition("-")
            try:
                bands.append((float(low), float(high or "inf") + 1, str(label)))
            except ValueError:
                return []
        return sorted(bands)
    edges = [low for low, _ in AGE_BANDS[1:]] + [float("inf")]
    return [(low, high, label) for (low, label), high in zip(AGE_BANDS, edges, strict=True)]


def _age_groups(age: pd.Series, bands: list[tuple[float, float, str]]) -> pd.Series:
    values = pd.to_numeric(age, errors="coerce")
    out = pd.Series(pd.NA, index=age.index, dtype="object")
    for low, high, label in bands:
        out[(values >= low) & (values < high)] = label
    return out


def _shares(groups: pd.Series | None) -> dict[str, float]:
    if groups is None:
        return {}
    groups = groups.dropna().astype(str)
    return {} if groups.empty else groups.value_counts(normalize=True).to_dict()


def _rows(
    attribute: str,
    column: str,
    synthetic: pd.Series,
    real: pd.Series | None,
    target: Mapping[str, float] | None,
) -> list[dict[str, Any]]:
    syn, rea = _shares(synthetic), _shares(real)
    small = set()
    if real is not None:
        counts = real.dropna().astype(str).value_counts()
        small = {str(g) for g, n in counts.items() if n < MIN_CELL}
    order = list(dict.fromkeys([*(target or {}), *rea, *syn]))
    rows: dict[str, dict[str, Any]] = {}
    for group in order:
        # a group no real row belongs to is shown (real 0 %): it tells nothing of a patient
        label = OTHER if group in small else group
        row = rows.setdefault(
            label,
            {
                "attribute": attribute,
                "column": column,
                "group": label,
                "real": 0.0 if real is not None else None,
                "synthetic": 0.0,
                "target": (target or {}).get(group) if target else None,
            },
        )
        row["synthetic"] += syn.get(group, 0.0)
        if real is not None:
            row["real"] += rea.get(group, 0.0)
    return [_rounded(r) for r in rows.values()]


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


def representation(
    synthetic: pd.DataFrame,
    real: pd.DataFrame | None = None,
    targets: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Shares of each sex, age band and race/ethnicity group: real (when the rows learned
    from are given), synthetic, and the knowledge base's target (``targets``: ``sex``,
    ``age_bands``, ``race_ethnicity``, each group -> share)."""
    targets = targets or {}
    rows: list[dict[str, Any]] = []
    sex = _column(synthetic, SEX_COLUMNS)
    if sex is not None:
        rows += _rows(
            "sex",
            sex,
            synthetic[sex],
            None if real is None or sex not in real else real[sex],
            targets.get("sex"),
        )
    age = _column(synthetic, ("age",))
    if age is not None and pd.api.types.is_numeric_dtype(synthetic[age]):
        bands = _bands(targets.get("age_bands"))
        real_age = None if real is None or age not in real else _age_groups(real[age], bands)
        rows += _rows(
            "age band",
            age,
            _age_groups(synthetic[age], bands),
            real_age,
            targets.get("age_bands"),
        )
    race = _column(synthetic, RACE_COLUMNS)
    if race is not None:
        rows += _rows(
            "race/ethnicity",
            race,
            synthetic[race],
            None if real is None or race not in real else real[race],
            targets.get("race_ethnicity"),
        )
    return rows


def cohort_targets(condition: Any, spec: Any = None) -> dict[str, dict[str, float]]:
    """The demographic targets of a cohort, as group -> share: the knowledge base's for the
    condition, or what the request asked (one sex, a sex mix). Age bands are left out for an
    asked age range: the sources give them for all adults with the condition."""
    demographics = getattr(condition, "demographics", None) or {}
    out: dict[str, dict[str, float]] = {}
    female = (demographics.get("female_share") or {}).get("value")
    sex, asked_share = getattr(spec, "sex", None), getattr(spec, "female_share", None)
    if sex is not None:
        female = 1.0 if sex == "female" else 0.0
    elif asked_share is not None:
        female = asked_share
    if isinstance(female, (int, float)):
        out["sex"] = {"female": float(female), "male": round(1 - float(female), 4)}
    narrowed_age = spec is not None and (spec.age_min, spec.age_max) != (18, 90)
    for key in ("race_ethnicity",) if narrowed_age else ("age_bands", "race_ethnicity"):
        groups = demographics.get(key) or {}
        shares = {
            str(g): float(v["share"])
            for g, v in groups.items()
            if isinstance(v, dict) and isinstance(v.get("share"), (int, float))
        }
        if shares and len(shares) == len(groups):
            out[key] = shares
    return out


def measured_privacy(report: Any) -> dict[str, Any] | None:
    """DCR and membership inference from an evaluation against held-out rows, or None."""
    summary = getattr(report, "summary", None)
    if not isinstance(summary, pd.DataFrame) or "metric" not in summary:
        return None
    found = {}
    for key in ("dcr", "membership_inference", "exact_copies"):
        rows = summary[summary["metric"] == key]
        if len(rows) and pd.notna(rows.iloc[0]["score"]):
            row = rows.iloc[0]
            found[key] = {"score": round(float(row["score"]), 4), "verdict": str(row["verdict"])}
    return found or None


def limitations(
    data: Any, cohort: bool, evaluation: Any, sources: list[dict[str, Any]], privacy: Any
) -> dict[str, list[str]]:
    """Known limitations of this dataset, each a list of names (no values)."""
    rules = _rule_rows(evaluation)
    broken = [
        str(r.get("rule"))
        for r in rules
        if (r.get("violations", r.get("synthetic_violations")) or 0) > 0
    ]
    not_learned: list[str] = []
    schema = getattr(data, "schema", None)
    if not cohort and schema is not None:
        not_learned = [c.name for c in schema if not c.is_learned]
    merged = []
    if privacy:
        merged = [
            "Rare categories were merged into groups before noise was added, as "
            "differentially private generators do: rare values may be missing or mixed."
        ]
    return {
        "relations_not_enforced": broken,
        "unverified_sources": [str(s["id"]) for s in sources if not s.get("verified")],
        "merged_rare_categories": merged,
        "not_learned": not_learned,
    }


def _rule_rows(evaluation: Any) -> list[dict[str, Any]]:
    sections = getattr(evaluation, "sections", None)
    if isinstance(sections, Mapping) and isinstance(sections.get("rules"), pd.DataFrame):
        frame: pd.DataFrame = sections["rules"]
        return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]
    rules = getattr(evaluation, "rules", None)  # a cohort's realism report
    return list(rules) if isinstance(rules, list) else []


def limitation_sentences(found: dict[str, list[str]]) -> list[str]:
    """The limitations in words, for the card's list of limits."""
    out = []
    if found["relations_not_enforced"]:
        out.append(
            "Relations not enforced: some rows break the clinical rules "
            f"{', '.join(found['relations_not_enforced'])} (see Evaluation)."
        )
    if found["unverified_sources"]:
        out.append(
            "Sources not verified against their text: "
            f"{', '.join(found['unverified_sources'])}; check the figures they support."
        )
    out += found["merged_rare_categories"]
    if found["not_learned"]:
        out.append(
            "Not learned (identifiers made up fresh, free text left empty): "
            f"{', '.join(found['not_learned'])}."
        )
    return out
