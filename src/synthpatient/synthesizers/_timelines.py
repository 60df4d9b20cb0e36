"""Patient timelines as a chain of conditional Gaussian copulas (see ``_sequence_model``).

Given each patient's static values (drawn beforehand, with the number of events and the span
from first to last event), three conditionals are learned and chained:

1. the first event's values given the static values;
2. each gap between events given the static values, the event's position, the time elapsed
   so far and the previous gap; a patient's gaps are then scaled to sum to the patient's span,
   so the last event falls where the patients table put it (and follow-up time, a static
   column, stays consistent with the visits);
3. each later event's values given the static values, the position, the elapsed time, the gap
   and the previous event's values: the lag-1 dependence that makes a value a trajectory.

Which values are missing is drawn after each event's values, by a chain of small trees (as the
copula does, ``_missingness``) on the static values, the event's position, elapsed time and
gap, the previous event's values (missing ones marked) and the values drawn so far: "not
measured at the last visit" predicts "not measured now", and a lab measured only at some
visits (cholesterol at baseline and yearly) keeps that schedule, which a latent correlation
cannot express. A missing previous value is left out of the conditional Gaussian's solve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.schema import ColumnSpec
from synthpatient.synthesizers._marginals import Marginal, NumericMarginal
from synthpatient.synthesizers._missingness import (
    MISSING_SENTINEL,
    MissingnessTree,
    fit_missingness,
    sample_missingness,
    trees_from_state,
    trees_state,
)
from synthpatient.synthesizers._persistence import expect
from synthpatient.synthesizers._sequence_model import (
    ConditionalGaussian,
    decode,
    encode,
    fit_marginal,
    marginals_from_state,
    marginals_state,
)

#: The clock features of a transition (names inside the model only).
POSITION, ELAPSED, GAP = "position", "elapsed", "gap"
#: The missing-value trees' depth and fewest training events per leaf (the copula's defaults).
TREE_DEPTH, TREE_MIN_LEAF = 6, 5


@dataclass
class Block:
    """Columns encoded together: their specs and marginals."""

    specs: list[ColumnSpec]
    marginals: list[Marginal]

    @classmethod
    def fit(cls, specs: list[ColumnSpec], frame: pd.DataFrame, n_quantiles: int) -> Block:
        return cls(specs, [fit_marginal(s, frame[s.name], n_quantiles) for s in specs])

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def encode(
        self, frame: pd.DataFrame, rng: np.random.Generator, *, given: bool = False
    ) -> np.ndarray:
        """Normal scores of the block's columns (see ``_sequence_model.encode``)."""
        if not self.specs:
            return np.zeros((len(frame), 0))
        pairs = zip(self.specs, self.marginals, strict=True)
        return np.column_stack([encode(m, frame[s.name], rng, given=given) for s, m in pairs])


def _clock_specs(timed: bool) -> list[ColumnSpec]:
    specs = [ColumnSpec(name=POSITION, kind="integer")]
    if timed:
        specs += [ColumnSpec(name=ELAPSED, kind="numeric"), ColumnSpec(name=GAP, kind="numeric")]
    return specs


@dataclass
class TimelineModel:
    """The three chained conditionals, the missing-value trees and the marginals they use.

    ``static`` encodes the patients table's columns the events depend on (static values, the
    number of events and the span); ``values`` the event columns; ``clock`` an event's
    position, elapsed time and gap.
    """

    static: Block
    values: Block
    clock: Block
    n_events: str  # the static column holding each patient's number of events
    span: str | None  # the static column holding first-to-last time; None without times
    first: ConditionalGaussian
    steps: ConditionalGaussian
    gaps: ConditionalGaussian | None
    missing: list[MissingnessTree]

    @property
    def timed(self) -> bool:
        return self.gaps is not None

    # -- fit -----------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        patients: pd.DataFrame,
        static_specs: list[ColumnSpec],
        events: pd.DataFrame,
        value_specs: list[ColumnSpec],
        patient: np.ndarray,
        times: np.ndarray | None,
        *,
        n_events: str,
        span: str | None,
        n_quantiles: int,
        rng: np.random.Generator,
    ) -> TimelineModel:
        """Learn from a patients table (one row per patient, in the order of the codes in
        ``patient``) and its events (sorted by patient, then time; ``times`` in days)."""
        frame = events.reset_index(drop=True)
        static = Block.fit(static_specs, patients, n_quantiles)
        values = Block.fit(value_specs, frame, n_quantiles)
        s_all = static.encode(patients, rng, given=True)
        c_all, c_given = values.encode(frame, rng), values.encode(frame, rng, given=True)
        position = pd.Series(patient).groupby(patient).cumcount().to_numpy()
        first, later = np.flatnonzero(position == 0), np.flatnonzero(position > 0)
        clock_frame = _clock_frame(position, times, later)
        clock = Block.fit(_clock_specs(times is not None), clock_frame, n_quantiles)
        k_all = clock.encode(clock_frame, rng, given=True)
        s_first, s_later = s_all[patient[first]], s_all[patient[later]]
        first_model = ConditionalGaussian.fit(s_first, c_all[first])
        # each event is conditioned on the patient's last *observed* value of every column,
        # not the previous row's (in a sparse lab table most rows miss most tests, and a
        # missing previous value would tell the next one nothing)
        last_seen = pd.DataFrame(c_given).groupby(patient).ffill().to_numpy()
        steps = ConditionalGaussian.fit(
            np.column_stack([s_later, k_all, last_seen[later - 1]]), c_all[later]
        )
        gaps = None
        if times is not None:  # the gap given static values, position, elapsed, previous gap
            drawn = encode(clock.marginals[2], clock_frame[GAP], rng)
            previous = np.where(position[later] > 1, np.r_[np.nan, k_all[:-1, 2]], np.nan)
            gaps = ConditionalGaussian.fit(
                np.column_stack([s_later, k_all[:, :2], previous]), drawn[:, None]
            )
        clock_all = np.full((len(frame), len(clock.specs)), np.nan)
        clock_all[:, 0] = position
        clock_all[later, 1:] = clock_frame.to_numpy()[:, 1:]
        previous_z = np.full(c_all.shape, np.nan)
        previous_z[later] = last_seen[later - 1]
        features = _tree_features(s_all[patient], clock_all, previous_z, c_all)
        missing = np.zeros(features.shape, dtype=bool)
        n_before = features.shape[1] - c_all.shape[1]
        missing[:, n_before:] = np.isnan(c_all)
        nullable = [n_before + j for j in range(c_all.shape[1]) if missing[:, n_before + j].any()]
        trees = fit_missingness(
            features, missing, nullable, rng, max_depth=TREE_DEPTH, min_leaf=TREE_MIN_LEAF
        )
        return cls(static, values, clock, n_events, span, first_model, steps, gaps, trees)

    # -- sample --------------------------------------------------------------------------------
    def sample(
        self, patients: pd.DataFrame, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
        """Events for sampled ``patients`` (static columns, number of events, span).

        Returns:
            Each event's patient (row of ``patients``), its time since the patient's first
            event in days (None without times), and each value column's values (NaN or None
            where missing), patient after patient, in time order.
        """
        counts = np.maximum(np.round(_floats(patients[self.n_events])).astype(np.int64), 1)
        s = self.static.encode(patients, rng, given=True)
        offsets = np.cumsum(counts) - counts
        relative = self._times(patients, counts, s, rng) if self.timed else None
        n_rows, n_values = int(counts.sum()), len(self.values.specs)
        z_rows = np.full((n_rows, n_values), np.nan)
        previous = np.full((len(counts), n_values), np.nan)
        for k in range(int(counts.max(initial=0))):
            active = np.flatnonzero(counts > k)
            clock = self._clock(k, active, relative)
            if k == 0:
                z = self.first.sample(s[active], rng)
            else:
                encoded = self.clock.encode(pd.DataFrame(clock), rng, given=True)
                given = np.column_stack([s[active], encoded, previous[active]])
                z = self.steps.sample(given, rng)
            if self.missing:
                raw_clock = np.column_stack(list(clock.values()))
                features = _tree_features(s[active], raw_clock, previous[active], z)
                absent, _ = sample_missingness(self.missing, features, rng, set())
                z = np.where(absent[:, -n_values:], np.nan, z)
            z_rows[offsets[active] + k] = z
            seen = self._reencoded(z, rng)
            previous[active] = np.where(np.isnan(seen), previous[active], seen)
        patient = np.repeat(np.arange(len(counts)), counts)
        out = {}
        for j, (spec, marginal) in enumerate(
            zip(self.values.specs, self.values.marginals, strict=True)
        ):
            absent = np.isnan(z_rows[:, j])
            values = decode(marginal, np.where(absent, 0.0, z_rows[:, j]))
            if absent.any():
                values = values.astype(object) if values.dtype == object else values.astype(float)
                values[absent] = None if values.dtype == object else np.nan
            out[spec.name] = values
        times = None if relative is None else relative[patient, _positions(counts)]
        return patient, times, out

    def _reencoded(self, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Drawn scores as the next event sees them: decoded to values and encoded again, so a
        tie or a category gets a score drawn inside its interval, as in the training rows."""
        if not self.values.specs:  # only the time changes between a patient's events
            return np.empty((len(z), 0))
        frame = {}
        for j, (spec, marginal) in enumerate(
            zip(self.values.specs, self.values.marginals, strict=True)
        ):
            absent = np.isnan(z[:, j])
            values = pd.Series(decode(marginal, np.where(absent, 0.0, z[:, j])), dtype=object)
            values[absent] = None
            frame[spec.name] = values
        return self.values.encode(pd.DataFrame(frame), rng, given=True)

    def _clock(
        self, k: int, active: np.ndarray, relative: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """Position, elapsed time and gap of the ``k``-th events (unknown for the first)."""
        clock = {POSITION: np.full(len(active), float(k))}
        if relative is not None:
            if k == 0:
                clock[ELAPSED] = clock[GAP] = np.full(len(active), np.nan)
            else:
                clock[ELAPSED] = relative[active, k - 1]
                clock[GAP] = relative[active, k] - relative[active, k - 1]
        return clock

    def _times(
        self, patients: pd.DataFrame, counts: np.ndarray, s: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Each patient's event times since the first event (patients x most events): gaps
        drawn in order, then scaled so that the last event falls at the patient's span."""
        assert self.gaps is not None and self.span is not None
        n, most = len(counts), int(counts.max(initial=1))
        gaps = np.zeros((n, most))
        elapsed, previous = np.zeros(n), np.full(n, np.nan)
        gap_marginal = self.clock.marginals[2]
        assert isinstance(gap_marginal, NumericMarginal)  # GAP is numeric (_clock_specs)
        smallest = float(np.min(gap_marginal.quantiles))
        for k in range(1, most):
            active = np.flatnonzero(counts > k)
            clock = self.clock.encode(
                pd.DataFrame(
                    {
                        POSITION: np.full(len(active), float(k)),
                        ELAPSED: elapsed[active],
                        GAP: previous[active],
                    }
                ),
                rng,
                given=True,
            )
            z = self.gaps.sample(np.column_stack([s[active], clock]), rng)[:, 0]
            drawn = np.maximum(decode(gap_marginal, z).astype(float), smallest)
            gaps[active, k] = drawn
            elapsed[active] += drawn
            previous[active] = drawn
        span = _floats(patients[self.span])
        scale = np.ones(n)
        ok = (counts > 1) & (elapsed > 0) & np.isfinite(span) & (span > 0)
        scale[ok] = span[ok] / elapsed[ok]
        return np.cumsum(gaps * scale[:, None], axis=1)

    # -- state ---------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta: dict[str, Any] = {
            "static": self.static.names,
            "values": self.values.names,
            "n_events": self.n_events,
            "span": self.span,
        }
        meta["missing_trees"], arrays = trees_state(self.missing)
        for name, block in (("static", self.static), ("value", self.values), ("clock", self.clock)):
            meta[f"{name}_marginals"], parts = marginals_state(block.marginals, f"{name}_")
            arrays.update(parts)
        for name, model in (("first", self.first), ("steps", self.steps), ("gaps", self.gaps)):
            if model is not None:
                arrays[f"{name}_correlation"] = model.correlation
                meta[f"{name}_given"] = model.n_given
        return meta, arrays

    @classmethod
    def from_state(
        cls,
        meta: dict[str, Any],
        arrays: dict[str, np.ndarray],
        static_specs: list[ColumnSpec],
        value_specs: list[ColumnSpec],
    ) -> TimelineModel:
        """The saved model, checked against the specs the synthesizer rebuilt from its
        schema (static and value columns, derived columns)."""
        expect(
            list(meta["static"]) == [s.name for s in static_specs]
            and list(meta["values"]) == [s.name for s in value_specs],
            "the timeline model's columns differ from the schema's",
        )
        timed = meta["span"] is not None
        blocks = []
        for name, specs in (
            ("static", static_specs),
            ("value", value_specs),
            ("clock", _clock_specs(timed)),
        ):
            marginals = marginals_from_state(meta[f"{name}_marginals"], arrays, f"{name}_", specs)
            blocks.append(Block(specs, marginals))
        static, values, clock = blocks
        s, c, k = len(static.specs), len(values.specs), len(clock.specs)
        sizes = {"first": (s, s + c), "steps": (s + k + c, s + k + 2 * c), "gaps": (s + 3, s + 4)}
        models: dict[str, ConditionalGaussian | None] = {"gaps": None}
        for name in ("first", "steps", "gaps") if timed else ("first", "steps"):
            model = ConditionalGaussian.from_state(
                arrays[f"{name}_correlation"], meta[f"{name}_given"], f"the '{name}' model"
            )
            expect(
                (model.n_given, model.correlation.shape[0]) == sizes[name],
                f"the '{name}' model does not fit the timeline's columns",
            )
            models[name] = model
        n_events, span = str(meta["n_events"]), meta["span"]
        expect(
            n_events in static.names and (span is None or span in static.names),
            "the timeline model's event count or span is not one of its static columns",
        )
        trees = trees_from_state(meta["missing_trees"], arrays, n_columns=s + k + 2 * c)
        expect(
            all(tree.column >= s + k + c for tree in trees),
            "a missing-value tree of the timeline model predicts a column that is not a value",
        )
        first, steps, gaps = models["first"], models["steps"], models["gaps"]
        assert first is not None and steps is not None
        return cls(static, values, clock, n_events, span, first, steps, gaps, trees)


def _tree_features(
    static: np.ndarray, clock: np.ndarray, previous: np.ndarray, current: np.ndarray
) -> np.ndarray:
    """The missing-value trees' features: scores and raw clock values, missing ones marked."""
    features = np.column_stack([static, clock, previous, current]).astype(float)
    features[np.isnan(features)] = MISSING_SENTINEL
    return features


def _clock_frame(position: np.ndarray, times: np.ndarray | None, later: np.ndarray) -> pd.DataFrame:
    """Position, time elapsed at the previous event and gap of each non-first event."""
    frame = {POSITION: position[later].astype(float)}
    if times is not None:
        start = times[later - position[later]]
        frame[ELAPSED] = times[later - 1] - start
        frame[GAP] = times[later] - times[later - 1]
    return pd.DataFrame(frame)


def _positions(counts: np.ndarray) -> np.ndarray:
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def _floats(values: pd.Series) -> np.ndarray:
    return np.array(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float))
