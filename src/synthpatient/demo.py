"""The demo: the main job on the bundled diabetes data, written into one folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthpatient._io import atomic_folder, check_output_path
from synthpatient.api import quality_summary
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer


def run_demo(out_dir: str | Path, *, n_rows: int = 1000, seed: int = 0,
             overwrite: bool = False) -> dict[str, Any]:
    """Fit the copula on ``diabetes``, sample ``n_rows`` and write table, model, schema and
    quality summary to ``out_dir`` (all at once, or nothing if anything fails)."""
    from synthpatient import datasets

    out_dir = check_output_path(Path(out_dir), overwrite=overwrite, kind="folder")
    real = datasets.load("diabetes")
    model = GaussianCopulaSynthesizer(seed=seed).fit(real)
    synthetic = model.sample(n_rows, seed=seed)
    summary = quality_summary(real, synthetic, model.schema_)
    names = {"synthetic": "synthetic.csv", "model": "model", "schema": "schema.json",
             "quality": "quality.json"}
    with atomic_folder(out_dir, overwrite=overwrite) as tmp:
        synthetic.to_csv(tmp / names["synthetic"], index=False)
        model.save(tmp / names["model"])
        model.schema_.to_json(tmp / names["schema"])
        (tmp / names["quality"]).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return {"quality": summary, "files": {k: out_dir / v for k, v in names.items()},
            "synthetic": synthetic}
