"""The torch thread policy (``synthpatient._threads``) and the training progress lines."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from synthpatient import _threads
from synthpatient.errors import InvalidParameterError
from synthpatient.synthesizers._progress import LineProgress, progress_bar


# -- the number of threads -------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [("", None), ("  ", None), ("3", 3), (" 1 ", 1)])
def test_the_override_variable_is_read(text, expected):
    assert _threads.requested_threads({"SYNTHPATIENT_THREADS": text}) == expected
    assert _threads.requested_threads({}) is None


@pytest.mark.parametrize("text", ["0", "-1", "2.5", "two", "1e3"])
def test_a_bad_override_is_one_line_naming_the_variable(text):
    with pytest.raises(InvalidParameterError, match="SYNTHPATIENT_THREADS") as info:
        _threads.requested_threads({"SYNTHPATIENT_THREADS": text})
    assert "\n" not in str(info.value) and repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("cores", "busy", "threads", "wait"),
    [(2, 0, 2, "GOMP_SPINCOUNT"), (2, 1, 1, "PASSIVE"), (2, 7, 1, "PASSIVE"), (8, 3, 5, "GOMP")],
)
def test_threads_are_the_free_cores_and_one_thread_sleeps(cores, busy, threads, wait):
    policy = _threads.choose_policy({}, cores=cores, busy=busy)
    assert (policy.threads, policy.source) == (threads, "free cores")
    assert wait in policy.wait
    assert f"{threads} thread(s)" in policy.describe()
    assert list(_threads._wait_settings(threads)) == (
        ["OMP_WAIT_POLICY"] if threads == 1 else ["GOMP_SPINCOUNT"]
    )


def test_the_override_wins_over_the_free_cores_and_a_user_wait_setting_is_kept():
    environ = {"SYNTHPATIENT_THREADS": "4", "OMP_WAIT_POLICY": "active"}
    policy = _threads.choose_policy(environ, cores=2, busy=2)
    assert (policy.threads, policy.source) == (4, "SYNTHPATIENT_THREADS")
    assert policy.wait == "as set in the environment (OMP_WAIT_POLICY=active)"


def test_usable_cores_follow_the_affinity_and_the_cgroup_quota(monkeypatch):
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(_threads, "_cgroup_quota", lambda: None)
    assert _threads.usable_cores() == 4
    monkeypatch.setattr(_threads, "_cgroup_quota", lambda: 2)
    assert _threads.usable_cores() == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5})
    assert _threads.usable_cores() == 1


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "150000 100000\n"}, 2),  # 1.5 cores -> 2 threads
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "garbage\n"}, None),
        ({}, None),
    ],
)
def test_the_cgroup_v2_quota_is_read_in_whole_cores(tmp_path, files, quota):
    (tmp_path / "proc").write_text("0::/job\n")
    (tmp_path / "job").mkdir()
    for name, text in files.items():
        (tmp_path / "job" / name).write_text(text)
    assert _threads._cgroup_quota(tmp_path / "proc", tmp_path) == quota


def test_the_cgroup_v1_quota_is_read(tmp_path):
    (tmp_path / "proc").write_text("broken line\n4:memory:/x\n2:cpu,cpuacct:/job\n")
    folder = tmp_path / "cpu,cpuacct" / "job"
    folder.mkdir(parents=True)
    (folder / "cpu.cfs_quota_us").write_text("300000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    assert _threads._cgroup_quota(tmp_path / "proc", tmp_path) == 3
    (folder / "cpu.cfs_quota_us").write_text("-1\n")
    assert _threads._cgroup_quota(tmp_path / "proc", tmp_path) is None
    assert _threads._cgroup_quota(tmp_path / "missing", tmp_path) is None


def test_busy_cores_are_the_other_runnable_tasks(tmp_path):
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("3.10 2.00 1.00 4/321 9999\n")
    assert _threads.busy_cores(loadavg) == 3  # less this process
    loadavg.write_text("0.00 0.00 0.00 1/100 9999\n")
    assert _threads.busy_cores(loadavg) == 0
    loadavg.write_text("nonsense\n")
    assert _threads.busy_cores(loadavg) == 0
    assert _threads.busy_cores(tmp_path / "missing") == 0


def test_import_torch_sets_the_threads_once(monkeypatch):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    monkeypatch.setattr(_threads, "_policy", None)
    monkeypatch.setenv("SYNTHPATIENT_THREADS", "1")
    try:
        assert _threads.import_torch() is torch
        assert torch.get_num_threads() == 1
        assert _threads.thread_policy().source == "SYNTHPATIENT_THREADS"
        monkeypatch.setenv("SYNTHPATIENT_THREADS", "not read again")  # applied once
        assert _threads.import_torch() is torch
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("threads", "variables"), [("1", ["PASSIVE", None]), ("3", [None, "10000"])]
)
def test_a_fresh_process_gets_its_wait_setting_before_torch_loads(threads, variables):
    """In a new interpreter the OpenMP wait setting is in the environment before torch (and
    its OpenMP runtime) is imported, and the override sets torch's threads."""
    pytest.importorskip("torch")
    code = (
        "import json, os, sys\n"
        "from synthpatient.synthesizers._torch import import_torch\n"
        "assert 'torch' not in sys.modules\n"
        "torch = import_torch()\n"
        "print(json.dumps([os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'),"
        " torch.get_num_threads()]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in _threads.WAIT_VARIABLES}
    env["SYNTHPATIENT_THREADS"] = threads
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [*variables, int(threads)]


# -- progress lines when stderr is not a terminal ---------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_line_at_every_tenth_and_one_at_the_end():
    stream, clock = io.StringIO(), Clock()
    lines = LineProgress(20, "Training X", "steps", stream, clock)
    for step in range(20):
        clock.now += 1.0
        lines.advance("Training X (validation 0.812)" if step == 9 else None)
    lines.finish()
    out = stream.getvalue().splitlines()
    assert len(out) == 10  # 2, 4, ..., 18, then done
    assert out[0] == "Training X: 2/20 steps (10%), 2 s, about 18 s left"
    assert out[4].startswith("Training X: 10/20 steps (50%), validation 0.812, 10 s")
    assert out[-1] == "Training X: done after 20/20 steps, validation 0.812, 20 s"


def test_a_slow_run_still_prints_every_minute_and_says_it_stopped_early():
    stream, clock = io.StringIO(), Clock()
    lines = LineProgress(1000, "Training Y", "epochs", stream, clock)
    clock.now = 61.0
    lines.advance()  # far below a tenth, but a minute passed
    clock.now = 130.0
    lines.advance()
    lines.finish()
    out = stream.getvalue().splitlines()
    assert out[0] == "Training Y: 1/1000 epochs (0%), 1 min 01 s, about 16 h 55 min left"
    assert out[1].startswith("Training Y: 2/1000 epochs (0%), 2 min 10 s")
    assert out[-1] == "Training Y: done after 2/1000 epochs (stopped early), 2 min 10 s"


def test_progress_goes_to_stderr_as_lines_only_when_enabled(capsys):
    with progress_bar(False, 3, "Training Z", "steps") as bar:
        bar.advance()
    assert capsys.readouterr().err == ""
    with progress_bar(True, 3, "Training Z", "steps") as bar:  # pytest's stderr: not a tty
        for _ in range(3):
            bar.advance()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Training Z: 1/3 steps (33%)" in captured.err
    assert captured.err.splitlines()[-1].startswith("Training Z: done after 3/3 steps")


def test_the_tabular_lm_prints_its_epochs_when_not_on_a_terminal(capsys):
    pytest.importorskip("torch")
    from synthpatient.synthesizers.tabular_lm import TabularLMSynthesizer
    from tests.conftest import make_clinical_table

    table = make_clinical_table(60)[["age", "sex", "bmi"]]
    TabularLMSynthesizer(epochs=2, d_model=16, n_layers=1, n_heads=2, seed=0).fit(table)
    err = capsys.readouterr().err.splitlines()
    assert "Training TabularLMSynthesizer: 1/2 epochs (50%)" in err[0]
    assert err[-1].startswith("Training TabularLMSynthesizer: done after 2/2 epochs")
