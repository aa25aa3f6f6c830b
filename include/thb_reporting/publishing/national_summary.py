"""The published national summary: one HTML page per quarter, written next to the year's exports
(<data_root>/exports/<year>/national_summary_<quarter>.html), with the figures a ministry would quote and
charts over the quarters, and what the figures cover (national.coverage: the nation where the Centre
reported, else the local teams summed). Public: it reads only national.public_indicators, where counts of persons and
cases from 1 to the threshold, and any count that would reveal one, are suppressed (shown as x)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from thb_reporting.figures import indicator_catalogue
from thb_reporting.core import reference
from thb_reporting.core.quarters import Quarter
from thb_reporting.reports.charts import SUPPRESSED_MARK, format_value, line_chart_svg
from thb_reporting.reports.national_figures import coverage_of_periods, national_series
from thb_reporting.reports.pages import render
from thb_reporting.store.warehouse import table


def summary_html(conn, quarter: str, threshold: int, charted_quarters: int = 8, release: dict | None = None) -> str:
    """The quarter's summary from the working figures, or from releases: release = {"release_id", "status",
    "released_at", "shown": the release ids whose figures it shows (the quarter's, the others' latest)}."""
    from thb_reporting.reports.national_figures import released

    q = Quarter.parse(quarter)
    public = table("public_indicators") if release is None else released("public_indicators", release["shown"])
    rows = conn.execute(select(public).where(public.c.period.in_([str(q), str(q.year)]),
                                             public.c.level.in_(["nation", "district"]))).all()
    value = {(r.indicator, r.level, r.area_code, r.period, r.breakdown, r.category): (None if r.suppressed else r.value)
             for r in rows}
    catalogue = indicator_catalogue.catalogue()

    def cell(indicator, period, breakdown="total", category="total", level="nation", area="RS"):
        key = (indicator, level, area, period, breakdown, category)
        if key not in value:
            return {"text": "–", "value": "", "suppressed": False}
        v = value[key]
        return {"text": format_value(v, catalogue[indicator]["unit"]), "value": "" if v is None else v, "suppressed": v is None}

    headlines = [{"indicator": name, "sr": catalogue[name]["sr"], "en": catalogue[name]["en"],
                  "quarter": cell(name, str(q)), "year": cell(name, str(q.year))} for name in indicator_catalogue.headlines()]
    breakdowns = []
    for name, breakdown in indicator_catalogue.summary_tables():
        categories = sorted({k[5] for k in value if k[0] == name and k[1] == "nation" and k[4] == breakdown and k[3] == str(q)})
        breakdowns.append({"indicator": name, "breakdown": breakdown, "sr": catalogue[name]["sr"], "en": catalogue[name]["en"],
                           "rows": [{"category": c, "label": indicator_catalogue.category_label(name, breakdown, c),
                                     "quarter": cell(name, str(q), breakdown, c), "year": cell(name, str(q.year), breakdown, c)}
                                    for c in categories]})
    districts = reference.districts()
    by_district = [{"code": code, "name": districts.get(code, {}).get("name_lat", code),
                    "quarter": cell("victims", str(q), level="district", area=code),
                    "year": cell("victims", str(q.year), level="district", area=code)}
                   for code in sorted({k[2] for k in value if k[0] == "victims" and k[1] == "district"})]
    rates = {name: cell(name, str(q)) for name in ("reporting_rate", "on_time_rate")}

    last = [q]
    while len(last) < charted_quarters:
        last.insert(0, last[0].previous())
    series = national_series(conn, indicator_catalogue.charted("summary"), [str(x) for x in last],
                             None if release is None else public)
    charts = [line_chart_svg(s["points"], f'{s["label_sr"]} / {s["label_en"]}', s["unit"]) for s in series]
    return render("national_summary.html.j2", quarter=str(q), year=q.year, headlines=headlines, breakdowns=breakdowns,
                  districts=by_district, rates=rates, charts=charts, threshold=threshold, mark=SUPPRESSED_MARK,
                  coverage=coverage_of_periods(conn, [str(q), str(q.year)],
                                               None if release is None else released("coverage", release["shown"])),
                  release=release,
                  published=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def write_summaries(config, years: set[str]) -> list:
    """national_summary_<quarter>.html for every quarter of the given years with published data; each
    file written whole, then renamed into place. Reads the committed tables."""
    from thb_reporting.store.storage import storage_path, write_atomically
    from thb_reporting.store.warehouse import reader_engine

    pubs = table("publications")
    written = []
    with reader_engine(config.reporting_db_url).connect() as conn:
        quarters = sorted({r for r in conn.execute(select(pubs.c.quarter).distinct()).scalars() if r[:4] in years})
        for quarter in quarters:
            target = storage_path(config.data_root) / "exports" / quarter[:4] / f"national_summary_{quarter}.html"
            write_atomically(target, summary_html(conn, quarter, config.suppression_threshold).encode("utf-8"))
            written.append(target)
    return written
