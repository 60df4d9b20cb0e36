"""The hybrid synthesizer: numbers from a fitted synthesizer, free text from templates or an LLM.

Specialist models are good at numbers and LLMs at text, so the structured columns are learned
and sampled by any registered backend (``base``, the Gaussian copula by default), and the
table's free-text columns (and, if asked, an extra note column) are written afterwards for
each synthetic row by :mod:`synthpatient.notes`: varied offline templates, or an
OpenAI-compatible LLM whose every note is checked against its row. Free text is never learned
and no real row ever reaches a prompt: the LLM sees only the synthetic row it writes about.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthpatient._random import check_seed, fresh_seed
from synthpatient.errors import InvalidParameterError, SynthPatientWarning
from synthpatient.schema import Schema
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._persistence import expect
from synthpatient.synthesizers.base import Capabilities, Synthesizer
from synthpatient.synthesizers.registry import get_synthesizer_class

_BASE_PREFIX = "base."
_TEXT_STREAM = 1  # the notes' random stream, apart from the rows'


class _HybridCapabilities:
    """The base's capabilities (plus the network when an LLM is configured) on an instance;
    plain defaults on the class, which is what listings and the no-network check read."""

    def __get__(self, obj: HybridSynthesizer | None, owner: type | None = None) -> Capabilities:
        if obj is None:
            return Capabilities()
        base = get_synthesizer_class(obj.base).capabilities
        return dataclasses.replace(base, needs_network=base.needs_network
                                   or obj.llm_base_url is not None)


class HybridSynthesizer(Synthesizer):
    """Structured values from ``base``; free-text columns written per synthetic row.

    Args:
        base: key of the synthesizer that learns the structured columns ("copula", "ctgan"...).
        base_params: its parameters (JSON values; the seed is this synthesizer's).
        text_columns: free-text columns to write (None: every column of kind "text").
        notes_column: name of an extra column holding a clinical note per row (None: none).
        note_kind: "visit" or "admission".
        llm_base_url, llm_model: an OpenAI-compatible server that writes the text instead of
            the templates (None: offline, no network).
        llm_key_env: environment variable holding its API key (read at sampling time, never
            saved or shown).
        llm_timeout_s, llm_max_attempts: per-request timeout; answers tried per row before
            the template note is used.
        seed: seed for fitting and (by default) sampling, rows and notes alike.

    Examples:
        >>> hybrid = HybridSynthesizer(notes_column="clinical_note", seed=0).fit(real)
        >>> hybrid.sample(100)["clinical_note"].iloc[0]
        'Clinic visit note. A 67-year-old woman seen in clinic. ...'
        >>> hybrid.last_notes_report_["clinical_note"]["template_fallbacks"]
        0
    """

    key = "hybrid"
    capabilities = _HybridCapabilities()  # type: ignore[assignment]
    endpoint_params = ("llm_base_url", "llm_key_env")

    def __init__(self, *, base: str = "copula", base_params: Mapping[str, Any] | None = None,
                 text_columns: Sequence[str] | None = None, notes_column: str | None = None,
                 note_kind: str = "visit", llm_base_url: str | None = None,
                 llm_model: str | None = None, llm_key_env: str = "SYNTHPATIENT_LLM_API_KEY",
                 llm_timeout_s: float = 30.0, llm_max_attempts: int = 2,
                 seed: int | None = None) -> None:
        self.base = base
        self.base_params = base_params
        self.text_columns = text_columns
        self.notes_column = notes_column
        self.note_kind = note_kind
        self.llm_base_url = llm_base_url
        self.llm_model = llm_model
        self.llm_key_env = llm_key_env
        self.llm_timeout_s = llm_timeout_s
        self.llm_max_attempts = llm_max_attempts
        super().__init__(seed=seed)

    # -- parameters ----------------------------------------------------------------------------
    def _validate_params(self) -> None:
        super()._validate_params()
        from synthpatient.notes import KINDS

        self._require("base", isinstance(self.base, str) and self.base != self.key,
                      "the key of another registered synthesizer, e.g. 'copula'")
        get_synthesizer_class(self.base)  # an unknown key lists the known ones
        self._require("base_params", self.base_params is None or (
            isinstance(self.base_params, Mapping) and "seed" not in self.base_params
            and _is_json(self.base_params)), "a dict of JSON values without 'seed' (give the "
            "seed to the hybrid), or None")
        self._make_base()  # the base checks its own parameters now, not at fit time
        self._require("text_columns", self.text_columns is None or (
            not isinstance(self.text_columns, str)
            and all(isinstance(c, str) for c in self.text_columns)), "a list of column names")
        self._require("notes_column", self.notes_column is None or (
            isinstance(self.notes_column, str) and self.notes_column.strip() != ""),
            "a column name or None")
        self._require("note_kind", self.note_kind in KINDS, f"one of {', '.join(KINDS)}")
        self._require("llm_base_url", self.llm_base_url is None or (
            isinstance(self.llm_base_url, str)
            and self.llm_base_url.startswith(("http://", "https://"))),
            "an http:// or https:// URL, or None for offline templates")
        self._require("llm_model", self.llm_model is None or (
            isinstance(self.llm_model, str) and self.llm_base_url is not None),
            "a model name, given together with llm_base_url")
        self._require("llm_key_env", isinstance(self.llm_key_env, str),
                      "the name of an environment variable")
        self._require("llm_timeout_s", isinstance(self.llm_timeout_s, int | float)
                      and not isinstance(self.llm_timeout_s, bool) and self.llm_timeout_s > 0,
                      "a number of seconds > 0")
        self._require("llm_max_attempts", isinstance(self.llm_max_attempts, int)
                      and not isinstance(self.llm_max_attempts, bool)
                      and self.llm_max_attempts >= 1, "an int >= 1")

    def _make_base(self) -> Synthesizer:
        params = dict(self.base_params or {})
        try:
            return get_synthesizer_class(self.base)(**params, seed=self.seed)
        except TypeError as exc:
            raise InvalidParameterError(f"base_params do not fit the '{self.base}' "
                                        f"synthesizer ({exc}).") from None

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, *, schema: Schema | None = None) -> HybridSynthesizer:
        """Fit ``base`` on the structured columns; free-text columns are written, not learned
        (so the base class's "left empty" warning does not apply here)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Column '.*' is free text",
                                    category=SynthPatientWarning)
            return super().fit(data, schema=schema)

    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        self._check_columns(schema)
        structured = Schema(columns=tuple(schema.learned))
        self.base_model_ = self._make_base().fit(data, schema=structured)
        if getattr(self.base_model_, "privacy_spent_", None) is not None:
            # notes are written from synthetic rows only: post-processing, same guarantee
            self.privacy_spent_ = self.base_model_.privacy_spent_

    def _check_columns(self, schema: Schema) -> None:
        for name in self.text_columns or ():
            if name not in schema or schema[name].kind != "text":
                raise InvalidParameterError(f"text_columns names '{name}', which is not a "
                                            "free-text column of the table.")
        if self.notes_column is not None and self.notes_column in schema:
            raise InvalidParameterError(f"notes_column '{self.notes_column}' is already a "
                                        "column of the table; choose another name.")

    # -- sample --------------------------------------------------------------------------------
    def _sample(self, n_rows: int, rng: np.random.Generator,
                conditions: list[Condition]) -> pd.DataFrame:
        return self.base_model_._sample(n_rows, rng, conditions)

    def sample(self, n_rows: int, *, conditions: Mapping[str, Any] | None = None,
               seed: int | None = None) -> pd.DataFrame:
        """Rows from ``base`` with the free-text columns (and ``notes_column``) written.

        The same seed gives the same rows and, offline, the same text. What the notes came
        from (templates, LLM answers accepted or rejected) is in ``last_notes_report_``.
        """
        check_seed(seed)
        if seed is None:
            seed = self.seed if self.seed is not None else fresh_seed()
        frame = super().sample(n_rows, conditions=conditions, seed=seed)
        return self._write_text(frame, int(seed))

    def _targets(self) -> list[str]:
        columns = list(self.text_columns) if self.text_columns is not None else [
            c.name for c in self.schema_ if c.kind == "text"]
        return columns + ([self.notes_column] if self.notes_column else [])

    def _write_text(self, frame: pd.DataFrame, seed: int) -> pd.DataFrame:
        from synthpatient.notes import NoteWriter, profile_table

        targets = self._targets()
        self.last_notes_report_: dict[str, dict[str, Any]] = {}
        if not targets:
            return frame
        structured = Schema(columns=tuple(c for c in self.schema_ if c.kind != "text"))
        rows = frame[structured.names]
        profile = profile_table(rows, schema=structured) if len(rows) else None
        writer = NoteWriter(kind=self.note_kind, llm=self._client(),
                            max_attempts=self.llm_max_attempts)
        for index, column in enumerate(targets):
            rng = np.random.default_rng([seed, _TEXT_STREAM, index])
            notes = writer.write(rows, seed=rng, column=column, profile=profile)
            frame[column] = notes.astype(object)
            self.last_notes_report_[column] = writer.report.as_dict()
        return frame

    def _client(self) -> Any:
        if self.llm_base_url is None:
            return None
        from synthpatient.llm import LLMClient

        return LLMClient.from_env(self.llm_base_url, model=self.llm_model,
                                  key_env=self.llm_key_env, timeout_s=float(self.llm_timeout_s),
                                  max_retries=2)

    # -- persistence ---------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The base model's manifest entries and arrays, nested (no pickle, no API key)."""
        base = self.base_model_
        state, arrays = base._get_state()
        nested = {"key": base.key, "params": base.get_params(),
                  "schema": base.schema_.to_dict(include_observed=True),
                  "n_training_rows": base.n_training_rows_,
                  "privacy": getattr(base, "privacy_spent_", None), "state": state}
        return {"base": nested}, {_BASE_PREFIX + k: v for k, v in arrays.items()}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """The base model, restored as ``Synthesizer.load`` would; its state and arrays sit
        inside this model's, so the folder's checks (inventory, checksums) cover them too."""
        nested = state["base"]
        # a nested hybrid would nest without end; another key than the parameters name is
        # a tampered state
        expect(nested["key"] == self.base and nested["key"] != self.key,
               "the nested base model is not the one the parameters name")
        base_class = get_synthesizer_class(str(nested["key"]))
        base = base_class(**nested["params"])
        # a server the nested base model talks to is not confirmed by loading this folder
        self.unconfirmed_endpoints_ = [f"base_params.{name}" for name in base_class.endpoint_params
                                       if name in nested["params"]]
        base.schema_ = Schema.from_dict(nested["schema"])
        structured = Schema(columns=tuple(self.schema_.learned))
        expect(base.schema_.to_dict(include_observed=True)
               == structured.to_dict(include_observed=True),
               "the nested base model's schema differs from the structured columns")
        base.n_training_rows_ = int(nested["n_training_rows"])
        if nested.get("privacy") is not None:
            base.privacy_spent_ = nested["privacy"]  # type: ignore[attr-defined]
            self.privacy_spent_ = nested["privacy"]
        base._set_state(nested["state"], {k[len(_BASE_PREFIX):]: v for k, v in arrays.items()
                                          if k.startswith(_BASE_PREFIX)})
        self.base_model_ = base


def _is_json(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
