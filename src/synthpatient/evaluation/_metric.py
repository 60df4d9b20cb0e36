"""The metric contract (after SDMetrics): a key, a family, a goal, bounds, and ``compute``.

Two kinds of metric live in :mod:`synthpatient.evaluation`:

* :class:`Metric`, a table metric: ``compute(real, synthetic, *, holdout, schema, seed, ...)``
  on whole tables, listed in :mod:`synthpatient.evaluation.registry` and run by
  :func:`~synthpatient.evaluation.evaluate.evaluate`. Public ``compute`` lives only here: it
  checks the tables and the metric's ``requires``, then calls the subclass's ``_compute``
  hook, and returns a :class:`MetricResult` with the score normalised to [0, 1].
* :class:`ColumnMetric`, SDMetrics' single-column and column-pair building blocks
  (KSComplement, TVComplement, CorrelationSimilarity, ContingencySimilarity), which keep
  SDMetrics' names, signatures and definitions so that figures compare across tools.

Neither kind ever modifies the tables it is given.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd

from synthpatient._params import KeywordParams
from synthpatient._random import check_seed
from synthpatient.errors import InvalidParameterError
from synthpatient.evaluation._encoding import check_frame
from synthpatient.evaluation._histories import Timeline
from synthpatient.schema import Schema

if TYPE_CHECKING:
    from synthpatient.rules import RuleSet

Family = Literal["fidelity", "utility", "privacy", "consistency", "representation"]
FAMILIES: tuple[Family, ...] = ("fidelity", "utility", "privacy", "consistency", "representation")
Goal = Literal["maximize", "minimize"]
Requirement = Literal["holdout", "target", "rules", "sensitive", "examples", "timeline"]

#: Why a metric that needs an input cannot run without it, and how to give it.
REQUIREMENTS: dict[str, str] = {
    "holdout": "no holdout was given (real rows the generator never saw: pass holdout= or "
    "--holdout)",
    "target": "no target column was given (pass target= or --target)",
    "rules": "no clinical rules were given (pass rules= or --rules)",
    "sensitive": "no sensitive column was given (pass sensitive= or --sensitive)",
    "examples": "no prompt examples were given (the rows shown to a prompted generator: pass "
    "examples=)",
    "timeline": "no patient timeline was given or found: each row is its own patient (for a "
    "long table with several rows per patient, pass patient_key= and time_column=)",
}


@dataclass(frozen=True)
class MetricResult:
    """A metric's value.

    Attributes:
        score: The value in the metric's ``bounds`` (NaN when not computable on these tables).
        details: What the score was computed from and what explains it: numbers, strings,
            lists, dicts, and tables as DataFrames (the report's JSON turns them into records).
            Long per-row lists only under keys named ``distances_*`` / ``*_values`` (left out
            of the report's JSON).
        normalized: The score on [0, 1] with 1 best, whatever the goal and bounds (equal to
            ``score`` for the usual [0, 1] maximised metrics; NaN when the score is).

    Examples:
        >>> result = get_metric_class("quality")().compute(real, synthetic)
        >>> result.score, result.normalized, result.details["column_shapes"]
    """

    score: float
    details: dict[str, Any] = field(default_factory=dict)
    normalized: float = float("nan")

    def __post_init__(self) -> None:
        # SDMetrics-style building blocks have no goal to normalise with: [0, 1], maximised
        if np.isnan(self.normalized) and not np.isnan(self.score):
            object.__setattr__(self, "normalized", float(self.score))


@dataclass(frozen=True)
class Verdicts:
    """Plain-language reading of a normalised score.

    ``good`` and ``fair`` are the lowest normalised scores that earn those levels; below
    ``fair`` a score is poor.

    Examples:
        >>> Verdicts(0.9, 0.8, "close", "roughly", "far").read(0.85)
        ('fair', 'roughly')
    """

    good: float
    fair: float
    good_text: str
    fair_text: str
    poor_text: str

    def read(self, normalized: float) -> tuple[str, str]:
        """``(level, verdict)`` of a normalised score; NaN is "info"."""
        if np.isnan(normalized):
            return "info", "not computable on these tables"
        if normalized >= self.good:
            return "good", self.good_text
        if normalized >= self.fair:
            return "fair", self.fair_text
        return "poor", self.poor_text


@dataclass(frozen=True)
class Inputs:
    """Everything a metric may read, checked once; ``evaluate`` shares one per seed.

    Attributes:
        real: Rows the generator was fitted on.
        synthetic: Generated rows.
        holdout: Real rows the generator never saw, or None.
        schema: Column kinds (inferred from ``real`` when not given).
        seed: Seed of the metric's sampling and models; None draws one (and records it).
        target: Column to predict (utility), or None.
        rules: Clinical rules (consistency), or None.
        sensitive: Column an attribute-inference attacker wants, or None.
        examples: Rows shown to a prompted generator, or None.
        sample: ``n -> n synthetic rows`` from the fitted generator, or None.
        detailed: Whether to add the diagnostics that do not change the score (per-column
            tables, association matrices, size curve, subgroup scores); ``evaluate`` asks for
            them on its first seed only.
        timeline: The patient key and time column of long tables (several rows per patient),
            or None for tables of one row per patient; the patient-level metrics need it.

    Examples:
        >>> inputs = Inputs(real, synthetic, holdout, Schema.infer(real), seed=0)
        >>> [get_metric_class(k)().compute_inputs(inputs) for k in ("quality", "dcr")]
    """

    real: pd.DataFrame
    synthetic: pd.DataFrame
    holdout: pd.DataFrame | None
    schema: Schema
    seed: int | None = None
    target: str | None = None
    rules: RuleSet | None = None
    sensitive: str | None = None
    examples: pd.DataFrame | None = None
    sample: Callable[[int], pd.DataFrame] | None = None
    detailed: bool = True
    timeline: Timeline | None = None
    _shared: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def shared(self, name: str, make: Callable[[], Any]) -> Any:
        """``make()``, computed once per inputs: metrics built on the same intermediate (the
        Column Shapes table, say) share it instead of computing it again."""
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]

    def given(self, requirement: str) -> bool:
        """Whether the input a requirement names was given."""
        return getattr(self, requirement) is not None


def flat_details(result: Any) -> dict[str, Any]:
    """A function-level result dataclass (``DCRResult``...) as a metric's details: every field
    but ``score``, then the entries of its own ``details``."""
    fields = {
        name: getattr(result, name)
        for name in result.__dataclass_fields__
        if name not in ("score", "details")
    }
    return {**fields, **getattr(result, "details", {})}


class _Described:
    """What every metric declares: a key, a family, a goal and bounds."""

    key: ClassVar[str]
    family: ClassVar[Family]
    goal: ClassVar[Goal] = "maximize"
    bounds: ClassVar[tuple[float, float]] = (0.0, 1.0)


class ColumnMetric(_Described):
    """SDMetrics' single-column and column-pair metrics: ``compute(real, synthetic, ...)`` on
    two columns (Series) or two 2-column tables, a static method as in SDMetrics. Their key is
    SDMetrics' class name, which the QualityReport details show.

    Examples:
        >>> KSComplement.compute(real["age"], synthetic["age"]).score
        0.94
    """


class Metric(_Described, KeywordParams, ABC):
    """A table metric: the one contract every metric in the registry follows.

    Subclasses declare ``key`` (snake_case, the name in reports, JSON, the benchmark and the
    registry), ``family``, ``name`` (a label for reports), ``goal``, ``bounds``, ``verdicts``,
    ``requires`` (inputs without which the metric cannot run) and ``repeat`` (stochastic:
    ``evaluate(seeds=K)`` runs it once per seed), and implement ``_compute(inputs) -> (score,
    details)``. Constructors take keyword-only parameters, store them unchanged under the same
    names and validate them at once in ``_validate_params``.

    Examples:
        >>> from synthpatient.evaluation import get_metric_class
        >>> dcr = get_metric_class("dcr")()
        >>> result = dcr.compute(train, synthetic, holdout=holdout, seed=0)
        >>> result.score, result.details["share_closer_to_training"]
        >>> dcr.verdict(result.normalized)
        ('good', 'no closer to training patients than to unseen ones')
    """

    name: ClassVar[str]
    verdicts: ClassVar[Verdicts]
    requires: ClassVar[frozenset[Requirement]] = frozenset()
    repeat: ClassVar[bool] = False

    def __init__(self) -> None:
        self._validate_params()

    # -- parameters ----------------------------------------------------------------------------
    def _validate_params(self) -> None:
        """Raise :class:`InvalidParameterError` for a bad parameter; extend in subclasses."""

    # -- computing -----------------------------------------------------------------------------
    def compute(
        self,
        real: pd.DataFrame,
        synthetic: pd.DataFrame,
        *,
        holdout: pd.DataFrame | None = None,
        schema: Schema | None = None,
        seed: int | None = None,
        target: str | None = None,
        rules: RuleSet | None = None,
        sensitive: str | None = None,
        examples: pd.DataFrame | None = None,
        sample: Callable[[int], pd.DataFrame] | None = None,
        detailed: bool = True,
        timeline: Timeline | None = None,
    ) -> MetricResult:
        """Score ``synthetic`` against ``real`` (neither is modified).

        Args:
            real: Rows the generator was fitted on.
            synthetic: Generated rows.
            holdout: Real rows the generator never saw (privacy tests need one).
            schema: Column kinds; inferred from ``real`` when None.
            seed: Seed of any sampling or model; None draws one and records it in details.
            target, rules, sensitive, examples, sample: Inputs some metrics need (see
                ``requires``) or use.
            detailed: Add the diagnostics that do not change the score.
            timeline: Patient key and time column of long tables (the patient-level metrics
                need it; see :class:`~synthpatient.evaluation.Timeline`).

        Returns:
            A :class:`MetricResult`.

        Raises:
            InvalidParameterError: An input in ``requires`` is missing, or one is malformed.
            DataError: The tables cannot be compared (missing columns, no rows...).
        """
        check_frame(real, "real")
        check_frame(synthetic, "synthetic")
        for frame, what in ((holdout, "holdout"), (examples, "examples")):
            if frame is not None:
                check_frame(frame, what)
        check_seed(seed)
        if timeline is not None:
            if not isinstance(timeline, Timeline):
                raise InvalidParameterError(
                    "'timeline' must be a Timeline(key, time) or None. "
                    f"Got {type(timeline).__name__}."
                )
            for frame, what in ((real, "real"), (synthetic, "synthetic"), (holdout, "holdout")):
                if frame is not None:
                    timeline.check(frame, what)
        if isinstance(seed, np.random.Generator):  # recorded in details, so a number
            raise InvalidParameterError(
                f"The 'seed' of {type(self).__name__}.compute must be "
                "a non-negative integer or None. Got a Generator."
            )
        inputs = Inputs(
            real,
            synthetic,
            holdout,
            schema or Schema.infer(real),
            seed,
            target,
            rules,
            sensitive,
            examples,
            sample,
            detailed,
            timeline,
        )
        return self.compute_inputs(inputs)

    def compute_inputs(self, inputs: Inputs) -> MetricResult:
        """:meth:`compute` on inputs already checked (``evaluate`` shares them between
        metrics, so that common intermediates are computed once)."""
        reason = self.skip_reason(inputs)
        if reason is not None:
            raise InvalidParameterError(f"The '{self.key}' metric cannot run: {reason}.")
        score, details = self._compute(inputs)
        score = float(score)
        return MetricResult(score, details, self.normalize(score))

    def skip_reason(self, inputs: Inputs) -> str | None:
        """Why this metric cannot run on ``inputs`` (a missing required input), or None.

        Subclasses may add reasons that depend on the table (no subgroup column, say)."""
        missing = [r for r in sorted(self.requires) if not inputs.given(r)]
        if missing:
            return " and ".join(REQUIREMENTS[r] for r in missing)
        return None

    @abstractmethod
    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        """The score (within ``bounds``, or NaN) and its details."""

    # -- reading a score -----------------------------------------------------------------------
    @classmethod
    def normalize(cls, score: float) -> float:
        """The score on [0, 1], 1 best (finite bounds; a metric without them overrides this)."""
        if np.isnan(score):
            return float("nan")
        low, high = cls.bounds
        share = float(np.clip((score - low) / (high - low), 0.0, 1.0))
        return share if cls.goal == "maximize" else 1.0 - share

    @classmethod
    def verdict(cls, normalized: float) -> tuple[str, str]:
        """``(level, text)``: "good", "fair", "poor" or "info" and a plain-language verdict."""
        return cls.verdicts.read(normalized)

    def report_sections(self, result: MetricResult) -> dict[str, Any]:
        """What the metric adds to ``EvaluationReport.sections`` (from its first seed)."""
        return {self.key: result.details}
