"""Airflow plugin: puts the note an ingest run's task left (accepted, rejected, failed files by team, dataset
and quarter) onto the run itself when it ends, where the UI shows it. The listener lives in the project's
package (thb_reporting.ui.run_notes); this file only registers it."""
from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from thb_reporting.ui.run_notes import RunNoteListener


class RunNotesPlugin(AirflowPlugin):
    name = "thb_run_notes"
    listeners = [RunNoteListener()]
