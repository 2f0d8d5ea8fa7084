# The README's two commands are `make demo` and `make test`; everything else
# here is a step of those.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
WW := $(VENV)/bin/wirewatch

.PHONY: setup
setup: $(VENV)/.installed  ## make the virtual environment at .venv (idempotent)

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

.PHONY: bench
bench: setup  ## the matching benchmark whose table is in benchmarks/README.md
	$(PY) benchmarks/match_bench.py
