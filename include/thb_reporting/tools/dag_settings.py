"""What every DAG of the project shares, and the Assets that chain them. Light on purpose: DAG files
import it at parse time."""
import datetime as dt

from airflow.sdk import Asset, AssetOrTimeSchedule, AssetWatcher, CronTriggerTimetable

from thb_reporting.intake.inbox_watch import InboxArrivalTrigger, MailboxArrivalTrigger

# Updated whenever ingestion leaves accepted submissions that are not yet published.
ACCEPTED_SNAPSHOTS = Asset(name="thb_accepted_snapshots", uri="thb://snapshots/accepted")

# A file arrived in the teams' inbox: the triggerer watches it (inbox_watch.py) and updates this Asset.
INBOX_ARRIVALS = Asset(name="thb_inbox_arrivals", uri="thb://inbox/arrivals",
                       watchers=[AssetWatcher(name="thb_inbox_watch", trigger=InboxArrivalTrigger())])
# An e-mail arrived in the reporting mailbox (mailbox.py, connection imap_default): watched the same way.
MAIL_ARRIVALS = Asset(name="thb_mail_arrivals", uri="thb://mailbox/arrivals",
                      watchers=[AssetWatcher(name="thb_mailbox_watch", trigger=MailboxArrivalTrigger())])

# ingest_submissions starts on an arrival, and hourly anyway: the safety net for files the watch did not
# see (those already there when it first started, or dropped while no triggerer ran).
SAFETY_NET_CRON = "0 * * * *"
INGEST_SCHEDULE = AssetOrTimeSchedule(timetable=CronTriggerTimetable(SAFETY_NET_CRON, timezone="UTC"),
                                      assets=INBOX_ARRIVALS | MAIL_ARRIVALS)

DAG_DEFAULTS = dict(
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,  # runs of one DAG never overlap: each run sees the previous one's ledger
    default_args={"owner": "thb-data-engineering", "retries": 2, "retry_delay": dt.timedelta(minutes=2)},
)
# ingest_submissions' runs may overlap: a file that arrives while a run validates others gets a run of its
# own at once instead of waiting for that run to end. Each run validates only the submissions it claims
# (ledger.processing_claims); the collection (the mailbox's and the inbox's) goes one run at a time
# (ONE_RUN_AT_A_TIME).
INGEST_DAG = {**DAG_DEFAULTS, "max_active_runs": 2}
ONE_RUN_AT_A_TIME = {"max_active_tis_per_dag": 1}
