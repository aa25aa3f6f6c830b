"""
### Ingest submissions

As soon as a file arrives (the triggerer watches the inbox: a few seconds on a local folder, a minute on
S3 or SFTP), and hourly as a safety net: picks up the files local anti-trafficking teams dropped in their inbox folder
(`<inbox>/<team>/<dataset>_<year>Q<n>.csv|xlsx`), and for each file not seen before:

1. **collect_new_submissions**: first, with the connection `imap_default`, takes the reporting mailbox's
   e-mails: an attachment from a team's registered contact is placed in that team's inbox folder (then as
   any file there); the others get a reply (the coordinator is told of unknown senders) and are kept in
   `THB/quarantine` (README). A mail server that cannot be reached holds back no file of the folder (a
   warning; the next run tries again). Then archives each new file byte for byte and records it in the
   ledger (`ledger.submissions`) as *received*. Only regular files inside the inbox are read: a symbolic
   link, FIFO, device or socket (or, on object storage, a key with a `..`, `.` or empty segment) is
   recorded as *rejected* (rule `not_a_regular_file`) without being opened. (One task, not two: a task's
   start and its scheduling cost a team about a second and a half of its wait.)
2. **validate_and_snapshot**: reads it (CSV in UTF-8/Windows-1250 with `,` or `;`, or XLSX), validates it
   against its data contract and Great Expectations suite (`expectations/`), then either pseudonymises the
   case and CPTV references and writes an immutable Parquet snapshot (*accepted*), or quarantines the file
   with every finding by row, column and rule (*rejected*). One bad file never stops the others: a file that
   fails unexpectedly stays *received* and is tried again by the next run, and after
   `thb_max_processing_attempts` such runs (default 3) it is *failed* (the attempts are in
   `ledger.processing_attempts`, with the error's class only). The task succeeds either way (a warning in
   its log), so that the other files are announced and published;
3. **announce_new_snapshots**: updates the Asset `thb_accepted_snapshots` when accepted submissions wait to
   be published, which starts `publish_national_tables`;
4. **notify_teams**: queues one e-mail per processed submission to the team's registered contacts (Serbian,
   then English: accepted with the figures to be published, or rejected with every problem by row, column
   and rule; *failed*: that it could not be processed, to the team and the national coordinator; a file from
   a folder of no registered team: to the coordinator) in `ledger.outbox`, and sends what is due through the
   connection `smtp_default` (without it: `.eml` files under `<thb_data_root>/outbox`). A failed send stays in
   the outbox and is retried with backoff.

Two runs may be active at once: a file that arrives while a run validates others gets a run of its own
at once. Each run validates only the submissions it claims (no other run validates them meanwhile); the
collection (the mailbox's and the inbox's) goes one run at a time.

Configuration: variables `thb_data_root`, `thb_inbox`, `thb_pseudonymisation_key` (required),
`thb_max_file_bytes`, `thb_max_processing_attempts`; connections `reporting_db`, `imap_default`. See README.
"""
from __future__ import annotations

from airflow.sdk import dag, task

from thb_reporting.tools.dag_settings import ACCEPTED_SNAPSHOTS, INGEST_DAG, INGEST_SCHEDULE, ONE_RUN_AT_A_TIME


@dag(schedule=INGEST_SCHEDULE, tags=["thb", "ingest"], doc_md=__doc__, **INGEST_DAG)
def ingest_submissions():
    @task(**ONE_RUN_AT_A_TIME)
    def collect_new_submissions() -> list[int]:
        from thb_reporting.core import clock
        from thb_reporting.core.config import PipelineConfig
        from thb_reporting.intake.ingest import collect_new_submissions
        from thb_reporting.intake.mailbox import pull_reporting_mailbox
        from thb_reporting.ui.run_notes import leave_explained_note

        started, config = clock.now(), PipelineConfig.from_airflow()
        if pull_reporting_mailbox(config).get("explanation"):  # e-mailed files first, into the inbox folders
            leave_explained_note(config, started)  # the run's note names the submissions explained
        return collect_new_submissions(config)

    @task
    def validate_and_snapshot(submission_ids: list[int]) -> dict:
        import logging

        from thb_reporting.core.config import PipelineConfig
        from thb_reporting.intake.ingest import RETRY_NEXT_RUN, process_submissions
        from thb_reporting.store.ledger import Status
        from thb_reporting.ui.run_notes import leave_run_note

        outcome = process_submissions(PipelineConfig.from_airflow(), submission_ids) if submission_ids else {}
        leave_run_note(outcome)  # the run's note in the UI: accepted, rejected, failed files
        if outcome.get(Status.FAILED) or outcome.get(RETRY_NEXT_RUN):
            # One file's trouble must not hold back the others' publication: the task succeeds.
            logging.getLogger(__name__).warning(
                "submissions %s failed for good (their team and the coordinator are told); %s failed this time "
                "and are tried again next run", outcome[Status.FAILED], outcome[RETRY_NEXT_RUN])
        return {k: len(v) for k, v in outcome.items()}

    @task(outlets=[ACCEPTED_SNAPSHOTS])
    def announce_new_snapshots(counts: dict) -> int:
        from airflow.sdk.exceptions import AirflowSkipException

        from thb_reporting.core.config import PipelineConfig
        from thb_reporting.publishing.publish import unpublished

        waiting = unpublished(PipelineConfig.from_airflow())
        if not waiting:
            raise AirflowSkipException("no accepted submission waits to be published")
        return len(waiting)

    @task(trigger_rule="all_done")  # files processed before a failure still get their e-mail
    def notify_teams() -> dict:
        from thb_reporting.core.config import PipelineConfig
        from thb_reporting.messaging.notifications import queue_mail_replies, queue_submission_notices
        from thb_reporting.messaging.outbox import deliver_outbox, sender_from_airflow

        config = PipelineConfig.from_airflow()
        queued = queue_submission_notices(config) + queue_mail_replies(config)
        # the mail connection is looked up only when a message is due
        return {"queued": queued, **deliver_outbox(config, lambda: sender_from_airflow(config))}

    collected = collect_new_submissions()
    processed = validate_and_snapshot(collected)
    announce_new_snapshots(processed)
    processed >> notify_teams()


ingest_submissions()
