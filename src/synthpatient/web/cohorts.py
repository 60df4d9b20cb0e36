"""The chat flow: a plain-English request, shown back, confirmed, generated, then asked about.

This drives :class:`synthpatient.knowledge.Conversation` (the engine of ``synthpatient ask`` and
``chat``): it keeps context, so "now only women" or "add eGFR" change the last request. The web
app always writes the patient table as CSV and FHIR as NDJSON (zipped for download); Parquet,
the HTML report and the rest are made from the cohort on request.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthpatient._labels import column_title
from synthpatient._steps import reporting
from synthpatient.web._cohort_progress import CohortProgress
from synthpatient.web._correlations import correlations
from synthpatient.web._distributions import distributions
from synthpatient.web._trajectories import cohort_trajectories
from synthpatient.web.jobs import CANCELLED, Job
from synthpatient.web.plots import cohort_plots, history_plot
from synthpatient.web.report import cohort_report_html
from synthpatient.web.results import (
    PREVIEW_ROWS,
    Download,
    Result,
    export_download,
    file_download,
    folder_download,
    json_value,
    jsonable,
    records,
    text_download,
)
from synthpatient.web.sessions import Session, new_id
from synthpatient.web.settings import Settings
from synthpatient.web.verdict import cohort_verdict
from synthpatient.web.words import FORMATS, humanize

MAX_MESSAGES = 200
MAX_MESSAGE_CHARS = 2000


def conversation(session: Session) -> Any:
    """The session's conversation, made on first use, writing into the session's folder."""
    if session.conversation is None:
        from synthpatient.knowledge import Conversation

        session.conversation = Conversation(out_dir=session.workdir("chat") / "cohort")
    return session.conversation


def is_confirmation(session: Session, text: str) -> bool:
    # the conversation's own test: generation then runs as a job with progress, not a message
    chat = session.conversation
    return chat is not None and chat.confirms(text)


def chat_work(session: Session, settings: Settings, text: str | None) -> Callable[[Job], dict]:
    """A job that sends ``text`` (or confirms the pending request when ``text`` is None)."""

    def work(job: Job) -> dict[str, Any]:
        chat = conversation(session)
        if text is not None:
            _remember(session, {"role": "user", "text": text})
        if text is None or is_confirmation(session, text):
            # stopped while drawing, writing or checking: the conversation says so
            job.on_cancel(lambda: _remember(session, {"role": "assistant", "text": CANCELLED}))
            reply = _confirm(session, settings, chat, job)
        else:
            job.report("Reading your message...", None)
            reply = chat.send(text)
            # a proposal, or one whose unread parts are named and that waits for a yes
            if reply.kind == "confirm" or (reply.kind == "clarify" and reply.request):
                reply = _checked_proposal(settings, chat, reply)
        message = _reply_dict(session, reply)
        if reply.kind == "generated":
            # a cancel while the cohort was drawn takes effect here: its files are removed
            folder = Path(reply.files["provenance"]).parent
            job.on_cancel(lambda: shutil.rmtree(folder, ignore_errors=True))
            job.report("Checking realism and drawing plots...", 0.8)
            result = cohort_result(session, settings, chat, reply)
            job.on_cancel(lambda: shutil.rmtree(result.folder, ignore_errors=True))
            job.checkpoint()  # the last place to stop: after it the result is kept whole
            session.results[result.id] = result
            message["result_id"] = result.id
        _remember(session, message)
        return message

    return work


def _confirm(session: Session, settings: Settings, chat: Any, job: Job) -> Any:
    pending = chat.pending
    if pending is None:
        return chat.confirm()
    n, histories = pending.count, bool(getattr(pending, "follow_up_years", None))
    formats = _formats(settings, n)
    progress = CohortProgress(job, n, histories=histories, fhir="fhir-ndjson" in formats)
    progress.start()
    chat.pending = pending.model_copy(update={"formats": formats})
    # the sampler's steps move the bar, and a Cancel raises JobCancelled at the next one: the
    # draw stops there and nothing has been written yet (the writer's own folder is atomic)
    with reporting(progress):
        reply = chat.confirm()
    if reply.kind == "generated":
        progress.done()
    return reply


def _formats(settings: Settings, n: int) -> list[str]:
    return ["csv", "fhir-ndjson"] if n <= settings.max_fhir_patients else ["csv"]


def _checked_proposal(settings: Settings, chat: Any, reply: Any) -> Any:
    """The web app's row limit, and the formats it writes, applied to a proposed request."""
    from synthpatient.knowledge import Reply

    request = reply.request
    if request.count > settings.max_rows:
        chat.pending = None
        return Reply(
            "clarify",
            f"{request.count:,} patients is more than this server makes "
            f"per request ({settings.max_rows:,}). Ask for fewer.",
        )
    chat.pending = request.model_copy(update={"formats": _formats(settings, request.count)})
    if reply.kind == "clarify":  # what was not understood stays named; a yes generates the rest
        return reply
    return Reply(
        "confirm", f"I understood: {chat.pending.describe(chat.kb)}. Generate it?", chat.pending
    )


def _remember(session: Session, message: dict[str, Any]) -> None:
    session.messages.append(message)
    del session.messages[:-MAX_MESSAGES]


def _without_paths(session: Session, text: str) -> str:
    """Server folders never reach the page: the files are offered as downloads instead."""
    return re.sub(
        re.escape(str(session.folder)) + r"\S*?(?=[.,;]?(?:\s|$))", "the results below", text
    )


def _outputs_in_words(text: str) -> str:
    """'outputs: csv, fhir-ndjson' -> 'files: CSV table, FHIR R4 (NDJSON)'."""

    def words(match: re.Match[str]) -> str:
        keys = [k.strip() for k in match.group(1).split(",")]
        return "files: " + ", ".join(FORMATS.get(k, k) for k in keys)

    return re.sub(r"outputs: ([a-z0-9_,\s-]+?)(?=;|\.|$)", words, text)


def _reply_dict(session: Session, reply: Any) -> dict[str, Any]:
    request = None
    if reply.request is not None:
        chat = session.conversation
        request = {
            k: json_value(v) if not isinstance(v, list | dict) else v
            for k, v in reply.request.model_dump(mode="json").items()
        }
        request["description"] = _outputs_in_words(reply.request.describe(chat.kb))
        request["words"] = request_words(reply.request, chat.kb)
    return {
        "role": "assistant",
        "kind": reply.kind,
        "text": _outputs_in_words(_without_paths(session, reply.text)),
        "request": request,
        "result_id": None,
    }


def request_words(request: Any, kb: Any) -> dict[str, Any]:
    """The fields of a request the page shows, in words instead of codes: the condition's
    name, observation names with units, the population, the files, each filter."""
    condition = kb.conditions.get(request.condition)
    observations = {o.key: o for o in condition.observations} if condition else {}
    return {
        "condition": condition.name if condition else humanize(request.condition),
        "observations": [
            f"{observations[k].name} ({observations[k].unit})" if k in observations else k
            for k in request.observations
        ],
        "population": request.population.upper()
        if len(request.population) <= 3
        else humanize(request.population, title=True),
        "sex": {"female": "Women only", "male": "Men only"}.get(str(request.sex))
        or (
            f"{request.female_share:.0%} women, {1 - request.female_share:.0%} men"
            if request.female_share is not None
            else None
        ),
        "filters": [f.describe(condition) for f in request.filters],
        "formats": [FORMATS.get(f, f) for f in request.formats],
    }


def cohort_result(session: Session, settings: Settings, chat: Any, reply: Any) -> Result:
    """The results view of the cohort the conversation just generated."""
    cohort, files = chat.cohort, reply.files
    folder = Path(files["provenance"]).parent
    provenance = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    realism = json.loads((folder / "realism.json").read_text(encoding="utf-8"))
    targets = [jsonable({**t, "sources": list(t.get("sources", []))}) for t in realism["targets"]]
    wide = cohort.wide
    observations = [(o.key, column_title(o.name, o.unit)) for o in cohort.observations]
    result_id = new_id(12)
    result = Result(
        id=result_id,
        kind="cohort",
        title=f"{len(wide):,} synthetic patients with {cohort.condition.name}",
        n_rows=len(wide),
        columns=[str(c) for c in wide.columns],
        preview=records(wide, PREVIEW_ROWS),
        folder=session.workdir("results", result_id),
        plots=cohort_plots(wide, observations, targets),
        targets=targets,
        rules=realism["rules"],
        provenance=provenance,
    )
    result.notices.append(
        "No real patient was used: the numbers come from the cited knowledge "
        "base, so privacy tests do not apply."
    )
    if realism.get("skipped_targets"):
        result.notices.append(
            "Not checked (not in the cohort): " + ", ".join(realism["skipped_targets"])
        )
    stem = f"synthpatient-{cohort.condition.key}-{len(wide)}"
    result.downloads = _downloads(cohort, folder, stem, result)
    if getattr(cohort, "timeline", None) is not None:
        _add_histories(result, cohort, stem, cohort.spec.follow_up_years)
    labels = {o.key: (o.name, o.unit) for o in cohort.observations}
    result.distributions = distributions(wide, labels=labels, skip={"patient_id"})
    result.correlations = correlations(wide, labels=labels, skip={"patient_id"})
    result.timelines = cohort_trajectories(cohort)
    result.verdict = cohort_verdict(
        title=result.title, targets=targets, rules=result.rules, n_patients=len(wide)
    )
    fhir_label, fhir_name = "FHIR R4 (zip of NDJSON)", f"{stem}-fhir-ndjson.zip"
    if "fhir-ndjson" in files:  # written with the cohort: zipped as it is, not made again
        result.downloads["fhir"] = folder_download(
            fhir_label, fhir_name, Path(files["fhir-ndjson"])
        )
    elif len(wide) <= settings.max_fhir_patients:
        result.downloads["fhir"] = export_download(fhir_label, "fhir_ndjson", cohort, fhir_name)
    else:
        result.notices.append(
            f"FHIR is offered for up to {settings.max_fhir_patients:,} patients per request."
        )
    return result


def _add_histories(result: Result, cohort: Any, stem: str, years: float | None) -> None:
    """A cohort with a follow-up: counts in patients and visits, the history tables listed,
    each downloadable as CSV and Parquet (FHIR already holds one Encounter per visit)."""
    from synthpatient.exporters.base import HISTORY_TABLES

    timeline = cohort.timeline
    visits = len(timeline.encounters)
    result.n_patients = result.n_rows
    span = f" over {years:g} years of follow-up" if years else ""
    result.summary = f"{result.n_rows:,} patients, {visits:,} visits{span}"
    result.title = f"{result.title}, {visits:,} visits"
    result.notices.append(
        "The preview shows each patient's values at their last visit; the whole history "
        "is in the tables under 'Patient histories'."
    )
    plot = history_plot(timeline.observations)
    if plot is not None:
        result.plots.insert(0, plot)
    for name, what in HISTORY_TABLES.items():
        keys = []
        for fmt, label in (("csv", "CSV"), ("parquet", "Parquet")):
            key = f"{name}_{fmt}"
            result.downloads[key] = _history_download(
                cohort, name, fmt, f"{name.capitalize()} ({label})", f"{stem}-{name}.{fmt}"
            )
            keys.append(key)
        rows = len(getattr(timeline, name))
        result.tables.append({"name": name, "what": what, "n_rows": rows, "downloads": keys})


def _history_download(cohort: Any, name: str, fmt: str, label: str, filename: str) -> Download:
    """One history table, written by its exporter when first asked for (dates as text, as
    the cohort's own files)."""
    from synthpatient.exporters import Table, get_exporter, text_dates

    exporter = get_exporter(fmt)

    def build(path: Path) -> Path:
        frame = text_dates(getattr(cohort.timeline, name))
        return exporter.export(Table(frame), path, overwrite=True)

    return Download(label, filename, exporter.media_type, build)


def _downloads(cohort: Any, folder: Path, stem: str, result: Result) -> dict[str, Any]:
    """The cohort's files, each written by its exporter or copied from the cohort folder."""
    from synthpatient.exporters import cohort_tables, get_exporter

    def observations(path: Path) -> Path:  # the long table is made only when asked for
        return get_exporter("csv").export(
            cohort_tables(cohort)["observations"], path, overwrite=True
        )

    return {
        "csv": export_download("Patients (CSV)", "csv", cohort, f"{stem}-patients.csv"),
        "observations_csv": Download(
            "Observations, one row each (CSV)", f"{stem}-observations.csv", "text/csv", observations
        ),
        "parquet": export_download(
            "Patients (Parquet)", "parquet", cohort, f"{stem}-patients.parquet"
        ),
        "report": text_download(
            "Full report (HTML)",
            f"{stem}-report.html",
            "text/html",
            lambda: cohort_report_html(result),
        ),
        "datacard": file_download(
            "Data card (Markdown)", f"{stem}-datacard.md", "text/markdown", folder / "datacard.md"
        ),
        "datacard_json": file_download(
            "Data card (JSON)",
            f"{stem}-datacard.json",
            "application/json",
            folder / "datacard.json",
        ),
        "provenance": file_download(
            "Provenance (JSON)",
            f"{stem}-provenance.json",
            "application/json",
            folder / "provenance.json",
        ),
    }
