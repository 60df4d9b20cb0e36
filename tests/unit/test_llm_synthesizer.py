"""LLMSynthesizer against the local test double of an OpenAI-compatible server (127.0.0.1
only; no real model, no network): bad inputs give one-line errors, faults are recovered from
and counted, real rows never leave unless asked for, and the run is accounted for."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytest.importorskip("httpx")

from synthpatient.errors import InvalidParameterError, SynthPatientError  # noqa: E402
from synthpatient.llm import prompts  # noqa: E402
from synthpatient.llm.parsing import parse_rows  # noqa: E402
from synthpatient.synthesizers import Synthesizer  # noqa: E402
from synthpatient.synthesizers._persistence import read_model  # noqa: E402
from synthpatient.synthesizers.llm import GenerationIncompleteError, LLMSynthesizer  # noqa: E402
from tests.conftest import make_clinical_table  # noqa: E402
from tests.fake_llm_server import FakeLLMServer, Faults, closed_port_url  # noqa: E402

KEY = "sk-test-secret-9f8e7d"
FAST = {
    "model": "fake-llm",
    "rows_per_request": 40,
    "timeout_s": 5.0,
    "backoff_s": 0.01,
    "max_retries": 3,
}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_clinical_table(200, seed=3)


def _synth(url: str, table: pd.DataFrame, **params) -> LLMSynthesizer:
    return LLMSynthesizer(base_url=url, **{**FAST, "seed": 0, **params}).fit(table)


def _all_prompt_text(server: FakeLLMServer) -> str:
    return "\n".join(m["content"] for r in server.requests for m in r["body"]["messages"])


# -- bad input: one clear line, never the key, never a hang -------------------------------------
@pytest.mark.parametrize(
    "setup,match",
    [
        ({"unreachable": True}, "Cannot reach"),
        ({"api_key": "another-key"}, r"API key.*\$SP_TEST_KEY, which is set"),
        ({"models": ("gpt-x",)}, "does not know model 'fake-llm'"),
        ({"context_tokens": 50}, "context window.*rows_per_request"),
        ({"prose_only": True}, "without any JSON rows"),
    ],
)
def test_bad_servers_give_one_line_errors_without_the_key(table, monkeypatch, setup, match):
    monkeypatch.setenv("SP_TEST_KEY", KEY)
    if setup.pop("unreachable", False):
        url, server = closed_port_url(), None
    else:
        server = FakeLLMServer(**setup)
        url = server.url
    try:
        synth = _synth(url, table, api_key_env="SP_TEST_KEY")
        with pytest.raises(SynthPatientError, match=match) as info:
            synth.sample(30)
    finally:
        if server is not None:
            server.close()
    message = str(info.value)
    assert "\n" not in message and KEY not in message and KEY not in repr(synth)
    assert synth.last_sample_report_.error and KEY not in synth.last_sample_report_.summary()


def test_a_server_that_never_answers_hits_the_timeout(table):
    with FakeLLMServer(delay_s=5.0) as server:
        synth = _synth(server.url, table, timeout_s=0.2, max_retries=1)
        with pytest.raises(SynthPatientError, match=r"did not answer within 0.2 s \(2 tries\)"):
            synth.sample(10)


def test_bad_parameters_are_rejected_at_once_and_a_key_is_never_echoed():
    with pytest.raises(InvalidParameterError, match="prompt_level"):
        LLMSynthesizer(base_url="http://x/v1", model="m", prompt_level="fancy")
    with pytest.raises(InvalidParameterError, match="base_url"):
        LLMSynthesizer(model="m")
    with pytest.raises(InvalidParameterError, match="NAME of an environment variable") as info:
        LLMSynthesizer(base_url="http://x/v1", model="m", api_key_env=KEY)
    assert KEY not in str(info.value)


# -- faults are recovered from and counted -------------------------------------------------
def test_rate_limits_truncations_and_malformed_answers_are_recovered_and_counted(table):
    faults = Faults(rate_limit=0.3, truncate=0.3, malformed=0.3, retry_after_s=0.01)
    with FakeLLMServer(faults=faults) as server:
        synth = _synth(server.url, table)
        rows = synth.sample(300, seed=1)
        injected = dict(server.injected)
    report = synth.last_sample_report_
    assert len(rows) == 300 and report.rows_delivered == 300
    synth.schema_.validate(rows)
    assert report.rate_limited == injected["rate_limit"] > 0
    assert report.truncated_answers >= injected["truncate"] > 0
    assert report.malformed_answers > 0 and report.failed_requests == 0
    assert report.requests > 300 / 40  # the lost rows were asked for again


def test_cut_off_answers_keep_their_complete_rows(table):
    with FakeLLMServer(faults=Faults(truncate=1.0)) as server:
        synth = _synth(server.url, table)
        rows = synth.sample(60, seed=2)
    report = synth.last_sample_report_
    assert len(rows) == 60 and report.truncated_answers == report.requests
    assert report.rows_parsed > 0 and report.invalid_by_reason.get("not_a_row", 0) == 0


def test_a_server_without_response_format_gets_plain_requests(table):
    with FakeLLMServer(supports_response_format=False) as server:
        synth = _synth(server.url, table)
        assert len(synth.sample(80, seed=1)) == 80
        bodies = [r["body"] for r in server.requests]
    assert synth.last_sample_report_.structured_output == "off"
    # json_schema, then json_object with the schema, then plain requests
    assert synth.last_sample_report_.response_format_fallbacks == 2
    assert bodies[0]["response_format"]["type"] == "json_schema"
    assert bodies[1]["response_format"]["type"] == "json_object"
    assert all("response_format" not in b for b in bodies[2:])


# -- real rows and the vocabulary ---------------------------------------------------------
def test_no_real_row_is_sent_or_saved_unless_opted_in(table, tmp_path):
    with FakeLLMServer() as server:
        synth = _synth(server.url, table, prompt_level="advanced")
        synth.sample(40, seed=1)
        sent = _all_prompt_text(server)
    assert "<example_rows>" not in sent and synth.examples_ == []
    # no real row's dates, ids or names in the prompt, only aggregates of them
    assert not any(name in sent for name in table["name"])
    synth.save(tmp_path / "model")
    saved = read_model(tmp_path / "model")
    assert saved.state["examples"] == []
    assert set(saved.arrays) == {"training_hashes"}


def test_copies_of_prompt_examples_are_rejected_and_counted(table):
    with FakeLLMServer(faults=Faults(copy_example=0.3)) as server:
        synth = _synth(server.url, table, include_examples=True, n_examples=4)
        rows = synth.sample(120, seed=1)
        sent = _all_prompt_text(server)
    assert "<example_rows>" in sent and len(synth.examples_) == 4
    report = synth.last_sample_report_
    assert report.example_copies > 0 and report.example_copy_rate > 0.1
    learned = [c.name for c in synth.schema_.learned]
    examples = pd.DataFrame(synth.examples_)
    merged = rows[["age", "bmi", "hba1c", "sex"]].merge(examples[["age", "bmi", "hba1c", "sex"]])
    assert merged.empty and len(rows[learned].drop_duplicates()) == 120


def test_category_vocabulary_stays_the_real_one(table):
    with FakeLLMServer(faults=Faults(misspell=0.4, out_of_range=0.2)) as server:
        synth = _synth(server.url, table)
        rows = synth.sample(150, seed=4)
    report = synth.last_sample_report_
    assert set(rows["smoker"]) <= set(table["smoker"]) and set(rows["sex"]) <= {"female", "male"}
    assert report.invalid_by_reason["unknown_category"] > 0 and report.spellings_fixed > 0
    assert report.invalid_by_reason["out_of_range"] > 0 and rows["bmi"].max() <= table["bmi"].max()


def test_copies_of_training_rows_are_rejected(table):
    coarse = table[["sex", "smoker"]].copy()  # every plausible row is a training row
    with FakeLLMServer() as server:
        synth = _synth(server.url, coarse, max_requests=3)
        with pytest.raises(GenerationIncompleteError, match="training_copy"):
            synth.sample(5)
        assert synth.last_sample_report_.training_copies > 0
        allowed = _synth(server.url, coarse, reject_training_copies=False)
        assert len(allowed.sample(5)) == 5


# -- partial results, costs, conditions, determinism --------------------------------------
def test_partial_rows_are_kept_when_the_budget_runs_out(table):
    with FakeLLMServer(faults=Faults(duplicate=0.2)) as server:
        synth = _synth(server.url, table, rows_per_request=10, max_requests=2)
        with pytest.raises(
            GenerationIncompleteError,
            match=r"Only \d+ of 100 valid rows after "
            r"2 requests",
        ) as info:
            synth.sample(100)
    partial = synth.partial_rows_
    assert 0 < len(partial) < 100 and len(partial) == synth.last_sample_report_.rows_delivered
    assert info.value.rows is partial and "\n" not in str(info.value)
    synth.schema_.validate(partial)


def test_costs_come_from_the_users_price_table(table):
    with FakeLLMServer() as server:
        synth = _synth(
            server.url, table, price_per_1k_input_tokens=0.15, price_per_1k_output_tokens=0.6
        )
        synth.sample(100, seed=1)
        served = sum(1 for _ in server.requests)
    r = synth.last_sample_report_
    assert r.requests == served and r.input_tokens > 0 and r.output_tokens > 0
    assert r.cost == pytest.approx(r.input_tokens * 0.15 / 1000 + r.output_tokens * 0.6 / 1000)
    assert r.cost_per_1k_rows == pytest.approx(r.cost / 100 * 1000)
    assert "per 1,000 valid unique rows" in r.summary()
    assert set(r.to_dict()) >= {
        "valid_row_rate",
        "duplicate_rate",
        "example_copy_rate",
        "cost_per_1k_rows",
        "seconds_per_1k_rows",
    }


def test_conditions_go_into_the_prompt_and_the_json_schema(table):
    with FakeLLMServer() as server:
        synth = _synth(server.url, table)
        rows = synth.sample(50, conditions={"sex": "female", "age": (30, 50)}, seed=2)
        body = server.requests[0]["body"]
    assert (rows["sex"] == "female").all() and rows["age"].between(30, 50).all()
    item = body["response_format"]["json_schema"]["schema"]["properties"]["rows"]["items"]
    assert item["properties"]["sex"]["enum"] == ["female"]
    assert (item["properties"]["age"]["minimum"], item["properties"]["age"]["maximum"]) == (30, 50)
    assert 'sex = "female"; age between 30 and 50' in body["messages"][-1]["content"]


def test_same_seed_same_rows_with_faults_and_after_save_load(table, tmp_path):
    faults = Faults(rate_limit=0.2, truncate=0.2, malformed=0.2, duplicate=0.1)
    with FakeLLMServer(faults=faults) as server:
        synth = _synth(server.url, table, max_concurrency=8)
        first = synth.sample(120, seed=5)
        synth.save(tmp_path / "m")
        again = Synthesizer.load(tmp_path / "m", base_url=server.url).sample(120, seed=5)
    pd.testing.assert_frame_equal(first, again)


# -- prompts and parsing ------------------------------------------------------------------
def test_prompt_levels_reveal_only_what_their_level_allows(table):
    with FakeLLMServer() as server:
        synth = _synth(server.url, table)
    profile = synth.profile_
    basic = prompts.read_spec(prompts.user_message(profile, "basic", 5))
    improved = prompts.read_spec(prompts.user_message(profile, "improved", 5))
    advanced = prompts.read_spec(prompts.user_message(profile, "advanced", 5))
    assert "mean" not in json.dumps(basic) and "frequencies" not in json.dumps(basic)
    assert "mean" in json.dumps(improved) and "correlations" not in improved
    assert advanced["correlations"] and any("cause_of_death" in r for r in advanced["rules"])
    assert (
        prompts.messages(profile, prompt_level="basic", system_level="none", n_rows=5)[0]["role"]
        == "user"
    )
    assert "JSON only" in prompts.system_message("strict")


@pytest.mark.parametrize(
    "text,n_rows,flags",
    [
        ('{"rows": [{"a": 1}, {"a": 2}]}', 2, {"strict": True}),
        ('Here you go:\n```json\n[{"a": 1}, {"a": 2}]\n```\nEnjoy', 2, {"wrapped": True}),
        ('{"rows": [{"a": 1}, {"a": 2}, {"a": 3, "b"', 2, {"cut_off": True}),
        ("[{'a': None, 'b': True}, {'a': 2,}]", 2, {"strict": False}),
        ('[{"a": 1}, {"a" 2}, {"a": 3}]', 2, {"bad_fragments": 1}),
        ("I cannot do that.", 0, {"strict": False}),
    ],
)
def test_rows_are_read_from_imperfect_answers(text, n_rows, flags):
    parsed = parse_rows(text)
    assert len(parsed.rows) == n_rows
    for name, value in flags.items():
        assert getattr(parsed, name) == value


# -- through the CLI ------------------------------------------------------------------------
def test_the_cli_passes_server_parameters_and_reports_errors_in_one_line(table, tmp_path):
    from typer.testing import CliRunner

    from synthpatient.cli.app import app

    data = tmp_path / "real.csv"
    table.to_csv(data, index=False)
    runner = CliRunner()
    with FakeLLMServer() as server:
        result = runner.invoke(
            app,
            [
                "generate",
                str(data),
                "-o",
                str(tmp_path / "out.csv"),
                "-s",
                "llm",
                "-n",
                "50",
                "--seed",
                "1",
                "-p",
                f"base_url={server.url}",
                "-p",
                "model=fake-llm",
                "-p",
                "backoff_s=0.01",
            ],
        )
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "out.csv")) == 50
    result = runner.invoke(
        app,
        [
            "generate",
            str(data),
            "-o",
            str(tmp_path / "bad.csv"),
            "-s",
            "llm",
            "-n",
            "5",
            "-p",
            f"base_url={closed_port_url()}",
            "-p",
            "model=fake-llm",
            "-p",
            "max_retries=0",
        ],
    )
    assert result.exit_code == 2 and "Cannot reach" in result.output
    assert "Traceback" not in result.output


def test_the_key_is_sent_but_never_saved_or_shown(table, monkeypatch, tmp_path):
    monkeypatch.setenv("SP_TEST_KEY", KEY)
    with FakeLLMServer(api_key=KEY) as server:
        synth = _synth(server.url, table, api_key_env="SP_TEST_KEY")
        assert len(synth.sample(20, seed=1)) == 20
        assert all(r["authorized"] for r in server.requests)
    synth.save(tmp_path / "m")
    saved = b"".join(p.read_bytes() for p in (tmp_path / "m").iterdir())
    assert KEY.encode() not in saved and b"SP_TEST_KEY" in saved
    assert KEY not in repr(synth) and KEY not in json.dumps(synth.last_sample_report_.to_dict())
