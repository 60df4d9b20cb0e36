"""The :class:`Synthesizer` base class: the public contract every backend shares.

Public ``fit``/``sample``/``save``/``load`` live only here. They validate input, turn seeds into
generators, enforce the schema on the output (column order, dtypes, categories, bounds,
rounding), regenerate identifier columns and honour conditions. Backends implement only the
private hooks ``_fit``, ``_sample``, ``_get_state`` and ``_set_state``, and work on the learned
columns in canonical dtypes (floats, datetime64, category values). Parameters are checked
against each backend's declarative ``_parameter_constraints`` table (see ``_constraints``);
what each backend can do is class data (:class:`Capabilities`), which callers read instead of
testing backend names.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd

from synthpatient._memory import check_rows_fit
from synthpatient._params import KeywordParams
from synthpatient._random import as_generator, check_seed, fresh_seed
from synthpatient.errors import (
    ConditionError,
    DataError,
    InvalidParameterError,
    NotFittedError,
    SynthPatientWarning,
)
from synthpatient.relations import Relation, RelationReport
from synthpatient.schema import (
    Schema,
    check_table,
    coerce_frame,
    explain_schema,
    repeated_patient_key,
    warn_unsure,
)
from synthpatient.synthesizers._conditions import Condition, parse_conditions
from synthpatient.synthesizers._constraints import Param
from synthpatient.synthesizers._delivery import enforce_column as _enforce  # noqa: F401 (re-exported)
from synthpatient.synthesizers._delivery import enforce_values, in_schema_dtype
from synthpatient.synthesizers._identifiers import regenerate, sex_of_rows
from synthpatient.synthesizers._persistence import SavedModel, build_model, restore, write_model

#: Rejection sampling (for backends without native conditions) gives up below this acceptance.
MIN_ACCEPTANCE = 1e-3


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, as class data: the conformance suite picks its checks from these,
    and the CLI, the web app and the benchmark read them instead of testing backend names.

    Attributes:
        native_conditions: ``_sample`` honours conditions itself; otherwise the base class
            keeps the sampled rows that meet them (see ``_native_conditions`` for a backend
            that honours some).
        range_conditions: ``(low, high)`` conditions on numbers and dates are supported.
        handles_missing: missing values are learned and sampled.
        needs_network: sampling sends requests to a server (never without the user's say).
        accepts_epsilon: takes a differential-privacy budget ``epsilon`` (and ``delta``).
        differentially_private: every fit is differentially private (there is no
            non-private mode; ``epsilon`` always applies).
        writes_text: writes free-text columns for the rows of a base model; its structured
            columns are that model's.
        fine_tunes: can fine-tune a local pretrained checkpoint given as ``base_model``.
        longitudinal: ``fit`` takes a long table (several rows per patient, a patient key and
            a time column) and ``sample(n)`` returns the rows of ``n`` new patients;
            conditions apply to patient (static) columns and return whole patients.
        extra: the pip extra it needs (``pip install 'synthpatient[extra]'``), or None.
    """

    native_conditions: bool = False
    range_conditions: bool = False
    handles_missing: bool = True
    needs_network: bool = False
    accepts_epsilon: bool = False
    differentially_private: bool = False
    writes_text: bool = False
    fine_tunes: bool = False
    longitudinal: bool = False
    extra: str | None = None


@runtime_checkable
class SampleReport(Protocol):
    """What a ``sample()`` call did beyond returning rows, in ``last_sample_report_``.

    Backends with something to report (an LLM run's yield and cost, the language model's
    redrawn training copies, where the hybrid's notes came from) set ``last_sample_report_``
    to an object with these two methods; the others leave it None.
    """

    def summary(self) -> str:
        """Lines for a person (the CLI prints them); empty when there is nothing to say."""

    def to_dict(self) -> dict[str, Any]:
        """Every count, JSON-ready."""


class Synthesizer(KeywordParams, ABC):
    """Learns a table and samples new rows like it.

    Subclasses take keyword-only parameters, store them unchanged under the same names and
    validate them at once in ``_validate_params``. Learned state ends in an underscore.

    Examples:
        >>> synth = GaussianCopulaSynthesizer(seed=0).fit(real)
        >>> synthetic = synth.sample(1000, conditions={"sex": 2})
        >>> synth.save("model/")
        >>> Synthesizer.load("model/").sample(1000, seed=7)
    """

    key: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    min_rows: ClassVar[int] = 10
    #: Parameters that choose where requests go and which secret goes with them. A model
    #: folder never decides these: on load they must be given again (see :meth:`load`).
    endpoint_params: ClassVar[tuple[str, ...]] = ()
    #: What each constructor parameter may be (``seed`` is checked by ``check_seed``); the base
    #: class checks every entry at construction, the conformance suite every entry's refusal.
    _parameter_constraints: ClassVar[Mapping[str, Param]] = {}

    def __init__(self, *, seed: int | None = None) -> None:
        self.seed = seed
        self._validate_params()

    # -- parameters ----------------------------------------------------------------------------
    def _validate_params(self) -> None:
        """Raise :class:`InvalidParameterError` for a parameter outside its constraints;
        backends extend it with the checks a table cannot express (one parameter against
        another)."""
        check_seed(self.seed)
        owner = type(self).__name__
        for name, param in self._parameter_constraints.items():
            value = getattr(self, name)
            if not param.allows(value):
                raise InvalidParameterError(param.message(name, owner, value))

    def _require(self, name: str, ok: bool, expected: str) -> None:
        if not ok:
            raise InvalidParameterError(
                f"The '{name}' parameter of {type(self).__name__} must "
                f"be {expected}. Got {getattr(self, name)!r}."
            )

    def uses_network(self) -> bool:
        """Whether this instance sends requests when sampling: the class's ``needs_network``,
        or what its settings add (the hybrid's LLM for notes)."""
        return self.capabilities.needs_network

    # -- fit -----------------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "schema_")

    def fit(self, data: pd.DataFrame, *, schema: Schema | None = None) -> Self:
        """Learn ``data`` (never modified). Identifier and free-text columns are not learned."""
        check_table(data)
        data, schema = self._prepare(data, schema)
        if schema is None:
            schema, decisions = explain_schema(data)
            warn_unsure(decisions)
        else:
            schema.validate(data)
        schema = self._private_relations(schema.complete(data))
        learned = [c.name for c in schema.learned]
        if not learned:
            raise DataError(
                "Every column is an identifier or free text, so there is nothing to "
                "learn. Give a table with clinical values, or edit the schema."
            )
        if len(data) < self.min_rows:
            raise DataError(
                f"{type(self).__name__} needs at least {self.min_rows} rows to learn "
                f"from; the table has {len(data)}. Give more rows."
            )
        for spec in schema:
            if spec.kind == "text" and not self.capabilities.writes_text:
                warnings.warn(
                    f"Column '{spec.name}' is free text: it is not learned (it may "
                    "hold identifiers) and is left empty in samples.",
                    SynthPatientWarning,
                    stacklevel=2,
                )
        most = None if self.capabilities.longitudinal else self._rows_per_patient(data, schema)
        typed = coerce_frame(schema, data)[learned].reset_index(drop=True)
        self._fit(typed, schema, as_generator(self.seed))
        spent = getattr(self, "privacy_spent_", None)
        if most is not None and isinstance(spent, dict) and "epsilon" in spent:
            # kept with the model and shown with the budget (CLI, data card)
            spent["max_rows_per_patient"] = most
            spent["epsilon_per_patient"] = most * float(spent["epsilon"])
            spent["preprocessing"] = (
                f"{spent.get('preprocessing', '')} The budget protects rows; a patient has up "
                f"to {most} rows, so per patient epsilon = {most * float(spent['epsilon']):g}."
            ).strip()
        self.schema_ = schema
        self.n_training_rows_ = len(data)
        return self

    def _rows_per_patient(self, data: pd.DataFrame, schema: Schema) -> int | None:
        """A visit-level table (several rows per patient) learned by a row-wise generator:
        each synthetic row is a new patient, and a private fit protects rows, not patients.
        Said, never silent (whole patients need the sequential synthesizer); returns the
        most rows one patient has, or None when rows are patients."""
        identifiers = [c.name for c in schema if c.kind == "identifier" and c.name in data]
        key = repeated_patient_key(data, identifiers)
        if key is None:
            return None
        most = int(data[key.name].value_counts().max())
        message = (
            f"'{key.name}' groups the {len(data):,} rows into {key.n_patients:,} patients "
            f"(up to {most} rows each). {type(self).__name__} treats each row as a patient of "
            "its own: each synthetic row is a new patient, and a patient's rows are not kept "
            "together. For whole patients with their visits, use the sequential synthesizer."
        )
        epsilon = getattr(self, "epsilon", None)
        private = self.capabilities.differentially_private or (
            self.capabilities.accepts_epsilon and epsilon is not None
        )
        if private and isinstance(epsilon, int | float):
            # group privacy: k rows of one patient share the budget k times
            message += (
                f" Differential privacy here protects rows: a patient with {most} rows is "
                f"protected at {most} x epsilon = {most * epsilon:g}, not {epsilon:g}. Keep one "
                "row per patient for a per-patient guarantee."
            )
        warnings.warn(message, SynthPatientWarning, stacklevel=3)
        return most

    def _private_relations(self, schema: Schema) -> Schema:
        """A private fit keeps only declared relations: discovered ones are read off the rows
        with no privacy accounting, so they are dropped (and the user told)."""
        private = self.capabilities.differentially_private or (
            self.capabilities.accepts_epsilon and getattr(self, "epsilon", None) is not None
        )
        relations = schema.relations or ()
        discovered = [r for r in relations if r.source == "discovered"]
        if not private or not discovered:
            return schema
        warnings.warn(
            f"{len(discovered)} relation(s) between columns found in the data are not kept by "
            "a differentially private model (finding them is not private); declare them in "
            "the schema to keep them.",
            SynthPatientWarning,
            stacklevel=3,
        )
        return schema.with_relations(tuple(r for r in relations if r.source != "discovered"))

    def _prepare(
        self, data: pd.DataFrame, schema: Schema | None
    ) -> tuple[pd.DataFrame, Schema | None]:
        """The table and schema ``fit`` goes on with: a backend that learns another shape of
        table (a long table read as patients and their events) reads it here; others keep
        both as given."""
        return data, schema

    # -- sample --------------------------------------------------------------------------------
    def _check_fitted(self, action: str) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit() before {action}()."
            )

    def sample(
        self,
        n_rows: int,
        *,
        conditions: Mapping[str, Any] | None = None,
        seed: int | np.random.Generator | None = None,
    ) -> pd.DataFrame:
        """Exactly ``n_rows`` new rows, all matching ``conditions``.

        Args:
            n_rows: number of rows, >= 0.
            conditions: ``{"sex": "female", "age": (40, 65)}``: one category or value per
                column, or a (low, high) range with either end None.
            seed: the same seed gives the same rows; None uses the constructor's seed, or
                fresh randomness when that is None too. A numpy Generator continues that
                random stream (how a model that samples another passes its own).

        What the call did beyond returning rows (an LLM run's counts and cost, redrawn
        training copies, where notes came from) is in ``last_sample_report_`` (a
        :class:`SampleReport`, or None when there is nothing to report); what keeping the
        schema's relations between columns took (values computed, rows drawn again or
        repaired, rows still breaking one) in ``last_relation_report_`` (None without
        relations).

        Raises:
            ConditionError: a condition names an unknown column or cannot be met.
        """
        self._check_fitted("sample")
        self._check_endpoints()
        if isinstance(n_rows, bool) or not isinstance(n_rows, int | np.integer) or n_rows < 0:
            raise InvalidParameterError(
                f"n_rows ({self._unit_of_sampling()}) must be a whole number >= 0. Got {n_rows!r}."
            )
        check_rows_fit(self._rows_of(int(n_rows)), len(self.schema_))
        check_seed(seed)
        parsed = parse_conditions(conditions, self.schema_)
        self._check_conditions(parsed)
        # describes this call only (a backend with something to report sets it again)
        self.last_sample_report_: SampleReport | None = None
        self.last_relation_report_: RelationReport | None = None
        if seed is None:
            seed = self.seed if self.seed is not None else fresh_seed()
        rng = as_generator(seed)
        n_rows = int(n_rows)
        native = self._native_conditions(parsed)
        checked = [c for c in parsed if not any(c is n for n in native)]
        if n_rows == 0:
            raw = self._empty_learned()
        elif checked:
            raw = self._sample_by_rejection(n_rows, native, checked, rng)
        else:
            raw = self._sample(n_rows, rng, native)
        enforced = bool(len(raw) and self._relations())
        if enforced:  # the rows come back already in the schema's dtypes, rounding and bounds
            raw = self._keep_relations(raw, native, checked, parsed, rng)
        # a longitudinal backend draws several rows per patient and gives each patient its
        # identifiers in _after_sample; the others get one fresh identifier per row here
        longitudinal = self.capabilities.longitudinal
        frame = self._finalize(
            raw, len(raw), parsed, rng, regenerate_ids=not longitudinal, enforced=enforced
        )
        return self._after_sample(frame, rng)

    def _relations(self) -> list[Relation]:
        """The schema's relations this model keeps (see :mod:`synthpatient.relations`)."""
        return list(self.schema_.relations or ())

    def _keep_relations(
        self,
        raw: pd.DataFrame,
        native: list[Condition],
        checked: list[Condition],
        parsed: list[Condition],
        rng: np.random.Generator,
    ) -> pd.DataFrame:
        """The drawn rows keeping the schema's relations: derived columns computed from the
        delivered (rounded) inputs, rows that break one drawn again (or repaired, if drawing
        fails); what was done is in ``last_relation_report_``."""
        from synthpatient.relations import enforce_relations

        learned = [c.name for c in self.schema_.learned]

        def redraw(k: int) -> pd.DataFrame:
            fresh = (
                self._sample_by_rejection(k, native, checked, rng)
                if checked
                else self._sample(k, rng, native)
            )
            return learned_of(self._finalize(fresh, len(fresh), parsed, rng, regenerate_ids=False))

        def learned_of(frame: pd.DataFrame) -> pd.DataFrame:  # the learned columns (often all)
            return frame if len(learned) == frame.shape[1] else frame[learned]

        rows = learned_of(self._finalize(raw, len(raw), parsed, rng, regenerate_ids=False))
        kept, report = enforce_relations(
            rows,
            self.schema_,
            self._relations(),
            parsed,
            redraw,
            resample=not self.capabilities.longitudinal,  # rows belong to patients
        )
        self.last_relation_report_ = report
        return kept

    def _unit_of_sampling(self) -> str:
        return "the number of patients" if self.capabilities.longitudinal else "rows"

    def _rows_of(self, n: int) -> int:
        """About how many rows ``sample(n)`` returns (checked against memory before drawing)."""
        return n

    def _check_conditions(self, conditions: list[Condition]) -> None:
        """Refuse, in one line, conditions this backend cannot honour at all (a longitudinal
        one conditions on patient columns only); the base checks columns and values."""

    def _native_conditions(self, conditions: list[Condition]) -> list[Condition]:
        """The conditions ``_sample`` honours itself; the base class meets the others by
        keeping the sampled rows that satisfy them. All of them when the backend declares
        ``native_conditions``, none otherwise; a backend that honours some overrides this."""
        return list(conditions) if self.capabilities.native_conditions else []

    def _after_sample(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """The finished rows, with anything a backend adds to them (the hybrid's text);
        ``rng`` continues the sample's random stream."""
        return frame

    def _empty_learned(self) -> pd.DataFrame:
        return pd.DataFrame({c.name: pd.Series([], dtype=float) for c in self.schema_.learned})

    def _sample_by_rejection(
        self,
        n_rows: int,
        native: list[Condition],
        checked: list[Condition],
        rng: np.random.Generator,
    ) -> pd.DataFrame:
        """``n_rows`` rows meeting every condition: ``native`` ones by ``_sample``, ``checked``
        ones by keeping the rows, judged as they will be delivered (rounded, bounded), that
        meet them. Each batch is sized by the acceptance seen so far; below 1 in 1,000 it
        gives up with one line."""
        learned = [c.name for c in self.schema_.learned]
        kept: list[pd.DataFrame] = []
        n_kept = n_drawn = 0
        while n_kept < n_rows:
            rate = max(n_kept / n_drawn if n_drawn else 1.0, MIN_ACCEPTANCE)
            batch = int(min(max((n_rows - n_kept) / rate * 1.2, 256), 20 * n_rows + 1024))
            draw = self._finalize(
                self._sample(batch, rng, native), batch, native, rng, regenerate_ids=False
            )
            mask = np.ones(batch, dtype=bool)
            for cond in checked:
                mask &= cond.mask(self.schema_[cond.column], draw[cond.column])
            n_drawn += batch
            kept.append(draw.loc[mask, learned])
            n_kept += int(mask.sum())
            if n_drawn >= 1000 and n_kept / n_drawn < MIN_ACCEPTANCE:
                columns = ", ".join(c.column for c in checked)
                raise ConditionError(
                    f"Only {n_kept} of {n_drawn} sampled rows met the conditions on {columns}: "
                    "they are too rare for this model (acceptance below 1 in 1,000). Relax "
                    "the conditions."
                )
        return pd.concat(kept, ignore_index=True).iloc[:n_rows].reset_index(drop=True)

    @abstractmethod
    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        """Learn from the learned columns of ``data`` (canonical dtypes, index 0..n-1)."""

    @abstractmethod
    def _sample(
        self, n_rows: int, rng: np.random.Generator, conditions: list[Condition]
    ) -> pd.DataFrame:
        """Return ``n_rows`` rows of the learned columns meeting ``conditions`` (only those
        ``_native_conditions`` chose)."""

    # -- enforcing the schema on output --------------------------------------------------------
    def _finalize(
        self,
        raw: pd.DataFrame,
        n_rows: int,
        conditions: list[Condition],
        rng: np.random.Generator,
        *,
        regenerate_ids: bool = True,
        enforced: bool = False,
    ) -> pd.DataFrame:
        """The learned columns in the schema's dtypes, rounding and bounds (passed through
        when ``enforced``: they were, and a second pass took a tenth of a 100,000-row
        sample's time for the same rows), other columns generated or left empty, and the
        conditions checked."""
        by_column = {c.column: c for c in conditions}
        out: dict[str, pd.Series | np.ndarray] = {}
        if not (isinstance(raw.index, pd.RangeIndex) and raw.index.equals(pd.RangeIndex(len(raw)))):
            raw = raw.reset_index(drop=True)
        # names agree with each row's sex where a column surely records it
        sex = sex_of_rows(self.schema_, raw) if regenerate_ids else None
        for spec in self.schema_:
            if spec.is_learned:
                values = raw[spec.name]
                if enforced and in_schema_dtype(spec, values):
                    out[spec.name] = values
                else:
                    out[spec.name] = enforce_values(spec, values, by_column.get(spec.name))
            elif spec.kind == "identifier" and regenerate_ids:
                out[spec.name] = regenerate(spec, n_rows, rng, sex=sex)
            else:
                out[spec.name] = pd.Series([None] * n_rows, dtype=object)
        # the columns as they are (copy=False): gathering them into blocks copied every value
        # of a 100,000-row sample once more; each is a fresh numpy array of numbers (owned
        # by this frame alone) or a Series pandas tracks
        frame = pd.DataFrame(out, columns=self.schema_.names, copy=False)
        for cond in conditions:  # a guarantee, not a hope: fail loudly if a backend slipped
            if not cond.mask(self.schema_[cond.column], frame[cond.column]).all():
                raise ConditionError(
                    f"Internal error: sampled rows break the condition on "
                    f"'{cond.column}'. Please report this."
                )
        return frame

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Save to a folder (manifest.json + arrays.npz); refuses an existing path by default."""
        saved = self.to_saved()
        write_model(
            Path(path),
            saved.manifest,
            schema=saved.schema,
            state=saved.state,
            arrays=saved.arrays,
            overwrite=overwrite,
        )
        return Path(path)

    def to_saved(self) -> SavedModel:
        """The fitted model as what :meth:`save` writes, in memory (a model that holds another,
        such as the hybrid, nests its base this way)."""
        self._check_fitted("save")
        from synthpatient import __version__

        state, arrays = self._get_state()
        manifest = {
            "synthesizer": self.key,
            "synthpatient_version": __version__,
            "params": self.get_params(),
            "n_training_rows": self.n_training_rows_,
            # the manifest may be read by anyone handed the folder: no observed value in it;
            # the full schema and the state go into arrays.npz (see _persistence)
            "schema": self.schema_.to_dict(include_observed=False),
            # the differential-privacy guarantee actually spent (None for the others), at the
            # top level so that anyone handed the folder can read it
            "privacy": getattr(self, "privacy_spent_", None),
        }
        return SavedModel(manifest, self.schema_.to_dict(include_observed=True), state, arrays)

    @classmethod
    def from_saved(cls, saved: SavedModel, **endpoint: Any) -> Synthesizer:
        """The model :meth:`to_saved` gave, checked as :meth:`load` checks a folder.

        Raises:
            ModelFileError: what is wrong with it, in one line (never a value).
        """
        return build_model(saved, cls, endpoint)

    def _check_endpoints(self) -> None:
        unconfirmed = getattr(self, "unconfirmed_endpoints_", ())
        if any("." in name for name in unconfirmed):  # a nested model's server
            raise InvalidParameterError(
                "This model was loaded from a folder whose base model talks to an LLM server; "
                "a model folder never chooses where requests and your API key go, and a nested "
                "server cannot be given again. Fit the model again instead."
            )
        if unconfirmed:
            names = ", ".join(unconfirmed)
            raise InvalidParameterError(
                f"This model was loaded from a folder that names an LLM server ({names}); a "
                "model folder never chooses where requests and your API key go. Give them "
                f"again: Synthesizer.load(path, {unconfirmed[0]}=...), or `synthpatient sample "
                "--llm-base-url URL`."
            )

    @classmethod
    def load(cls, path: str | Path, **endpoint: Any) -> Synthesizer:
        """Load a saved model; ``Synthesizer.load`` finds the right class from the manifest.

        A model folder is untrusted input: every array is checked against the manifest and
        the state against itself before the model is returned. It may come from someone else,
        so it never chooses where a generator sends requests or which environment variable's
        key it sends: a model that talks to a server samples only once those parameters
        (:attr:`endpoint_params`, e.g. ``base_url`` and ``api_key_env`` of the LLM
        synthesizer) are given here again.

        Args:
            path: the model folder.
            **endpoint: the server parameters of a network-using model, e.g.
                ``base_url="http://localhost:8080/v1"``.

        Raises:
            ModelFileError: the folder is missing, of an older format, or damaged (one line).
            InvalidParameterError: a keyword that is not one of the model's endpoint parameters.
        """
        return restore(Path(path), cls, endpoint)

    @abstractmethod
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Learned state as JSON-able values and numeric arrays."""

    @abstractmethod
    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore what ``_get_state`` returned."""
