"""The hybrid synthesizer: numbers from a fitted synthesizer, free text from templates or an LLM.

Specialist models are good at numbers and LLMs at text, so the structured columns are learned
and sampled by any registered backend (``base``, the Gaussian copula by default), and the
table's free-text columns (and, if asked, an extra note column) are written afterwards for
each synthetic row by :mod:`synthpatient.notes`: varied offline templates, or an
OpenAI-compatible LLM whose every note is checked against its row. Free text is never learned
and no real row ever reaches a prompt: the LLM sees only the synthetic row it writes about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import InvalidParameterError, ModelFileError
from synthpatient.notes import KINDS, NotesReport
from synthpatient.schema import Schema
from synthpatient.synthesizers._conditions import Condition, as_mapping
from synthpatient.synthesizers._constraints import (
    API_KEY_ENV,
    URL,
    Interval,
    JSONMapping,
    Names,
    Options,
    Param,
    Text,
)
from synthpatient.synthesizers._persistence import expect, nest, unnest
from synthpatient.synthesizers.base import Capabilities, SampleReport, Synthesizer
from synthpatient.synthesizers.registry import get_synthesizer_class

_BASE_PREFIX = "base."


@dataclass
class TextReport:
    """``last_sample_report_`` of the hybrid: where each written column's notes came from (a
    :class:`~synthpatient.notes.NotesReport` per column; ``report["note"]`` is its dict), and
    the base model's own report of the same call, if it has one."""

    columns: dict[str, NotesReport]
    base: SampleReport | None = None

    def summary(self) -> str:
        lines = [self.base.summary()] if self.base is not None else []
        lines += [f"{column}: {notes.summary()}" for column, notes in self.columns.items()]
        return "\n".join(line for line in lines if line)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": {c: r.as_dict() for c, r in self.columns.items()},
            "base": None if self.base is None else self.base.to_dict(),
        }

    def __getitem__(self, column: str) -> dict[str, Any]:
        return self.columns[column].as_dict()


class HybridSynthesizer(Synthesizer):
    """Structured values from ``base``; free-text columns written per synthetic row.

    The base is a fitted synthesizer used through its public methods only: ``fit`` on the
    structured columns, ``sample`` with this sample's conditions and random stream, and
    ``to_saved``/``from_saved`` to nest it in this model's folder.

    Args:
        base: key of the synthesizer that learns the structured columns ("copula", "ctgan"...).
        base_params: its parameters (JSON values; the seed is this synthesizer's).
        text_columns: free-text columns to write (None: every column of kind "text").
        notes_column: name of an extra column holding a clinical note per row (None: none).
        note_kind: "visit" or "admission".
        llm_base_url, llm_model: an OpenAI-compatible server that writes the text instead of
            the templates (None: offline, no network).
        llm_api_key_env: environment variable holding its API key (read at sampling time,
            never saved or shown).
        llm_timeout_s, llm_max_attempts: per-request timeout; answers tried per row before
            the template note is used.
        seed: seed for fitting and (by default) sampling, rows and notes alike.

    Examples:
        >>> hybrid = HybridSynthesizer(notes_column="clinical_note", seed=0).fit(real)
        >>> hybrid.sample(100)["clinical_note"].iloc[0]
        'Clinic visit note. A 67-year-old woman seen in clinic. ...'
        >>> hybrid.last_sample_report_["clinical_note"]["template_fallbacks"]
        0
    """

    key = "hybrid"
    # conditions go to the base's public sample, which meets them natively or by rejection
    capabilities = Capabilities(
        native_conditions=True, range_conditions=True, handles_missing=True, writes_text=True
    )
    endpoint_params = ("llm_base_url", "llm_api_key_env")
    _parameter_constraints = {
        "base": Param(Text("the key of another registered synthesizer, e.g. 'copula'")),
        "base_params": Param(
            JSONMapping(
                without=("seed",),
                text="a dict of JSON values without 'seed' (give the seed to the hybrid)",
            ),
            None,
        ),
        "text_columns": Param(Names(), None),
        "notes_column": Param(Text("a column name"), None),
        "note_kind": Param(Options(*KINDS)),
        "llm_base_url": Param(URL(), None, hint="None for offline templates"),
        "llm_model": Param(Text("a model name"), None),
        "llm_api_key_env": API_KEY_ENV,
        "llm_timeout_s": Param(Interval(float, 0, None, closed="neither")),
        "llm_max_attempts": Param(Interval(int, 1, None)),
    }

    def __init__(
        self,
        *,
        base: str = "copula",
        base_params: Mapping[str, Any] | None = None,
        text_columns: Sequence[str] | None = None,
        notes_column: str | None = None,
        note_kind: str = "visit",
        llm_base_url: str | None = None,
        llm_model: str | None = None,
        llm_api_key_env: str = "SYNTHPATIENT_LLM_API_KEY",
        llm_timeout_s: float = 30.0,
        llm_max_attempts: int = 2,
        seed: int | None = None,
    ) -> None:
        self.base = base
        self.base_params = base_params
        self.text_columns = text_columns
        self.notes_column = notes_column
        self.note_kind = note_kind
        self.llm_base_url = llm_base_url
        self.llm_model = llm_model
        self.llm_api_key_env = llm_api_key_env
        self.llm_timeout_s = llm_timeout_s
        self.llm_max_attempts = llm_max_attempts
        super().__init__(seed=seed)

    # -- parameters ----------------------------------------------------------------------------
    def _validate_params(self) -> None:
        super()._validate_params()
        self._require(
            "base",
            self.base != self.key,
            "the key of another registered synthesizer, e.g. 'copula'",
        )
        get_synthesizer_class(self.base)  # an unknown key lists the known ones
        self._make_base()  # the base checks its own parameters now, not at fit time
        self._require(
            "llm_model",
            self.llm_model is None or self.llm_base_url is not None,
            "a model name, given together with llm_base_url",
        )

    def _make_base(self) -> Synthesizer:
        params = dict(self.base_params or {})
        try:
            return get_synthesizer_class(self.base)(**params, seed=self.seed)
        except TypeError as exc:
            raise InvalidParameterError(
                f"base_params do not fit the '{self.base}' synthesizer ({exc})."
            ) from None

    def uses_network(self) -> bool:
        """True when an LLM writes the notes, or the base model itself talks to a server."""
        return (
            self.llm_base_url is not None
            or get_synthesizer_class(self.base).capabilities.needs_network
        )

    # -- fit -----------------------------------------------------------------------------------
    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        self._check_columns(schema)
        structured = Schema(columns=tuple(schema.learned))
        self.base_model_ = self._make_base().fit(data, schema=structured)
        spent = getattr(self.base_model_, "privacy_spent_", None)
        if spent is not None:
            # notes are written from synthetic rows only: post-processing, same guarantee
            self.privacy_spent_ = spent

    def _check_columns(self, schema: Schema) -> None:
        for name in self.text_columns or ():
            if name not in schema or schema[name].kind != "text":
                raise InvalidParameterError(
                    f"text_columns names '{name}', which is not a free-text column of the table."
                )
        if self.notes_column is not None and self.notes_column in schema:
            raise InvalidParameterError(
                f"notes_column '{self.notes_column}' is already a "
                "column of the table; choose another name."
            )

    # -- sample --------------------------------------------------------------------------------
    def _sample(
        self, n_rows: int, rng: np.random.Generator, conditions: list[Condition]
    ) -> pd.DataFrame:
        """The base's rows, drawn from this sample's random stream (so the same seed gives the
        same structured rows as the base alone)."""
        return self.base_model_.sample(
            n_rows, conditions=as_mapping(conditions, self.schema_), seed=rng
        )

    def _after_sample(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """The free-text columns (and ``notes_column``) written for each row; what the notes
        came from (templates, LLM answers accepted or rejected) is in ``last_sample_report_``.
        The same seed gives, offline, the same text."""
        from synthpatient.notes import NoteWriter, profile_table

        targets = self._targets()
        reports: dict[str, NotesReport] = {}
        if targets:
            structured = Schema(columns=tuple(c for c in self.schema_ if c.kind != "text"))
            rows = frame[structured.names]
            profile = profile_table(rows, schema=structured) if len(rows) else None
            client = self._client()
            writer = NoteWriter(kind=self.note_kind, llm=client, max_attempts=self.llm_max_attempts)
            try:
                # one stream per column, apart from the rows' (ids were drawn from rng)
                for column, stream in zip(targets, rng.spawn(len(targets)), strict=True):
                    notes = writer.write(rows, seed=stream, column=column, profile=profile)
                    frame[column] = notes.astype(object)
                    reports[column] = writer.report
            finally:
                if client is not None:
                    client.close()
        self.last_sample_report_ = TextReport(
            reports, getattr(self.base_model_, "last_sample_report_", None)
        )
        return frame

    def _targets(self) -> list[str]:
        columns = (
            list(self.text_columns)
            if self.text_columns is not None
            else [c.name for c in self.schema_ if c.kind == "text"]
        )
        return columns + ([self.notes_column] if self.notes_column else [])

    def _client(self) -> Any:
        if self.llm_base_url is None:
            return None
        from synthpatient.llm import LLMClient

        return LLMClient.from_env(
            self.llm_base_url,
            model=self.llm_model,
            api_key_env=self.llm_api_key_env,
            timeout_s=float(self.llm_timeout_s),
            max_retries=2,
        )

    # -- persistence ---------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The base model as its own ``save`` would write it, nested (no pickle, no API key)."""
        nested, arrays = nest(self.base_model_, _BASE_PREFIX)
        return {"base": nested}, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """The base model, restored and checked as ``Synthesizer.load`` would; its state and
        arrays sit inside this model's, so the folder's checks (inventory, checksums) cover
        them too."""
        nested = state["base"]
        # a nested hybrid would nest without end; another key than the parameters name is
        # a tampered state
        expect(
            isinstance(nested, dict)
            and nested.get("key") == self.base
            and nested.get("key") != self.key,
            "the nested base model is not the one the parameters name",
        )
        saved = unnest(nested, arrays, _BASE_PREFIX)
        try:
            base = get_synthesizer_class(self.base).from_saved(saved)
        except ModelFileError as exc:
            raise ModelFileError(f"its base model: {exc}") from exc
        structured = Schema(columns=tuple(self.schema_.learned))
        expect(  # the columns: the base keeps its own relations (discovered at its fit)
            base.schema_.to_dict(include_observed=True)["columns"]
            == structured.to_dict(include_observed=True)["columns"],
            "the nested base model's schema differs from the structured columns",
        )
        # a server the nested base model talks to is not confirmed by loading this folder
        self.unconfirmed_endpoints_ = [
            f"base_params.{name}" for name in getattr(base, "unconfirmed_endpoints_", [])
        ]
        spent = getattr(base, "privacy_spent_", None)
        if spent is not None:
            self.privacy_spent_ = spent
        self.base_model_ = base
