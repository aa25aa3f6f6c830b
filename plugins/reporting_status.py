"""Airflow UI plugin: the "Reporting status" page (issue #6).

Airflow 3 serves a plugin's FastAPI app from the api-server (`fastapi_apps`) and shows it in the UI's
navigation, inside the UI, through an external view with a `url_route`. The page itself lives in the
project's package (thb_reporting.ui.status_page); this file only registers it."""
from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from thb_reporting.ui.status_page import create_app

URL_PREFIX = "/reporting-status"


class ReportingStatusPlugin(AirflowPlugin):
    name = "thb_reporting_status"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Reporting status"}]
    external_views = [{
        "name": "Reporting status",
        "href": f"{URL_PREFIX}/",
        "destination": "nav",
        "category": "browse",
        "url_route": "reporting-status",  # the page opens inside the UI at /plugin/reporting-status
    }]
