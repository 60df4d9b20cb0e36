"""A fitted model on disk: a folder with ``manifest.json`` and ``arrays.npz``; never pickle.

Arrays are loaded with ``allow_pickle=False``, so a model folder from someone else cannot run
code on load. The manifest carries a format version, the synthesizer key and parameters, the
full schema and the backend's JSON state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from synthpatient._io import atomic_folder
from synthpatient.errors import ModelFileError

MODEL_FORMAT = "synthpatient.model/1"
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"


def write_model(path: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray], *,
                overwrite: bool) -> None:
    """Write atomically: the folder appears complete, or not at all."""
    for name, array in arrays.items():
        if np.asarray(array).dtype == object:
            raise TypeError(f"state array '{name}' has dtype object, which would need pickle")
    with atomic_folder(path, overwrite=overwrite) as tmp:
        np.savez(tmp / ARRAYS, **arrays)
        (tmp / MANIFEST).write_text(json.dumps({"format": MODEL_FORMAT, **manifest}, indent=2),
                                    encoding="utf-8")


def read_model(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if not path.is_dir():
        raise ModelFileError(f"No saved model at '{path}': expected a folder written by "
                             "`synthpatient fit` or Synthesizer.save().")
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelFileError(f"'{path}' has no {MANIFEST}; it is not a saved model.") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"The model manifest in '{path}' is damaged: {exc}.") from exc
    if manifest.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"'{path}' holds model format {manifest.get('format')!r}; this "
                             f"version of synthpatient reads {MODEL_FORMAT!r}. Refit the model.")
    try:
        with np.load(path / ARRAYS, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"The arrays of the model in '{path}' are missing or damaged "
                             f"({exc}). Refit the model.") from exc
    return manifest, arrays
