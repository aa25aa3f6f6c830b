"""
### Reporting calendar

Daily: for the quarter being reported on (the last one that ended; its deadline as
`reference/reporting_calendar.csv` says, by default 15 days after its end), a reminder to every team that
still owes a dataset (`reference/reporting_obligations.csv`) once the deadline is 7 days away, and an
overdue notice once it has passed. Each is sent once per team and quarter, never for what was accepted, never for a
locked quarter; through `ledger.outbox` and the connection `smtp_default` (without it: `.eml` files).
The completeness and timeliness table (`national.reporting_status`) is kept current by every publish.
"""
from __future__ import annotations

from airflow.sdk import dag, task

from thb_reporting.tools.dag_settings import DAG_DEFAULTS


@dag(schedule="0 6 * * *", tags=["thb", "calendar"], doc_md=__doc__, **DAG_DEFAULTS)
def reporting_calendar():
    @task
    def send_reminders_and_overdue_notices() -> dict:
        from thb_reporting.core.config import PipelineConfig
        from thb_reporting.messaging.notifications import queue_calendar_notices
        from thb_reporting.messaging.outbox import deliver_outbox, sender_from_airflow

        config = PipelineConfig.from_airflow()
        queued = queue_calendar_notices(config)
        return {"queued": len(queued), **deliver_outbox(config, sender_from_airflow(config))}

    send_reminders_and_overdue_notices()


reporting_calendar()
