"""The tests' shared fixtures live in tests/support/ (fixtures.py, with the helpers, the oracle and the test
servers), registered here for every tier: unit/<stage>/ (one stage's modules, mostly without a database),
pipeline/ (the steps end to end on SQLite and PostgreSQL, with real mail servers), airflow/ (real DAG runs,
the UI, Celery) and project/ (the layout, packaging, compose)."""
from fixtures import *  # noqa: F401,F403 (every shared fixture, registered for all tiers)
