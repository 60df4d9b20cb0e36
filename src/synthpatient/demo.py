"""The demo: the main job on the bundled diabetes data, written into one folder.

A quarter of the 442 patients is held out (never shown to the generator) so that the report's
privacy tests and ML utility are measured honestly against patients the model never saw.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from synthpatient._atomic import atomic_folder, check_output_path, write_table, write_text_atomic
from synthpatient.api import quality_summary
from synthpatient.errors import MissingExtraError, SynthPatientWarning
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer

HOLDOUT_SHARE = 0.25


def run_demo(out_dir: str | Path, *, n_rows: int = 1000, seed: int = 0,
             overwrite: bool = False) -> dict[str, Any]:
    """Fit the copula on 75% of ``diabetes``, sample ``n_rows``, and write the table, model,
    schema, quality summary and full evaluation report to ``out_dir`` (all or nothing)."""
    from synthpatient import datasets
    from synthpatient.evaluation.evaluate import evaluate
    from synthpatient.rules import load_rule_pack

    out_dir = check_output_path(Path(out_dir), overwrite=overwrite, kind="folder")
    real = datasets.load("diabetes")
    training = real.sample(frac=1 - HOLDOUT_SHARE, random_state=seed).sort_index()
    holdout = real.drop(training.index)
    model = GaussianCopulaSynthesizer(seed=seed).fit(training)
    synthetic = model.sample(n_rows, seed=seed)
    summary = quality_summary(training, synthetic, model.schema_)
    summary["n_holdout_rows"] = len(holdout)
    names = {"synthetic": "synthetic.csv", "model": "model", "schema": "schema.json",
             "quality": "quality.json"}
    report_html = None
    try:
        report = evaluate(training, synthetic, holdout=holdout, target="progression",
                          rules=load_rule_pack("diabetes"), schema=model.schema_,
                          sample=lambda n: model.sample(n, seed=seed + 1))
        report_html = report.to_html()
        names["report"] = "report.html"
        summary["evaluation"] = report.summary[["family", "metric", "score",
                                                "verdict"]].to_dict("records")
    except MissingExtraError as exc:
        warnings.warn(f"No HTML report: {exc}", SynthPatientWarning, stacklevel=2)
    with atomic_folder(out_dir, overwrite=overwrite) as tmp:  # all or nothing, one-line errors
        write_table(synthetic, tmp / names["synthetic"])
        model.save(tmp / names["model"])
        model.schema_.to_json(tmp / names["schema"])
        write_text_atomic(tmp / names["quality"], json.dumps(summary, indent=2) + "\n")
        if report_html is not None:
            write_text_atomic(tmp / names["report"], report_html)
    return {"quality": summary, "files": {k: out_dir / v for k, v in names.items()},
            "synthetic": synthetic}
