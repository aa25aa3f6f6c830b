"""
### Send the weekly digest

Every Monday morning: an e-mail to the national coordinator (reference data `national_contacts.csv`) on the
quarter being reported on (the last one that ended): which teams sent which datasets, on time or late,
which were rejected and why, which are missing. Queued once per ISO week in `ledger.outbox` and sent
through the connection `smtp_default` (without it: `.eml` files under `<thb_data_root>/outbox`).
"""
from __future__ import annotations

from airflow.sdk import dag, task

from thb_reporting.tools.dag_settings import DAG_DEFAULTS


@dag(schedule="0 7 * * 1", tags=["thb", "notify"], doc_md=__doc__, **DAG_DEFAULTS)
def send_weekly_digest():
    @task
    def queue_and_send_digest() -> dict:
        from thb_reporting.core.config import PipelineConfig
        from thb_reporting.messaging.notifications import queue_weekly_digest
        from thb_reporting.messaging.outbox import deliver_outbox, sender_from_airflow

        config = PipelineConfig.from_airflow()
        queued = queue_weekly_digest(config)
        return {"queued": queued, **deliver_outbox(config, sender_from_airflow(config))}

    queue_and_send_digest()


send_weekly_digest()
