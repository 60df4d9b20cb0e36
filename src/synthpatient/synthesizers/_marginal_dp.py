"""What the marginal-based private synthesizers (MST, AIM) share.

Both bin every learned column (``_discretize``), measure marginals of the binned table with
Gaussian noise under a zero-concentrated DP (zCDP) budget, and let ``mbi`` (Private-PGM)
estimate the graphical model that explains the noisy measurements. This module holds the
parts that do not depend on *which* marginals are measured: the privacy accounting, the
parameters every such model takes, the private estimate of the row count, drawing codes from a
marginal table, and saving and checking the binned columns and clique tables.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq, minimize_scalar

from synthpatient._optional import import_optional
from synthpatient.errors import DataError, InvalidParameterError, SynthPatientWarning
from synthpatient.schema import ColumnSpec, Schema
from synthpatient.synthesizers._discretize import ColumnCoder, ReadFromData, build_coders
from synthpatient.synthesizers._persistence import expect
from synthpatient.synthesizers.base import Synthesizer

#: A value (bin, category) is kept apart only when its noisy count reaches this many noise
#: standard deviations; rarer ones are merged (MST's rule; see ``ColumnCoder.compress``).
COMPRESS_SIGMAS = 3.0
DEFAULT_DELTA = 1e-9


@dataclass
class OneWay:
    """The binned columns after the 1-way step: coders, each row's merged codes, the domain,
    the 1-way measurements and the noisy total."""

    coders: list[Any]
    codes: dict[str, np.ndarray]
    domain: Any
    measurements: list[Any]
    total: float
    read: ReadFromData  # what was read from the data, unprotected (named in a warning)


class MarginalSynthesizer(Synthesizer):
    """The shell of a marginal-based private synthesizer: budget, binned columns, clique tables.

    Subclasses set ``epsilon``, ``delta`` and ``n_bins`` and, once fitted, ``columns_``,
    ``coders_``, ``cliques_``, ``marginals_`` (normalised tables, one per clique, axes in the
    clique's order), ``total_`` and ``privacy_spent_``.
    """

    epsilon: float
    delta: float | None

    def _resolve_delta(self, n_rows: int) -> float:
        if self.delta is None:
            return min(DEFAULT_DELTA, 1.0 / n_rows**2)
        if self.delta >= 1.0 / n_rows:
            raise InvalidParameterError(
                f"delta={self.delta} is too large for a table of {n_rows} rows: it must be "
                f"below 1/n = {1.0 / n_rows:.3g}, or one patient's row could be published "
                "as it is. Use a smaller delta (or leave it None for 1e-9)."
            )
        return float(self.delta)

    def _one_way(
        self,
        mbi: Any,
        data: pd.DataFrame,
        schema: Schema,
        sigma: float,
        threshold: float,
        rng: np.random.Generator,
        n_bins: int | None = None,
    ) -> OneWay:
        """The first step of MST and AIM alike: the columns binned (bounds and categories read
        from the data are named in a warning: no budget covers them), every 1-way marginal
        measured on the fine bins (``n_bins``, the model's own by default) with noise
        ``sigma``, and values whose noisy count is below ``threshold`` merged (post-processing,
        so it costs no budget)."""
        columns = [s.name for s in schema.learned]
        bins = int(self.n_bins if n_bins is None else n_bins)  # type: ignore[attr-defined]
        coders, read = build_coders(data, schema, bins)
        if read:
            warnings.warn(
                f"{type(self).__name__} read {read.describe()} from the data: these are not "
                "protected by the privacy budget. Declare them in the schema (ColumnSpec "
                "minimum/maximum/categories) to keep the differential privacy guarantee whole.",
                SynthPatientWarning,
                stacklevel=5,
            )
        fine = {c.name: c.encode_fine(data[c.name]) for c in coders}
        fine_domain = mbi.Domain(columns, [c.n_fine for c in coders])
        measured, noisy_totals = [], []
        for coder in coders:
            counts = np.bincount(fine[coder.name], minlength=coder.n_fine).astype(float)
            noisy = counts + rng.normal(0.0, sigma, size=coder.n_fine)
            coder.compress(noisy, threshold)
            measurement = mbi.LinearMeasurement(noisy, (coder.name,), sigma)
            measured.append(measurement.compress({coder.name: coder.groups}, fine_domain))
            noisy_totals.append(float(noisy.sum()))
        return OneWay(
            coders=coders,
            codes={c.name: c.groups[fine[c.name]] for c in coders},
            domain=mbi.Domain(columns, [c.n_groups for c in coders]),
            measurements=measured,
            # mbi estimates the total only from uncompressed measurements: ours instead
            total=estimate_total([c.n_fine for c in coders], noisy_totals),
            read=read,
        )

    def _check_enough_rows(self, n_rows: int, sigma: float) -> None:
        """Refuse a table whose every count would drown in the first measurement's noise."""
        threshold = COMPRESS_SIGMAS * sigma
        if n_rows < threshold:
            raise DataError(
                f"The table is too small for {type(self).__name__} at epsilon={self.epsilon}: "
                f"each count gets noise with a standard deviation of about {sigma:.0f}, and with "
                f"{n_rows} rows no value of any column could stand out from it (at least "
                f"{math.ceil(threshold)} rows needed), so the synthetic table would be noise. "
                "Give more rows, a larger epsilon or fewer columns, or use "
                "GaussianCopulaSynthesizer (key 'copula'; it is not differentially private)."
            )

    def _privacy_spent(self, delta: float, rho: float, read: ReadFromData) -> dict[str, Any]:
        """The budget spent, and in words what was read from the data outside it."""
        preprocessing = (
            f"Read from the data without privacy: {read.describe()}. "
            if read
            else "Bounds and categories all declared in the schema. "
        )
        preprocessing += "The number of rows is treated as public."
        return {
            "epsilon": float(self.epsilon),
            "delta": delta,
            "rho": rho,
            "preprocessing": preprocessing,
            "read_from_data": {"bounds": read.bounds, "categories": read.categories},
        }

    # -- state ---------------------------------------------------------------------------------
    def _tables_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The binned columns and clique tables as JSON metadata and arrays."""
        arrays: dict[str, np.ndarray] = {}
        coders = []
        for j, coder in enumerate(self.coders_):
            meta, parts = coder.state()
            coders.append(meta)
            arrays.update({f"coder_{j}_{k}": v for k, v in parts.items()})
        for k, marginal in enumerate(self.marginals_):
            arrays[f"clique_{k}_marginal"] = marginal
        state = {
            "columns": self.columns_,
            "coders": coders,
            "cliques": [list(c) for c in self.cliques_],
            "total": self.total_,
            "domain": {"attributes": self.columns_, "shape": [c.n_groups for c in self.coders_]},
            "privacy_spent": self.privacy_spent_,
        }
        return state, arrays

    def _restore_tables(
        self,
        state: dict[str, Any],
        arrays: dict[str, np.ndarray],
        specs: list[ColumnSpec] | None = None,
    ) -> None:
        """What :meth:`_tables_state` gave, checked against the schema and itself (``specs``:
        the columns the model learned, the schema's learned columns by default)."""
        specs = self.schema_.learned if specs is None else specs
        self.columns_ = [str(c) for c in state["columns"]]
        expect(
            self.columns_ == [s.name for s in specs],
            "the model's columns differ from the schema's learned columns",
        )
        expect(len(state["coders"]) == len(specs), "the model has not one coder per column")
        self.coders_ = []
        for j, (meta, spec) in enumerate(zip(state["coders"], specs, strict=True)):
            prefix = f"coder_{j}_"
            parts = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            self.coders_.append(ColumnCoder.from_state(meta, parts, spec))
        self.cliques_ = [tuple(str(a) for a in c) for c in state["cliques"]]
        self.marginals_ = [arrays[f"clique_{k}_marginal"] for k in range(len(self.cliques_))]
        self.total_ = float(state["total"])
        expect(isinstance(state["privacy_spent"], dict), "the privacy spent is not a record")
        self.privacy_spent_ = dict(state["privacy_spent"])
        if [c.n_groups for c in self.coders_] != list(state["domain"]["shape"]):
            raise ValueError("the stored domain does not match the stored bins")

    def _check_tables(
        self, required: list[list[str]], extra: list[np.ndarray] | None = None
    ) -> None:
        """What sampling reads: a clique table of the domain's shape for every column set in
        ``required``, with counts that are finite and not negative (``extra``: more tables,
        one per clique, that must have the same shape, e.g. MST's potentials)."""
        size = {c.name: c.n_groups for c in self.coders_}
        expect(
            math.isfinite(self.total_) and self.total_ > 0,
            "the model's row total is not a positive number",
        )
        expect(len(self.marginals_) == len(self.cliques_), "the model has not a table per clique")
        for k, (clique, marginal) in enumerate(zip(self.cliques_, self.marginals_, strict=True)):
            expect(
                len(set(clique)) == len(clique) and all(a in size for a in clique),
                "a clique of the model names an unknown or repeated column",
            )
            shape = tuple(size[a] for a in clique)
            tables = [marginal] + ([extra[k]] if extra is not None else [])
            expect(
                all(t.shape == shape and t.dtype.kind == "f" for t in tables),
                "a clique's tables do not have the shape of its columns' bins",
            )
            expect(
                all(bool(np.isfinite(t).all()) for t in tables) and bool(np.all(marginal >= 0)),
                "a clique's marginal is not a table of counts",
            )
        covered = [set(c) for c in self.cliques_]
        for attrs in [[c] for c in self.columns_] + required:
            expect(
                len(set(attrs)) == len(attrs) and any(set(attrs) <= c for c in covered),
                "a column or measured set of columns of the model is in no clique",
            )


# -- privacy accounting -----------------------------------------------------------------------
def zcdp_rho(epsilon: float, delta: float) -> float:
    """The largest zCDP ``rho`` that still implies (epsilon, delta)-DP.

    Uses the conversion of Canonne, Kamath and Steinke (2020, Proposition 12), tighter than the
    classic rho + 2 sqrt(rho log(1/delta)) bound: rho-zCDP gives (epsilon, delta)-DP with
    delta = min over alpha > 1 of exp((alpha-1)(alpha rho - epsilon)) / (alpha-1)
    * (1 - 1/alpha)^alpha.

    Examples:
        >>> round(zcdp_rho(1.0, 1e-9), 5)
        0.01497
    """

    def log_delta(rho: float) -> float:
        def bound(alpha: float) -> float:
            return (
                (alpha - 1) * (alpha * rho - epsilon)
                + alpha * math.log1p(-1 / alpha)
                - math.log(alpha - 1)
            )

        high = max((epsilon + 1) / (2 * rho) + 2, 2.0)
        best = minimize_scalar(
            bound, bounds=(1 + 1e-9, high), method="bounded", options={"xatol": 1e-12}
        )
        return min(float(best.fun), 0.0)

    target = math.log(delta)
    return float(brentq(lambda rho: log_delta(rho) - target, 1e-15, epsilon + 1, xtol=1e-15))


# -- helpers ----------------------------------------------------------------------------------
def import_mbi(purpose: str) -> Any:
    """``mbi`` without its import-time advice about JAX settings (not ours to change)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*JAX", category=UserWarning)
        return import_optional("mbi", extra="dp", purpose=purpose)


def estimate_total(sizes: list[int], noisy_sums: list[float]) -> float:
    """Minimum-variance estimate of the row count from each column's noisy total."""
    # a sum of k noisy cells has k times the variance
    weights = 1.0 / np.asarray(sizes, dtype=float)
    return max(1.0, float(np.average(noisy_sums, weights=weights)))


def joint_counts(a: np.ndarray, b: np.ndarray, size_a: int, size_b: int) -> np.ndarray:
    return (
        np.bincount(a * size_b + b, minlength=size_a * size_b).reshape(size_a, size_b).astype(float)
    )


def normalized(table: np.ndarray) -> np.ndarray:
    table = np.clip(np.asarray(table, dtype=float), 0.0, None)
    total = table.sum()
    return table / total if total > 0 else np.full(table.shape, 1.0 / table.size)


def draw(probabilities: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Codes drawn from one distribution by inverse transform of the uniforms ``u``."""
    cdf = np.cumsum(probabilities)
    return np.minimum(np.searchsorted(cdf / cdf[-1], u, side="right"), len(cdf) - 1)


def exactly_derived(schema: Schema) -> list[str]:
    """Learned columns that a relation of the schema computes exactly from other learned
    columns: an identity or a ratio without tolerance, whose column and inputs are never
    missing. The base class computes them after sampling, so a marginal model leaves them out
    and spends none of its budget on them.

    A private fit only sees relations the user declared (discovered ones are dropped before
    ``_fit``, see ``Synthesizer._private_relations``), so which columns these are is public
    knowledge, not read from the rows. A column whose inputs include another derived column
    is kept (it would be computed from a value not drawn yet).
    """
    specs = {s.name: s for s in schema.learned}
    found: dict[str, list[str]] = {}
    for relation in schema.relations or ():
        if relation.kind not in ("identity", "ratio") or relation.tolerance is not None:
            continue
        inputs = [t.column for t in relation.terms or ()]
        names = [relation.column, *inputs]
        if all(n in specs and not specs[n].nullable for n in names) and specs[
            relation.column
        ].kind in ("numeric", "integer"):
            found[relation.column] = inputs
    return [c for c, inputs in found.items() if not any(i in found for i in inputs)]


def placeholder(spec: ColumnSpec, n_rows: int) -> pd.Series:
    """Values standing in for an exactly derived column until the base class computes it:
    the middle of the column's bounds (never a training value)."""
    low = float(spec.minimum) if spec.minimum is not None else 0.0
    high = float(spec.maximum) if spec.maximum is not None else low
    return pd.Series(np.full(n_rows, (low + high) / 2), dtype=float)
