"""Does a drawn cohort look like its sources? Targets, clinical rules and identities, checked.

Every target of the knowledge base (HbA1c bands, means, shares below or above a threshold,
correlations, comorbidity prevalences, drug shares, the treated share) is measured on the
cohort and compared with the sourced value and its tolerance. The clinical rules are built
from the same knowledge base (ranges, value-defined comorbidities, contraindications, the
diagnosis, date order, Friedewald and CKD-EPI identities) and checked with the rule engine of
the evaluation suite, so a violation is reported the same way as for any synthetic table.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.knowledge._model import Condition
from synthpatient.knowledge._regimen import conflicting_pairs
from synthpatient.knowledge._targets import (
    DEFAULT_SHARE_TOLERANCE,
    TargetCheck,
    Unjudged,
    sourced_targets,
)
from synthpatient.knowledge.sampler import Cohort, ckd_epi_2021_egfr
from synthpatient.rules import Rule, RuleSet, load_rule_pack

__all__ = [
    "DEFAULT_SHARE_TOLERANCE",
    "RealismReport",
    "TargetCheck",
    "Unjudged",
    "check_cohort",
    "cohort_rules",
]

#: The rule pack of physiological relations every cohort is checked against.
PHYSIOLOGY_PACK = "cohort_physiology"


@dataclass(frozen=True)
class RealismReport:
    """Targets and rules measured on one cohort; ``ok`` when every check passes."""

    condition: str
    n: int
    targets: list[TargetCheck]
    rules: list[dict]
    skipped_targets: list[str]
    # with a history: where the snapshot targets were measured, and the history's own checks
    measured_at: str = "each patient's values"
    history: list[dict[str, Any]] = field(default_factory=list)
    # targets a narrowed cohort cannot be judged by (no source gives the narrower figure)
    unjudged: list[Unjudged] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            all(t.ok for t in self.targets)
            and not any(r["violations"] for r in self.rules)
            and all(h["ok"] for h in self.history if h.get("judged", True))
        )

    def to_dict(self) -> dict:
        return {
            "condition": self.condition,
            "n": self.n,
            "ok": self.ok,
            "targets": [{**asdict(t), "ok": t.ok} for t in self.targets],
            "rules": self.rules,
            "skipped_targets": self.skipped_targets,
            "measured_at": self.measured_at,
            "history": self.history,
            "unjudged": [asdict(u) for u in self.unjudged],
            "summary": self.summary(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def summary(self) -> str:
        """One line: targets met of those judged, those not judged, rules that hold."""
        met = sum(t.ok for t in self.targets)
        held = sum(not r["violations"] for r in self.rules)
        if self.targets:
            line = f"{met}/{len(self.targets)} sourced targets met"
            if self.unjudged:
                line += f", {len(self.unjudged)} not judged (no source for this narrower cohort)"
        elif self.unjudged:  # "0/0 targets met" read as a pass of nothing
            line = (
                f"no sourced target applies to this narrower cohort ({len(self.unjudged)} not "
                "judged)"
            )
        else:
            line = "no sourced target to judge"
        return f"{line}; {held}/{len(self.rules)} clinical rules hold"

    def to_markdown(self) -> str:
        lines = [
            f"# Realism of {self.n:,} {self.condition} patients",
            "",
            self.summary() + ".",
            "",
            "| check | target | measured | tolerance | ok | sources |",
            "|---|---|---|---|---|---|",
        ]
        if not self.targets:
            lines.append(
                "| (none: no sourced target applies to this cohort as narrowed) | | | | | |"
            )
        for t in self.targets:
            tol = "at least" if t.kind == "at least" else f"± {t.tolerance:g}"
            lines.append(
                f"| {t.what} | {t.target:.3f} | {t.measured:.3f} | {tol} | "
                f"{'yes' if t.ok else 'NO'} | {', '.join(t.sources)} |"
            )
        if self.unjudged:
            lines += [
                "",
                "## Not judged",
                "",
                f"{len(self.unjudged)} targets describe the whole population and cannot judge "
                f"this narrower cohort ({self.unjudged[0].why}); measured for information:",
                "",
            ]
            lines += [
                f"- {u.what}: {u.measured:.3f} (whole population {u.target:.3f})"
                for u in self.unjudged
            ]
        held = sum(not r["violations"] for r in self.rules)
        lines += [
            "",
            f"## Clinical rules: {held}/{len(self.rules)} hold",
            "",
            "| rule | what it checks | rows checked | violations |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['rule']} | {r['description']} | {r['applicable']:,} | {r['violations']:,} |"
            for r in self.rules
        ]
        if self.skipped_targets:
            lines += ["", "Not checked (not in the cohort): " + ", ".join(self.skipped_targets)]
        lines += ["", f"Targets and rules above measured on {self.measured_at}."]
        if self.history:
            lines += ["", "## Patient histories", ""]
            lines += [f"- {h['line']}" for h in self.history]
        return "\n".join(lines) + "\n"


def check_cohort(cohort: Cohort) -> RealismReport:
    """Measure ``cohort`` against its condition's sourced targets and clinical rules.

    With a history, the targets (cross-sectional shares of the population) and rules are
    measured on the drawn cross-section, each patient's first visit, and the history's own
    measures (testing interval, lag-1 correlation, eGFR slope, intensification, date order)
    are added beside their sourced targets.
    """
    if cohort.timeline is not None and cohort.baseline is not None:
        from synthpatient.knowledge.timeline import timeline_checks

        snapshot = dataclasses.replace(cohort, wide=cohort.baseline, timeline=None, baseline=None)
        return dataclasses.replace(
            check_cohort(snapshot),
            measured_at="each patient's first visit (the cross-section the targets describe)",
            history=[_history_entry(c, cohort) for c in timeline_checks(cohort)],
        )
    condition, wide = cohort.condition, cohort.wide
    # a narrowed cohort is judged only by targets conditioned on its narrowing (where the
    # sources allow); the others are listed as not judged, never silently passed
    checks, skipped, unjudged = sourced_targets(cohort)
    results = [
        {
            "rule": r.rule_id,
            "description": r.description,
            "applicable": r.n_applicable,
            "violations": r.n_violations,
        }
        for r in cohort_rules(condition, wide).check(wide)
    ]
    results += _identities(wide)
    return RealismReport(condition.key, len(wide), checks, results, skipped, unjudged=unjudged)


def _history_entry(check: Any, cohort: Cohort) -> dict[str, Any]:
    """A history check as the report keeps it. A share of the whole population at the end
    (controlled, on 3 or more drugs) or an event rate is not judged on a cohort narrowed by
    sex, age or a filter, as the snapshot's targets are not: no source gives the narrower
    figure."""
    entry = {**dataclasses.asdict(check), "ok": check.ok, "line": check.line()}
    spec = cohort.spec
    narrowed = bool(spec.filters) or spec.sex is not None or spec.female_share is not None
    narrowed |= (spec.age_min, spec.age_max) != (18, 90)
    timeline = cohort.condition.timeline
    declared = {c.key: c for c in timeline.checks} if timeline is not None else {}
    sourced = declared.get(check.key)
    # shares at the end and event rates describe the whole population; a lag-1 correlation,
    # a visit spacing or a slope describe the mechanism, judged on any cohort
    population = sourced is not None and bool(
        sourced.expression is not None or sourced.drugs or sourced.complication
    )
    if narrowed and population:
        entry["judged"] = False
        entry["line"] = (
            f"{check.line().rsplit(')', 1)[0]}) not judged: a figure for the whole population, "
            "and this cohort is narrowed"
        )
    return entry


def _rule(**fields: Any) -> Rule:
    """A rule from plain fields (pydantic builds the nested range/compare/implies specs)."""
    return Rule.model_validate(fields)


def cohort_rules(condition: Condition, wide: pd.DataFrame | None = None) -> RuleSet:
    """Clinical rules implied by the knowledge base for ``condition`` (only those whose
    columns ``wide`` has, when given)."""
    rules = [
        *_age_and_date_rules(),
        *_value_rules(condition),
        *_treatment_rules(condition),
        *_regimen_rules(condition),
        *_identity_rules(condition),
        *load_rule_pack(PHYSIOLOGY_PACK).rules,
    ]
    ruleset = RuleSet(
        rules,
        name=f"cohort-{condition.key}",
        description=f"Clinical rules for {condition.name} cohorts",
    )
    return ruleset if wide is None else ruleset.restricted_to(set(wide.columns))


def _age_and_date_rules() -> list[Rule]:
    """Adults only, and dates in order: birth < diagnosis <= last visit."""
    return [
        _rule(
            id="adult-age",
            description="patients are adults aged 18-90",
            range={"column": "age", "min": 18, "max": 90},
        ),
        _rule(
            id="born-before-diagnosis",
            description="birth precedes diagnosis",
            compare={"left": "birth_date", "op": "<", "right": "diagnosis_date"},
        ),
        _rule(
            id="diagnosis-before-visit",
            description="the last visit is not before diagnosis",
            compare={"left": "diagnosis_date", "op": "<=", "right": "last_visit_date"},
        ),
    ]


def _value_rules(condition: Condition) -> list[Rule]:
    """Each observation within its sourced range; value-defined comorbidities exactly when
    their definition holds."""
    rules = []
    for obs in condition.observations:
        d = obs.distribution
        rules.append(
            _rule(
                id=f"{obs.key}-range",
                description=f"{obs.name} within {d.get('min')}-{d.get('max')} {obs.unit}",
                range={"column": obs.key, "min": d.get("min"), "max": d.get("max")},
            )
        )
    rules += [
        _rule(
            id=f"{c.key}-definition",
            description=f"{c.name} exactly when {c.definition}",
            expression=f"({c.key} == True) == ({c.definition})",
        )
        for c in condition.comorbidities
        if c.definition
    ]
    return rules


def _treatment_rules(condition: Condition) -> list[Rule]:
    """Untreated patients meet the diagnosis, treated ones take a therapy of it, and no drug
    is given where contraindicated or without its indication."""
    rules = []
    if condition.treatment is not None:
        if condition.treatment.untreated_requires:
            rules.append(
                _rule(
                    id="diagnosis-supported",
                    description="untreated patients meet "
                    f"the diagnostic criteria ({condition.treatment.untreated_requires})",
                    implies={
                        "if": "treated == False",
                        "then": condition.treatment.untreated_requires,
                    },
                )
            )
        drugs = [f"on_{m.key} == True" for m in condition.medications if m.treats]
        if drugs:
            rules.append(
                _rule(
                    id="treated-has-therapy",
                    description="treated patients take a therapy of the condition",
                    implies={"if": "treated == True", "then": " or ".join(drugs)},
                )
            )
    for m in condition.medications:
        if m.contraindication:
            rules.append(
                _rule(
                    id=f"{m.key}-contraindication",
                    description=f"{m.name} is not given where {m.contraindication}",
                    implies={"if": f"on_{m.key} == True", "then": f"not ({m.contraindication})"},
                )
            )
        if m.requires:
            rules.append(
                _rule(
                    id=f"{m.key}-indication",
                    description=f"{m.name} only with {m.requires}",
                    implies={"if": f"on_{m.key} == True", "then": f"{m.requires} == True"},
                )
            )
    return rules


def _regimen_rules(condition: Condition) -> list[Rule]:
    """No two drugs of one class, nor of two classes the knowledge base lists as never given
    together (an ACE inhibitor with sacubitril/valsartan or with an ARB)."""
    return [
        _rule(
            id=f"no-{p.a.key}-with-{p.b.key}",
            description=f"{p.a.name} and {p.b.name} are never taken together ({p.kind}: {p.why})",
            implies={"if": f"on_{p.a.key} == True", "then": f"on_{p.b.key} == False"},
        )
        for p in conflicting_pairs(condition)
    ]


def _identity_rules(condition: Condition) -> list[Rule]:
    """The lipid identities (Friedewald LDL, non-HDL) where the condition records them."""
    keys = {o.key for o in condition.observations}
    rules = []
    if {"ldl", "hdl", "triglycerides", "total_cholesterol"} <= keys:
        rules.append(
            _rule(
                id="friedewald-ldl",
                description="LDL = total cholesterol - HDL - triglycerides / 5 (within 1 mg/dL)",
                expression="abs(ldl - (total_cholesterol - hdl - triglycerides / 5)) <= 1",
            )
        )
    if {"hdl", "total_cholesterol", "non_hdl"} <= keys:
        rules.append(
            _rule(
                id="non-hdl",
                description="non-HDL = total cholesterol - HDL",
                expression="abs(non_hdl - (total_cholesterol - hdl)) <= 1",
            )
        )
    return rules


def _identities(wide: pd.DataFrame) -> list[dict]:
    """Identities the rule language cannot spell: creatinine and eGFR by CKD-EPI 2021."""
    out = []
    if {"creatinine", "egfr"} <= set(wide):
        female = (wide["sex"] == "female").to_numpy()
        egfr = ckd_epi_2021_egfr(
            wide["creatinine"].to_numpy(float), wide["age"].to_numpy(float), female
        )
        # creatinine is written with 2 decimals: allow the eGFR that rounding can move
        off = np.abs(egfr - wide["egfr"].to_numpy(float)) > np.maximum(1.5, 0.02 * egfr)
        out.append(
            {
                "rule": "ckd-epi-2021",
                "description": "eGFR agrees with creatinine, age and sex by CKD-EPI 2021",
                "applicable": len(wide),
                "violations": int(off.sum()),
            }
        )
    return out
