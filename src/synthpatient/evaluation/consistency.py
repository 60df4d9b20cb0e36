"""Clinical consistency: does the synthetic table break clinical rules more than the real one?

The rules (:mod:`synthpatient.rules`) are checked on both tables; what counts is the EXCESS of
the synthetic violation rate over the real one, since real records break some rules too
(recording errors, rounding), and a generator should not be blamed for reproducing that.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from synthpatient.evaluation._metric import Inputs, Metric, MetricResult, Verdicts


class RuleViolations(Metric):
    """1 - the largest excess of a rule's synthetic violation rate over its real rate.

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
