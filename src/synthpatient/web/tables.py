"""The data flow: an uploaded table (or a bundled one), a generator, rows, conditions.

Uploads (:mod:`synthpatient.web._uploads`) are streamed into the session's folder and
inspected at once, so identifier and free-text columns are flagged before anything is
learned, and a table with several rows per patient is read as patient histories
(:mod:`synthpatient.web._timelines`). Generation fits on three quarters of the rows (of the
patients, every patient's visits on one side, for histories) and keeps the rest aside to
measure privacy, then evaluates with the evaluation suite (at the patient level too); the
result and its downloads are made in :mod:`synthpatient.web._table_result`.
"""

from __future__ import annotations

import functools
import inspect
import logging
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from synthpatient.errors import (
    DataError,
    InvalidParameterError,
    NotFoundError,
    UploadTooLargeError,
)
from synthpatient.web._correlations import correlations
from synthpatient.web._distributions import distributions
from synthpatient.web._table_result import _fhir_notice, _table_result
from synthpatient.web._timelines import (
    ROW_LEVEL_WARNING,
    UploadTimeline,
    check_size,
    split_by_patient,
)
from synthpatient.web._trajectories import trajectories
from synthpatient.web._uploads import (
    SUFFIXES,
    Upload,
    _schema,
    bundled_upload,
    read_upload,
    receive_upload,
    remove_upload,
)
from synthpatient.web.jobs import Job
from synthpatient.web.plots import PLOT_LOCK
from synthpatient.web.sessions import Session
from synthpatient.web.settings import Settings
from synthpatient.web.verdict import table_verdict
from synthpatient.web.words import generator_words, humanize

# the upload names live in _uploads; the API and the app import them from here, as do the
# errors (defined in errors.py)
__all__ = [
    "HOLDOUT_SHARE",
    "MIN_ROWS_FOR_HOLDOUT",
    "SUFFIXES",
    "NotFoundError",
    "TableRequest",
    "Upload",
    "UploadTooLargeError",
    "bundled_upload",
    "check_request",
    "check_synthesizer",
    "parse_conditions",
    "receive_upload",
    "remove_upload",
    "synthesizer_choices",
    "table_work",
]

log = logging.getLogger("synthpatient.web")
HOLDOUT_SHARE = 0.25
#: the last pace of the steps that count nothing of their own, the estimate of the next:
#: seconds per column to draw the report's plots, seconds per cell for a generator to learn
_PACE: dict[str, float] = {}
MIN_ROWS_FOR_HOLDOUT = 40


# -- synthesizers ----------------------------------------------------------------------------
def synthesizer_choices() -> list[dict[str, Any]]:
    """Every registered synthesizer, whether it can run here, and why not (worked out once)."""
    return [dict(entry) for entry in _choices()]


@functools.cache
def _choices() -> tuple[dict[str, Any], ...]:
    from importlib.util import find_spec

    from synthpatient import available_synthesizers, get_synthesizer_class
    from synthpatient._optional import extra_module

    choices = []
    for key in available_synthesizers():
        entry: dict[str, Any] = {
            "key": key,
            "available": True,
            "reason": None,
            "differentially_private": False,
            "native_conditions": False,
            "longitudinal": False,
        }
        try:
            klass = get_synthesizer_class(key)
            caps = klass.capabilities
            label, description = generator_words(key, klass)
            # the page shows the privacy budget box for every synthesizer that takes one
            entry.update(
                label=label,
                description=description,
                min_rows=_min_rows(klass),
                differentially_private=caps.accepts_epsilon,
                native_conditions=caps.native_conditions,
                longitudinal=caps.longitudinal,
            )
            if caps.needs_network:
                entry.update(available=False, reason="needs a configured LLM server")
            elif caps.extra and find_spec(extra_module(caps.extra)) is None:
                # found, not imported: importing torch or JAX here would take seconds (a
                # broken install still fails at fit time, with a one-line message)
                entry.update(
                    available=False,
                    reason=f"needs the {caps.extra} extra: pip "
                    f"install 'synthpatient[{caps.extra}]'",
                )
        except Exception as exc:  # noqa: BLE001 - one broken backend must not hide the others
            log.warning("synthesizer %s cannot be loaded: %s", key, exc)
            entry.update(available=False, reason="it could not be loaded (see the server log)")
        entry.setdefault("label", generator_words(key)[0])
        entry.setdefault("description", generator_words(key)[1])
        choices.append(entry)
    return tuple(choices)


def _min_rows(klass: Any) -> int:
    """The fewest rows a generator learns from: its ``min_rows``, or the neural networks'
    floor (they check it in ``_fit`` rather than declare it)."""
    import sys

    least = int(getattr(klass, "min_rows", 1))
    deep = sys.modules.get("synthpatient.synthesizers._deep")  # imported with such a class
    if deep is not None and issubclass(klass, deep.DeepSynthesizer):
        least = max(least, int(deep.MIN_TRAINING_ROWS))
    return least


def check_synthesizer(key: str) -> dict[str, Any]:
    for entry in synthesizer_choices():
        if entry["key"] == key:
            if not entry["available"]:
                raise InvalidParameterError(
                    f"The {key} synthesizer cannot run here: {entry['reason']}."
                )
            return entry
    known = ", ".join(e["key"] for e in synthesizer_choices())
    raise InvalidParameterError(f"Unknown synthesizer '{key}'. Known: {known}.")


# -- generation -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableRequest:
    upload_id: str
    synthesizer: str
    n_rows: int
    conditions: tuple[str, ...] = ()
    seed: int | None = None
    identifiers: tuple[str, ...] = ()
    learn: tuple[str, ...] = ()
    target: str | None = None
    holdout: bool = True
    rules: str = "auto"
    epsilon: float | None = None


def parse_conditions(items: tuple[str, ...] | list[str], columns: list[str]) -> dict[str, Any]:
    """``COLUMN=VALUE`` or ``COLUMN=LOW..HIGH`` (either end may be empty), as the CLI takes."""
    out: dict[str, Any] = {}
    for item in items:
        column, sep, value = item.partition("=")
        column, value = column.strip(), value.strip()
        if not sep or not column or not value:
            raise DataError(
                f"Cannot read the condition '{item[:80]}'. Write COLUMN=VALUE "
                "(sex=2) or COLUMN=LOW..HIGH (age=40..65, age=65..)."
            )
        if column not in columns:
            raise DataError(
                f"The condition names the column '{column[:80]}', which the table "
                f"does not have. Columns: {', '.join(columns)}."
            )
        if ".." in value:
            low, _, high = value.partition("..")
            out[column] = (low.strip() or None, high.strip() or None)
        else:
            out[column] = value
    return out


def check_request(session: Session, settings: Settings, request: TableRequest) -> Upload:
    """Everything that can be checked before a job starts, with one-line errors."""
    upload = session.uploads.get(request.upload_id)
    if upload is None:
        raise NotFoundError("No such upload in this session: upload the table again.")
    if not settings.min_rows <= request.n_rows <= settings.max_rows:
        raise InvalidParameterError(
            f"The number of rows must be between {settings.min_rows:,} "
            f"and {settings.max_rows:,}. Got {request.n_rows:,}."
        )
    entry = check_synthesizer(request.synthesizer)
    if entry["longitudinal"]:
        if upload.timeline is None:
            raise DataError(
                f"The {request.synthesizer} generator learns tables with several rows per "
                f"patient; in '{upload.filename}' no column repeats as a patient id. Choose "
                "a row-level generator such as copula."
            )
        check_size(upload.timeline, request.n_rows, settings.max_rows)
    if request.synthesizer in upload.too_small:
        raise DataError(
            f"The {request.synthesizer} generator {upload.too_small[request.synthesizer]}; "
            f"'{upload.filename}' has {upload.n_rows:,}. Choose another generator."
        )
    columns = [c["name"] for c in upload.columns]
    unflagged = set(request.learn) - set(upload.flagged)
    if unflagged:
        raise DataError(
            "Only flagged columns can be learned anyway; not flagged: "
            f"{', '.join(sorted(unflagged))[:200]}."
        )
    for name in (*request.identifiers, *([request.target] if request.target else [])):
        if name not in columns:
            raise DataError(
                f"The table has no column '{name[:80]}'. Columns: {', '.join(columns)}."
            )
    if request.target and request.target in (set(request.identifiers) | set(upload.flagged)):
        raise DataError(
            f"The outcome column '{request.target}' is an identifier; choose another or none."
        )
    parse_conditions(request.conditions, columns)
    if request.rules not in ("auto", "none"):
        from synthpatient.rules import list_rule_packs

        if request.rules not in list_rule_packs():
            raise DataError(
                f"Unknown rule pack '{request.rules[:80]}'. Use auto, none or one "
                f"of: {', '.join(list_rule_packs())}."
            )
    return upload


def _rules(choice: str, columns: list[str]) -> Any:
    from synthpatient.rules import list_rule_packs, load_rule_pack

    if choice == "none":
        return None
    if choice != "auto":
        return load_rule_pack(choice).restricted_to(columns)
    for name in list_rule_packs():
        pack = load_rule_pack(name)
        if pack.columns() and pack.columns() <= set(columns):
            return pack
    return None


def _synthesizer(key: str, seed: int, epsilon: float | None, upload: Upload) -> Any:
    from synthpatient import get_synthesizer_class, make_synthesizer

    params = set(inspect.signature(get_synthesizer_class(key).__init__).parameters)
    options: dict[str, Any] = {}
    if "progress" in params:
        options["progress"] = False
    if upload.timeline is not None and "patient_key" in params:  # what the page showed
        options["patient_key"] = upload.timeline.key
        if "time_column" in params:
            options["time_column"] = upload.timeline.time
    if epsilon is not None:
        if "epsilon" not in params:
            private = [e["key"] for e in synthesizer_choices() if e["differentially_private"]]
            raise InvalidParameterError(
                f"The {key} synthesizer takes no privacy budget "
                "(epsilon); leave it empty or choose "
                f"{', '.join(private) or 'another synthesizer'}."
            )
        options["epsilon"] = epsilon
    return make_synthesizer(key, seed=seed, **options)


def _fhir_offer(
    result: Any, settings: Settings, upload: Upload, synthetic: pd.DataFrame, schema: Any
) -> list[str]:
    """Whether FHIR is offered (the download is removed when not), and what to tell."""
    if upload.timeline is not None:
        # the table exporter's FHIR makes one Patient per row: wrong for histories
        del result.downloads["fhir"]
        return [
            "FHIR is not offered for a table with several rows per patient yet (it would "
            "make one patient per visit): download CSV or Parquet."
        ]
    if len(synthetic) > settings.max_fhir_patients:
        # one validated resource per value: beyond this it takes minutes and gigabytes
        del result.downloads["fhir"]
        return [f"FHIR is offered for up to {settings.max_fhir_patients:,} rows per request."]
    # the columns FHIR leaves out are named now, not found missing in the zip
    return _fhir_notice(synthetic, schema)


def _empty_text(model: Any) -> list[str]:
    """Free-text columns the generator leaves empty, named (its fit warning reaches no page)."""
    if model.capabilities.writes_text:
        return []
    text = [c.name for c in model.schema_ if c.kind == "text"]
    if not text:
        return []
    return [f"Free text is not learned and is left empty in the synthetic rows: {', '.join(text)}."]


def _split(
    real: pd.DataFrame, upload: Upload, request: TableRequest, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame | None, list[str]]:
    """Training and holdout rows; with patient histories, every patient on one side."""
    timeline = upload.timeline
    enough = (
        timeline.n_patients >= MIN_ROWS_FOR_HOLDOUT
        if timeline is not None
        else len(real) >= MIN_ROWS_FOR_HOLDOUT
    )
    if request.holdout and enough:
        if timeline is not None:
            training, holdout, notice = split_by_patient(real, timeline, HOLDOUT_SHARE, seed)
            return training, holdout, [notice]
        training = real.sample(frac=1 - HOLDOUT_SHARE, random_state=seed % 2**32).sort_index()
        return training, real.drop(training.index), []
    unit = "patients" if timeline is not None else "rows"
    return (
        real,
        None,
        [
            f"No {unit} were kept aside, so the privacy tests against unseen patients were not run."
            if request.holdout
            else f"Every {unit[:-1]} was learned (no holdout): privacy against unseen "
            "patients was not measured."
        ],
    )


def counted_metrics(job: Job, start: float, end: float) -> list[Any]:
    """Every registered metric (what ``evaluate`` runs by default), each reporting to ``job``
    as the evaluation reaches it: a real fraction (metrics done) and a place to stop."""
    from synthpatient.evaluation import available_metrics, get_metric_class

    keys = available_metrics()
    metrics = []
    for i, key in enumerate(keys):
        metric = get_metric_class(key)()
        ask = metric.skip_reason  # evaluate asks each metric first whether it can run

        def skip_reason(inputs: Any, i: int = i, name: str = metric.name, ask: Any = ask) -> Any:
            fraction = start + (end - start) * i / len(keys)
            job.report(f"Evaluating: {name} ({i + 1} of {len(keys)} checks)...", fraction)
            return ask(inputs)

        metric.skip_reason = skip_reason  # type: ignore[method-assign]  # this instance only
        metrics.append(metric)
    return metrics


def _learn_notice(learn: tuple[str, ...]) -> list[str]:
    if not learn:
        return []
    return [
        "Learned although flagged as identifiers or free text, at your request: "
        f"{', '.join(learn)}. Their real values can appear in the synthetic rows; check the "
        "privacy results before sharing."
    ]


def _paced(job: Job, key: str, units: int, stage: str, progress: float, step: Any) -> Any:
    """Run ``step``, a call that reports no fraction of its own (a fit, the report's plots),
    as a stage whose estimate is the pace (seconds per unit) of its last run on this server."""
    pace = _PACE.get(key)
    expected = None if pace is None else pace * units
    job.report(stage, progress, expected_s=expected, counted=False)
    began = time.monotonic()
    if key == "plots":
        with PLOT_LOCK:  # matplotlib's state is global: one report draws at a time
            out = step()
    else:
        out = step()
    _PACE[key] = (time.monotonic() - began) / max(units, 1)
    return out


def _present(
    result: Any,
    request: TableRequest,
    made_by: str,
    synthetic: pd.DataFrame,
    training: pd.DataFrame,
    model: Any,
    timeline: UploadTimeline | None = None,
    units: dict[str, str] | None = None,
) -> None:
    """What the page opens with (the verdict) and its interactive charts (``units``: column
    -> unit where the schema has none)."""
    result.verdict = table_verdict(
        title=result.title,
        generator=made_by,
        scores=result.scores,
        rules=result.rules,
        holdout_rows=result.provenance.get("holdout_rows"),
        privacy_spent=result.provenance.get("privacy_spent"),
        choices=synthesizer_choices(),
        synthesizer=request.synthesizer,
    )
    units = units or {}
    labels = {c.name: (humanize(c.name), c.unit or units.get(c.name)) for c in model.schema_}
    skip = {c.name for c in model.schema_ if not c.is_learned}
    try:
        result.distributions = distributions(synthetic, training, labels=labels, skip=skip)
        # a history's key and time are not measurements: left out of the heatmap
        keys = {c for c in (timeline.key, timeline.time) if c} if timeline is not None else set()
        result.correlations = correlations(synthetic, training, labels=labels, skip=skip | keys)
        if timeline is not None:  # histories learned as histories: drawn over time
            result.timelines = trajectories(
                synthetic,
                training,
                patient=timeline.key,
                time=timeline.time,
                columns=[c for c in timeline.varying if c not in skip],
                labels=labels,
            )
    except (TypeError, ValueError):  # the charts are extras: the result stands without them
        log.exception("the interactive chart of result %s could not be made", result.id)
        result.notices.append(
            "The interactive charts could not be drawn (the details are in the server's log); "
            "the report's plots below show the same distributions."
        )


def _units(upload: Upload, model: Any) -> dict[str, str]:
    """Each column's unit: the schema's, else the table's documentation's (bundled data)."""
    return {**upload.units, **{c.name: c.unit for c in model.schema_ if c.unit}}


def table_work(
    session: Session, settings: Settings, upload: Upload, request: TableRequest
) -> Callable[[Job], dict[str, Any]]:
    """A job: fit, sample, evaluate; the result is put in the session."""

    def work(job: Job) -> dict[str, Any]:
        seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
        job.report(f"Reading {upload.filename}...", 0.02)
        real = read_upload(upload)
        columns = [str(c) for c in real.columns]
        conditions = parse_conditions(request.conditions, columns)
        schema = _schema(real, request.identifiers, request.learn)
        timeline = upload.timeline
        longitudinal = bool(check_synthesizer(request.synthesizer)["longitudinal"])
        training, holdout, notices = _split(real, upload, request, seed)
        notices += _learn_notice(request.learn)
        if timeline is not None and not longitudinal:
            notices.insert(0, ROW_LEVEL_WARNING.format(key=request.synthesizer))
        model = _synthesizer(request.synthesizer, seed, request.epsilon, upload)
        learned = (
            f"{training[timeline.key].nunique():,} patients"
            if timeline is not None
            else f"{len(training):,} rows"
        )
        name = generator_words(request.synthesizer)[0]
        stage = f"Learning the table: {name}, from {learned}..."
        fit = functools.partial(model.fit, training, schema=schema)
        _paced(job, f"fit:{request.synthesizer}", training.size, stage, 0.05, fit)
        notices.extend(_empty_text(model))
        what = "patients and their visits" if longitudinal else "rows"
        job.report(f"Generating {request.n_rows:,} {what}...", 0.35)
        synthetic = model.sample(request.n_rows, conditions=conditions or None, seed=seed)
        job.report("Evaluating fidelity, privacy and clinical rules...", 0.4)
        from synthpatient.evaluation.evaluate import evaluate

        rules = _rules(request.rules, columns)
        report = evaluate(
            training,
            synthetic,
            holdout=holdout,
            target=request.target,
            rules=rules,
            schema=model.schema_,
            patient_key=None if timeline is None else timeline.key,
            time_column=None if timeline is None else timeline.time,
            metrics=counted_metrics(job, 0.4, 0.65),
        )
        units = _units(upload, model)
        report.meta.setdefault("units", units)  # the figures title columns with their units
        report_html = _paced(
            job, "plots", real.shape[1], "Drawing the report's plots...", 0.65, report.to_html
        )
        job.report("Putting the results together...", 0.97)
        result = _table_result(
            session,
            upload,
            request,
            seed,
            report,
            report_html,
            synthetic,
            model,
            len(training),
            holdout,
            rules,
            conditions,
            timeline,
            longitudinal,
            real=training,
        )
        job.on_cancel(lambda: shutil.rmtree(result.folder, ignore_errors=True))
        notices.extend(_fhir_offer(result, settings, upload, synthetic, model.schema_))
        result.notices = notices + list(report.meta.get("notices", []))
        made_by, histories = f"{name}, learned from {learned}", timeline if longitudinal else None
        _present(result, request, made_by, synthetic, training, model, histories, units)
        job.checkpoint()  # the last place to stop: after it the result is kept whole
        session.results[result.id] = result
        return {"result_id": result.id}

    return work
