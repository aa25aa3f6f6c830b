"""The Airflow UI plugin's pages (the reporting status page, a submission's report) and the notes on each run.
May import: every stage below it (not tools)."""
