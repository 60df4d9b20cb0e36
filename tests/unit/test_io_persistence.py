"""Atomic writes, refusal to overwrite, and the no-pickle model folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthpatient import GaussianCopulaSynthesizer, Synthesizer
from synthpatient._io import read_table, write_table
from synthpatient.errors import FileIOError, ModelFileError
from tests.conftest import make_clinical_table


def test_write_table_refuses_existing_and_leaves_no_temp(tmp_path):
    frame = pd.DataFrame({"a": [1, 2]})
    path = write_table(frame, tmp_path / "t.parquet")
    with pytest.raises(FileIOError, match="already exists"):
        write_table(frame, path)
    write_table(frame.assign(a=[3, 4]), path, overwrite=True)
    assert read_table(path)["a"].tolist() == [3, 4]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_text("old\n")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(FileIOError, match="disk full"):
        write_table(pd.DataFrame({"a": [1]}), path, overwrite=True)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


@pytest.fixture(scope="module")
def model():
    return GaussianCopulaSynthesizer(seed=0).fit(make_clinical_table(200, seed=2))


def test_model_folder_holds_only_json_and_plain_arrays(model, tmp_path):
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["arrays.npz", "manifest.json"]
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["synthesizer"] == "copula" and manifest["format"] == "synthpatient.model/2"
    with np.load(tmp_path / "m" / "arrays.npz", allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)
    with pytest.raises(FileIOError, match="already exists"):
        model.save(tmp_path / "m")


def test_damaged_or_foreign_model_folders_give_clear_errors(model, tmp_path):
    with pytest.raises(ModelFileError, match="No saved model"):
        Synthesizer.load(tmp_path / "nothing")
    model.save(tmp_path / "m")
    manifest = tmp_path / "m" / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "format": "other/9"}))
    with pytest.raises(ModelFileError, match="Refit"):
        Synthesizer.load(tmp_path / "m")
    manifest.write_text(json.dumps({**data, "state": {}}))
    with pytest.raises(ModelFileError, match="damaged"):
        Synthesizer.load(tmp_path / "m")
    (tmp_path / "m" / "arrays.npz").write_bytes(b"not an archive")
    manifest.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="arrays"):
        Synthesizer.load(tmp_path / "m")
