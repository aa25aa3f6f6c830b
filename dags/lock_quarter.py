"""
### Lock or unlock a quarter

Triggered by hand by the national coordinator's office (**Trigger DAG w/ config**). Locking makes a
quarter's figures final: every later file for it is archived, rejected with the rule `quarter_locked`, and
its team is told to contact the coordinator. Unlocking lets corrections in again. Each lock and unlock is
recorded in `ledger.quarter_locks` with who asked for it, when, and why.

Parameters:
- **quarter**: the quarter, e.g. `2026Q3`;
- **action**: `lock` or `unlock`;
- **requested_by**: the person who decided it (kept with the record, beside the Airflow user who triggered it);
- **reason**: why, in a few words.
"""
from __future__ import annotations

from airflow.sdk import Param, dag, task

from thb_reporting.tools.dag_settings import DAG_DEFAULTS


@dag(
    schedule=None,
    tags=["thb", "calendar"],
    doc_md=__doc__,
    params={
        "quarter": Param("2026Q3", type="string", pattern=r"^\d{4}Q[1-4]$", title="Quarter / Tromesečje",
                         description="The quarter to lock or unlock, e.g. 2026Q3."),
        "action": Param("lock", type="string", enum=["lock", "unlock"], title="Action / Radnja",
                        description="lock: the figures are final; unlock: corrections may come in again."),
        "requested_by": Param("", type="string", minLength=3, title="Requested by / Zatražio",
                              description="Who decided it (name and function)."),
        "reason": Param("", type="string", title="Reason / Razlog", description="Why, in a few words."),
    },
    **DAG_DEFAULTS,
)
def lock_quarter():
    @task
    def record_lock(params: dict, dag_run=None) -> str:
        from thb_reporting.core.config import PipelineConfig
        from thb_reporting.store.locks import set_lock

        user = getattr(dag_run, "triggering_user_name", None) if dag_run else None
        by = params["requested_by"] + (f" (triggered by {user})" if user else "")
        set_lock(PipelineConfig.from_airflow().reporting_db_url, params["quarter"], params["action"] == "lock",
                 by, params["reason"])
        return f"{params['quarter']} {params['action']}ed by {by}"

    record_lock()


lock_quarter()
