# Two commands do everything on a fresh machine: `make test` and `make bench` (each sets up first).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup test bench lint clean

setup: $(VENV)/.installed

# tinygrad's CPU backend compiles with clang, also for its own helper programs when the device opens
$(VENV)/.installed: pyproject.toml $(wildcard tinygrad_wino/*.py) tinygrad_wino.pth tinygrad_wino_autoload.py
	@command -v clang >/dev/null || (apt-get update -qq && apt-get install -y -qq clang) || { echo "clang is required: apt-get install -y clang"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q ".[test,bench]"
	@touch $@

lint: setup
	$(VENV)/bin/ruff check .

# one test process a core (CI has 2): tinygrad's codegen is single-threaded Python, most of the suite's time
test: setup lint
	$(PY) -m pytest -q -n auto

bench: setup
	$(PY) bench/phases.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
