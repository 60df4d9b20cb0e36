"""The metric contract (after SDMetrics): a key, a family, a goal, bounds, and ``compute``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Family = Literal["fidelity", "utility", "privacy", "consistency", "representation"]


@dataclass(frozen=True)
class MetricResult:
    """A metric's value; ``score`` is in the metric's bounds, ``details`` is JSON-able."""

    score: float
    details: dict[str, Any] = field(default_factory=dict)


class Metric:
    """Base of every metric. Metrics never modify the tables they are given."""

    key: ClassVar[str]
    family: ClassVar[Family]
    goal: ClassVar[Literal["maximize", "minimize"]] = "maximize"
    bounds: ClassVar[tuple[float, float]] = (0.0, 1.0)
