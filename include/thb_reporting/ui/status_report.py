"""What the "Reporting status" page in the Airflow UI shows of the teams' reporting: the team × quarter
matrix per dataset and the reporting and on-time rates. Light on purpose (SQLAlchemy and the standard
library): the UI plugin imports it in the api-server."""
from __future__ import annotations

import datetime as dt

from thb_reporting.core import contracts, reference
from thb_reporting.store import ledger
from thb_reporting.store.locks import locked_quarters
from thb_reporting.core.quarters import Quarter
from thb_reporting.store.reporting_calendar import (
    COLOURS, NOT_OWED, STATUS_WORDS, completeness_indicators, reporting_statuses,
)

def status_matrix(conn, teams: reference.TeamRegistry, today: dt.date | None = None, last_quarters: int = 8) -> dict:
    """From the ledger as it is now: for each dataset, one row per team and one cell per quarter (status,
    locked, the submission to link to), and the reporting and on-time rates of each team and the nation."""
    statuses = reporting_statuses(conn, teams, today=today)
    quarters = sorted({s["quarter"] for s in statuses})[-last_quarters:]
    statuses = [s for s in statuses if s["quarter"] in quarters]
    in_force, last = {}, {}  # link to the accepted submission in force, else to the latest received
    for r in ledger.submissions(conn, quarters=quarters):
        key = (r.team_code, r.dataset, r.quarter)
        last[key] = r.submission_id
        if ledger.is_current(r):
            in_force[key] = r.submission_id
    locked = locked_quarters(conn)
    by_key = {(s["team_code"], s["dataset"], s["quarter"]): s for s in statuses}
    datasets = []
    for dataset in contracts.datasets():
        rows = []
        for code, team in teams.items():
            cells = []
            for quarter in quarters:
                s = by_key.get((code, dataset, quarter))
                status = s["status"] if s else NOT_OWED
                key = (code, dataset, quarter)
                cells.append({"quarter": quarter, "status": status, "locked": quarter in locked,
                              "submission_id": in_force.get(key, last.get(key)) if status != NOT_OWED else None,
                              "words": {lang: STATUS_WORDS[lang][status] for lang in ("sr", "en")},
                              "colour": COLOURS[status]})
            rows.append({"team_code": code, "team": team.name_lat, "cells": cells})
        datasets.append({"dataset": dataset, "title": contracts.load(dataset).title, "rows": rows})
    district_of = {code: t.district_code for code, t in teams.items()}
    rates = {}
    for r in completeness_indicators(statuses, district_of):
        if r["category"] == "total" and r["level"] in ("team", "nation") and r["period"] in quarters:
            rates.setdefault((r["area_code"], r["period"]), {})[r["indicator"]] = r["value"]
    rate_rows = [{"team_code": code, "team": name, "cells": [rates.get((code, q)) for q in quarters]}
                 for code, name in [(c, t.name_lat) for c, t in teams.items()] + [("RS", "Srbija / Serbia")]]
    deadlines = {q: Quarter.parse(q).deadline().isoformat() for q in quarters}
    return {"quarters": quarters, "deadlines": deadlines, "locked": sorted(locked & set(quarters)), "datasets": datasets, "rates": rate_rows,
            "counts": {status: sum(s["status"] == status for s in statuses) for status in STATUS_WORDS["en"] if status != NOT_OWED}}


def hidden_headline_cells(conn, periods: list[str]) -> list[dict]:
    """The nation's cells of headline indicators (the catalogue's `headline`, any breakdown) that disclosure
    control hides in the public indicators of `periods`: {period, indicator, sr, en, breakdown, category}."""
    from sqlalchemy import select

    from thb_reporting.figures import indicator_catalogue
    from thb_reporting.store.warehouse import table

    catalogue = indicator_catalogue.catalogue()
    public = table("public_indicators")
    rows = conn.execute(select(public.c.period, public.c.indicator, public.c.breakdown, public.c.category).where(
        public.c.level == "nation", public.c.suppressed, public.c.period.in_(periods),
        public.c.indicator.in_(indicator_catalogue.headlines())))
    return [{"period": p, "indicator": i, "sr": catalogue[i]["sr"], "en": catalogue[i]["en"], "breakdown": b,
             "category": c} for p, i, b, c in sorted(rows)]
