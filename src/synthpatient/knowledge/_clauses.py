"""Comparison clauses (``egfr < 60 or uacr >= 30``) on drawn observations, as bounds.

Comorbidity definitions and contraindications written as a disjunction of comparisons can be
honoured natively by the latent draw; these helpers parse them and turn a comparison on
written (rounded) values into a bound on the raw value or its negation.
"""

from __future__ import annotations

import re

import numpy as np

from synthpatient.knowledge._model import Condition, Observation

_COMPARISON = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")


def _disjunction(definition: str, condition: Condition) -> list[tuple[str, str, float]] | None:
    """``a < x or b >= y`` over drawn observations as [(a, '<', x), ...], else None."""
    drawn = {o.key for o in condition.observations if not o.derived}
    clauses = []
    for part in definition.split(" or "):
        match = _COMPARISON.match(part)
        if not match or match.group(1) not in drawn:
            return None
        clauses.append((match.group(1), match.group(2), float(match.group(3))))
    return clauses


def _unit(obs: Observation) -> float:
    return 10.0 ** -int(obs.distribution.get("decimals", 1))


def _inclusive(op: str, x: float, obs: Observation) -> tuple[str, float]:
    """``value op x`` on written (rounded) values as a closed bound on the raw value."""
    u = _unit(obs)
    return {
        "<": ("<=", x - u + 0.49 * u),
        "<=": ("<=", x + 0.49 * u),
        ">": (">=", x + u - 0.49 * u),
        ">=": (">=", x - 0.49 * u),
    }[op]


def _negated(op: str, x: float, obs: Observation) -> tuple[float | None, float | None]:
    """(min, max) on written values where ``value op x`` does not hold."""
    u = _unit(obs)
    return {"<": (x, None), "<=": (x + u, None), ">": (None, x), ">=": (None, x - u)}[op]


def _compare(a: np.ndarray, op: str, b: np.ndarray) -> np.ndarray:
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
