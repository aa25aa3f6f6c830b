# The two commands of the README: `make demo` and `make test`. Both create the venv when needed.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test venv suites templates bench bench-file bench-scale bench-history bench-feedback clean airflow-ui

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## Generate synthetic submissions, run both DAGs with dag.test() on the embedded defaults, show the result.
demo: venv
	$(VENV)/bin/thb demo

## Lint (ruff), types (mypy, pyproject.toml), then the whole test suite (set CI=true to make PostgreSQL tests fail rather than skip when it is down).
test: venv
	$(VENV)/bin/ruff check include dags plugins tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest $(PYTEST_ARGS)

## Regenerate expectations/*.json and docs/data-dictionary.md from the data contracts (tests check both).
suites: venv
	$(VENV)/bin/thb suites
	$(VENV)/bin/thb dictionary

## Blank team templates (CSV and XLSX) into build/templates.
templates: venv
	$(VENV)/bin/thb templates

## Benchmarks against bare baselines measured in the same run (docs/performance.md): `make bench` runs all
## three; bench-file: each stage on a 1,000,000-row victims file (ROWS=... to change); bench-scale: a full
## quarter of 145 municipalities × 5 datasets, then a cycle with nothing new (TEAMS=...); bench-history: one
## new quarter published onto 40 quarters of history vs onto none (TEAMS=..., default 13; NEW=2026Q1 for a
## quarter that opens its year, default 2026Q3). PostgreSQL needed.
bench: bench-file bench-scale bench-history

bench-file: venv
	$(PY) bench/ingest_publish.py --rows $${ROWS:-1000000}

bench-scale: venv
	$(PY) bench/scale.py --teams $${TEAMS:-145}

bench-history: venv
	$(PY) bench/history.py --teams $${TEAMS:-13} --new $${NEW:-2026Q3}

## The validation e-mail's delay on a real Airflow (scheduler, dag-processor, triggerer, LocalExecutor, SMTP
## server on loopback): TEAMS files at random moments over SPREAD seconds, then a BURST at once, then MAIL
## e-mailed files; p50, p95, max, where the seconds go per phase, each Airflow process's peak memory, and the
## triggerer's CPU per hour idle. PostgreSQL and Dovecot needed. Not part of `make bench` (it takes ~15 min).
bench-feedback: venv
	$(PY) bench/feedback.py --teams $${TEAMS:-13} --spread $${SPREAD:-300} --burst $${BURST:-145} --mail $${MAIL:-13}

clean:
	rm -rf $(VENV) .airflow data build .pytest_cache

## The Airflow UI on http://localhost:8080 with this project's DAGs and plugins, over the demo's Airflow home
## and data (after `make demo`: its runs, their notes and the Reporting status page). Users engineer (admin),
## coordinator (user) and viewer (viewer), docs/security.md; passwords printed and kept in
## .airflow/simple_auth_manager_passwords.json.generated. `thb airflow-ui --help` for UI_ARGS (--port, --data, --airflow-home).
airflow-ui: venv
	$(VENV)/bin/thb airflow-ui $(UI_ARGS)
