"""The "Reporting status" page of the Airflow UI: a small FastAPI app that the plugin in plugins/ mounts
in the api-server (Airflow 3's `fastapi_apps`) and shows as a navigation entry (`external_views`).

Pages, all behind Airflow's own login (the UI's session cookie or a bearer token; the same rule as the UI):
  /                              the team × quarter matrix per dataset, rates, national indicators
  /releases/<id>                 a release candidate's full report (what the approver is asked about)
and, for whom the auth manager lets act on the runs of the DAG that judges submissions (not a viewer):
  /submissions/<id>              one submission's validation report: what failed, row by row, and how to fix it
  /submissions/<id>/report       the same report as a standalone page (as attached to the team's e-mail)
Who may read what is the auth manager's answer, never a list of names here (docs/security.md, the roles).
The warehouse is found through the same variables and connection as the DAGs (thb_data_root, reporting_db).
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

from fastapi import Depends, Request  # light (the app is built when the plugin loads); FastAPI needs the real type

_SCHEMA_READY: set[str] = set()


# The DAG that judges each submission (dags/ingest_submissions.py): its findings are that DAG's work.
SUBMISSIONS_DAG = "ingest_submissions"


async def airflow_user(request: Request):
    """The caller, by Airflow's own checks as its UI routes make them: logged in (the UI's session cookie or
    a bearer token) and allowed to use the UI (AccessView.WEBSITE). Imported on the first request, not when
    the plugin loads: every Airflow process loads plugins, only the api-server serves this page."""
    from fastapi.security import HTTPAuthorizationCredentials

    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api import security

    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = HTTPAuthorizationCredentials(scheme=scheme, credentials=token) if token else None
    user = await security.get_user(request, None, bearer)
    security.requires_access_view(AccessView.WEBSITE)(request, user)
    return user


def may_read_submission_reports(user) -> bool:
    """A validation report names a submission's findings row by row: it is for whom the auth manager in
    force lets act on the runs of the DAG that judged it (SimpleAuthManager: roles user, op and admin; not
    viewer. FAB or Keycloak: the permission to edit the DAG's runs). The national pages are for every user."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.models.dag import DagModel

    details = DagDetails(id=SUBMISSIONS_DAG, team_name=DagModel.get_team_name(SUBMISSIONS_DAG))
    return get_auth_manager().is_authorized_dag(method="PUT", access_entity=DagAccessEntity.RUN, details=details,
                                                user=user)


def _submission_reader(user=Depends(airflow_user)) -> None:
    """403 for whom may not read a submission's validation report (a sync dependency: it asks the metadata
    database, in FastAPI's thread pool)."""
    from fastapi import HTTPException

    if not may_read_submission_reports(user):
        raise HTTPException(403, "Forbidden: a submission's validation report needs a role that acts on "
                                 f"the runs of {SUBMISSIONS_DAG} (docs/security.md)")


def _submission_links(user=Depends(airflow_user)) -> bool:
    return may_read_submission_reports(user)


def _config_from_airflow():
    from thb_reporting.core.config import PipelineConfig

    return PipelineConfig.from_airflow()


def status_page_html(db_url: str, teams, today: dt.date | None = None, last_quarters: int = 8,
                     submission_links: bool = True) -> str:
    """teams: the registry in force (PipelineConfig.teams); submission_links: link cells and explanations to
    the submissions' validation reports (only for whom may read them)."""
    from thb_reporting.store.reporting_calendar import COLOURS, STATUS_WORDS
    from thb_reporting.reports.charts import format_value, line_chart_svg
    from thb_reporting.reports.national_figures import coverage_of_periods, national_series, national_tables
    from thb_reporting.reports.pages import render
    from thb_reporting.ui.status_report import hidden_headline_cells, status_matrix
    from thb_reporting.store.explanations import recent_explanations
    from thb_reporting.store.migrations import ensure_schema
    from thb_reporting.store.warehouse import reader_engine, reporting_engine

    if db_url not in _SCHEMA_READY:  # once per warehouse and process: an empty warehouse shows an empty page
        ensure_schema(reporting_engine(db_url))
        _SCHEMA_READY.add(db_url)
    with reader_engine(db_url).connect() as conn:
        matrix = status_matrix(conn, teams, today, last_quarters)
        series = national_series(conn, quarters=matrix["quarters"])
        tables = national_tables(conn, matrix["quarters"][-4:])  # the last four quarters: a year at a glance
        covered = coverage_of_periods(conn, matrix["quarters"])
        recent = recent_releases(conn)
        explained = recent_explanations(conn)  # store.explanations
        hidden = hidden_headline_cells(conn, matrix["quarters"] + sorted({q[:4] for q in matrix["quarters"]}))
    charts = [line_chart_svg(s["points"], f'{s["label_sr"]} / {s["label_en"]}', s["unit"]) for s in series]
    return render("status.html.j2", m=matrix, charts=charts, tables=tables, coverage=covered, fmt=format_value,
                  colours=COLOURS, words=STATUS_WORDS, releases=recent, explanations=explained, hidden=hidden,
                  submission_links=submission_links,
                  now=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def submission_report_html(db_url: str, teams, submission_id: int, standalone: bool = False) -> str | None:
    """teams: the registry in force (PipelineConfig.teams)."""
    from thb_reporting.store import ledger
    from thb_reporting.store.explanations import explanations_of
    from thb_reporting.reports.pages import submission_report
    from thb_reporting.store.warehouse import reader_engine

    with reader_engine(db_url).connect() as conn:
        sub = ledger.submission(conn, submission_id)
        if sub is None:
            return None
        findings = ledger.findings_of(conn, submission_id, order=("severity", "source_row", "rule"))
        explanation = explanations_of(conn, [submission_id]).get(submission_id)
    return submission_report(sub, findings, teams, standalone, explanation)


def recent_releases(conn, limit: int = 12, release_id: int | None = None) -> list:
    """The newest candidates and releases, newest first (national.releases), or the one asked for."""
    from sqlalchemy import select

    from thb_reporting.store.warehouse import table

    releases = table("releases")
    query = select(releases).order_by(releases.c.release_id.desc()).limit(limit)
    return conn.execute(query if release_id is None else query.where(releases.c.release_id == release_id)).all()


def release_report_html(db_url: str, release_id: int) -> str | None:
    """A candidate's full report (written when it was prepared), as a page."""
    from thb_reporting.reports.pages import render
    from thb_reporting.store.warehouse import reader_engine

    with reader_engine(db_url).connect() as conn:
        row = next(iter(recent_releases(conn, 1, release_id)), None)
    if row is None:
        return None
    from thb_reporting.store.storage import storage_path

    report = row.candidate_report or ""
    text = storage_path(report).read_text(encoding="utf-8") if report else ""
    return render("release.html.j2", release=row, report=text)


def not_found_html(what: str) -> str:
    from thb_reporting.reports.pages import render

    return render("not_found.html.j2", what=what)


def create_app(config_factory: Callable | None = None, login_required: bool = True):
    """The app the plugin mounts. `config_factory` gives the PipelineConfig (default: Airflow's variables
    and connections, read on each request so that a changed connection takes effect)."""
    from fastapi import FastAPI, Query
    from fastapi.responses import HTMLResponse

    config_of = config_factory or _config_from_airflow
    app = FastAPI(title="THB reporting status", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(airflow_user)] if login_required else [])
    submission_reader = [Depends(_submission_reader)] if login_required else []
    links_allowed = _submission_links if login_required else (lambda: True)

    @app.get("/", response_class=HTMLResponse)
    def reporting_status(quarters: int = Query(8, ge=1, le=40), links: bool = Depends(links_allowed)) -> str:
        config = config_of()
        return status_page_html(config.reporting_db_url, config.teams, last_quarters=quarters, submission_links=links)

    @app.get("/submissions/{submission_id}", response_class=HTMLResponse, dependencies=submission_reader)
    def submission_report(submission_id: int):
        config = config_of()
        page = submission_report_html(config.reporting_db_url, config.teams, submission_id)
        return HTMLResponse(not_found_html(f"{submission_id}"), 404) if page is None else page

    # The same report standalone, to save or forward; /data-docs is where the Great Expectations report was.
    @app.get("/submissions/{submission_id}/report", response_class=HTMLResponse, dependencies=submission_reader)
    @app.get("/submissions/{submission_id}/data-docs", response_class=HTMLResponse, dependencies=submission_reader)
    def submission_report_file(submission_id: int):
        config = config_of()
        page = submission_report_html(config.reporting_db_url, config.teams, submission_id, standalone=True)
        return HTMLResponse(not_found_html(f"{submission_id}"), 404) if page is None else page

    @app.get("/releases/{release_id}", response_class=HTMLResponse)
    def release_report(release_id: int):
        page = release_report_html(config_of().reporting_db_url, release_id)
        return HTMLResponse(not_found_html(f"{release_id}"), 404) if page is None else page

    return app
