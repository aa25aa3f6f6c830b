"""docker-compose.yaml has what running it for real needs (no Docker engine runs here to start it)."""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker", "airflow-init"}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))


def test_services():
    services = _compose()["services"]
    assert AIRFLOW_SERVICES | {"postgres", "redis", "warehouse", "mailpit"} == set(services)
    for name in AIRFLOW_SERVICES:
        assert services[name]["build"] == "." and services[name]["image"].startswith("thb-national-reporting")
    assert services["airflow-worker"]["command"] == "celery worker"
    assert "container_name" not in services["airflow-worker"]  # --scale airflow-worker=N
    assert services["airflow-apiserver"]["ports"] == ["8080:8080"]
    assert "8025:8025" in services["mailpit"]["ports"]
    assert services["warehouse"]["environment"]["POSTGRES_DB"] == "reporting"


def test_airflow_services_share_configuration_and_mounts():
    services = _compose()["services"]
    for name in AIRFLOW_SERVICES:
        env, volumes = services[name]["environment"], services[name]["volumes"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres/airflow")
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        assert env["AIRFLOW_CONN_REPORTING_DB"].startswith("postgresql://") and "@warehouse:" in env["AIRFLOW_CONN_REPORTING_DB"]
        assert "mailpit:1025" in env["AIRFLOW_CONN_SMTP_DEFAULT"]
        assert env["AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY"].startswith("${THB_PSEUDONYMISATION_KEY:?")  # no secret in the file
        for mount in ("./dags:", "./include:", "./expectations:", "./plugins:"):
            assert any(v.startswith(mount) for v in volumes), f"{name} lacks {mount}"


def test_image_is_built_from_the_pinned_requirements():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert f"FROM apache/airflow:{pins['apache-airflow']}-python3.11" in dockerfile
    assert "-r /requirements.txt" in dockerfile


def test_requirements_are_exact_pins():
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines and all("==" in line for line in lines)
    assert not any(line.lower().startswith("airflow-provider-great-expectations") for line in lines)
