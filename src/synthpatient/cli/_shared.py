"""Helpers the commands share: reading a table, choosing a synthesizer, reporting."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthpatient.cli._errors import err
from synthpatient.cli.app import out
from synthpatient.errors import InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd

    from synthpatient.schema import Schema
    from synthpatient.synthesizers import Synthesizer


@contextlib.contextmanager
def _fitting_status(model: Any, synthesizer: str, n_rows: int) -> Iterator[None]:
    """A spinner while fitting, unless the synthesizer draws its own progress bar."""
    if getattr(model, "progress", False):
        yield
        return
    with err.status(f"Fitting {synthesizer} on {n_rows} rows..."):
        yield


def _check_rows(rows: int) -> None:
    from synthpatient.errors import InvalidParameterError

    if rows < 1:
        raise InvalidParameterError(f"--rows must be at least 1. Got {rows}.")


def _conditions(items: list[str] | None) -> dict[str, Any]:
    """``--condition`` options as a dict; a column conditioned twice is an error, since the
    last one would otherwise win without a word."""
    from synthpatient.errors import ConditionError
    from synthpatient.synthesizers import parse_condition_text

    conditions: dict[str, Any] = {}
    for item in items or []:
        column, value = parse_condition_text(item)
        if column in conditions:
            raise ConditionError(
                f"The column '{column}' has more than one --condition. Give one per column: "
                f"a value or one range such as {column}=LOW..HIGH (conditions on one column "
                "are not combined)."
            )
        conditions[column] = value
    return conditions


def _load_data(
    path: Path,
    schema_path: Path | None,
    identifiers: list[str] | None,
    categorical: list[str] | None,
    patients_path: Path | None = None,
    patient_key: str | None = None,
) -> tuple[pd.DataFrame, Schema]:
    from synthpatient._io import read_table
    from synthpatient.schema import Schema, explain_schema

    data = read_table(path)
    if patients_path is not None:
        data = _joined(read_table(patients_path), data, patient_key)
    if schema_path is not None:
        schema = Schema.from_json(schema_path)
    else:
        schema, decisions = explain_schema(
            data, identifiers=identifiers or (), categorical=categorical or ()
        )
        # the same decisions `synthpatient schema` prints: names and reasons, never values
        for decision in decisions:
            if decision.uncertain:
                err.print(
                    f"Unsure: '{decision.name}' read as {decision.kind} "
                    f"({decision.reason}). Check it with `synthpatient schema`, or "
                    "pass --identifier/--categorical or --schema.",
                    markup=False,
                )
    flagged = [c.name for c in schema if c.kind in ("identifier", "text")]
    if flagged:
        err.print(
            f"Not learned (identifiers or free text, regenerated instead): {', '.join(flagged)}",
            markup=False,
        )
    return data, schema


def _joined(patients: pd.DataFrame, events: pd.DataFrame, key: str | None) -> pd.DataFrame:
    """A patients table and an events table as one long table (one row per event, the
    patient's columns on each), joined on ``key`` or on the one column both tables have that
    is unique in the patients table."""
    from synthpatient.longitudinal import PatientTable

    if key is None:
        shared = [c for c in patients.columns if c in events.columns]
        unique = [c for c in shared if patients[c].notna().all() and patients[c].is_unique]
        if len(unique) != 1:
            found = ", ".join(map(str, unique)) or "none"
            raise InvalidParameterError(
                "Give --patient-key: the column that joins the patients table and the events "
                f"table (columns in both with one row per patient: {found})."
            )
        key = str(unique[0])
    table = PatientTable.from_frames(patients, events, key=key)
    without = int((table.events_per_patient() == 0).sum())
    if without:
        err.print(
            f"{without} patient(s) of the patients table have no events: they are not learned "
            "(a synthetic patient has at least one event).",
            markup=False,
        )
    return table.to_long()


def _with_key(
    synthesizer: str, params: list[str] | None, patient_key: str | None
) -> list[str] | None:
    """``--param``s with ``patient_key`` added when --patient-key is given to a longitudinal
    synthesizer (for the others it only joins a patients table to its events)."""
    from synthpatient.synthesizers import get_synthesizer_class

    if patient_key is None or not get_synthesizer_class(synthesizer).capabilities.longitudinal:
        return params
    return [*(params or []), f"patient_key={json.dumps(patient_key)}"]


def _parse_param(item: str) -> tuple[str, Any]:
    """KEY=VALUE with VALUE read as JSON when it is JSON (numbers, true, lists), else text."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise InvalidParameterError(
            f"--param '{item}' is not KEY=VALUE. Write it like --param steps=2000."
        )
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    return key.strip(), value


def _synthesizer_params(
    synthesizer: str,
    seed: int | None,
    *,
    epsilon: float | None = None,
    delta: float | None = None,
    params: list[str] | None = None,
) -> tuple[Synthesizer, int]:
    from synthpatient._random import fresh_seed
    from synthpatient.synthesizers import get_synthesizer_class

    klass = get_synthesizer_class(synthesizer)
    chosen = dict(_parse_param(item) for item in params or ())
    if "seed" in chosen:
        raise InvalidParameterError("Give the seed with --seed, not as -p seed=...")
    if epsilon is not None:
        chosen["epsilon"] = epsilon
    if delta is not None:
        chosen["delta"] = delta
    known = klass._param_names()
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        hint = (
            "; differentially private synthesizers take --epsilon: " + ", ".join(_private_keys())
            if {"epsilon", "delta"} & set(unknown)
            else ""
        )
        raise InvalidParameterError(
            f"The {synthesizer} synthesizer has no parameter {', '.join(map(repr, unknown))}. "
            f"Its parameters: {', '.join(k for k in known if k != 'seed')}{hint}."
        )
    seed = fresh_seed() if seed is None else seed
    if "progress" in known and "progress" not in chosen:
        # a bar at a terminal, plain lines (every 10%) in a log or a pipe: never silent for minutes
        chosen["progress"] = True
    return klass(seed=seed, **chosen), seed


def _private_keys() -> list[str]:
    from synthpatient.synthesizers import available_synthesizers, get_synthesizer_class

    keys = []
    for key in available_synthesizers():
        try:
            if get_synthesizer_class(key).capabilities.accepts_epsilon:
                keys.append(key)
        except ImportError:
            continue
    return keys


def _report_privacy(model: Any) -> None:
    """The accountant's spent budget, for the differentially private synthesizers."""
    spent = getattr(model, "privacy_spent_", None)
    if spent:
        line = (
            f"Differential privacy: spent epsilon = {spent['epsilon']:.3g}, "
            f"delta = {spent['delta']:.3g}."
        )
        if spent.get("preprocessing"):
            line += f" Not covered: {spent['preprocessing']}"
        out.print(line, markup=False)


def _unit(model: Any, n: int) -> str:
    """What ``--rows`` counts: patients for a longitudinal synthesizer, rows otherwise."""
    return f"{n} patients" if model.capabilities.longitudinal else f"{n} rows"


def _written(model: Any, n: int, synthetic: pd.DataFrame) -> str:
    if model.capabilities.longitudinal:
        return f"{n} synthetic patients ({len(synthetic)} rows)"
    return f"{len(synthetic)} synthetic rows"


def _report_generation(model: Any) -> None:
    """What a generator reports about its last sample (``last_sample_report_``: an LLM run's
    yield and cost, the language model's redrawn training copies, the notes' sources)."""
    report = getattr(model, "last_sample_report_", None)
    text = report.summary() if report is not None else ""
    if text:
        err.print(text, markup=False)


def _endpoint(names: tuple[str, ...], base_url: str | None, key_env: str | None) -> dict[str, str]:
    """``--llm-base-url``/``--llm-key-env`` as the load-time parameters of the saved model's
    class (the LLM synthesizer's ``base_url``, the hybrid's ``llm_base_url``)."""
    from synthpatient.errors import InvalidParameterError

    if not names:
        raise InvalidParameterError(
            "--llm-base-url/--llm-key-env are for models that talk to "
            "an LLM server; this model does not."
        )
    key_env = key_env or "SYNTHPATIENT_LLM_API_KEY"
    return {
        name: value
        for name, value in zip(names, (base_url, key_env), strict=True)
        if value is not None
    }


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)
