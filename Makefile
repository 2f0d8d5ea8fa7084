# The README's two commands are `make demo` and `make test`; everything else
# here is a step of those.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
WW := $(VENV)/bin/wirewatch

.PHONY: setup
setup: $(VENV)/.installed  ## make the virtual environment at .venv (idempotent)

# Exactly the versions in requirements.lock, each checked against its hashes
# (pip itself and the build requirements too), then the project on top of them,
# built without isolation so that the locked setuptools and setuptools-rust
# build it.  Anything installed that the lock no longer has is removed.  The
# matcher's compiled core is built by pip too: rebuild when its sources change.
$(VENV)/.installed: requirements.lock pyproject.toml native/Cargo.toml native/Cargo.lock $(wildcard native/src/*.rs)
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@stale=$$($(PY) tests/support/lockfile.py unlocked); \
	 [ -z "$$stale" ] || { echo "not in requirements.lock, uninstalling: $$stale"; $(PY) -m pip uninstall --quiet -y $$stale; }
	$(PY) -m pip check
	touch $@

# requirements.lock: every Python distribution that `make setup` installs
# (pyproject's dependencies and extras, its build-system requires, and pip),
# pinned with hashes for Python 3.11 on Linux x86_64, by a pinned uv in a venv
# of its own.  `make lock` keeps the pins it can and adds what a changed
# pyproject needs; `make lock LOCK_ARGS=--upgrade` moves everything to the
# newest allowed (`LOCK_ARGS="--upgrade-package NAME"` just one).  The lines
# with no "via" comment are the ones `make lock` adds (pip and the build
# requirements).  Then `make setup`, the tests, and commit both files.
UV_VERSION ?= 0.13.8
LOCK_VENV ?= .venv-lock
LOCK_ARGS ?=
.PHONY: lock check-lock
lock:  ## pin every dependency, with hashes, in requirements.lock (LOCK_ARGS=--upgrade to move to the newest)
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(LOCK_VENV)/bin/uv && $(LOCK_VENV)/bin/uv --version | grep -qF ' $(UV_VERSION)' || \
	    { $(PYTHON) -m venv --clear $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet uv==$(UV_VERSION); }
	{ $(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'; echo pip; } | \
	    $(LOCK_VENV)/bin/uv pip compile --quiet pyproject.toml - --all-extras --generate-hashes \
	        --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	        --custom-compile-command 'make lock' $(LOCK_ARGS) -o requirements.lock

check-lock: setup  ## check that .venv holds exactly what requirements.lock pins, and that the lock covers pyproject
	$(PY) -m pytest -q -p no:randomly tests/unit/test_lock.py

# Where the tests and the local services find Kafka and Elasticsearch.  `?=`
# keeps values already in the environment: point them at servers of your own
# and `services-up` uses those when they answer instead of starting new ones.
export WIREWATCH_KAFKA_BOOTSTRAP ?= 127.0.0.1:9092
export WIREWATCH_ES_URL ?= http://127.0.0.1:9200
PYTEST_ARGS ?=
# Test processes (pytest-xdist), whole files each: most of the suite's time
# is spent waiting on workers and servers, not on the two cores.  1 runs it
# in this process, as plain `pytest` does.
TEST_PROCESSES ?= 2

.PHONY: services-up services-down test
services-up: setup  ## start local Kafka + Elasticsearch (no Docker; first run fetches them with Maven)
	$(WW) services up --use-existing

services-down: setup  ## stop the local Kafka + Elasticsearch started from this folder
	$(WW) services down

test: setup services-up  ## the whole test suite against the services
	$(PY) -m pytest $(if $(filter-out 1,$(TEST_PROCESSES)),-n $(TEST_PROCESSES) --dist loadfile) $(PYTEST_ARGS)

# Kafka and Elasticsearch of its own for the scenarios that crash them (the
# others use the services above); FAULTS_ARGS="broker-crash --stories 1000" for some.
FAULTS_ARGS ?=
.PHONY: faults
faults: setup services-up  ## every fault scenario on real servers, one table: lost, doubled, parked, recovery (about 20 min)
	PYTHONPATH=tests $(PY) -m faults.run $(FAULTS_ARGS)

.PHONY: demo
demo: setup services-up  ## the demo: local services, a worker, real stories replayed, matches in Elasticsearch, alerts by email
	$(WW) demo

.PHONY: bench bench-pipeline
bench: setup  ## the matching benchmark whose table is in benchmarks/README.md
	$(PY) benchmarks/match_bench.py

BENCH_ARGS ?=
bench-pipeline: setup services-up  ## the running pipeline against each stage's ceiling, on the local services (BENCH_ARGS=--quick for a short run)
	$(PY) benchmarks/pipeline_bench.py $(BENCH_ARGS)

# ---------------------------------------------------------------- alerts

MAILDIR ?= .wirewatch/mail
SMTP_PORT ?= 1025

.PHONY: mail-sink
mail-sink: setup  ## run a local SMTP server that keeps every message in $(MAILDIR) (Ctrl-C stops it)
	$(WW) alerts smtp-sink --port $(SMTP_PORT) --maildir $(MAILDIR)

.PHONY: demo-alerts
demo-alerts: setup  ## send a sample story's alert to the console and, as real email, to a local SMTP server
	@mkdir -p .wirewatch
	@$(WW) alerts smtp-sink --port $(SMTP_PORT) --maildir $(MAILDIR) > .wirewatch/smtp-sink.log 2>&1 & echo $$! > .wirewatch/smtp-sink.pid
	@for i in $$(seq 100); do grep -q "SMTP sink on" .wirewatch/smtp-sink.log && break; sleep 0.1; done; \
	 grep -q "SMTP sink on" .wirewatch/smtp-sink.log || { cat .wirewatch/smtp-sink.log; kill $$(cat .wirewatch/smtp-sink.pid); exit 1; }
	@WIREWATCH_SMTP_PORT=$(SMTP_PORT) $(WW) alerts send --rules examples/rules.yaml --rule xi-putin \
	    ../shared/corpus/samples/xi-putin-moscow-visit.txt; status=$$?; \
	 kill $$(cat .wirewatch/smtp-sink.pid); rm -f .wirewatch/smtp-sink.pid; \
	 echo; cat .wirewatch/smtp-sink.log; \
	 echo "The email is a file in $(MAILDIR)/new (open it with any mail reader, or: cat $(MAILDIR)/new/*)"; \
	 ls -t $(MAILDIR)/new | head -3 | sed 's|^|  $(MAILDIR)/new/|'; exit $$status
