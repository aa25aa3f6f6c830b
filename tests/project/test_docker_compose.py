"""docker-compose.yaml has what running it for real needs (no Docker engine runs here to start it)."""
from __future__ import annotations

import re
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
        assert env["AIRFLOW_CONN_REPORTING_DB"].endswith("?sslmode=disable")  # TLS off only by saying so, for its own warehouse
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


SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|_KEY$|TOKEN", re.IGNORECASE)
URL_PASSWORD = re.compile(r"://[^:/@\s]+:([^@\s]+)@")
REQUIRED = re.compile(r"^\$\{[A-Z_]+:\?[^}]*\}$")  # ${NAME:?message}: compose refuses to start without it


def default_secrets(compose: dict) -> list[str]:
    """Every secret of the compose file that is written in it or has a default: a password, secret or key
    variable, or the password inside a connection URL, must be a required ${VAR:?…} of the deployment."""
    found = []
    for name, service in compose.get("services", {}).items():
        env = service.get("environment") or {}
        for key, value in (env.items() if isinstance(env, dict) else (e.split("=", 1) for e in env)):
            value = str(value)
            # a *_FILE names where a secret is kept (a path), not the secret
            if SECRET_NAME.search(key) and not key.endswith("_FILE") and not REQUIRED.match(value):
                found.append(f"{name}: {key}")
            for password in URL_PASSWORD.findall(value):
                if not REQUIRED.match(password):
                    found.append(f"{name}: {key} (password in the URL)")
    return sorted(set(found))


def test_no_secret_has_a_default_every_one_is_the_deployment_s_own():
    assert default_secrets(_compose()) == []
    text = (ROOT / "docker-compose.yaml").read_text(encoding="utf-8")
    for variable in ("AIRFLOW_JWT_SECRET", "AIRFLOW_FERNET_KEY", "AIRFLOW_DB_PASSWORD", "REPORTING_DB_PASSWORD",
                     "AIRFLOW_ADMIN_PASSWORD", "THB_PSEUDONYMISATION_KEY"):
        assert f"${{{variable}:?" in text, variable
    assert "production checklist" in (ROOT / "README.md").read_text(encoding="utf-8").lower()


def test_the_secret_guard_finds_the_defaults_it_forbids():
    """The check above is not blind: each way a default secret was written in this file before is found."""
    earlier = {"services": {"a": {"environment": {
        "AIRFLOW__API_AUTH__JWT_SECRET": "${AIRFLOW_JWT_SECRET:-change-me-in-production}",
        "AIRFLOW__CORE__FERNET_KEY": "${AIRFLOW_FERNET_KEY:-}",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:airflow@postgres/airflow",
        "POSTGRES_PASSWORD": "reporting",
        "AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY": "${THB_PSEUDONYMISATION_KEY:?set it}",  # fine
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": "/opt/airflow/auth/passwords.json",  # a path
        "_AIRFLOW_WWW_USER_PASSWORD": "admin",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}}}}  # not a secret
    assert default_secrets(earlier) == ["a: AIRFLOW__API_AUTH__JWT_SECRET", "a: AIRFLOW__CORE__FERNET_KEY",
                                        "a: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN (password in the URL)",
                                        "a: POSTGRES_PASSWORD", "a: _AIRFLOW_WWW_USER_PASSWORD"]


def test_the_roles_are_the_projects_and_only_the_api_server_holds_the_passwords():
    """The users and roles of docs/security.md, as `make airflow-ui` has them (AIRFLOW_USERS); the passwords
    file on a volume that only the api-server (which checks logins) and airflow-init (which writes the engineer's)
    mount; no `airflow users create` (FAB's command: SimpleAuthManager has none, it would fail unseen)."""
    from thb_reporting.tools.airflow_runs import AIRFLOW_USERS

    services = _compose()["services"]
    for name in AIRFLOW_SERVICES:
        env, volumes = services[name]["environment"], services[name]["volumes"]
        assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith(".SimpleAuthManager")
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == f"${{THB_AIRFLOW_USERS:-{AIRFLOW_USERS}}}"
        holds = name in ("airflow-apiserver", "airflow-init")
        assert ("airflow-auth:/opt/airflow/auth" in volumes) == holds, name
        assert env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE") == (
            "/opt/airflow/auth/passwords.json" if holds else None), name
        assert not [k for k in env if k.startswith("_AIRFLOW_WWW_USER")], name


def test_airflow_init_sets_the_engineers_password_and_keeps_the_others(tmp_path):
    """airflow-init's own command line, run here: the engineer's password is AIRFLOW_ADMIN_PASSWORD (a new one
    replaces the old), the passwords Airflow generated for the other users stay."""
    import json
    import os
    import shlex
    import subprocess
    import sys

    command = _compose()["services"]["airflow-init"]["command"][-1]
    line = next(line for line in command.splitlines() if line.startswith("python3 -c "))
    passwords = tmp_path / "passwords.json"
    env = os.environ | {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords)}
    for engineer, before in (("first", None), ("second", {"engineer": "first", "viewer": "generated"})):
        if before:
            passwords.write_text(json.dumps(before))
        subprocess.run([sys.executable, *shlex.split(line)[1:]], env=env | {"THB_ENGINEER_PASSWORD": engineer}, check=True)
        assert json.loads(passwords.read_text()) == {**(before or {}), "engineer": engineer}
