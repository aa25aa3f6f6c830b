"""Running the project's DAGs in-process with dag.test(), for the demo and the end-to-end tests.

The caller sets AIRFLOW_HOME, AIRFLOW__CORE__DAGS_FOLDER (this project's dags/) and the pipeline's
variables in the environment before Airflow is first imported."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from thb_reporting.config import PROJECT_ROOT


def airflow_environment(airflow_home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
    }


def migrate_metadata_db() -> None:
    """`airflow db migrate` for the metadata database of AIRFLOW_HOME (idempotent, a few seconds)."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, stdout=subprocess.DEVNULL)


def run_dag(dag_id: str, conf: dict | None = None):
    """One real run of a DAG with dag.test() (and its parameters, if any); returns the DagRun."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.dags[dag_id].test(run_conf=conf)
