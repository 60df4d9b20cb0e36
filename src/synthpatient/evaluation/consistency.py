"""Clinical consistency: does the synthetic table break clinical rules more than the real one?

The rules (:mod:`synthpatient.rules`) are checked on both tables; what counts is the EXCESS of
the synthetic violation rate over the real one, since real records break some rules too
(recording errors, rounding), and a generator should not be blamed for reproducing that.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from synthpatient.evaluation._metric import Inputs, Metric, MetricResult, Verdicts

#: Columns of a rule table (``RuleSet.compare``), which the relations' rows share.
_RULE_COLUMNS = [
    "rule",
    "description",
    "real_violations",
    "real_rate",
    "synthetic_violations",
    "synthetic_rate",
    "synthetic_applicable",
]


def relation_table(inputs: Inputs) -> pd.DataFrame:
    """One rule-table row per relation of the schema (discovered on the real rows when the
    schema records none) whose columns both tables have."""
    from synthpatient.relations import check_relation

    schema = inputs.schema.complete(inputs.real)  # rounding steps; relations when None
    rows = []
    for relation in schema.relations or ():
        if not all(c in inputs.synthetic and c in inputs.real for c in relation.columns):
            continue
        real = check_relation(relation, inputs.real.reset_index(drop=True), schema)
        synthetic = check_relation(relation, inputs.synthetic.reset_index(drop=True), schema)
        rows.append(
            {
                "rule": f"relation: {relation.text}",
                "description": f"{relation.kind} relation of the schema ({relation.source})",
                "real_violations": int(real.violations.sum()),
                "real_rate": 1 - real.share,
                "synthetic_violations": int(synthetic.violations.sum()),
                "synthetic_rate": 1 - synthetic.share,
                "synthetic_applicable": int(synthetic.applicable.sum()),
            }
        )
    return pd.DataFrame(rows, columns=_RULE_COLUMNS)


class RuleViolations(Metric):
    """1 - the largest excess of a rule's synthetic violation rate over its real rate.

    The rules are the given rule pack and the schema's relations between columns (found in
    the real table when the schema records none; see :mod:`synthpatient.relations`), each
    relation a row named ``relation: <its text>``.

    Details: ``table`` (one row per rule: its real and synthetic violation rates),
    ``excess_max`` (1 - the score) and ``excess_mean`` (the mean excess over the rules, the
    benchmark's "rule excess"). A row missing a value a rule reads is not checked.

    Examples:
        >>> from synthpatient.rules import load_rule_pack
        >>> RuleViolations().compute(real, synthetic, rules=load_rule_pack("diabetes")).score
        0.98
    """

    key = "rule_violations"
    family = "consistency"
    name = "Clinical rules"
    verdicts = Verdicts(
        0.99,
        0.95,
        "no more rule violations than the real data",
        "a few more violations than the real data",
        "many more violations than the real data",
    )
    requires = frozenset({"rules"})

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        rules = inputs.rules
        assert rules is not None  # in `requires`: compute_inputs refused it missing
        table = rules.compare(inputs.real, inputs.synthetic)
        table = pd.concat([table, relation_table(inputs)], ignore_index=True)
        excess = (table["synthetic_rate"].fillna(0) - table["real_rate"].fillna(0)).clip(lower=0)
        worst = float(excess.max()) if len(excess) else 0.0
        return 1.0 - worst, {
            "rule_pack": rules.name,
            "table": table,
            "excess_max": worst,
            "excess_mean": float(excess.mean()) if len(excess) else float("nan"),
        }

    def report_sections(self, result: MetricResult) -> dict[str, Any]:
        # the per-rule table keeps its own section, "rules", which the web app shows
        summary = {k: v for k, v in result.details.items() if k != "table"}
        table: pd.DataFrame = result.details["table"]
        return {self.key: summary, "rules": table}
