"""thb_reporting: local anti-trafficking teams' quarterly submissions → national reporting tables.

The Airflow DAGs in dags/ only schedule and wire; everything they do lives here, importable and
testable without a scheduler. Keep heavy imports (pandas, pyarrow, great_expectations) inside
functions or in modules the DAG files do not import at parse time.
"""
