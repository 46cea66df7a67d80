# gpuwise — the two set-up commands: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint bench bench-cpu clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(STAMP_TEST): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(VENV)/bin/gpuwise fleet show examples/fleet-demo.yaml

test: $(STAMP_TEST)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -n 2 --dist loadfile

lint: $(STAMP_TEST)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

# Speed and validation figures (printed, never asserted); see each script's --help.
bench: $(STAMP_TEST)
	$(PY) benchmarks/bench_plan_search.py
	$(PY) benchmarks/bench_pack.py
	$(PY) benchmarks/bench_replay.py
	$(PY) benchmarks/bench_gavel.py
	$(PY) benchmarks/bench_planner_goldens.py
	$(PY) benchmarks/bench_planner_unseen.py
	$(PY) benchmarks/bench_attention_core.py
	$(PY) benchmarks/bench_planner_foundry_full.py
	$(PY) benchmarks/bench_flash_rate.py
	$(PY) benchmarks/bench_nccl_busbw.py
	$(PY) benchmarks/bench_moe_host_bound.py

bench-cpu: $(STAMP_TEST)
	$(PY) benchmarks/bench_cpu_validation.py --quick
	$(PY) benchmarks/bench_serve_cpu.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
