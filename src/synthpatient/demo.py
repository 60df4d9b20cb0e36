"""The demo: the main job on the bundled diabetes data, written into one folder.

A quarter of the 442 patients is held out (never shown to the generator) so that the report's
privacy tests and ML utility are measured honestly against patients the model never saw. The
folder ends with a data card (Markdown and JSON) saying what was made, how, how good it is,
and the checksum of every other file.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from synthpatient._atomic import atomic_folder, check_output_path, write_text_atomic
from synthpatient.api import quality_summary
from synthpatient.errors import MissingExtraError, SynthPatientWarning
from synthpatient.exporters import Table, get_exporter
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer

HOLDOUT_SHARE = 0.25
DATASET = "diabetes"


def run_demo(
    out_dir: str | Path, *, n_rows: int = 1000, seed: int = 0, overwrite: bool = False
) -> dict[str, Any]:
    """Fit the copula on 75% of ``diabetes``, sample ``n_rows``, and write the table, model,
    schema, quality summary, full evaluation report and data card to ``out_dir`` (all or
    nothing)."""
    from synthpatient import __version__, datasets
    from synthpatient.evaluation.evaluate import evaluate
    from synthpatient.rules import load_rule_pack

    out_dir = check_output_path(Path(out_dir), overwrite=overwrite, kind="folder")
    # the split `synthpatient datasets split` writes, so the README can repeat the demo
    training, holdout = datasets.split(DATASET, holdout_share=HOLDOUT_SHARE, seed=seed)
    model = GaussianCopulaSynthesizer(seed=seed).fit(training)
    synthetic = model.sample(n_rows, seed=seed)
    summary = quality_summary(training, synthetic, model.schema_)
    summary["n_holdout_rows"] = len(holdout)
    names = {
        "synthetic": "synthetic.csv",
        "model": "model",
        "schema": "schema.json",
        "quality": "quality.json",
    }
    report = None
    try:
        report = evaluate(
            training,
            synthetic,
            holdout=holdout,
            target="progression",
            rules=load_rule_pack(DATASET),
            schema=model.schema_,
            sample=lambda n: model.sample(n, seed=seed + 1),
        )
        summary["evaluation"] = report.summary[["family", "metric", "score", "verdict"]].to_dict(
            "records"
        )
    except MissingExtraError as exc:
        warnings.warn(f"No evaluation: {exc}", SynthPatientWarning, stacklevel=2)
    table = Table(synthetic, model.schema_)
    info = datasets.info(DATASET)
    card: dict[str, Any] = {
        "title": f"{len(synthetic):,} synthetic patients like the bundled {DATASET} data",
        "description": info.description,
        "source": f"{info.title}: {info.source}",
        "generator": f"synthpatient {__version__} (copula, data-driven)",
        "synthesizer": "copula",
        "parameters": model.get_params(),
        "seed": seed,
        "training_rows": len(training),
        "holdout_rows": len(holdout),
        "privacy_spent": getattr(model, "privacy_spent_", None),
        "evaluation": report,
    }
    with atomic_folder(out_dir, overwrite=overwrite) as tmp:  # all or nothing, one-line errors
        get_exporter("csv").export(table, tmp / names["synthetic"])
        model.save(tmp / names["model"])
        model.schema_.to_json(tmp / names["schema"])
        write_text_atomic(tmp / names["quality"], json.dumps(summary, indent=2) + "\n")
        if report is not None and _html_report(report, tmp / "report.html"):
            names["report"] = "report.html"
        card["files"] = {name: tmp / name for name in names.values()}
        get_exporter("datacard").export(table, tmp / "datacard.md", **card)
        get_exporter("datacard_json").export(table, tmp / "datacard.json", **card)
        names["datacard"] = "datacard.md"
    return {
        "quality": summary,
        "files": {k: out_dir / v for k, v in names.items()},
        "synthetic": synthetic,
        "report": report,
    }


def _html_report(report: Any, path: Path) -> bool:
    """Write the HTML report; without matplotlib (the ``report`` extra) say so and go on."""
    try:
        get_exporter("html_report").export(report, path)
    except MissingExtraError as exc:
        warnings.warn(f"No HTML report: {exc}", SynthPatientWarning, stacklevel=3)
        return False
    return True
