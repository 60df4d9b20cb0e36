"""The sequential synthesizer: whole patients from a long table (several rows per patient).

A long table is read at the patient level (:class:`synthpatient.longitudinal.PatientTable`):
one row per patient of static columns, and the events in time. Patients are drawn first, by a
Gaussian copula on the patients table plus three derived columns (the number of events, the
first event's time, the span to the last event), so conditions on patient columns ("sex=f",
"age=60..") are met natively and return whole patients. Each patient's events follow from a
chain of conditional Gaussian copulas (``_timelines``): the gaps, then each event's values
given the patient and the previous event's values. Static values are constant within a
patient by construction, times increase, and values follow trajectories instead of fresh
draws per visit.

``sample(n)`` returns the rows of ``n`` new patients in the input's column layout; the patient
key and every other identifier are regenerated (one value per patient where the real one was
constant per patient), never copied.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import (
    ConditionError,
    DataError,
    ModelFileError,
    SynthPatientWarning,
)
from synthpatient.longitudinal import MAX_EVENTS_PER_PATIENT
from synthpatient.relations import Relation
from synthpatient.schema import ColumnSpec, Schema, explain_schema, warn_unsure
from synthpatient.synthesizers._conditions import Condition, as_mapping
from synthpatient.synthesizers._constraints import Interval, Names, Param, Text
from synthpatient.synthesizers._identifiers import regenerate, sex_of_rows
from synthpatient.synthesizers._persistence import expect, nest, unnest
from synthpatient.synthesizers._timelines import TimelineModel
from synthpatient.synthesizers.base import Capabilities, Synthesizer
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer

_STATIC_PREFIX = "static."
_NS_PER_DAY = 86_400e9


class SequentialSynthesizer(Synthesizer):
    """Patients (static columns) by a Gaussian copula, then their events by an
    autoregressive Gaussian copula.

    Args:
        patient_key: the patient id column (None: found by
            :func:`synthpatient.longitudinal.infer_layout`).
        time_column: the time column, dates or numbers (None: found likewise; row order
            when there is none).
        static_columns: the columns that hold one value per patient (None: found from the
            values: those constant within nearly every patient); the others change per event.
        n_quantiles: levels of each column's stored quantile function (as the copula's).
        max_events_per_patient: more events for one patient is an error (a key that is not
            a patient: a ward, a site); raise it for very long histories (on the command
            line: ``-p max_events_per_patient=N``).
        seed: seed for fitting and the default seed for sampling.

    Examples:
        >>> from synthpatient import datasets
        >>> synth = SequentialSynthesizer(seed=0).fit(datasets.load("pbcseq"))
        >>> synth.sample(100, conditions={"sex": "f"})   # the rows of 100 new patients
    """

    key = "sequential"
    capabilities = Capabilities(
        native_conditions=True, range_conditions=True, handles_missing=True, longitudinal=True
    )
    #: fewest patients to learn from (``min_rows`` counts rows, which the base checks too)
    min_patients = 10
    _parameter_constraints = {
        "patient_key": Param(Text("a column name"), None, hint="None finds it"),
        "time_column": Param(Text("a column name"), None, hint="None finds it"),
        "static_columns": Param(Names(), None, hint="None finds them"),
        "n_quantiles": Param(Interval(int, 2, None)),
        "max_events_per_patient": Param(Interval(int, 1, None)),
    }

    def __init__(
        self,
        *,
        patient_key: str | None = None,
        time_column: str | None = None,
        static_columns: list[str] | None = None,
        n_quantiles: int = 100,
        max_events_per_patient: int = MAX_EVENTS_PER_PATIENT,
        seed: int | None = None,
    ) -> None:
        self.patient_key = patient_key
        self.time_column = time_column
        self.static_columns = static_columns
        self.n_quantiles = n_quantiles
        self.max_events_per_patient = max_events_per_patient
        super().__init__(seed=seed)

    # -- fit -----------------------------------------------------------------------------------
    def _prepare(
        self, data: pd.DataFrame, schema: Schema | None
    ) -> tuple[pd.DataFrame, Schema | None]:
        """Read a long table (never modified) as patients and their events: several rows per
        patient, a patient key and, usually, a time column; ``fit`` then learns it.

        Raises:
            DataError: what the data model refuses (one row per patient, no patient key...),
                fewer than ``min_patients`` patients, or a time column that is not a date or
                a number in the schema.
        """
        from synthpatient.longitudinal import PatientTable

        table = PatientTable.from_long(
            data,
            key=self.patient_key,
            time=self.time_column,
            static=self.static_columns,
            max_events_per_patient=self.max_events_per_patient,
        )
        layout = table.layout
        long = table.to_long().reset_index(drop=True)
        schema = self._long_schema(long, schema, layout.key)
        schema = _time_as_number(schema, long, layout.time, layout.time_kind)
        if layout.time is not None and schema[layout.time].kind not in (
            "numeric",
            "integer",
            "datetime",
        ):
            raise DataError(
                f"The time column '{layout.time}' is not a date or a number in the schema; "
                "give a schema that reads it as one, or another time column with time_column=."
            )
        codes, uniques = pd.factorize(long[layout.key], sort=False)
        if len(uniques) < self.min_patients:
            raise DataError(
                f"{type(self).__name__} needs at least {self.min_patients} patients to learn "
                f"from; the table has {len(uniques)}. Give more patients."
            )
        # read by _fit, which the base calls next on this long table and schema
        self._pending = (layout, codes)
        return long, schema

    def _long_schema(self, long: pd.DataFrame, schema: Schema | None, key: str) -> Schema:
        """The schema of the long table, its patient key an identifier (never learned)."""
        if schema is None:
            schema, decisions = explain_schema(long)
            warn_unsure(decisions, skip=[key], stacklevel=3)
        if key in schema and schema[key].kind != "identifier":
            numeric = pd.api.types.is_integer_dtype(long[key])
            schema = schema.replace(
                key,
                kind="identifier",
                identifier_type="integer_id" if numeric else "string_id",
                minimum=None,
                maximum=None,
                decimals=None,
                categories=None,
                observed=False,
            )
        return schema

    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        layout, patient = self._pending
        del self._pending
        learned = {c.name for c in schema.learned}
        time = layout.time
        static = [c.name for c in schema.learned if c.name in layout.static]
        values = [c.name for c in schema.learned if c.name not in static and c.name != time]
        self.layout_: dict[str, Any] = {
            "key": layout.key,
            "time": time,
            "time_kind": layout.time_kind,
            "static": static,
            "values": values,
            # identifiers and text kept with their patient (one value per patient)
            "per_patient": [c for c in layout.static if c not in learned],
            # patient columns no event time ever passes (follow-up time, a death date)
            "time_bounds": _time_bounds(data, schema, time, static),
            # other dates of an event (a discharge, a result's date) learned as days from the
            # event's own time, so they stay next to it (a discharge after its admission)
            "offsets": [
                c
                for c in values
                if time is not None
                and schema[time].kind == "datetime"
                and schema[c].kind == "datetime"
            ],
        }
        first = np.flatnonzero(np.r_[True, patient[1:] != patient[:-1]])
        counts = np.diff(np.r_[first, len(patient)])
        patients = data.loc[first, static].reset_index(drop=True)
        n_events, first_time, span = _derived_names(schema)
        patients[n_events] = counts
        times = None
        if time is not None:
            times = _days(data[time])
            patients[first_time] = data.loc[first, time].reset_index(drop=True)
            patients[span] = times[first + counts - 1] - times[first]
        static_schema = without_relations_on(
            Schema(columns=tuple(self._static_specs(schema, patients))).complete(patients),
            set(_derived_names(schema)),
        )
        self.static_model_ = GaussianCopulaSynthesizer(
            n_quantiles=self.n_quantiles, seed=int(rng.integers(0, 2**31 - 1))
        ).fit(patients, schema=static_schema)
        event_values = data[values].copy()
        for name in self.layout_["offsets"]:
            event_values[name] = _days(data[name]) - np.asarray(times)
        self.timeline_ = TimelineModel.fit(
            patients,
            _feature_specs(static_schema, schema),
            event_values,
            self._value_specs(schema),
            patient,
            times,
            n_events=n_events,
            span=span if time is not None else None,
            n_quantiles=self.n_quantiles,
            rng=rng,
        )
        self.n_training_patients_ = len(first)

    def _value_specs(self, schema: Schema) -> list[ColumnSpec]:
        """The event columns as the timeline learns them: dates of the event other than its
        time as numbers of days from it."""
        offsets = set(self.layout_.get("offsets", []))
        return [
            ColumnSpec(name=c, kind="numeric", nullable=schema[c].nullable)
            if c in offsets
            else schema[c]
            for c in self.layout_["values"]
        ]

    def _static_specs(self, schema: Schema, patients: pd.DataFrame | None) -> list[ColumnSpec]:
        """The patients table's columns: static columns, then the derived ones (bounds read
        from ``patients`` at fit; on load they come with the saved copula's schema)."""
        layout = self.layout_
        n_events, first_time, span = _derived_names(schema)
        specs = [schema[c] for c in layout["static"]]
        top = None if patients is None else int(patients[n_events].max())
        specs.append(
            ColumnSpec(name=n_events, kind="integer", minimum=1, maximum=top, observed=True)
        )
        if layout["time"] is not None:
            specs.append(schema[layout["time"]].model_copy(update={"name": first_time}))
            widest = None if patients is None else float(patients[span].max())
            specs.append(
                ColumnSpec(name=span, kind="numeric", minimum=0.0, maximum=widest, observed=True)
            )
        return specs

    # -- sample --------------------------------------------------------------------------------
    def _relations(self) -> list[Relation]:
        """None kept by redrawing rows: a row is an event, and redrawing some events of a
        history would cut it. Time bounds (an event before a follow-up end) are kept by the
        timeline itself (``_times``); relations between patient columns by the patients'
        copula."""
        return []

    def _rows_of(self, n: int) -> int:
        return int(n * self.mean_events_) + 1

    def _check_conditions(self, conditions: list[Condition]) -> None:
        for cond in conditions:
            if cond.column not in self.layout_["static"]:
                raise ConditionError(
                    f"The condition on '{cond.column}' cannot be met: it changes between a "
                    "patient's events, and conditions choose whole patients. Condition on a "
                    f"patient column instead ({', '.join(self.layout_['static']) or 'none'})."
                )

    @property
    def mean_events_(self) -> float:
        return float(self.n_training_rows_) / max(self.n_training_patients_, 1)

    def _sample(
        self, n_rows: int, rng: np.random.Generator, conditions: list[Condition]
    ) -> pd.DataFrame:
        """The learned columns of ``n_rows`` patients' events (more rows than ``n_rows``);
        each row's patient waits in ``_drawn_patients`` for ``_after_sample``."""
        frame, self._drawn_patients = self._draw(n_rows, rng, conditions)
        return frame

    def _after_sample(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Fresh identifiers per patient (the base gives none to a longitudinal backend)."""
        if frame.empty:  # sample(0): nothing was drawn
            return frame
        patient = self._drawn_patients
        del self._drawn_patients
        return self._with_identifiers(frame, patient, int(patient.max()) + 1, rng)

    def _draw(
        self, n_patients: int, rng: np.random.Generator, conditions: list[Condition]
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Learned columns of the events of ``n_patients`` new patients, and each row's
        patient (0..n-1). Conditions, all on static columns, go to the patients' copula."""
        patients = self.static_model_.sample(
            n_patients, conditions=as_mapping(conditions, self.schema_), seed=rng
        )
        return self._events_of(patients, rng)

    def _events_of(
        self, patients: pd.DataFrame, rng: np.random.Generator
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Learned columns of the events of given ``patients`` (the static columns and the
        derived ones: number of events, first time, span), and each row's patient (row of
        ``patients``). A multi-table model draws patients itself and calls this per table."""
        patient, relative, values = self.timeline_.sample(patients, rng)
        layout, out = self.layout_, {}
        for name in layout["static"]:
            out[name] = patients[name].to_numpy()[patient]
        if layout["time"] is not None:
            assert relative is not None
            first_time = _derived_names(self.schema_)[1]
            bounds = [_days(patients[c]) for c in layout.get("time_bounds", [])]
            out[layout["time"]] = self._times(patients[first_time], patient, relative, bounds)
        for name in layout.get("offsets", []):
            days = pd.to_timedelta(np.asarray(values[name], dtype=float), unit="D")
            values[name] = pd.DatetimeIndex(out[layout["time"]]) + days
        out.update(values)
        learned = [c.name for c in self.schema_.learned]
        return pd.DataFrame({c: out[c] for c in learned}), patient

    def _times(
        self,
        first: pd.Series,
        patient: np.ndarray,
        relative: np.ndarray,
        bounds: list[np.ndarray] | None = None,
    ) -> Any:
        """Event times: the first time plus the drawn offsets, kept inside the column's
        bounds and below each patient's own ``bounds`` (a timeline past them is compressed)
        and strictly increasing in the column's step (a day, or 1 for whole numbers), so no
        two events share a time."""
        spec = self.schema_[self.layout_["time"]]
        is_date = spec.kind == "datetime"
        start = _days(first)
        if is_date:
            high = None if spec.maximum is None else pd.Timestamp(spec.maximum).value / _NS_PER_DAY
            step = 1.0 if spec.datetime_unit == "day" else 0.0
        else:
            high = None if spec.maximum is None else float(spec.maximum)
            step = 1.0 if spec.kind == "integer" or spec.decimals == 0 else 0.0
        last = relative[np.r_[patient[1:] != patient[:-1], True]]
        ceiling = np.full(len(start), np.inf if high is None else high)
        for bound in bounds or []:
            ceiling = np.fmin(ceiling, bound)  # a missing bound (NaN) leaves the ceiling
        if np.isfinite(ceiling).any():
            # a first event drawn after its patient's bound starts early enough to fit
            floor = -np.inf
            if spec.minimum is not None:
                low = spec.minimum
                floor = pd.Timestamp(low).value / _NS_PER_DAY if is_date else float(low)
            late = np.isfinite(ceiling) & (start > ceiling)
            start = np.where(late, np.maximum(ceiling - last, floor), start)
            room = np.where(np.isfinite(ceiling), np.maximum(ceiling - start, 0.0), np.inf)
            scale = np.where(last > room, room / np.where(last > 0, last, 1.0), 1.0)
            relative = relative * scale[patient]
        times = start[patient] + relative
        if step:
            times = np.round(times / step) * step
            # each event at least one step after the one before: with k the event's position
            # in its patient, times - k * step must not decrease within the patient
            first = np.flatnonzero(np.r_[True, patient[1:] != patient[:-1]])
            position = np.arange(len(patient)) - np.repeat(
                first, np.diff(np.r_[first, len(patient)])
            )
            shifted = pd.Series(times - position * step).groupby(patient).cummax().to_numpy()
            times = shifted + position * step
        if is_date:
            return pd.to_datetime(np.round(times * _NS_PER_DAY).astype("int64"), unit="ns")
        return times

    def _with_identifiers(
        self, frame: pd.DataFrame, patient: np.ndarray, n_patients: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """Fresh identifiers: one per patient for the key and the columns constant within a
        patient, one per row for the others. Integer ids start above every real id."""
        first = np.flatnonzero(np.r_[True, patient[1:] != patient[:-1]])
        by_patient = frame.iloc[first].reset_index(drop=True)
        per_patient = {self.layout_["key"], *self.layout_["per_patient"]}
        for spec in self.schema_:
            if spec.kind != "identifier":
                continue
            if spec.name in per_patient:
                sex = sex_of_rows(self.schema_, by_patient)
                values = regenerate(spec, n_patients, rng, sex=sex).to_numpy()[patient]
            else:
                values = regenerate(spec, len(frame), rng, sex=sex_of_rows(self.schema_, frame))
                values = values.to_numpy()
            frame[spec.name] = values
        return frame

    # -- state ---------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The patients' copula nested as its own ``save`` writes it, and the timeline model."""
        nested, nested_arrays = nest(self.static_model_, _STATIC_PREFIX)
        timeline, arrays = self.timeline_.state()
        state = {
            "layout": self.layout_,
            "n_training_patients": self.n_training_patients_,
            "static_model": nested,
            "timeline": timeline,
        }
        return state, {**arrays, **nested_arrays}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        layout = dict(state["layout"])
        names = set(self.schema_.names)
        expect(
            layout["key"] in names
            and self.schema_[layout["key"]].kind == "identifier"
            and (layout["time"] is None or layout["time"] in names)
            and all(c in names for c in layout["static"] + layout["values"])
            and all(c in layout["static"] for c in layout.get("time_bounds", []))
            and all(c in layout["values"] for c in layout.get("offsets", [])),
            "the sequential model's layout names columns the schema does not have",
        )
        self.layout_ = layout
        self.n_training_patients_ = int(state["n_training_patients"])
        nested = state["static_model"]
        saved = unnest(nested, arrays, _STATIC_PREFIX, key=GaussianCopulaSynthesizer.key)
        try:
            static_model = GaussianCopulaSynthesizer.from_saved(saved)
        except ModelFileError as exc:
            raise ModelFileError(f"its patients model: {exc}") from exc
        assert isinstance(static_model, GaussianCopulaSynthesizer)
        expected = [s.name for s in self._static_specs(self.schema_, None)]
        expect(
            static_model.schema_.names == expected,
            "the nested patients model's columns differ from the patient columns",
        )
        self.static_model_ = static_model
        rest = {k: v for k, v in arrays.items() if not k.startswith(_STATIC_PREFIX)}
        self.timeline_ = TimelineModel.from_state(
            state["timeline"],
            rest,
            _feature_specs(static_model.schema_, self.schema_),
            self._value_specs(self.schema_),
        )


def _derived_names(schema: Schema) -> tuple[str, str, str]:
    """Names of the patients table's derived columns, clear of the table's own names."""
    names = []
    for base in ("n_events", "first_time", "span"):
        name = f"_{base}"
        while name in schema:
            name = "_" + name
        names.append(name)
    return names[0], names[1], names[2]


def _feature_specs(static_schema: Schema, schema: Schema) -> list[ColumnSpec]:
    """What events depend on: the static columns, the number of events and the span (not the
    first time, a calendar position)."""
    first_time = _derived_names(schema)[1]
    return [c for c in static_schema if c.name != first_time]


def _time_bounds(
    data: pd.DataFrame, schema: Schema, time: str | None, static: list[str]
) -> list[str]:
    """Patient columns of the time's kind that every event time stays at or below (pbcseq's
    follow-up time ``futime``; a death or censoring date): synthetic visits are kept below
    them too. Only columns present for at least 90% of rows, and never below the time on any
    row, count."""
    if time is None:
        return []
    is_date = schema[time].kind == "datetime"
    times = _days(data[time])
    found = []
    for name in static:
        kind = schema[name].kind
        if (kind == "datetime") != is_date or kind not in ("datetime", "numeric", "integer"):
            continue
        bound = _days(data[name])
        both = ~np.isnan(bound) & ~np.isnan(times)
        if both.mean() >= 0.9 and bool((times[both] <= bound[both]).all()):
            found.append(name)
    return found


def _days(values: pd.Series) -> np.ndarray:
    """Times as float days (dates) or as they are (numbers)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        ns = values.astype("datetime64[ns]").astype("int64").to_numpy(dtype=float)
        return ns / _NS_PER_DAY
    return np.array(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float))


def _time_as_number(schema: Schema, long: pd.DataFrame, time: str | None, time_kind: str) -> Schema:
    """A numeric time column read as categories (a few distinct visit days, 0/90/180...) is
    a number here: events are ordered and spaced by it. Said in a warning, never silent."""
    if time is None or time_kind != "numeric" or schema[time].kind != "categorical":
        return schema
    values = pd.to_numeric(long[time], errors="coerce")
    whole = bool((values.dropna() % 1 == 0).all())
    warnings.warn(
        f"The time column '{time}' was read as categories; it is learned as a number "
        "(the time of each event).",
        SynthPatientWarning,
        stacklevel=4,
    )
    return schema.replace(
        time,
        kind="integer" if whole else "numeric",
        categories=None,
        minimum=None,
        maximum=None,
        decimals=None,
        observed=False,
    )


def without_relations_on(schema: Schema, columns: set[str]) -> Schema:
    """``schema`` without the relations that involve ``columns``: the derived columns (number
    of events, span) are drawn for the timeline to use, and redrawing patients to keep, say,
    a span below the follow-up time would bias the histories (the timeline keeps that bound
    by compressing its times instead)."""
    kept = tuple(r for r in schema.relations or () if not set(r.columns) & columns)
    return schema.with_relations(kept)
