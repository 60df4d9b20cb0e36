"""What a finished table job leaves in the session: the result page's data and its downloads.

Provenance (source file hash, request, seed, rows learned and kept aside, privacy spent),
the scores and rule checks of the evaluation, a preview, and the files: CSV, Parquet and
FHIR by their exporters, the report, scores, data card and provenance as made.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from synthpatient.web._timelines import UploadTimeline, describe_result
from synthpatient.web._uploads import Upload
from synthpatient.web.plots import report_plots
from synthpatient.web.results import (
    PREVIEW_ROWS,
    Result,
    export_download,
    records,
    text_download,
)
from synthpatient.web.sessions import Session, new_id
from synthpatient.web.words import generator_words

if TYPE_CHECKING:
    from synthpatient.web.tables import TableRequest


def _table_result(
    session: Session,
    upload: Upload,
    request: TableRequest,
    seed: int,
    report: Any,
    report_html: str,
    synthetic: pd.DataFrame,
    model: Any,
    n_training: int,
    holdout: pd.DataFrame | None,
    rules: Any,
    conditions: dict[str, Any],
    timeline: UploadTimeline | None = None,
    longitudinal: bool = False,
    real: pd.DataFrame | None = None,
) -> Result:
    from synthpatient import __version__

    schema = model.schema_
    not_learned = [c.name for c in schema if not c.is_learned]
    provenance = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "generator": f"synthpatient {__version__} ({request.synthesizer}, data-driven)",
        "generator_name": generator_words(request.synthesizer)[0],
        "source": {"file": upload.filename, "sha256": upload.sha256, "rows": upload.n_rows},
        "request": {
            "synthesizer": request.synthesizer,
            "n_rows": request.n_rows,
            "conditions": list(request.conditions),
            "epsilon": request.epsilon,
            "target": request.target,
            "rules": None if rules is None else rules.name,
        },
        "seed": seed,
        "training_rows": n_training,
        "holdout_rows": 0 if holdout is None else len(holdout),
        "not_learned": not_learned,
        "privacy_spent": getattr(model, "privacy_spent_", None),
        "spec": schema.to_dict(),
        "synthetic": "Every row is synthetic; identifier columns were made up, not copied.",
    }
    summary = report.summary
    scores = [
        {
            "family": r["family"],
            "metric": r["metric"],
            "score": r["score"],
            "verdict": r["verdict"],
            "level": r["level"],
        }
        for r in records(summary[["family", "metric", "score", "verdict", "level"]])
    ]
    rule_rows = records(report.sections["rules"]) if "rules" in report.sections else []
    result_id = new_id(12)
    stem = f"synthpatient-{Path(upload.filename.split(' ')[0]).stem or 'table'}-{len(synthetic)}"
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)[:80]
    result = Result(
        id=result_id,
        kind="table",
        title=f"{len(synthetic):,} synthetic rows like {upload.filename}",
        n_rows=len(synthetic),
        columns=[str(c) for c in synthetic.columns],
        preview=records(synthetic, PREVIEW_ROWS),
        folder=session.workdir("results", result_id),
        plots=report_plots(report_html),
        scores=scores,
        rules=rule_rows,
        provenance=provenance,
    )
    if timeline is not None:  # described as patients before the data card takes the title
        describe_result(result, timeline, synthetic, upload.filename, longitudinal, holdout)
    result.downloads = _downloads(
        stem, result.title, synthetic, schema, report, report_html, provenance, real
    )
    return result


def _downloads(
    stem: str,
    title: str,
    synthetic: pd.DataFrame,
    schema: Any,
    report: Any,
    report_html: str,
    provenance: dict[str, Any],
    real: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The result's files: the table's formats and FHIR by their exporters, texts as made."""
    from synthpatient.exporters import Table

    table, source, request = Table(synthetic, schema), provenance["source"], provenance["request"]
    card = {
        "title": title,
        "source": f"the uploaded table {source['file']} "
        f"({source['rows']:,} rows, sha256 {source['sha256']})",
        "generator": provenance["generator"],
        "synthesizer": request["synthesizer"],
        "parameters": request,
        "seed": provenance["seed"],
        "patient_key": provenance.get("patients", {}).get("patient_key"),
        "evaluation": report,
        "real": real,  # the rows learned from: the card's representation table (shares only)
        **{k: provenance[k] for k in ("training_rows", "holdout_rows", "privacy_spent")},
    }
    return {
        "csv": export_download("Synthetic table (CSV)", "csv", table, f"{stem}.csv"),
        "parquet": export_download(
            "Synthetic table (Parquet)", "parquet", table, f"{stem}.parquet"
        ),
        "fhir": export_download(
            "FHIR R4 (zip of NDJSON; LOINC-coded where known)",
            "fhir_ndjson",
            table,
            f"{stem}-fhir-ndjson.zip",
        ),
        "report": text_download(
            "Full evaluation report (HTML)", f"{stem}-report.html", "text/html", lambda: report_html
        ),
        "scores": text_download(
            "Scores (JSON)", f"{stem}-scores.json", "application/json", report.to_json
        ),
        "datacard": export_download(
            "Data card (Markdown)", "datacard", table, f"{stem}-datacard.md", **card
        ),
        "datacard_json": export_download(
            "Data card (JSON)", "datacard_json", table, f"{stem}-datacard.json", **card
        ),
        "provenance": text_download(
            "Provenance (JSON)",
            f"{stem}-provenance.json",
            "application/json",
            lambda: json.dumps(provenance, indent=2, default=str),
        ),
    }


def _fhir_notice(synthetic: pd.DataFrame, schema: Any) -> list[str]:
    from synthpatient.exporters import map_table

    notice = map_table(synthetic, schema).notice()
    return [notice] if notice else []
