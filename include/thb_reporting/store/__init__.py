"""What is kept: the inbox and archive paths (storage), the ledger (a submission's lifecycle, the mailbox's
records, locks), the warehouse's tables and their Alembic revisions (migrations), access for each role and the
readers' views, the snapshots (the only hand-off between intake and publishing) and the reporting calendar.
May import: core, figures."""
