"""Model folders: nothing learned from the data in manifest.json, and untrusted on load.

A categorical column holds a unique marker string; every backend cheap enough here saves a
model, and the marker must be absent from ``manifest.json`` yet sampled by the loaded model.
Folders are then damaged the ways a careless copy or a hostile hand would (cut, replaced,
reshaped arrays, NaN, a manifest that is not an object, an unknown key, bad parameters, an old
format, states rewritten with consistent checksums): each gives one ``ModelFileError`` line,
never another exception.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthpatient import GaussianCopulaSynthesizer, Synthesizer
from synthpatient.errors import ConditionError, ModelFileError, SynthPatientWarning
from synthpatient.synthesizers import get_synthesizer_class
from synthpatient.synthesizers._persistence import (
    ARRAYS,
    MANIFEST,
    read_model,
    write_model,
)
from tests.conftest import make_clinical_table

MARKER = "ZQX-ward-7731"  # a value only the training table holds
TINY: dict[str, dict] = {
    "copula": {},
    "ctgan": {
        "steps": 4,
        "batch_size": 40,
        "generator_dims": (16,),
        "discriminator_dims": (16,),
        "progress": False,
    },
    "tvae": {
        "steps": 4,
        "batch_size": 40,
        "compress_dims": (16,),
        "decompress_dims": (16,),
        "progress": False,
    },
    "mst": {"epsilon": 10.0, "n_bins": 4},
    "tabular_lm": {"epochs": 1, "d_model": 16, "n_layers": 1, "n_heads": 2, "progress": False},
    "hybrid": {"base": "copula", "notes_column": None},
}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    data = make_clinical_table(80, seed=4)
    data["ward"] = np.random.default_rng(0).choice([MARKER, "west"], len(data))
    return data


@pytest.fixture(scope="module")
def copula(table) -> GaussianCopulaSynthesizer:
    return GaussianCopulaSynthesizer(seed=0).fit(table)


def _fit(key: str, table: pd.DataFrame) -> Synthesizer:
    extra = {"ctgan": "torch", "tvae": "torch", "tabular_lm": "torch", "mst": "mbi"}.get(key)
    if extra:
        pytest.importorskip(extra)
    with warnings.catch_warnings():  # MST: bounds read from the data, said and recorded
        warnings.simplefilter("ignore", SynthPatientWarning)
        return get_synthesizer_class(key)(seed=0, **TINY[key]).fit(table)


def _refused(path: Path, match: str) -> str:
    """Load must fail with one ModelFileError line matching ``match``; returns the line."""
    with pytest.raises(ModelFileError, match=match) as info:
        Synthesizer.load(path)
    message = str(info.value)
    assert "\n" not in message and MARKER not in message
    return message


def _rewrite(path: Path, *, state=None, arrays=None, manifest=None) -> None:
    """Rewrite a folder with changed content and a *consistent* inventory and checksums, as
    someone who knows the format would: only the backends' own checks can catch this."""
    saved = read_model(path)
    new_state = state(saved.state) if state else saved.state
    new_arrays = arrays(dict(saved.arrays)) if arrays else saved.arrays
    head = {k: v for k, v in saved.manifest.items() if k not in ("format", "arrays")}
    write_model(
        path,
        manifest(head) if manifest else head,
        schema=saved.schema,
        state=new_state,
        arrays=new_arrays,
        overwrite=True,
    )


def _npz(path: Path, change) -> None:
    """Change arrays.npz behind the manifest's back."""
    with np.load(path / ARRAYS, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    np.savez(path / ARRAYS, **change(arrays))


# -- nothing real in the manifest -------------------------------------------------------------
@pytest.mark.parametrize("key", list(TINY))
def test_manifest_holds_nothing_learned_and_the_loaded_model_still_samples_it(key, table, tmp_path):
    model = _fit(key, table)
    model.save(tmp_path / "m")
    text = (tmp_path / "m" / MANIFEST).read_text(encoding="utf-8")
    assert MARKER not in text
    manifest = json.loads(text)
    assert manifest["format"] == "synthpatient.model/2" and "state" not in manifest
    ward = next(c for c in manifest["schema"]["columns"] if c["name"] == "ward")
    assert "categories" not in ward  # observed bounds and categories stay in the arrays
    assert not any("minimum" in c or "maximum" in c for c in manifest["schema"]["columns"])
    assert set(manifest["arrays"]) >= {"__learned__", "__salt__"}
    loaded = Synthesizer.load(tmp_path / "m")
    rows = loaded.sample(6, seed=1, conditions={"ward": MARKER})
    assert (rows["ward"] == MARKER).all()
    assert list(rows.columns) == list(table.columns)


def test_the_llm_profile_is_kept_out_of_the_manifest(table, tmp_path):
    pytest.importorskip("httpx")
    from synthpatient.synthesizers.llm import LLMSynthesizer

    model = LLMSynthesizer(base_url="http://127.0.0.1:9/v1", model="m", seed=0).fit(table)
    model.save(tmp_path / "m")
    assert MARKER not in (tmp_path / "m" / MANIFEST).read_text(encoding="utf-8")
    loaded = Synthesizer.load(tmp_path / "m")
    assert loaded.profile_ == model.profile_ and MARKER in json.dumps(loaded.profile_)
    _rewrite(tmp_path / "m", state=lambda s: {**s, "profile": {"columns": []}})
    _refused(tmp_path / "m", "table profile")


def test_checksums_are_salted_so_the_manifest_cannot_confirm_a_guess(copula, tmp_path):
    copula.save(tmp_path / "a")
    copula.save(tmp_path / "b")
    first, second = (json.loads((tmp_path / n / MANIFEST).read_text())["arrays"] for n in "ab")
    assert first["correlation"]["shape"] == second["correlation"]["shape"]
    assert first["correlation"]["sha256"] != second["correlation"]["sha256"]


# -- damaged folders: one line, never another exception -------------------------------------
def test_cut_replaced_and_missing_arrays_are_refused(copula, tmp_path):
    path = tmp_path / "m"
    copula.save(path)
    data = (path / ARRAYS).read_bytes()
    (path / ARRAYS).write_bytes(data[: len(data) // 2])
    _refused(path, "damaged.*arrays.npz")
    (path / ARRAYS).write_bytes(data)
    _npz(path, lambda a: {**a, "correlation": a["correlation"] * 0.5})
    _refused(path, "array 'correlation' does not match its checksum")
    _npz(path, lambda a: {k: v for k, v in a.items() if k != "correlation"})
    _refused(path, "array 'correlation' is missing")
    (path / ARRAYS).write_bytes(data)
    _npz(path, lambda a: {**a, "extra": np.zeros(3)})
    _refused(path, "array 'extra' that manifest.json does not list")
    (path / ARRAYS).unlink()
    _refused(path, "arrays.npz is missing")


def test_wrong_shape_dtype_and_nan_are_named(copula, tmp_path):
    path = tmp_path / "m"
    copula.save(path)
    data = (path / ARRAYS).read_bytes()
    _npz(path, lambda a: {**a, "correlation": a["correlation"][:-1]})
    _refused(path, r"array 'correlation' has shape \(\d+, \d+\), the manifest says")
    (path / ARRAYS).write_bytes(data)
    _npz(path, lambda a: {**a, "correlation": a["correlation"].astype(np.float32)})
    _refused(path, "array 'correlation' has dtype <f4")
    (path / ARRAYS).write_bytes(data)

    def nan(arrays):
        quantiles = arrays["marginal_0_quantiles"].copy()
        quantiles[3] = np.nan
        return {**arrays, "marginal_0_quantiles": quantiles}

    _npz(path, nan)
    _refused(path, "array 'marginal_0_quantiles' holds NaN")


@pytest.mark.parametrize(
    "text,match",
    [
        ("{not json", "manifest.json is not valid JSON"),
        ("[1, 2, 3]", "manifest.json is not a JSON object"),
        ('"a string"', "not a JSON object"),
        ("[" * 100_000, "damaged"),
    ],
)
def test_a_manifest_that_is_not_an_object_is_refused(copula, tmp_path, text, match):
    copula.save(tmp_path / "m")
    (tmp_path / "m" / MANIFEST).write_text(text)
    _refused(tmp_path / "m", match)


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda m: {**m, "format": "synthpatient.model/1"}, "older synthpatient.*Refit the model"),
        (lambda m: {**m, "format": "other/9"}, "'other/9', not a synthpatient model.*Refit"),
        (lambda m: {k: v for k, v in m.items() if k != "format"}, "no format"),
        (lambda m: {**m, "synthesizer": "magic"}, "synthesizer 'magic' that this version"),
        (lambda m: {**m, "synthesizer": 7}, "entry 'synthesizer' is missing or not a str"),
        (lambda m: {**m, "params": {"n_quantiles": -4}}, "parameters do not fit.*n_quantiles"),
        (lambda m: {**m, "params": {"bogus": 1}}, "parameters name 'bogus', which Gaussian"),
        (lambda m: {**m, "params": {"seed": "x"}}, "parameters do not fit.*seed"),
        (lambda m: {**m, "params": [1]}, "entry 'params'"),
        (lambda m: {**m, "n_training_rows": True}, "n_training_rows"),
        (lambda m: {**m, "n_training_rows": -1}, "n_training_rows"),
        (lambda m: {**m, "state": {}}, "unexpected entry 'state'"),
        (
            lambda m: {**m, "arrays": {**m["arrays"], "correlation": {"shape": "x"}}},
            "inventory entry of array 'correlation'",
        ),
        (lambda m: {**m, "schema": {"columns": "x"}}, "schema is not valid"),
        (
            lambda m: {**m, "schema": {"columns": m["schema"]["columns"][:-1]}},
            "schema in manifest.json differs",
        ),
    ],
)
def test_bad_manifest_entries_are_refused(copula, tmp_path, change, match):
    copula.save(tmp_path / "m")
    path = tmp_path / "m" / MANIFEST
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    _refused(tmp_path / "m", match)


def test_a_model_of_another_class_is_refused(copula, tmp_path):
    from synthpatient.synthesizers.mst import MSTSynthesizer

    copula.save(tmp_path / "m")
    with pytest.raises(ModelFileError, match="holds a GaussianCopulaSynthesizer, not a MST"):
        MSTSynthesizer.load(tmp_path / "m")


def test_random_damage_never_escapes_as_another_exception(copula, tmp_path):
    copula.save(tmp_path / "m")
    data = (tmp_path / "m" / ARRAYS).read_bytes()
    rng = np.random.default_rng(0)
    for position in rng.integers(0, len(data), 40):
        damaged = bytearray(data)
        damaged[position] ^= 0xFF
        (tmp_path / "m" / ARRAYS).write_bytes(bytes(damaged))
        try:
            Synthesizer.load(tmp_path / "m")
        except ModelFileError as exc:
            assert "\n" not in str(exc)
        # a flipped byte in a zip header's unused field can be harmless: then it loads


# -- consistent checksums, malformed content: the backends' own checks -----------------------
def _asymmetric(arrays):
    corr = arrays["correlation"].copy()
    corr[0, 1] += 0.5
    return {**arrays, "correlation": corr}


@pytest.mark.parametrize(
    "state,arrays,match",
    [
        (None, _asymmetric, "correlation matrix is not a correlation matrix"),
        (None, lambda a: {**a, "correlation": np.eye(3)}, "correlation matrix does not have one"),
        (
            None,
            lambda a: {**a, "marginal_1_edges": a["marginal_1_edges"][::-1].copy()},
            "marginal of column 'sex' does not split",
        ),
        (
            None,
            lambda a: {**a, "marginal_0_quantiles": a["marginal_0_quantiles"][::-1].copy()},
            "marginal of column 'age' is not an increasing quantile function",
        ),
        (
            None,
            lambda a: {**a, "missing_0_left": np.zeros_like(a["missing_0_left"])},
            "missing-value tree 0 is not a tree",
        ),
        (lambda s: {**s, "columns": s["columns"][::-1]}, None, "columns differ"),
        (
            lambda s: {k: v for k, v in s.items() if k != "marginals"},
            None,
            "the entry 'marginals' is missing",
        ),
        (lambda s: {**s, "marginals": 5}, None, "TypeError while restoring"),
        (
            lambda s: {
                **s,
                "marginals": [
                    {**m, "categories": ["a", "b"]} if m["type"] == "categorical" else m
                    for m in s["marginals"]
                ],
            },
            None,
            "lists other categories than the schema",
        ),
        (
            None,
            lambda a: {k: v for k, v in a.items() if k != "missing_0_left"},
            "the entry 'missing_0_left' is missing",
        ),
    ],
)
def test_copula_state_is_checked(copula, tmp_path, state, arrays, match):
    copula.save(tmp_path / "m")
    _rewrite(tmp_path / "m", state=state, arrays=arrays)
    _refused(tmp_path / "m", match)


@pytest.fixture(scope="module")
def deep_models(table):
    pytest.importorskip("torch")
    return {key: _fit(key, table) for key in ("ctgan", "tvae", "tabular_lm")}


@pytest.mark.parametrize(
    "key,state,arrays,match",
    [
        (
            "ctgan",
            None,
            lambda a: {**a, "generator.seq.0.fc.weight": np.zeros((3, 3), np.float32)},
            "network weight 'generator.seq.0.fc.weight' does not have its layer's shape",
        ),
        (
            "ctgan",
            lambda s: {**s, "network": {**s["network"], "dims": [10**9]}},
            None,
            "network setting 'dims' fits none of its weights",
        ),
        (
            "ctgan",
            lambda s: {**s, "network": {**s["network"], "data_dim": 3}},
            None,
            "input and output sizes do not match",
        ),
        (
            "tvae",
            lambda s: {**s, "sampler": {"block_sizes": [99]}},
            None,
            "conditional vector's blocks",
        ),
        (
            "tvae",
            None,
            lambda a: {**a, "transform.0.stds": -a["transform.0.stds"]},
            "transform of column 'age' has a scale or mixture modes that are not positive",
        ),
        (
            "tvae",
            None,
            lambda a: {k: v for k, v in a.items() if k != "decoder.sigma"},
            "network weights 'decoder.\\*' are not those of its layers",
        ),
        (
            "tabular_lm",
            lambda s: {**s, "network": {**s["network"], "n_heads": 3}},
            None,
            "heads, width or dropout",
        ),
        (
            "tabular_lm",
            None,
            lambda a: {**a, "symbol_log_weights": np.zeros(2)},
            "symbol weights do not fit",
        ),
        (
            "tabular_lm",
            lambda s: {**s, "vocabs": s["vocabs"][:-1]},
            None,
            "one vocabulary per learned column",
        ),
    ],
)
def test_deep_model_state_is_checked(deep_models, tmp_path, key, state, arrays, match):
    deep_models[key].save(tmp_path / "m")
    _rewrite(tmp_path / "m", state=state, arrays=arrays)
    _refused(tmp_path / "m", match)


def test_mst_state_is_checked(table, tmp_path):
    pytest.importorskip("mbi")
    _fit("mst", table).save(tmp_path / "m")
    original = read_model(tmp_path / "m")
    _rewrite(tmp_path / "m", arrays=lambda a: {**a, "clique_0_marginal": np.ones((1, 1))})
    _refused(tmp_path / "m", "clique's tables do not have the shape")
    _rewrite(
        tmp_path / "m",
        arrays=lambda a: {
            **a,
            **{k: v for k, v in original.arrays.items() if k.startswith("clique_0")},
            "coder_0_groups": np.full_like(original.arrays["coder_0_groups"], 3),
        },
    )
    _refused(tmp_path / "m", "bins of column 'age' have empty groups")


def test_hybrid_nested_state_is_covered(table, tmp_path):
    _fit("hybrid", table).save(tmp_path / "m")
    text = (tmp_path / "m" / MANIFEST).read_text(encoding="utf-8")
    assert MARKER not in text and "base.correlation" in json.loads(text)["arrays"]
    _npz(tmp_path / "m", lambda a: {**a, "base.correlation": a["base.correlation"] * 0.9})
    _refused(tmp_path / "m", "array 'base.correlation' does not match its checksum")
    _fit("hybrid", table).save(tmp_path / "n")
    _rewrite(tmp_path / "n", arrays=lambda a: {**a, "base.correlation": np.eye(2)})
    _refused(tmp_path / "n", "correlation matrix does not have one")
    _rewrite(
        tmp_path / "n",
        arrays=lambda a: {
            **a,
            "base.correlation": np.eye(
                len(read_model(tmp_path / "n").state["base"]["state"]["columns"])
            ),
        },
        state=lambda s: {"base": {**s["base"], "key": "hybrid"}},
    )
    _refused(tmp_path / "n", "nested base model is not the one")


# -- conditions never list real categories ----------------------------------------------------
def test_an_unknown_category_is_not_answered_with_the_real_ones(copula):
    with pytest.raises(ConditionError, match="not a category of column 'ward'") as info:
        copula.sample(5, conditions={"ward": "east"})
    message = str(info.value)
    assert "'east'" in message and "--show-categories" in message
    assert MARKER not in message and "west" not in message
    with pytest.raises(ConditionError, match="true or false"):
        copula.sample(5, conditions={"died": "maybe"})


def test_the_command_line_refuses_a_damaged_model_in_one_line(copula, tmp_path):
    from typer.testing import CliRunner

    from synthpatient.cli.app import app

    copula.save(tmp_path / "m")
    _npz(tmp_path / "m", lambda a: {**a, "correlation": a["correlation"] * 0.5})
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(
        app, ["sample", str(tmp_path / "m"), "--rows", "5", "--out", str(out)]
    )
    assert result.exit_code == 2 and not out.exists()
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "damaged" in lines[0] and "Traceback" not in result.output


# -- a folder never chooses where requests (and the user's key) go ---------------------------
def test_a_loaded_llm_model_samples_only_once_its_server_is_given_again(table, tmp_path):
    pytest.importorskip("httpx")
    from synthpatient.errors import InvalidParameterError
    from synthpatient.synthesizers.llm import LLMSynthesizer
    from tests.fake_llm_server import FakeLLMServer

    with FakeLLMServer() as server:
        model = LLMSynthesizer(base_url=server.url, model="fake-llm", seed=0).fit(table)
        model.save(tmp_path / "m")
        # a hostile edit: another server, and the key of another environment variable
        manifest = json.loads((tmp_path / "m" / MANIFEST).read_text())
        manifest["params"].update(
            base_url="http://attacker.invalid/v1", api_key_env="AWS_SECRET_ACCESS_KEY"
        )
        (tmp_path / "m" / MANIFEST).write_text(json.dumps(manifest))
        loaded = Synthesizer.load(tmp_path / "m")
        with pytest.raises(InvalidParameterError, match="base_url, api_key_env"):
            loaded.sample(5, seed=1)
        assert not server.requests
        with pytest.raises(InvalidParameterError, match="takes base_url, api_key_env"):
            Synthesizer.load(tmp_path / "m", model="other")
        confirmed = Synthesizer.load(
            tmp_path / "m", base_url=server.url, api_key_env="SYNTHPATIENT_LLM_API_KEY"
        )
        assert len(confirmed.sample(5, seed=1)) == 5 and server.requests


def test_a_model_without_a_server_takes_no_endpoint_on_load(copula, tmp_path):
    from synthpatient.errors import InvalidParameterError

    copula.save(tmp_path / "m")
    with pytest.raises(InvalidParameterError, match="takes no such parameters"):
        Synthesizer.load(tmp_path / "m", base_url="http://127.0.0.1:9/v1")


def test_a_bare_array_file_in_place_of_the_archive_is_refused(copula, tmp_path):
    copula.save(tmp_path / "m")
    with open(tmp_path / "m" / ARRAYS, "wb") as handle:
        np.save(handle, np.arange(3))
    _refused(tmp_path / "m", "not an archive of named arrays")
