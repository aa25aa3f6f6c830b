"""
### Release national figures

Prepares a **release candidate** of a period's national figures and asks the coordinator to approve it in
the Airflow UI (**Required actions**, or the task's *approve_release* panel). Approving releases it: the
ministries' views (`reporting_public`) show it, its files are written under
`<data_root>/releases/<period>/release-<id>/`, and the coordinator and the ministries' contacts are told.
Rejecting needs a reason, releases nothing and records the reason. A candidate nobody answers within
7 days lapses: nothing is ever released by default. Only the users in the Variable
`thb_release_approvers` (default `coordinator`) may answer (docs/releases.md).

Runs daily at 07:00 UTC and prepares a provisional candidate for the quarter whose deadline passed last,
once (a quarter with a candidate or release already is left to the coordinator); or by hand
(**Trigger DAG w/ config**):
- **period**: a quarter (`2026Q3`) or a year (`2026`; it combines the latest releases of its quarters);
- **status**: `provisional`, or `final` (a quarter must be locked first with `lock_quarter`).

The candidate's prompt shows what changes against the last release and because of which submissions, the
teams missing or late, the warnings and the teams' explanations, and what disclosure control suppresses.
"""
from __future__ import annotations

from airflow.sdk import Param, dag, task

from thb_reporting.tools.dag_settings import DAG_DEFAULTS
from thb_reporting.tools.release_approval import ReleaseApproval

@dag(
    schedule="0 7 * * *",
    tags=["thb", "release"],
    doc_md=__doc__,
    params={
        "period": Param("", type="string", pattern=r"^(\d{4}(Q[1-4])?)?$", title="Period / Period",
                        description="A quarter (2026Q3) or a year (2026); empty: the quarter whose deadline passed last."),
        "status": Param("provisional", type="string", enum=["provisional", "final"], title="Status",
                        description="provisional, or final (the quarter locked first)."),
    },
    **DAG_DEFAULTS,
)
def release_national_figures():
    @task
    def prepare_candidate(params: dict, dag_run=None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from thb_reporting.core.config import PipelineConfig
        from thb_reporting.publishing import releases
        from thb_reporting.publishing.release_report import prompt_markdown

        config = PipelineConfig.from_airflow()
        user = getattr(dag_run, "triggering_user_name", None) if dag_run else None
        period = params.get("period") or releases.due_period(config)
        if not period:
            raise AirflowSkipException("no quarter is due for a release: each past deadline has its candidate")
        try:
            summary = releases.prepare(config, period, params.get("status") or "provisional", user or "schedule")
        except releases.ReleaseRefused as refused:  # nothing to retry: the reason is in the data, not the run
            if not params.get("period"):
                raise AirflowSkipException(f"the schedule's candidate of {period}: {refused}") from None
            raise AirflowFailException(str(refused)) from None
        return {"release_id": summary["release_id"], "period": summary["period"], "status": summary["status"],
                "prompt": prompt_markdown(summary)}

    candidate = prepare_candidate()
    approval = ReleaseApproval(
        task_id="approve_release",
        subject="Release {{ ti.xcom_pull(task_ids='prepare_candidate')['period'] }} "
                "({{ ti.xcom_pull(task_ids='prepare_candidate')['status'] }})? / Objaviti?",
        body="{{ ti.xcom_pull(task_ids='prepare_candidate')['prompt'] }}",
    )

    @task(trigger_rule="none_skipped")  # also when the approval failed (timed out): the candidate lapses
    def record_decision(candidate: dict, ti=None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from thb_reporting.core.config import PipelineConfig
        from thb_reporting.publishing import releases
        from thb_reporting.tools.release_approval import decision_of
        from thb_reporting.tools.release_cli import decide_and_publish

        config = PipelineConfig.from_airflow()
        decision = decision_of(ti.xcom_pull(task_ids="approve_release"))
        if decision is None:
            releases.lapse(config, candidate["release_id"], "no decision before the timeout")
            raise AirflowFailException(f"release candidate {candidate['release_id']} lapsed: nobody decided in time")
        approved, by, note = decision
        try:
            outcome = decide_and_publish(config, candidate["release_id"], approved, by, note)
        except releases.ReleaseRefused as refused:  # e.g. rejected without a reason: nothing is released
            releases.lapse(config, candidate["release_id"], f"not decided: {refused}")
            raise AirflowFailException(f"{refused}; the candidate lapsed: trigger a new one") from None
        outcome["files"] = len(outcome.get("files", []))
        return outcome

    approval.set_upstream(candidate)
    record_decision(candidate).set_upstream(approval)


release_national_figures()
