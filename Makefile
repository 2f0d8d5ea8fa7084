# The README's two commands are `make demo` and `make test`; everything else
# here is a step of those.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
WW := $(VENV)/bin/wirewatch

.PHONY: setup
setup: $(VENV)/.installed  ## make the virtual environment at .venv (idempotent)

# The matcher's compiled core is built by pip too: rebuild when its sources change.
$(VENV)/.installed: pyproject.toml native/Cargo.toml native/Cargo.lock $(wildcard native/src/*.rs)
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Where the tests and the local services find Kafka and Elasticsearch.  `?=`
# keeps values already in the environment: point them at servers of your own
# and `services-up` uses those when they answer instead of starting new ones.
export WIREWATCH_KAFKA_BOOTSTRAP ?= 127.0.0.1:9092
export WIREWATCH_ES_URL ?= http://127.0.0.1:9200
PYTEST_ARGS ?=

.PHONY: services-up services-down test
services-up: setup  ## start local Kafka + Elasticsearch (no Docker; first run fetches them with Maven)
	$(WW) services up --use-existing

services-down: setup  ## stop the local Kafka + Elasticsearch started from this folder
	$(WW) services down

test: setup services-up  ## the whole test suite against the services
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: bench
bench: setup  ## the matching benchmark whose table is in benchmarks/README.md
	$(PY) benchmarks/match_bench.py
