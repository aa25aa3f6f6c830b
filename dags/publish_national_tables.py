"""
### Publish national tables

Runs when `ingest_submissions` announces accepted snapshots (Asset `thb_accepted_snapshots`), or by hand.
For each dataset it takes the latest accepted submission per team and quarter (a re-submission replaces the
earlier one; both stay archived) and replaces that team-quarter's rows in the national tables of the
`reporting_db` connection (SQLite by default, PostgreSQL with COPY), together with the indicator tables,
in one transaction: readers see the old figures or the new, never a mix. Re-running changes nothing.

Tables: `national.victims` (pseudonymised, one row per person, traceable to its submission),
`national.victims_by_team_quarter`, `national.publications`, `national.teams`.
The run's note says what disclosure control hid, per output and level (docs/disclosure.md).
"""
from __future__ import annotations

from airflow.sdk import dag, task

from thb_reporting.tools.dag_settings import ACCEPTED_SNAPSHOTS, DAG_DEFAULTS


@dag(schedule=[ACCEPTED_SNAPSHOTS], tags=["thb", "publish"], doc_md=__doc__, **DAG_DEFAULTS)
def publish_national_tables():
    @task
    def publish_datasets() -> list[dict]:
        from thb_reporting.core.config import PipelineConfig
        from thb_reporting.publishing.publish import publish
        from thb_reporting.ui.run_notes import leave_loss_note

        loss: list[dict] = []
        summary = publish(PipelineConfig.from_airflow(), loss=loss)
        leave_loss_note(loss)  # the run's note: what disclosure control hid
        return summary

    publish_datasets()


publish_national_tables()
