"""The published national figures as the status page and the national summary show them: indicators over the
quarters, the tables of the summary, and what each period's figures cover, read from the national tables.
Light on purpose (SQLAlchemy): the UI plugin imports it in the api-server."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from thb_reporting.core import contracts
from thb_reporting.figures import indicator_catalogue
from thb_reporting.reports.charts import SUPPRESSED_MARK  # noqa: F401 (what a table shows for a confidential cell)
from thb_reporting.store.warehouse import table

def released(name: str, release_ids) -> Any:
    """A working table's frozen rows of the releases given, shaped like the working table (a subquery with
    the same column names), for a page that shows a release rather than the working figures."""
    from thb_reporting.store.release_tables import frozen_name

    frozen = table(frozen_name(name))
    return select(frozen).where(frozen.c.release_id.in_(list(release_ids))).subquery(name)


def coverage_of_periods(conn, periods: list[str], covered=None) -> list[dict]:
    """What the national figures of each dataset cover in each of `periods` (national.coverage, or `covered`:
    a release's, see released), for the pages a coordinator reads: per dataset, per period the label and the
    sentence in Serbian and English; a period without data of the dataset is None."""
    c = table("coverage") if covered is None else covered
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


def national_series(conn, names=None, quarters: list[str] | None = None, public=None) -> list[dict]:
    """Each indicator's national total per quarter as the public sees it (national.public_indicators);
    `names` by default those the catalogue charts on the status page (the figures a ministry asks for first).
    A quarter appears once anything of its kind was published for it (the calendar's rates, or data);
    then a count without a row is 0, and a suppressed value is None. public: a release's rows (released)."""
    catalogue = indicator_catalogue.catalogue()
    names = indicator_catalogue.charted("status_page") if names is None else names
    public = table("public_indicators") if public is None else public
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
