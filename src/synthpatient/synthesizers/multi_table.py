"""Whole patients across several event tables (visits, labs, diagnoses...).

A patient's tables are not independent: a patient with many lab tests usually has many
diagnoses, and a table's first event sits at a typical distance from the patient's first
event of any kind. So the patients are drawn once, by one Gaussian copula over the patients
table plus, for every event table, three derived columns: its number of events (0 allowed),
the time from the patient's first event of any table to this table's first event, and the
span to its last event (plus the time of that first event overall). Each event table's events
then come from its own sequential model (:class:`SequentialSynthesizer`: an autoregressive
copula given the patient), fed the drawn patients. Measured on the bundled ``nafld`` tables
by ``benchmarks/check_multi_table.py`` against fitting each table on its own.

Output and input are :class:`~synthpatient.longitudinal.PatientTables`; patient ids and
every identifier are new. A fitted model is a folder: ``model.json`` (what it is), the
patients model in ``patients/`` and one sequential model per table in ``tables/NAME/``, each
the usual model folder (manifest + arrays, no pickle), checked on load.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from synthpatient._io import atomic_folder, read_text
from synthpatient._random import as_generator, check_seed, fresh_seed
from synthpatient.errors import (
    ConditionError,
    DataError,
    InvalidParameterError,
    ModelFileError,
    NotFittedError,
    SynthPatientWarning,
)
from synthpatient.longitudinal import (
    MAX_EVENTS_PER_PATIENT,
    Layout,
    PatientTable,
    PatientTables,
    check_table_name,
)
from synthpatient.schema import ColumnSpec, Schema, explain_schema, warn_unsure
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer
from synthpatient.synthesizers.sequential import (
    SequentialSynthesizer,
    _days,
    _derived_names,
    without_relations_on,
)

MODEL_FORMAT = "synthpatient.tables-model/1"
_NS_PER_DAY = 86_400e9


class MultiTableSynthesizer:
    """Patients and several event tables: one copula for the patients and how many events
    each table holds when, then one sequential model per event table.

    Args:
        n_quantiles: levels of each column's stored quantile function.
        max_events_per_patient: per table, as :class:`SequentialSynthesizer`'s.
        seed: seed for fitting and the default seed for sampling.

    Examples:
        >>> from synthpatient import datasets
        >>> synth = MultiTableSynthesizer(seed=0).fit(datasets.load_tables("nafld"))
        >>> synthetic = synth.sample(500)         # PatientTables of 500 new patients
        >>> synthetic.events("labs").head()
    """

    def __init__(
        self,
        *,
        n_quantiles: int = 100,
        max_events_per_patient: int = MAX_EVENTS_PER_PATIENT,
        seed: int | None = None,
    ) -> None:
        for name, value, low in (
            ("n_quantiles", n_quantiles, 2),
            ("max_events_per_patient", max_events_per_patient, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidParameterError(
                    f"The '{name}' parameter of MultiTableSynthesizer must be an int >= {low}. "
                    f"Got {value!r}."
                )
        check_seed(seed)
        self.n_quantiles = n_quantiles
        self.max_events_per_patient = max_events_per_patient
        self.seed = seed

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "patients_model_")

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, tables: PatientTables) -> Self:
        """Learn ``tables`` (never modified).

        Raises:
            DataError: not a :class:`PatientTables`; event tables whose times are not all
                dates or all numbers; what a table's sequential model refuses (named).
        """
        if not isinstance(tables, PatientTables):
            raise DataError(
                "MultiTableSynthesizer.fit takes PatientTables (PatientTables.from_frames or "
                f".read); got {type(tables).__name__}. For one long table use 'sequential'."
            )
        rng = as_generator(self.seed)
        key = tables.key
        patients_schema = _patients_schema(tables.patients, key)
        kinds = {tables.layout(n).time_kind for n in tables.names} - {"order"}
        if len(kinds) > 1:
            raise DataError(
                "The event tables' times must all be dates or all be numbers (days since a "
                "common start), so that they can be placed on one time line; convert them."
            )
        self.tables_: dict[str, dict[str, Any]] = {}
        self.models_: dict[str, SequentialSynthesizer] = {}
        for name in tables.names:
            table = tables.table(name)
            schema = _table_schema(patients_schema, table.events, key)
            model = SequentialSynthesizer(
                patient_key=key,
                time_column=table.layout.time,
                static_columns=list(table.layout.static),
                n_quantiles=self.n_quantiles,
                max_events_per_patient=self.max_events_per_patient,
                seed=int(rng.integers(0, 2**31 - 1)),
            )
            with warnings.catch_warnings():
                # the patients table's inference was reported once, above
                warnings.filterwarnings("ignore", "Schema inference is unsure", SynthPatientWarning)
                # its repairs were reported when the tables were read
                warnings.filterwarnings(
                    "ignore", "The long table was repaired", SynthPatientWarning
                )
                try:
                    model.fit(table.to_long(), schema=schema)
                except (DataError, ConditionError) as exc:
                    raise DataError(f"Event table '{name}': {exc}") from exc
            self.models_[name] = model
            layout = table.layout
            self.tables_[name] = {
                "time": layout.time,
                "time_kind": layout.time_kind,
                "columns": [str(c) for c in table.events.columns],
                "static": list(layout.static),
                "varying": list(layout.varying),
                "identifiers": list(layout.identifiers),
            }
        frame, specs = self._patients_frame(tables, patients_schema)
        derived = {self.derived_["start"]}
        for name in tables.names:
            derived |= set(self.derived_[name].values())
        schema = without_relations_on(Schema(columns=tuple(specs)).complete(frame), derived)
        self.patients_model_ = GaussianCopulaSynthesizer(
            n_quantiles=self.n_quantiles, seed=int(rng.integers(0, 2**31 - 1))
        ).fit(frame, schema=schema)
        self.key_ = key
        self.patient_columns_ = [str(c) for c in tables.patients.columns]
        self.n_training_patients_ = tables.n_patients
        return self

    def _patients_frame(
        self, tables: PatientTables, schema: Schema
    ) -> tuple[pd.DataFrame, list[ColumnSpec]]:
        """The patients table with each event table's derived columns: events, the time from
        the patient's first event of any table to this table's first, and the span."""
        frame = tables.patients.copy()
        specs = list(schema)
        firsts: dict[str, np.ndarray] = {}
        spans: dict[str, np.ndarray] = {}
        names = self._derived(tables.names, schema)
        self.derived_ = names
        for name in tables.names:
            table = tables.table(name)
            counts = table.events_per_patient().to_numpy()
            frame[names[name]["n_events"]] = counts
            specs.append(
                ColumnSpec(
                    name=names[name]["n_events"],
                    kind="integer",
                    minimum=0,
                    maximum=int(counts.max()),
                    observed=True,
                )
            )
            if table.layout.time is None:
                continue
            first, last = _first_last(
                table.events, tables.key, table.layout.time, frame[tables.key]
            )
            firsts[name], spans[name] = first, last - first
        if firsts:
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # patients without any event
                start = np.nanmin(np.column_stack(list(firsts.values())), axis=1)
            timed = next(n for n in tables.names if n in firsts)
            time_spec = self.models_[timed].schema_[str(tables.layout(timed).time)]
            frame[names["start"]] = self._from_days(start, time_spec)
            specs.append(
                time_spec.model_copy(
                    update={
                        "name": names["start"],
                        "nullable": True,
                        "minimum": None,
                        "maximum": None,
                        "observed": False,
                    }
                )
            )
            for name, first in firsts.items():
                for part, values in (("offset", first - start), ("span", spans[name])):
                    frame[names[name][part]] = values
                    top = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
                    specs.append(
                        ColumnSpec(
                            name=names[name][part],
                            kind="numeric",
                            minimum=0.0,
                            maximum=top,
                            nullable=True,
                            observed=True,
                        )
                    )
        return frame, specs

    @staticmethod
    def _derived(names: tuple[str, ...], schema: Schema) -> dict[str, Any]:
        """Derived column names, clear of the patients table's own."""
        taken = set(schema.names)

        def free(base: str) -> str:
            while base in taken:
                base = "_" + base
            taken.add(base)
            return base

        out: dict[str, Any] = {"start": free("_first_event")}
        for name in names:
            out[name] = {part: free(f"_{name}.{part}") for part in ("n_events", "offset", "span")}
        return out

    @staticmethod
    def _from_days(days: np.ndarray, spec: ColumnSpec) -> Any:
        if spec.kind == "datetime":
            ns = np.where(np.isnan(days), np.nan, np.round(days * _NS_PER_DAY))
            return pd.to_datetime(pd.Series(ns), unit="ns")
        return days

    # -- sample --------------------------------------------------------------------------------
    def sample(
        self,
        n_patients: int,
        *,
        conditions: Mapping[str, Any] | None = None,
        seed: int | np.random.Generator | None = None,
    ) -> PatientTables:
        """``n_patients`` new patients with their events in every table.

        Args:
            n_patients: number of patients, >= 0.
            conditions: on patient columns, as ``Synthesizer.sample``'s ("sex": "f",
                "age": (60, None)); whole patients are returned.
            seed: the same seed gives the same tables.

        Raises:
            ConditionError: a condition on a column that is not a patient column, or one that
                cannot be met.
        """
        if not self.is_fitted:
            raise NotFittedError(
                "This MultiTableSynthesizer is not fitted yet; call fit() before sample()."
            )
        if isinstance(n_patients, bool) or not isinstance(n_patients, int) or n_patients < 0:
            raise InvalidParameterError(
                f"n_patients must be a whole number >= 0. Got {n_patients!r}."
            )
        check_seed(seed)
        patient_columns = [c for c in self.patient_columns_ if c != self.key_]
        for column in conditions or {}:
            if column not in patient_columns:
                raise ConditionError(
                    f"The condition on '{column}' cannot be met: conditions choose whole "
                    f"patients, by a column of the patients table ({', '.join(patient_columns)})."
                )
        if seed is None:
            seed = self.seed if self.seed is not None else fresh_seed()
        rng = as_generator(seed)
        drawn = self.patients_model_.sample(n_patients, conditions=conditions, seed=rng)
        events = {name: self._events(name, drawn, rng) for name in self.models_}
        patients = drawn[self.patient_columns_].sort_values(self.key_, kind="stable")
        patients = patients.reset_index(drop=True)
        tables = {name: self._table(name, patients, frame) for name, frame in events.items()}
        return PatientTables(key=self.key_, patients=patients, tables=tables)

    def _table(self, name: str, patients: pd.DataFrame, events: pd.DataFrame) -> PatientTable:
        """One table of the sample, laid out as the training table was (nothing inferred:
        the sample is ours, and may be empty)."""
        info = self.tables_[name]
        order = [self.key_, *([info["time"]] if info["time"] else [])]
        events = events.sort_values(order, kind="stable").reset_index(drop=True)
        layout = Layout(
            key=self.key_,
            time=info["time"],
            time_kind=info["time_kind"],
            static=tuple(info["static"]),
            varying=tuple(info["varying"]),
            reasons={},
            columns=(),
            identifiers=tuple(info["identifiers"]),
        )
        return PatientTable(layout=layout, patients=patients, events=events)

    def _events(self, name: str, drawn: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """One table's events for the drawn patients (those drawn with at least one)."""
        model, derived = self.models_[name], self.derived_[name]
        columns = self.tables_[name]["columns"]
        counts = np.round(pd.to_numeric(drawn[derived["n_events"]]).to_numpy(dtype=float))
        has = np.flatnonzero(np.nan_to_num(counts) >= 1)
        if not len(has):
            return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
        sub = drawn.iloc[has].reset_index(drop=True)
        n_events, first_time, span = _derived_names(model.schema_)
        given = sub[model.layout_["static"]].copy()
        given[n_events] = counts[has]
        if self.tables_[name]["time"] is not None:
            start = _days(sub[self.derived_["start"]])
            offset = np.nan_to_num(pd.to_numeric(sub[derived["offset"]]).to_numpy(dtype=float))
            time_spec = model.schema_[self.tables_[name]["time"]]
            # the patient's first event overall may come from another table, earlier than
            # this table's times ever start: kept inside this table's own range
            first = np.clip(start + offset, *_bounds_in_days(time_spec))
            given[first_time] = self._from_days(first, time_spec)
            given[span] = np.nan_to_num(pd.to_numeric(sub[derived["span"]]).to_numpy(dtype=float))
        raw, patient = model._events_of(given, rng)
        frame = model._finalize(raw, len(raw), [], rng, regenerate_ids=False)
        frame = model._with_identifiers(frame, patient, len(sub), rng)
        frame[self.key_] = sub[self.key_].to_numpy()[patient]
        return frame[columns]

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Save to a folder: ``model.json``, ``patients/`` and ``tables/NAME/`` (model folders)."""
        if not self.is_fitted:
            raise NotFittedError(
                "This MultiTableSynthesizer is not fitted yet; call fit() before save()."
            )
        path = Path(path)
        manifest = {
            "format": MODEL_FORMAT,
            "params": {
                "n_quantiles": self.n_quantiles,
                "max_events_per_patient": self.max_events_per_patient,
                "seed": self.seed,
            },
            "patient_key": self.key_,
            "patient_columns": self.patient_columns_,
            "n_training_patients": self.n_training_patients_,
            "tables": self.tables_,
            "derived": self.derived_,
        }
        with atomic_folder(path, overwrite=overwrite) as tmp:
            (tmp / "model.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
            self.patients_model_.save(tmp / "patients")
            (tmp / "tables").mkdir()
            for name, model in self.models_.items():
                model.save(tmp / "tables" / name)
        return path

    @classmethod
    def load(cls, path: str | Path) -> MultiTableSynthesizer:
        """Load a saved model folder (untrusted input: every nested model is checked).

        Raises:
            ModelFileError: the folder is missing or damaged (one line).
        """
        path = Path(path)
        text = read_text(path / "model.json", what="model file")
        try:
            manifest = json.loads(text)
            return cls._restored(path, manifest)
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, DataError) as exc:
            raise ModelFileError(
                f"The model folder {path} is damaged: its model.json does not describe a "
                f"multi-table model ({type(exc).__name__}). Fit and save the model again."
            ) from exc

    @classmethod
    def _restored(cls, path: Path, manifest: dict[str, Any]) -> MultiTableSynthesizer:
        if manifest["format"] != MODEL_FORMAT:
            raise ModelFileError(
                f"The model folder {path} holds format {str(manifest['format'])[:40]!r}, "
                f"not {MODEL_FORMAT!r}: save it again with this version."
            )
        params = manifest["params"]
        self = cls(
            n_quantiles=int(params["n_quantiles"]),
            max_events_per_patient=int(params["max_events_per_patient"]),
            seed=params["seed"],
        )
        patients = GaussianCopulaSynthesizer.load(path / "patients")
        assert isinstance(patients, GaussianCopulaSynthesizer)
        self.patients_model_ = patients
        self.key_ = str(manifest["patient_key"])
        self.patient_columns_ = [str(c) for c in manifest["patient_columns"]]
        self.n_training_patients_ = int(manifest["n_training_patients"])
        self.tables_ = dict(manifest["tables"])
        self.derived_ = dict(manifest["derived"])
        self.models_ = {}
        names = set(patients.schema_.names)
        for name in self.tables_:
            check_table_name(name)
            model = SequentialSynthesizer.load(path / "tables" / name)
            if not isinstance(model, SequentialSynthesizer):
                raise ModelFileError(f"The model folder {path}: table '{name}' is not sequential.")
            self.models_[name] = model
            needed = [*self.derived_[name].values(), *model.layout_["static"]]
            if not set(needed) <= names or self.key_ not in names:
                raise ModelFileError(
                    f"The model folder {path}: table '{name}' needs patient columns that its "
                    "patients model does not have. Fit and save the model again."
                )
        return self


def _patients_schema(patients: pd.DataFrame, key: str) -> Schema:
    """The patients table's schema, the key an identifier; unsure columns named once."""
    schema, decisions = explain_schema(patients)
    warn_unsure(decisions, advice="Check them.", skip=[key], stacklevel=3)
    if schema[key].kind != "identifier":
        integer = pd.api.types.is_integer_dtype(patients[key])
        schema = schema.replace(
            key,
            kind="identifier",
            identifier_type="integer_id" if integer else "string_id",
            minimum=None,
            maximum=None,
            decimals=None,
            categories=None,
            observed=False,
        )
    return schema.complete(patients)


def _table_schema(patients: Schema, events: pd.DataFrame, key: str) -> Schema:
    """One table's long-form schema: the patients' columns as the patients table reads them
    (so every table and the patients model agree), then the event columns."""
    inferred, _ = explain_schema(events.drop(columns=[key]))
    columns = [c.model_copy(update={"observed": False}) for c in patients]
    return Schema(columns=(*columns, *inferred))


def _first_last(
    events: pd.DataFrame, key: str, time: str, patient_ids: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """Each patient's first and last event time in days (NaN without events), in the order
    of ``patient_ids``."""
    days = pd.Series(_days(events[time]), index=events.index)
    grouped = days.groupby(events[key].to_numpy())
    first = grouped.min().reindex(patient_ids.to_numpy()).to_numpy(dtype=float)
    last = grouped.max().reindex(patient_ids.to_numpy()).to_numpy(dtype=float)
    return first, last


def _bounds_in_days(spec: ColumnSpec) -> tuple[float, float]:
    """A time column's observed range in days (dates) or in its own unit (numbers)."""
    bounds = []
    for value, default in ((spec.minimum, -np.inf), (spec.maximum, np.inf)):
        if value is None:
            bounds.append(default)
        elif spec.kind == "datetime":
            bounds.append(pd.Timestamp(value).value / _NS_PER_DAY)
        else:
            bounds.append(float(value))
    return bounds[0], bounds[1]
