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

# `make run` keeps the defaults (embedded SQLite, in-process cache) unless the environment says
# otherwise; SECRET_KEY comes from the environment or is generated once under var/.
RUN_ENV = export SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret-key)}";

.PHONY: help run test lint format check-python migrations-check clean

help:
	@echo "make run             set up .venv, migrate, seed demo data, serve on http://127.0.0.1:8000"
	@echo "make test            the whole test suite against PostgreSQL and Redis"
	@echo "make lint            ruff check, ruff format --check, makemigrations --check"
	@echo "make format          ruff format and the fixes ruff can make"
	@echo "make bench           the /health/live floor against gunicorn"
	@echo "make bench-events    the events benchmarks on 1,000,000 events"
	@echo "make bench-audit     audited vs unaudited vs django-auditlog updates"
	@echo "make bench-scheduler scheduler throughput with 1, 2, 4 workers and delay"
	@echo "                     (BENCH_ARGS passes options; figures in docs/benchmarks.md)"

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

# Serves the web server and the scheduler together; stopping one (Ctrl-C) stops both.
run: $(VENV)/.installed var/secret-key
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
test: $(VENV)/.installed-dev
	$(MANAGE) check_services --require-real
	$(VENV)/bin/pytest $(PYTEST_ARGS)

migrations-check: $(VENV)/.installed var/secret-key
	$(RUN_ENV) $(MANAGE) makemigrations --check --dry-run

lint: $(VENV)/.installed-dev var/secret-key
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	env -u DATABASE_URL -u REDIS_URL $(MAKE) --no-print-directory migrations-check

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var/static

# Benchmarks, on demand (never in `make test`); figures go to docs/benchmarks.md. Each runs against
# PostgreSQL brain_bench (created if missing) and Redis db 11; BENCH_ARGS passes options through.
BENCHMARKS := bench bench-events bench-audit bench-scheduler
$(BENCHMARKS) bench-setup: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/brain_bench
$(BENCHMARKS) bench-setup: export REDIS_URL ?= redis://127.0.0.1:6379/11
$(BENCHMARKS) bench-setup: export SECRET_KEY ?= insecure-key-for-benchmarks
.PHONY: $(BENCHMARKS) bench-setup

bench-setup: $(VENV)/.installed-dev
	@command -v wrk >/dev/null || { echo "the benchmarks need wrk: apt-get install wrk" >&2; exit 1; }
	@$(PY) -c 'import os, psycopg, urllib.parse as u; d = u.urlparse(os.environ["DATABASE_URL"]); \
	c = psycopg.connect(host=d.hostname, port=d.port or 5432, user=d.username, password=d.password, \
	dbname="postgres", autocommit=True); name = d.path[1:]; \
	c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() or \
	c.execute(f"CREATE DATABASE \"{name}\"")'
	$(MANAGE) check_services --require-real
	$(MANAGE) migrate --noinput --verbosity 0

bench: bench-setup
	$(PY) bench/web.py $(BENCH_ARGS)

bench-events: bench-setup
	$(PY) bench/events.py $(BENCH_ARGS)

# django-auditlog, for the comparison only: installed under var/, never into .venv.
var/bench-auditlog:
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --target $@ django-auditlog==3.4.1

bench-audit: bench-setup var/bench-auditlog
	PYTHONPATH=var/bench-auditlog $(PY) bench/audit.py $(BENCH_ARGS)

bench-scheduler: bench-setup
	$(PY) bench/scheduler.py $(BENCH_ARGS)

# Events stored per second: bulk JSON over HTTP, NDJSON, import_events (bench/ingest.py).
bench-ingest: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/brain_bench
bench-ingest: export REDIS_URL ?= redis://127.0.0.1:6379/11
bench-ingest: export SECRET_KEY ?= insecure-key-for-benchmarks
.PHONY: bench-ingest
bench-ingest: bench-setup
	$(PY) bench/ingest.py $(BENCH_ARGS)
