"""Running the project's DAGs in-process with dag.test(), for the demo and the end-to-end tests.

The caller sets AIRFLOW_HOME, AIRFLOW__CORE__DAGS_FOLDER (this project's dags/) and the pipeline's
variables in the environment before Airflow is first imported."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from thb_reporting.core.config import PROJECT_ROOT

# The users of a deployment and their roles in Airflow's SimpleAuthManager (docs/security.md): the data engineer
# runs and configures everything; the national coordinator triggers, answers the release approval (as the
# default of thb_release_approvers, by user name) and reads every status page; the viewer reads the DAGs'
# state and the national status pages, not a submission's validation report. docker-compose.yaml has the same.
AIRFLOW_USERS = "engineer:admin,coordinator:user,viewer:viewer"


def airflow_environment(airflow_home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
    }


def standalone_environment(airflow_home: Path, data_root: Path, port: int = 8080) -> dict[str, str]:
    """The environment of `airflow standalone` for this project (`make airflow-ui`): the demo's Airflow home
    and data root by default, so its runs and the Reporting status page show what the demo did."""
    return {
        **airflow_environment(airflow_home),
        # standalone starts its scheduler, dag-processor, api-server and triggerer as the bare command `airflow`
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "AIRFLOW__CORE__PARALLELISM": "4",  # 12 processes instead of 40 on a laptop
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": AIRFLOW_USERS,
        "AIRFLOW__API__HOST": "127.0.0.1",  # this machine only
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW_VAR_THB_DATA_ROOT": data_root.as_uri(),
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
