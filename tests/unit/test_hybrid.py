"""The hybrid synthesizer: the base's rows, free text written per synthetic row (templates, or a
local scripted LLM), saved without pickle and without the API key."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from synthpatient.errors import InvalidParameterError
from synthpatient.notes import check_note, profile_table
from synthpatient.synthesizers import Synthesizer
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer
from synthpatient.synthesizers.hybrid import HybridSynthesizer
from tests.conftest import make_clinical_table

KEY = "sk-hybrid-secret-789"
REAL_TEXT = "Real patient {} went home after a long and complicated stay on ward B"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    frame = make_clinical_table(300, seed=4)
    frame["discharge_summary"] = [REAL_TEXT.format(i) for i in range(len(frame))]
    return frame


@pytest.fixture(scope="module")
def fitted(table) -> HybridSynthesizer:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "left empty" warning: the hybrid writes the text
        return HybridSynthesizer(notes_column="clinical_note", note_kind="admission", seed=0).fit(
            table
        )


def _structured(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["discharge_summary", "clinical_note"], errors="ignore")


@pytest.mark.filterwarnings("ignore:Column 'discharge_summary' is free text")
def test_rows_come_from_the_base_and_text_is_written_consistently(fitted, table):
    synthetic = fitted.sample(200, seed=5)
    assert list(synthetic.columns) == [*table.columns, "clinical_note"]
    copula = GaussianCopulaSynthesizer(seed=0).fit(table)
    pd.testing.assert_frame_equal(_structured(synthetic), _structured(copula.sample(200, seed=5)))
    profile = profile_table(_structured(synthetic))
    for column in ("discharge_summary", "clinical_note"):
        assert synthetic[column].map(bool).all()
        assert not synthetic[column].str.contains("Real patient").any()
        problems = [
            check_note(n, r, profile=profile)
            for n, r in zip(
                synthetic[column], _structured(synthetic).to_dict("records"), strict=True
            )
        ]
        assert not any(problems)
    assert not synthetic["discharge_summary"].equals(synthetic["clinical_note"])
    assert fitted.last_sample_report_["clinical_note"]["template_fallbacks"] == 0


def test_conditions_are_the_base_s_and_notes_follow_them(fitted):
    synthetic = fitted.sample(60, conditions={"sex": "female", "age": (40, 50)}, seed=1)
    assert (synthetic["sex"] == "female").all() and synthetic["age"].between(40, 50).all()
    assert not synthetic["clinical_note"].str.contains(r"\b(?:he|man|male)\b", case=False).any()


def test_zero_and_one_row(fitted):
    assert fitted.sample(0, seed=1)["clinical_note"].empty
    assert fitted.sample(1, seed=1)["clinical_note"].iloc[0]  # columns with no value are fine


def test_save_load_round_trip_keeps_base_and_never_the_key(fitted, tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHPATIENT_LLM_API_KEY", KEY)
    fitted.save(tmp_path / "model")
    loaded = Synthesizer.load(tmp_path / "model")
    assert isinstance(loaded, HybridSynthesizer)
    assert isinstance(loaded.base_model_, GaussianCopulaSynthesizer)
    pd.testing.assert_frame_equal(fitted.sample(30, seed=9), loaded.sample(30, seed=9))
    manifest = (tmp_path / "model" / "manifest.json").read_text()
    assert KEY not in manifest and "Real patient" not in manifest
    with np.load(tmp_path / "model" / "arrays.npz", allow_pickle=False) as arrays:
        assert all(name.startswith(("base.", "__")) for name in arrays.files)  # "__": reserved


def test_capabilities_are_class_data_and_the_network_follows_the_settings():
    caps = HybridSynthesizer.capabilities
    assert caps.native_conditions and caps.writes_text and not caps.needs_network
    offline = HybridSynthesizer()
    assert offline.capabilities is caps and not offline.uses_network()
    assert HybridSynthesizer(llm_base_url="http://127.0.0.1:9/v1").uses_network()
    assert HybridSynthesizer(
        base="llm", base_params={"base_url": "http://127.0.0.1:9/v1", "model": "m"}
    ).uses_network()


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"base": "hybrid"}, "base"),
        ({"base": "nope"}, "Unknown synthesizer"),
        ({"base_params": {"seed": 1}}, "base_params"),
        ({"base_params": {"n_quantiles": 1}}, "n_quantiles"),
        ({"base_params": {"no_such": 1}}, "base_params"),
        ({"note_kind": "discharge"}, "note_kind"),
        ({"llm_model": "m"}, "llm_model"),
        ({"llm_base_url": "localhost:8000"}, "llm_base_url"),
        ({"text_columns": "notes"}, "text_columns"),
    ],
)
def test_bad_parameters_fail_at_init(params, match):
    with pytest.raises((InvalidParameterError, KeyError), match=match):
        HybridSynthesizer(**params)


def test_bad_column_choices_fail_at_fit(table):
    with pytest.raises(InvalidParameterError, match="not a free-text column"):
        HybridSynthesizer(text_columns=["age"]).fit(table)
    with pytest.raises(InvalidParameterError, match="already a column"):
        HybridSynthesizer(notes_column="age").fit(table)


def test_llm_writes_the_text_and_sees_only_synthetic_rows(table, monkeypatch):
    pytest.importorskip("httpx")
    from tests.llm_server import ScriptedLLMServer

    server = ScriptedLLMServer()
    try:
        monkeypatch.setenv("NOTES_TEST_KEY", KEY)
        params = {"text_columns": [], "notes_column": "note", "seed": 0}
        offline = HybridSynthesizer(**params).fit(table)
        rows = _structured(offline.sample(3, seed=2)).drop(columns="note").to_dict("records")
        good = [f"A {r['age']}-year-old patient with BMI {r['bmi']} kg/m2." for r in rows]
        server.script = [
            (200, _answer(good[0])),
            (200, _answer(f"A {rows[1]['age'] + 5}-year-old patient seen today.")),
            (200, _answer(good[1])),
            # long enough to be notes (a shorter answer is rejected as no note at all)
            (200, _answer(f"Seen today in clinic, aged {rows[2]['age'] + 1}.")),
            (200, _answer(f"Seen today in clinic with a BMI of {rows[2]['bmi'] + 4} kg/m2.")),
        ]
        hybrid = HybridSynthesizer(
            **params, llm_base_url=server.url, llm_model="m", llm_api_key_env="NOTES_TEST_KEY"
        ).fit(table)
        synthetic = hybrid.sample(3, seed=2)
        assert synthetic["note"].tolist()[:2] == good[:2]
        assert synthetic["note"].iloc[2] == offline.sample(3, seed=2)["note"].iloc[2]
        report = hybrid.last_sample_report_["note"]
        assert (
            report["llm_accepted"],
            report["llm_rejected_contradiction"],
            report["template_fallbacks"],
        ) == (2, 3, 1)
        sent = json.dumps([r["body"] for r in server.requests])
        assert "Real patient" not in sent and KEY not in sent
        assert all(r["auth"] == f"Bearer {KEY}" for r in server.requests)
    finally:
        server.close()


def _answer(note: str) -> dict:
    return {
        "choices": [
            {
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": json.dumps({"note": note})},
            }
        ]
    }


def test_a_loaded_hybrid_never_sends_requests_to_the_server_its_folder_names(table, tmp_path):
    pytest.importorskip("httpx")
    from synthpatient.errors import ModelFileError
    from tests.fake_llm_server import FakeLLMServer

    with FakeLLMServer() as server:
        params = {
            "base": "llm",
            "base_params": {
                "base_url": server.url,
                "model": "fake-llm",
                "rows_per_request": 40,
                "backoff_s": 0.01,
            },
            "text_columns": [],
            "seed": 0,
        }
        hybrid = HybridSynthesizer(**params).fit(table)
        assert hybrid.uses_network() and len(hybrid.sample(5, seed=1)) == 5
        assert hybrid.last_sample_report_.base.rows_delivered == 5  # the base's own report
        hybrid.save(tmp_path / "m")
        served = len(server.requests)
        loaded = Synthesizer.load(tmp_path / "m")
        with pytest.raises(InvalidParameterError, match="Fit the model again"):
            loaded.sample(5, seed=1)
        assert len(server.requests) == served  # nothing was sent
    # the nested base is checked like a folder: a tampered one is refused in one line
    saved = hybrid.to_saved()
    saved.state["base"]["params"]["rows_per_request"] = 0
    with pytest.raises(ModelFileError, match="its base model: its parameters do not fit"):
        HybridSynthesizer.from_saved(saved)
