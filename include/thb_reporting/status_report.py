"""What the "Reporting status" page in the Airflow UI and the published national summary show: the
team × quarter matrix per dataset, the reporting and on-time rates, national indicators over the
quarters, and the SVG line charts both draw (plain SVG: no script, no library, readable offline).

Light on purpose (SQLAlchemy and the standard library): the UI plugin imports it in the api-server."""
from __future__ import annotations

import datetime as dt
from functools import cache
from html import escape
from pathlib import Path

from sqlalchemy import select

from thb_reporting import contracts, indicator_catalogue, ledger, reference
from thb_reporting.locks import locked_quarters
from thb_reporting.quarters import Quarter
from thb_reporting.reporting_calendar import (
    COLOURS, NOT_OWED, STATUS_WORDS, completeness_indicators, reporting_statuses,
)
from thb_reporting.warehouse import table

TEMPLATES = Path(__file__).parent / "page_templates"


@cache
def _environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))


def render(template: str, **values) -> str:
    """A page of page_templates/ (the status page's and the national summary's), values escaped."""
    return _environment().get_template(template).render(**values)


def submission_report(sub, findings: list, teams: reference.TeamRegistry, standalone: bool = False) -> str:
    """One submission's validation report (page_templates/submission.html.j2): what failed, by rule, row and
    column, and how to fix it, in Serbian and English. `sub` is its ledger row, `findings` its
    findings.Finding list. The status page shows it with links to the other pages; `standalone` (attached to
    the team's e-mail, or served as a file) has no link and loads nothing from elsewhere."""
    from thb_reporting.privacy import shown, shown_file_name
    from thb_reporting.findings import column_as_seen, explain, is_note

    contract = contracts.of_submission(sub.dataset, sub.quarter)  # the version it was validated under
    quarter = Quarter.parse(sub.quarter) if sub.quarter else None
    rows = []
    for f in findings:
        texts = {lang: explain(f, lang, contract, quarter) for lang in ("sr", "en")}
        rows.append({"severity": "note" if is_note(f.rule) else f.severity, "rule": f.rule, "row": f.row, "column": column_as_seen(f, contract), "value": f.value,
                     "what_sr": texts["sr"][0], "fix_sr": texts["sr"][1], "what_en": texts["en"][0], "fix_en": texts["en"][1]})
    return render("submission.html.j2", sub=sub, team=teams.get(sub.team_code), contract=contract,
                  findings=rows, standalone=standalone, summary=shown(sub.summary, kind="text"),
                  file_name=shown_file_name(sub.file_name, sub.dataset, sub.quarter, sub.content_sha256))


SUPPRESSED_MARK = "x"  # as statistical offices print a confidential cell


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


def coverage_of_periods(conn, periods: list[str]) -> list[dict]:
    """What the national figures of each dataset cover in each of `periods` (national.coverage), for the
    pages a coordinator reads: per dataset, per period the label and the sentence in Serbian and English;
    a period without data of the dataset is None."""
    c = table("coverage")
    found = {(r.dataset, r.period): r for r in conn.execute(select(c).where(c.c.period.in_(periods)))}
    out = []
    for dataset in contracts.datasets():
        if not any((dataset, p) in found for p in periods):
            continue
        title = contracts.load(dataset).title
        out.append({"dataset": dataset, "sr": title["sr"], "en": title["en"], "cells": [
            None if (r := found.get((dataset, p))) is None else
            {"period": p, "coverage": r.coverage, "sr": r.description_sr, "en": r.description_en,
             "short": ("nacija / nation" if r.national else f"{len(r.units.split(';'))} jedinica / units")}
            for p in periods]})
    return out


def national_series(conn, names=None, quarters: list[str] | None = None) -> list[dict]:
    """Each indicator's national total per quarter as the public sees it (national.public_indicators);
    `names` by default those the catalogue charts on the status page (the figures a ministry asks for first).
    A quarter appears once anything of its kind was published for it (the calendar's rates, or data);
    then a count without a row is 0, and a suppressed value is None."""
    catalogue = indicator_catalogue.catalogue()
    names = indicator_catalogue.charted("status_page") if names is None else names
    public = table("public_indicators")
    query = select(public.c.indicator, public.c.period, public.c.value, public.c.suppressed).where(
        public.c.level == "nation", public.c.breakdown == "total")
    values, published = {}, {"calendar": set(), "data": set()}
    for r in conn.execute(query):
        if len(r.period) == 6:  # quarters only (2026Q1), not years
            published["calendar" if catalogue[r.indicator]["dataset"] == "calendar" else "data"].add(r.period)
            values[(r.indicator, r.period)] = None if r.suppressed else r.value
    out = []
    for name in names:
        kind = "calendar" if catalogue[name]["dataset"] == "calendar" else "data"
        shown = [q for q in (quarters or sorted(published[kind])) if q in published[kind]]
        out.append({"indicator": name, "label_sr": catalogue[name]["sr"], "label_en": catalogue[name]["en"],
                    "unit": catalogue[name]["unit"], "points": [(q, values.get((name, q), 0.0)) for q in shown]})
    return out


def national_tables(conn, quarters: list[str], output: str = "status_page") -> list[dict]:
    """The nation's public cells of the breakdowns the catalogue shows in `output`, one column per quarter:
    [{indicator, breakdown, sr, en, unit, rows: [{category, label (sr, en), cells: [value or None]}]}]; a
    category with no cell in a quarter is 0 there, a suppressed one None."""
    catalogue = indicator_catalogue.catalogue()
    pairs = indicator_catalogue.shown_in(output)
    public = table("public_indicators")
    query = select(public.c.indicator, public.c.breakdown, public.c.category, public.c.period, public.c.value,
                   public.c.suppressed).where(public.c.level == "nation", public.c.period.in_(quarters),
                                              public.c.indicator.in_(sorted({i for i, _ in pairs})))
    values: dict[tuple, dict] = {}
    for r in conn.execute(query):
        if (r.indicator, r.breakdown) in pairs:
            values.setdefault((r.indicator, r.breakdown), {}).setdefault(r.category, {})[r.period] = (
                None if r.suppressed else r.value)
    out = []
    for name, breakdown in pairs:
        cells = values.get((name, breakdown), {})
        out.append({"indicator": name, "breakdown": breakdown, "sr": catalogue[name]["sr"], "en": catalogue[name]["en"],
                    "unit": catalogue[name]["unit"],
                    "rows": [{"category": c, "label": indicator_catalogue.category_label(name, breakdown, c),
                              "cells": [cells[c].get(q, 0.0) for q in quarters]} for c in sorted(cells)]})
    return out


def format_value(value, unit: str = "persons") -> str:
    if value is None:
        return SUPPRESSED_MARK
    if unit == "share":
        return f"{value * 100:.0f} %"
    return f"{value:,.0f}".replace(",", ".")  # Serbian thousands separator


def line_chart_svg(points: list[tuple[str, float | None]], title: str, unit: str = "persons",
                   width: int = 560, height: int = 230) -> str:
    """A line chart of (label, value) points as inline SVG; a None value is a gap in the line, marked x."""
    left, right, top, bottom = 56, 30, 34, 40
    known = [v for _, v in points if v is not None]
    top_value = max(known, default=0) or 1
    if unit == "share":
        top_value = max(top_value, 1.0)
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(points) - 1, 1)

    def xy(i, v):
        return left + i * step, top + plot_h - (v / top_value) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" class="chart"><title>{escape(title)}</title>',
             f'<text x="{left}" y="18" font-size="11" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#888"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>']
    for fraction in (0, 0.5, 1):
        y = top + plot_h - fraction * plot_h
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
                     f'{escape(format_value(fraction * top_value, unit))}</text>')
    segment: list[str] = []
    segments = [segment]
    for i, (label, value) in enumerate(points):
        x = left + i * step
        parts.append(f'<text x="{x:.1f}" y="{height - 22}" font-size="10" text-anchor="middle">{escape(label)}</text>')
        if value is None:
            segment = []
            segments.append(segment)
            parts.append(f'<text x="{x:.1f}" y="{top + plot_h - 4}" font-size="11" text-anchor="middle" '
                         f'fill="#a00">{SUPPRESSED_MARK}</text>')
            continue
        px, py = xy(i, value)
        segment.append(f"{px:.1f},{py:.1f}")
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="#1f5fa8"><title>{escape(label)}: '
                     f'{escape(format_value(value, unit))}</title></circle>')
        parts.append(f'<text x="{px:.1f}" y="{py - 7:.1f}" font-size="10" text-anchor="middle">'
                     f'{escape(format_value(value, unit))}</text>')
    for seg in segments:
        if len(seg) > 1:
            parts.append(f'<polyline fill="none" stroke="#1f5fa8" stroke-width="2" points="{" ".join(seg)}"/>')
    parts.append("</svg>")
    return "".join(parts)
