"""No identifier or free text of a real patient ever comes out (issue 16).

A visit-level table (several rows per patient) carries a marker ``ZQXJ<hex>`` in every cell
of its sensitive columns: name, MRN, phone, email and a free-text remark. The marker is then
searched for everywhere the tool writes or says something: samples of every synthesizer, the
files of a saved model, schema JSON, quality summaries, evaluation reports, the CLI's outputs,
stdout and stderr, and the messages of errors and warnings. It is searched case-insensitively
in UTF-8, UTF-16 and UTF-32 (numpy keeps text as UTF-32), inside zip members (``.npz``) and in
decoded Parquet columns.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthpatient import GaussianCopulaSynthesizer, Schema, Synthesizer, make_synthesizer
from synthpatient import quality_summary as summarize_quality
from synthpatient.cli import app
from synthpatient.errors import SynthPatientError
from synthpatient.evaluation.evaluate import evaluate

MARK = "ZQXJ"
_NEEDLES = tuple(MARK.lower().encode(enc) for enc in ("utf-8", "utf-16-le", "utf-32-le"))
_PHRASES = (
    "seen in clinic, stable",
    "follow-up in three months",
    "no change since last visit",
    "reports chest pain on exertion",
    "declined statin",
    "referred to dietitian",
)

#: Two spellings of the sensitive columns: the plain one, and one found only by content.
OBVIOUS = {"name": "name", "mrn": "mrn", "phone": "phone", "email": "email", "remark": "remark"}
SUBTLE = {
    "name": "Full Name",
    "mrn": "Hospital Number",
    "phone": "Telephone",
    "email": "contact",
    "remark": "notes",
}


def visit_table(
    names: dict[str, str], *, n_patients: int = 40, seed: int = 0, repeated_remarks: bool = False
) -> pd.DataFrame:
    """1-6 visits per patient; the marker in every cell of the sensitive columns."""
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.arange(n_patients), rng.integers(1, 7, n_patients))
    marks = [f"{MARK}{int(v):08x}" for v in rng.integers(0, 16**8, n_patients)]
    n = len(pid)
    remark_marks = (
        [marks[p] for p in pid]
        if repeated_remarks
        else [f"{MARK}{int(v):08x}" for v in rng.integers(0, 16**8, n)]
    )
    return pd.DataFrame(
        {
            names["mrn"]: [marks[p] for p in pid],
            names["name"]: [f"{marks[p]} {('Smith', 'García', 'Nguyen')[p % 3]}" for p in pid],
            names["phone"]: [f"+1 555 {marks[p]}" for p in pid],
            names["email"]: [f"{marks[p].lower()}@hospital.org" for p in pid],
            "age": rng.integers(18, 90, n_patients)[pid],
            "sex": np.array(["female", "male"])[rng.integers(0, 2, n_patients)][pid],
            "visit_date": pd.Timestamp("2021-01-01")
            + pd.to_timedelta(rng.integers(0, 900, n), "D"),
            "sbp": rng.integers(95, 175, n),
            "hba1c": np.where(rng.random(n) < 0.1, np.nan, np.round(rng.normal(6.8, 1.0, n), 1)),
            "smoker": rng.choice(["never", "former", "current"], n),
            names["remark"]: [
                f"{m} {_PHRASES[i % len(_PHRASES)]}" for i, m in enumerate(remark_marks)
            ],
        }
    )


def harness_synthetic(table: pd.DataFrame, sensitive: list[str], seed: int = 1) -> pd.DataFrame:
    """A stand-in 'synthetic' table without the marker: real clinical values shuffled."""
    rng = np.random.default_rng(seed)
    out = {
        c: (
            pd.Series([f"SYN-{i:05d} stand-in" for i in range(len(table))])
            if c in sensitive
            else table[c]
            .sample(frac=1.0, random_state=int(rng.integers(1 << 30)))
            .reset_index(drop=True)
        )
        for c in table.columns
    }
    return pd.DataFrame(out)


# --- searching ------------------------------------------------------------------------------


def text_leaks(text: object) -> bool:
    return MARK.lower() in str(text).lower()


def without_images(html: str) -> str:
    """The report's plots are base64 PNGs, whose random letters can spell the marker."""
    return re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+", "", html)


def frame_leaks(frame: pd.DataFrame) -> list[str]:
    return [
        str(c)
        for c in frame.columns
        if text_leaks(" ".join(map(str, frame[c].tolist()))) or text_leaks(c)
    ]


def file_leaks(path: Path) -> bool:
    data = path.read_bytes()
    if data[:4] == b"PAR1":
        import pyarrow.parquet as pq

        if text_leaks(pq.read_table(path).to_pydict()):
            return True
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if any(_bytes_leak(archive.read(name)) for name in archive.namelist()):
                return True
    return _bytes_leak(data)


def _bytes_leak(data: bytes) -> bool:
    low = data.lower()
    return any(needle in low for needle in _NEEDLES)


def leaking_files(folder: Path) -> list[str]:
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and file_leaks(p)
    )


def sensitive_columns(names: dict[str, str]) -> list[str]:
    return list(names.values())


@pytest.fixture(params=["obvious", "subtle", "repeated-remarks"])
def case(request) -> tuple[pd.DataFrame, list[str]]:
    names = SUBTLE if request.param == "subtle" else OBVIOUS
    table = visit_table(names, repeated_remarks=request.param == "repeated-remarks")
    return table, sensitive_columns(names)


# --- the tests ------------------------------------------------------------------------------


def test_the_fixture_plants_the_marker_in_every_sensitive_cell(case):
    table, sensitive = case
    assert table[sensitive[0]].nunique() < len(table)  # several rows per patient
    for column in sensitive:
        assert table[column].map(text_leaks).all()
    assert not frame_leaks(table.drop(columns=sensitive))


def test_sensitive_columns_are_never_learned(case):
    table, sensitive = case
    schema = Schema.infer(table)
    learned = [c for c in sensitive if schema[c].is_learned]
    assert not learned, f"learned as {[schema[c].kind for c in learned]}: {learned}"


def test_schema_json_holds_no_marker(case):
    table, _ = case
    schema = Schema.infer(table)
    assert not text_leaks(schema.to_json())
    assert not text_leaks(schema.to_json(include_observed=True))


def test_copula_samples_and_model_files_hold_no_marker(case, tmp_path):
    table, sensitive = case
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = GaussianCopulaSynthesizer(seed=0).fit(table)
        samples = [
            model.sample(300),
            model.sample(50, conditions={"sex": "female"}),
            model.sample(50, conditions={"sbp": (120, 140)}),
        ]
        model.save(tmp_path / "model")
        samples.append(Synthesizer.load(tmp_path / "model").sample(100, seed=3))
    assert not [str(w.message) for w in caught if text_leaks(w.message)]
    for synthetic in samples:
        assert not frame_leaks(synthetic)
    assert not leaking_files(tmp_path / "model")
    assert not text_leaks(summarize_quality(table, samples[0]))


@pytest.mark.parametrize(
    "key, params",
    [
        ("hybrid", {}),
        ("mst", {"epsilon": 10.0, "n_bins": 4}),
        ("tvae", {"steps": 3, "batch_size": 20, "progress": False}),
        ("ctgan", {"steps": 2, "batch_size": 20, "progress": False}),
        ("tabular_lm", {"epochs": 1, "d_model": 16, "progress": False}),
    ],
)
def test_every_synthesizer_keeps_the_marker_out(key, params, tmp_path):
    table = visit_table(OBVIOUS, seed=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = make_synthesizer(key, seed=0, **params).fit(table)
        synthetic = model.sample(60)
        model.save(tmp_path / "model")
    assert not frame_leaks(synthetic)
    assert not leaking_files(tmp_path / "model")
    assert not [str(w.message) for w in caught if text_leaks(w.message)]


def test_evaluation_report_and_quality_summary_hold_no_marker(case):
    table, sensitive = case
    real, holdout = table.iloc[: len(table) * 3 // 4], table.iloc[len(table) * 3 // 4 :]
    synthetic = harness_synthetic(real, sensitive)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = evaluate(real, synthetic, holdout=holdout, target="sbp", sensitive="smoker")
        html = report.to_html()
    assert not text_leaks(report.to_json())
    assert not text_leaks(report.summary.to_string())
    assert not text_leaks(without_images(html))
    assert not text_leaks(summarize_quality(real, synthetic))


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result, output


def test_cli_outputs_and_terminal_hold_no_marker(case, tmp_path):
    table, sensitive = case
    real = tmp_path / "real.csv"
    table.to_csv(real, index=False)
    table.to_parquet(tmp_path / "real.parquet", index=False)
    holdout = tmp_path / "holdout.csv"
    table.iloc[::4].to_csv(holdout, index=False)
    harness_synthetic(table, sensitive).to_csv(tmp_path / "stand-in.csv", index=False)
    out = tmp_path / "out"
    out.mkdir()
    commands = [
        ("generate", real, "-o", out / "a.csv", "-n", 200, "--seed", 1),
        (
            "generate",
            tmp_path / "real.parquet",
            "-o",
            out / "b.parquet",
            "-n",
            50,
            "-c",
            "sex=male",
        ),
        ("fit", real, "-m", out / "model", "--seed", 2),
        ("sample", out / "model", "-o", out / "c.csv", "-n", 80, "-c", "sbp=110..150"),
        ("schema", real, "-o", out / "schema.json"),
        ("schema", real, "-o", out / "schema-observed.json", "--include-observed"),
        (
            "evaluate",
            real,
            tmp_path / "stand-in.csv",
            "--holdout",
            holdout,
            "--target",
            "sbp",
            "--json",
            out / "scores.json",
        ),
    ]
    terminal = []
    for command in commands:
        result, output = _invoke(*command)
        assert result.exit_code == 0, (command[0], output)
        terminal.append(output)
    assert not [t for t in terminal if text_leaks(t)]
    assert not leaking_files(out)


@pytest.mark.parametrize(
    "extra",
    [
        ("-c", "{mrn}=someone"),
        ("-c", "{remark}=fine"),
        ("-c", "sex=unknown"),
        ("--identifier", "nope"),
        ("--categorical", "nope"),
        ("-c", "sbp=300..400"),
    ],
)
def test_cli_errors_name_no_marker(extra, tmp_path):
    table = visit_table(OBVIOUS, seed=3)
    real = tmp_path / "real.csv"
    table.to_csv(real, index=False)
    args = [a.format(**OBVIOUS) for a in extra]
    result, output = _invoke("generate", real, "-o", tmp_path / "s.csv", "-n", 20, *args)
    assert result.exit_code == 2, output
    assert not text_leaks(output), output
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize("option", ["--target", "--sensitive"])
@pytest.mark.parametrize("role", ["mrn", "name", "remark"])
def test_evaluating_on_a_sensitive_column_names_no_marker(option, role, tmp_path):
    table = visit_table(OBVIOUS, seed=4)
    table.to_csv(tmp_path / "real.csv", index=False)
    harness_synthetic(table, sensitive_columns(OBVIOUS)).to_csv(tmp_path / "s.csv", index=False)
    result, output = _invoke(
        "evaluate",
        tmp_path / "real.csv",
        tmp_path / "s.csv",
        option,
        OBVIOUS[role],
        "--json",
        tmp_path / "scores.json",
    )
    assert not text_leaks(output), output
    if (tmp_path / "scores.json").exists():
        assert not file_leaks(tmp_path / "scores.json")


def test_a_marker_in_a_clinical_column_is_never_quoted(tmp_path):
    """An MRN pasted into a lab column: the error (or warning) says where, not what."""
    table = visit_table(OBVIOUS, seed=5)
    table["sbp"] = table["sbp"].astype(object)
    table.loc[7, "sbp"] = f"{MARK}0badc0de"
    real = tmp_path / "real.csv"
    table.to_csv(real, index=False)
    result, output = _invoke("generate", real, "-o", tmp_path / "s.csv", "-n", 20)
    assert not text_leaks(output), output
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            synthetic = GaussianCopulaSynthesizer(seed=0).fit(table).sample(40)
        except SynthPatientError as exc:
            assert not text_leaks(exc)
        else:
            assert not frame_leaks(synthetic)
    assert not [str(w.message) for w in caught if text_leaks(w.message)]


def test_api_errors_name_no_marker(tmp_path):
    table = visit_table(OBVIOUS, seed=6)
    model = GaussianCopulaSynthesizer(seed=0).fit(table)
    schema = Schema.infer(table)
    broken = table.copy()
    broken["sbp"] = broken["sbp"].astype(object)
    broken.loc[3, "sbp"] = f"{MARK}deadbeef"
    stand_in = harness_synthetic(table, sensitive_columns(OBVIOUS))
    attempts = [
        lambda: model.sample(5, conditions={"mrn": "someone"}),
        lambda: model.sample(5, conditions={"sex": "unknown"}),
        lambda: schema.validate(broken),
        lambda: evaluate(table, stand_in, target="mrn").to_json(),
        lambda: evaluate(table, stand_in, sensitive="remark").to_json(),
    ]
    for attempt in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = attempt()
        except SynthPatientError as exc:
            assert not text_leaks(exc), str(exc)
        else:  # an attempt that succeeds must not show the marker either
            assert not text_leaks(
                result if not isinstance(result, pd.DataFrame) else frame_leaks(result) or ""
            )
