"""A table description sent through a language model: the prompt levels of the LLM
synthesizer, every row validated, the text columns completed from each row's own values.

The prompt needs statistics; with no real data they are those of an offline draw from the
knowledge base (:func:`generate_from_schema`), so nothing real reaches the prompt. The model
writes the structured columns (categories, numbers, dates) and each row is validated against
the vocabulary and bounds of that draw; names, doctors and test results are then made for the
row's own sex, hospital and condition, as offline. Relations are not enforced on the model's
rows: they are measured (``evaluate_schema_only``), since that is what tells models apart.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import GenerationIncompleteError, InvalidParameterError
from synthpatient.schema import ColumnSpec, Schema
from synthpatient.schema_only import _clinical as clinical
from synthpatient.schema_only import _people as people
from synthpatient.schema_only._generate import ColumnChoice, SchemaGeneration, generate_from_schema
from synthpatient.schema_only._roles import match_columns
from synthpatient.schema_only._spec import TableSchema

#: rows of the offline draw the prompt's statistics come from
PROFILE_ROWS = 500
#: roles filled after the model, from the row's own values
_AFTER_MODEL = {"person_name", "doctor", "test_result"}


def generate_with_llm(
    table: TableSchema, n_rows: int, *, seed: int | None, llm: Mapping[str, Any]
) -> SchemaGeneration:
    """``n_rows`` rows whose structured columns an LLM wrote (``llm``: the parameters of
    :class:`~synthpatient.synthesizers.llm.LLMSynthesizer`, e.g. ``base_url``, ``model``,
    ``prompt_level``, ``system_level``)."""
    from synthpatient.synthesizers.llm import LLMSynthesizer

    if "include_examples" in llm:
        raise InvalidParameterError(
            "include_examples does not apply to a table described without data."
        )
    start = time.perf_counter()
    offline = generate_from_schema(table, PROFILE_ROWS, seed=seed)
    roles = {m.column: m.role for m in match_columns(table)}
    by_model = [c.name for c in table.columns if roles.get(c.name) not in _AFTER_MODEL]
    declared = _declared(table, by_model, offline.data)
    synth = LLMSynthesizer(**{"seed": seed, **dict(llm)}).fit(
        offline.data[by_model], schema=declared
    )
    try:
        rows = synth.sample(n_rows, seed=seed)
    except GenerationIncompleteError as exc:
        # the rows the model did write are completed like a full run's (names, doctors,
        # tests for the row), so that a caller can still measure them (exc.rows, exc.report)
        if exc.rows is not None and len(exc.rows):
            done, _ = _complete(table, exc.rows.reset_index(drop=True), roles, seed)
            exc.rows = done[[c.name for c in table.columns]]
        raise
    report = synth.last_sample_report_
    frame, choices = _complete(table, rows.reset_index(drop=True), roles, seed)
    for column in by_model:
        choices.append(ColumnChoice(column, roles.get(column) or "generic", "written by the LLM"))
    order = {c.name: i for i, c in enumerate(table.columns)}
    choices.sort(key=lambda c: order[c.column])
    return SchemaGeneration(
        data=frame[[c.name for c in table.columns]],
        schema=table,
        choices=choices,
        relations=[
            f"{r.text}: measured, not enforced, on the model's rows" for r in table.relations
        ],
        notices=[
            f"The prompt's statistics come from {PROFILE_ROWS} rows drawn offline from the "
            "knowledge base, not from real data.",
            *([report.summary()] if report is not None else []),
        ],
        seconds=time.perf_counter() - start,
    )


def _declared(table: TableSchema, columns: list[str], drawn: pd.DataFrame) -> Schema:
    """The schema the model's rows are validated against: the description's kinds, ranges
    and values (the offline draw's vocabulary where it gives none); no relations, so that
    the base class keeps none on the model's behalf: they are measured instead."""
    specs = []
    for name in columns:
        column = table.column(name)
        values = drawn[name]
        if column.kind in ("categorical", "text"):
            categories = column.values or tuple(sorted(values.astype(str).unique()))
            specs.append(ColumnSpec(name=name, kind="categorical", categories=categories))
        elif column.kind == "date":
            if column.range is not None:
                low, high = (str(pd.Timestamp(str(v)).date()) for v in column.range)
            else:  # the draw's dates, and two months more for a long last stay
                low = str(values.min().date())
                high = str((values.max() + pd.Timedelta(days=60)).date())
            specs.append(
                ColumnSpec(
                    name=name, kind="datetime", datetime_unit="day", minimum=low, maximum=high
                )
            )
        else:
            bounds = column.range or (float(values.min()), float(values.max()))
            lowest, highest = float(bounds[0]), float(bounds[1])
            specs.append(
                ColumnSpec(
                    name=name,
                    kind="integer" if column.kind == "integer" else "numeric",
                    minimum=lowest,
                    maximum=highest,
                    decimals=0 if column.kind == "integer" else 2,
                )
            )
    return Schema(columns=tuple(specs), relations=())


def _complete(
    table: TableSchema, rows: pd.DataFrame, roles: dict[str, str | None], seed: int | None
) -> tuple[pd.DataFrame, list[ColumnChoice]]:
    """Names by the row's sex, a doctor of the row's hospital, the key test of the row's
    condition: what the offline generator does, from the model's values."""
    rng = np.random.default_rng(seed)
    column_of = {role: name for name, role in roles.items() if role}
    female = _female(rows, column_of.get("sex"), rng)
    frame = rows.copy()
    choices = []
    if "person_name" in column_of:
        frame[column_of["person_name"]] = people.person_names(female, rng)
        choices.append(
            ColumnChoice(column_of["person_name"], "person_name", "Faker, by the LLM row's sex")
        )
    if "doctor" in column_of:
        hospital = column_of.get("hospital")
        keys = rows[hospital].astype(str) if hospital else pd.Series(["-"] * len(rows))
        codes, uniques = pd.factorize(keys)
        names, _ = people.doctor_pools(len(uniques), rng)
        pick = codes * people.DOCTORS_PER_HOSPITAL + rng.integers(
            0, people.DOCTORS_PER_HOSPITAL, len(rows)
        )
        frame[column_of["doctor"]] = names[pick]
        choices.append(
            ColumnChoice(
                column_of["doctor"], "doctor", "a fictional doctor of the LLM row's hospital"
            )
        )
    if "test_result" in column_of:
        frame[column_of["test_result"]] = _tests(rows, column_of.get("condition"), female, rng)
        choices.append(
            ColumnChoice(
                column_of["test_result"],
                "test_result",
                "the key test of the LLM row's condition, from its sourced distribution",
            )
        )
    return frame, choices


def _female(rows: pd.DataFrame, column: str | None, rng: np.random.Generator) -> np.ndarray:
    if column is None:
        return rng.random(len(rows)) < 0.5
    return (
        rows[column].astype(str).str.strip().str.lower().isin(["f", "female", "woman"]).to_numpy()
    )


def _tests(
    rows: pd.DataFrame, column: str | None, female: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    kb = clinical.knowledge_base()
    labels = rows[column].astype(str) if column else pd.Series([""] * len(rows))
    found = {label: kb.find_condition(label) for label in labels.unique()}
    conditions = list({c.key: c for c in found.values() if c is not None}.values())
    position = {c.key: i for i, c in enumerate(conditions)}
    index = np.array([position[c.key] if (c := found[v]) is not None else -1 for v in labels])
    out = np.full(len(rows), None, dtype=object)
    known = index >= 0
    if known.any():
        text, _ = clinical.test_values(conditions, index[known], female[known], rng)
        out[known] = text
    return out
