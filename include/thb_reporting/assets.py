"""Airflow Assets that chain the DAGs. Light on purpose: DAG files import it at parse time."""
import datetime as dt

from airflow.sdk import Asset

# Updated whenever ingestion leaves accepted submissions that are not yet published.
ACCEPTED_SNAPSHOTS = Asset(name="thb_accepted_snapshots", uri="thb://snapshots/accepted")

DEFAULT_ARGS = {"owner": "thb-data-engineering", "retries": 2, "retry_delay": dt.timedelta(minutes=2)}
