# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv and
# installs what it needs; nothing has to be installed by hand first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test peers bench bench-llm clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch is only needed by the deep/lm extras: when one is installed, `pip install torch==2.13.0`
# runs first (a local CPU wheel), so pip never pulls a multi-GB CUDA build.
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[report,fhir]'
	touch $@

# The tests cover every synthesizer, so they need torch: the CPU wheel goes first.
$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.core
	$(BIN)/synthpatient demo --out synthpatient-demo --overwrite
	@echo "To use synthpatient yourself: source $(VENV)/bin/activate (or run $(BIN)/synthpatient)"

# The web app's browser tests drive Debian's Chromium (never a downloaded browser).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Style (ruff), types (mypy on src/) and the tests: a finding in any of them fails the run.
# The tests run in two processes (pytest-xdist), a test file per process at a time so that a
# file's fitted models are shared by its tests: 6.3 minutes instead of 9.7 on 2 idle cores.
# The schema-driven web fuzzing runs on its own: among all the files, xdist reported its 19
# generated cases (one per API operation) as a single test.
test: $(VENV)/.test
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=10 --ignore=tests/web/test_fuzz.py
	$(BIN)/python -m pytest -q tests/web/test_fuzz.py

# The benchmark's peers (the `compare` extra: SDV, BUSL-1.1; py-synthpop, arfpy and
# ForestDiffusion, MIT) need pandas<3 (SDV, py-synthpop) and numpy<2.4 (arfpy 0.1.1), so they
# live in their own environment,
# .venv-peers, and the benchmark runs each in a worker process there (torch's CPU wheel first).
PEERS_VENV := .venv-peers
$(PEERS_VENV)/.peers: pyproject.toml
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(PEERS_VENV)/bin/python -m pip install --quiet 'numpy<2.4' -e '.[compare]'
	touch $@

peers: $(PEERS_VENV)/.peers

# Our generators against SDV and the tree-based peers on the same splits (issue 18's must-shows:
# check_peers, check_relations, check_aim, check_auto print each). check_peers.py keeps
# every finished run in benchmarks/results/peers and resumes from there; Forest-Flow at its
# authors' settings takes about 24 minutes a fit on 2 idle cores (5 seeds: about 2 hours).
bench: $(VENV)/.test $(PEERS_VENV)/.peers
	$(BIN)/synthpatient benchmark --datasets diabetes --seeds 3 --epsilons 1,3,10 \
		--out benchmark-results --overwrite --update-readme README.md
	$(BIN)/python benchmarks/bench_synthesizers.py
	$(BIN)/python benchmarks/bench_copula_sampling.py
	$(BIN)/python benchmarks/check_peers.py --seeds 5
	$(BIN)/python benchmarks/check_relations.py
	$(BIN)/python benchmarks/check_aim.py --seeds 5
	$(BIN)/python benchmarks/check_auto.py --seeds 3

# Language-model endpoints side by side with a real local model (issue 21): llama.cpp's server
# (llama-cpp-python, compiled once, about 30 minutes on 2 cores, the wheel cached in
# ~/.cache/synthpatient/wheels) serving Gemma 3 270M in its own .venv-llm; the fake server and
# Gemma at every prompt level, the table written into README.md, then the robustness counts.
# Not part of `make test`. ROWS=5 rows per run by default (Gemma is slow on 2 busy cores).
bench-llm: $(VENV)/.test
	bash benchmarks/llm_server/bench_llm.sh

clean:
	rm -rf $(VENV) $(PEERS_VENV) .venv-llm synthpatient-demo
