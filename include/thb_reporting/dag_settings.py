"""What every DAG of the project shares, and the Assets that chain them. Light on purpose: DAG files
import it at parse time."""
import datetime as dt

from airflow.sdk import Asset

# Updated whenever ingestion leaves accepted submissions that are not yet published.
ACCEPTED_SNAPSHOTS = Asset(name="thb_accepted_snapshots", uri="thb://snapshots/accepted")

DAG_DEFAULTS = dict(
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,  # runs of one DAG never overlap: each run sees the previous one's ledger
    default_args={"owner": "thb-data-engineering", "retries": 2, "retry_delay": dt.timedelta(minutes=2)},
)
