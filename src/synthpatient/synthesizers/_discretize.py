"""Mixed columns to a finite domain of codes and back, for marginal-based synthesizers (MST).

Each learned column gets a :class:`ColumnCoder`:

* numbers and dates: ``n_bins`` equal-width bins between the column's bounds (integers get
  whole-number bins, one per value when the range is small); dates are binned as nanoseconds;
* categories and booleans: one code per category;
* a nullable column gets one more code, last, for "missing".

These are the *fine* codes. A coder can then be *compressed*: fine codes are merged into groups
(the codes a model sees) from differentially private counts, so that no group is too rare to be
measured well. Ordered columns merge neighbouring bins (a group is an interval); unordered
columns merge their rare categories into one group. Decoding a group picks one of its fine codes
in proportion to its weight (a bin's width, a category's share), then a value uniformly inside
the bin, so synthetic numbers are spread over the bin instead of sitting on its centre.

Where the bins come from matters for privacy. Bounds and categories the user declared in the
schema are public knowledge. Bounds and categories read off the data (``ColumnSpec.observed``)
are not protected by any privacy budget: :func:`build_coders` reports them, so the caller can
warn and record it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthpatient.errors import DataError
from synthpatient.schema import ColumnSpec, Schema, category_key
from synthpatient.synthesizers._persistence import expect

CoderKind = Literal["interval", "integer", "category"]
#: How much decoding inside a merged group follows the noisy counts of its bins (vs. width).
MEASURED_SHAPE = 0.5


@dataclass
class ColumnCoder:
    """Codes for one column: fine bins, the groups they are merged into, and how to decode.

    Attributes:
        name: The column name.
        column_kind: The schema kind (numeric, integer, datetime, categorical, boolean).
        coder_kind: ``interval`` (continuous bins), ``integer`` (whole-number bins) or
            ``category``.
        edges: Bin edges (``n_bins + 1`` floats; nanoseconds for dates) for interval and
            integer coders; for integer coders bin ``k`` holds the whole numbers in
            ``[edges[k], edges[k + 1])``.
        categories: The category values, for category coders.
        nullable: Whether the last fine code means "missing".
        groups: Fine code -> group code (identity until :meth:`compress`).
        weights: Relative chance of each fine code inside its group when decoding.

    Examples:
        >>> coder = ColumnCoder.for_numbers("bmi", "numeric", 15.0, 45.0, n_bins=6,
        ...                                 nullable=False)
        >>> coder.encode(pd.Series([16.0, 44.0])).tolist()
        [0, 5]
    """

    name: str
    column_kind: str
    coder_kind: CoderKind
    edges: np.ndarray | None = None
    categories: list[Any] | None = None
    nullable: bool = False
    groups: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        if len(self.groups) == 0:
            self.groups = np.arange(self.n_fine, dtype=np.int64)
        if len(self.weights) == 0:
            self.weights = self._natural_weights()

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def for_numbers(
        cls, name: str, column_kind: str, low: float, high: float, *, n_bins: int, nullable: bool
    ) -> ColumnCoder:
        """Equal-width bins over ``[low, high]``; whole-number bins for integer columns."""
        if column_kind == "integer":
            first, last = math.ceil(low - 1e-9), math.floor(high + 1e-9)
            last = max(last, first)
            width = max(1, math.ceil((last - first + 1) / n_bins))
            n = math.ceil((last - first + 1) / width)
            edges = first + width * np.arange(n + 1, dtype=float)
            edges[-1] = last + 1  # the last bin may be narrower: never decode past the bound
            return cls(name, column_kind, "integer", edges=edges, nullable=nullable)
        if not high > low:  # one value only: a single bin of zero width
            edges = np.array([low, low], dtype=float)
        else:
            edges = np.linspace(low, high, n_bins + 1)
        return cls(name, column_kind, "interval", edges=edges, nullable=nullable)

    # -- sizes ---------------------------------------------------------------------------------
    @property
    def n_values(self) -> int:
        """Fine codes that stand for a value (all but the missing code)."""
        if self.coder_kind == "category":
            return len(self.categories or [])
        assert self.edges is not None
        return len(self.edges) - 1

    @property
    def n_fine(self) -> int:
        return self.n_values + int(self.nullable)

    @property
    def n_groups(self) -> int:
        return int(self.groups.max()) + 1

    @property
    def is_ordered(self) -> bool:
        return self.coder_kind != "category"

    def _natural_weights(self) -> np.ndarray:
        """Decoding weights before any noisy count is known: a bin's width, or 1."""
        if self.coder_kind == "category":
            values = np.ones(self.n_values)
        else:
            assert self.edges is not None
            values = np.diff(self.edges)
            if not values.sum() > 0:
                values = np.ones(self.n_values)
        return np.append(values, [1.0] * int(self.nullable)).astype(float)

    # -- encoding ------------------------------------------------------------------------------
    def encode_fine(self, values: pd.Series) -> np.ndarray:
        """Fine codes of ``values`` (canonical dtypes: floats, datetime64, category values)."""
        missing = values.isna().to_numpy()
        if missing.any() and not self.nullable:
            raise DataError(
                f"Column '{self.name}' has missing values but is not nullable in "
                "the schema. Mark it nullable."
            )
        codes = np.full(len(values), self.n_fine - 1, dtype=np.int64)  # missing: last code
        present = ~missing
        if self.coder_kind == "category":
            lookup = {category_key(c): i for i, c in enumerate(self.categories or [])}
            keys = [category_key(v) for v in values[present]]
            unknown = sum(k not in lookup for k in keys)
            if unknown:
                raise DataError(
                    f"Column '{self.name}' has {unknown} value(s) that are not among "
                    "its categories. Add them to the schema's categories."
                )
            codes[present] = [lookup[k] for k in keys]
            return codes
        numbers = _as_numbers(self.column_kind, values)[present]
        assert self.edges is not None
        bins = np.searchsorted(self.edges, numbers, side="right") - 1
        codes[present] = np.clip(bins, 0, self.n_values - 1)
        return codes

    def encode(self, values: pd.Series) -> np.ndarray:
        """Group codes of ``values``: what the model sees."""
        return self.groups[self.encode_fine(values)]

    # -- compression ---------------------------------------------------------------------------
    def compress(self, noisy_counts: np.ndarray, threshold: float) -> None:
        """Merge fine codes into groups whose (noisy) count reaches ``threshold``.

        Only noisy counts are used, so this is post-processing and spends no privacy. Ordered
        columns merge neighbouring bins left to right (a short tail joins the last group);
        unordered ones merge every rare category into one group, as MST does. The missing code
        always stays a group of its own: merging it with values would make decoded values
        missing at random. Decoding weights become the noisy counts (clipped above zero) blended
        with the bins' widths, so a wide group still follows the measured shape inside it.
        """
        counts = np.asarray(noisy_counts, dtype=float)
        n = self.n_values
        groups = np.zeros(self.n_fine, dtype=np.int64)
        if self.is_ordered:
            group, total = 0, 0.0
            for i in range(n):
                groups[i] = group
                total += counts[i]
                if total >= threshold and i < n - 1:
                    group, total = group + 1, 0.0
            if n and total < threshold and group > 0:  # a tail below threshold joins its left
                groups[:n][groups[:n] == group] = group - 1
        else:
            common = counts[:n] >= threshold
            order = np.cumsum(common) - 1
            groups[:n] = np.where(common, order, int(common.sum()))
            if not common.any():
                groups[:n] = 0
        if self.nullable:
            groups[n] = groups[:n].max() + 1 if n else 0
        self.groups = groups
        natural = self._natural_weights()
        # A flat floor keeps every bin possible: a bin whose noisy count fell below zero may
        # still hold real rows; the measured shape is only trusted where the noise allows.
        measured = np.clip(counts, 0.0, None)
        self.weights = np.empty(self.n_fine)
        for g in range(self.n_groups):
            members = groups == g
            share = natural[members] / natural[members].sum()
            mass = measured[members].sum()
            shape = measured[members] / mass if mass > 0 else share
            self.weights[members] = (1 - MEASURED_SHAPE) * share + MEASURED_SHAPE * shape

    # -- decoding ------------------------------------------------------------------------------
    def decode(self, group_codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
        """Values for ``group_codes``: a fine code by weight, then a value inside its bin."""
        fine = self._fine_from_groups(np.asarray(group_codes, dtype=np.int64), rng)
        missing = (fine == self.n_fine - 1) if self.nullable else np.zeros(len(fine), dtype=bool)
        if self.coder_kind == "category":
            cats = np.array(list(self.categories or []) + [None], dtype=object)
            out = cats[np.where(missing, len(cats) - 1, fine)]
            return pd.Series(out, dtype=object)
        assert self.edges is not None
        bins = np.clip(fine, 0, self.n_values - 1)
        low, high = self.edges[bins], self.edges[bins + 1]
        if self.coder_kind == "integer":
            # a whole number drawn uniformly from [low, high): exact integers, never a bound off
            numbers = low + np.floor(rng.random(len(bins)) * (high - low))
        else:
            numbers = rng.uniform(low, high)
        numbers[missing] = np.nan
        if self.column_kind == "datetime":
            stamps = pd.Series(
                pd.to_datetime(np.round(np.nan_to_num(numbers)).astype("int64"), unit="ns")
            )
            stamps[missing] = pd.NaT
            return stamps
        return pd.Series(numbers, dtype=float)

    def _fine_from_groups(self, group_codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        fine = np.empty(len(group_codes), dtype=np.int64)
        u = rng.random(len(group_codes))
        for g in range(self.n_groups):
            rows = np.flatnonzero(group_codes == g)
            if not len(rows):
                continue
            members = np.flatnonzero(self.groups == g)
            cdf = np.cumsum(self.weights[members])
            pick = np.searchsorted(cdf / cdf[-1], u[rows], side="right")
            fine[rows] = members[np.minimum(pick, len(members) - 1)]
        return fine

    # -- state ---------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON metadata and numeric arrays (no pickle)."""
        meta: dict[str, Any] = {
            "name": self.name,
            "column_kind": self.column_kind,
            "coder_kind": self.coder_kind,
            "nullable": self.nullable,
            "categories": self.categories,
        }
        arrays = {"groups": self.groups, "weights": self.weights}
        if self.edges is not None:
            arrays["edges"] = self.edges
        return meta, arrays

    @classmethod
    def from_state(
        cls, meta: dict[str, Any], arrays: dict[str, np.ndarray], spec: ColumnSpec
    ) -> ColumnCoder:
        """The saved coder of ``spec``'s column, checked against it and against itself."""
        what = f"the bins of column '{spec.name}'"
        ordered = spec.kind in ("numeric", "integer", "datetime")
        kinds = (
            ({"integer"} if spec.kind == "integer" else {"interval"}) if ordered else {"category"}
        )
        expect(
            meta["name"] == spec.name
            and meta["column_kind"] == spec.kind
            and meta["coder_kind"] in kinds,
            f"{what} are not of the column's kind",
        )
        categories = meta.get("categories")
        edges = None
        if ordered:
            edges = np.asarray(arrays["edges"], dtype=float)
            expect(
                edges.ndim == 1
                and len(edges) >= 2
                and bool(np.isfinite(edges).all())
                and bool(np.all(np.diff(edges) >= 0)),
                f"{what} have unsorted edges",
            )
        else:
            declared = list(spec.categories or ()) if spec.kind == "categorical" else [True, False]
            expect(
                isinstance(categories, list)
                and [category_key(c) for c in categories] == [category_key(c) for c in declared],
                f"{what} list other categories than the schema",
            )
        coder = cls(
            name=spec.name,
            column_kind=spec.kind,
            coder_kind=meta["coder_kind"],
            edges=edges,
            categories=None if categories is None else list(categories),
            nullable=bool(meta["nullable"]),
            groups=np.asarray(arrays["groups"]),
            weights=np.asarray(arrays["weights"], dtype=float),
        )
        groups, weights = coder.groups, coder.weights
        # decoding draws a fine code inside each group by weight: every group needs members
        # and some weight, or sampling would divide by zero
        expect(
            groups.shape == (coder.n_fine,)
            and groups.dtype.kind in "iu"
            and weights.shape == (coder.n_fine,)
            and coder.n_fine >= 1,
            f"{what} do not have one group and one weight per bin",
        )
        expect(
            groups.min() == 0
            and set(groups.tolist()) == set(range(int(groups.max()) + 1))
            and bool(np.isfinite(weights).all())
            and bool(np.all(weights >= 0))
            and bool(np.all(np.bincount(groups, weights=weights) > 0)),
            f"{what} have empty groups or weights that are not positive",
        )
        return coder


def _as_numbers(kind: str, values: pd.Series) -> np.ndarray:
    if kind == "datetime":
        stamps = pd.to_datetime(values)
        out = stamps.astype("int64").to_numpy(dtype=float)
        out[stamps.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def _bound(spec: ColumnSpec, bound: Any) -> float:
    return float(pd.Timestamp(bound).value) if spec.kind == "datetime" else float(bound)


@dataclass
class ReadFromData:
    """What binning took from the data itself, outside any privacy budget."""

    bounds: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.bounds or self.categories)

    def describe(self) -> str:
        parts = []
        if self.bounds:
            parts.append(f"the bounds (minimum and maximum) of {', '.join(self.bounds)}")
        if self.categories:
            parts.append(f"the category lists of {', '.join(self.categories)}")
        return " and ".join(parts)


def build_coders(
    data: pd.DataFrame, schema: Schema, n_bins: int
) -> tuple[list[ColumnCoder], ReadFromData]:
    """A coder per learned column, and which bounds and category lists came from the data.

    A bound counts as public when the user declared it: the spec is not ``observed``, or the
    bound differs from the data's own extreme value (so it cannot have been read from it).
    ``Schema.complete`` marks a spec observed when it filled *any* field (decimals, a date unit),
    which is why a bound equal to the data's extreme in an observed spec is treated as read from
    the data: when in doubt, warn. Category lists are public when the spec is not observed;
    booleans always are.
    """
    coders: list[ColumnCoder] = []
    read = ReadFromData()
    for spec in schema.learned:
        values = data[spec.name]
        if spec.kind in ("numeric", "integer", "datetime"):
            numbers = _as_numbers(spec.kind, values)
            present = numbers[~np.isnan(numbers)]
            low = _bound(spec, spec.minimum) if spec.minimum is not None else None
            high = _bound(spec, spec.maximum) if spec.maximum is not None else None
            data_low = float(present.min()) if len(present) else 0.0
            data_high = float(present.max()) if len(present) else 0.0
            from_data = (
                low is None
                or high is None
                or (spec.observed and (low == data_low or high == data_high))
            )
            low = data_low if low is None else low
            high = data_high if high is None else high
            if from_data:
                read.bounds.append(spec.name)
            coders.append(
                ColumnCoder.for_numbers(
                    spec.name, spec.kind, low, high, n_bins=n_bins, nullable=spec.nullable
                )
            )
        else:
            if spec.kind == "boolean":
                categories: list[Any] = [True, False]
            else:
                categories = list(spec.categories or [])
                if spec.observed or spec.categories is None:
                    read.categories.append(spec.name)
                if not categories and not spec.nullable:
                    raise DataError(
                        f"Column '{spec.name}' has no categories. Declare them in the schema."
                    )
            coders.append(
                ColumnCoder(
                    spec.name, spec.kind, "category", categories=categories, nullable=spec.nullable
                )
            )
    return coders, read
