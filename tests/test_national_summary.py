"""The published national summary (HTML per quarter next to the exports): every figure it shows equals
the scenario's truth, what it hides is exactly what national.public_indicators suppresses, and no count
of persons or cases from 1 to the threshold is visible."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import select

from test_pipeline import run_cycle
from oracle import Truth
from thb_reporting import contracts, indicators, reference
from thb_reporting.warehouse import reader_engine, table

TEAMS = ["nis", "leskovac", "vranje", "subotica", "sombor", "novi_sad"]
QUARTERS = ["2026Q1", "2026Q2"]


class _Figures(HTMLParser):
    """(indicator, breakdown, category or area, column) → (data-value, suppressed, text) of every figure."""

    def __init__(self):
        super().__init__()
        self.figures, self._table, self._row, self._column, self._cell = {}, {}, {}, 0, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a
        elif tag == "tr":
            self._row, self._column = a, 0
        elif tag == "td":
            self._column += 1
            if "data-suppressed" in a:
                if self._table.get("id") == "headlines":
                    key = (self._row["data-indicator"], "total", "total")
                elif self._table.get("id") == "districts":
                    key = ("victims", "district", self._row["data-area"])
                elif self._table.get("id") == "completeness":
                    key = ("rate", "total", str(len([k for k in self.figures if k[0] == "rate"])))
                else:
                    key = (self._table["data-indicator"], self._table["data-breakdown"], self._row["data-category"])
                self._cell = key + (self._column,)
                self.figures[self._cell] = [a["data-value"], a["data-suppressed"] == "true", ""]

    def handle_data(self, data):
        if self._cell:
            self.figures[self._cell][2] += data

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None


def test_summary_shows_the_truth_and_hides_small_counts(config, generator):
    truth = Truth(generator.scenario(TEAMS, QUARTERS, datasets=contracts.datasets()))
    run_cycle(config)
    district_of = {code: t.district_code for code, t in reference.teams().items()}
    want = truth.indicators(district_of)
    catalogue = indicators.catalogue()
    public = table("public_indicators")
    with reader_engine(config.reporting_db_url).connect() as conn:
        hidden = {(r.indicator, r.level, r.area_code, r.period, r.breakdown, r.category)
                  for r in conn.execute(select(public).where(public.c.suppressed))}
    exports = Path(config.data_root.removeprefix("file://")) / "exports" / "2026"
    assert sorted(p.name for p in exports.glob("national_summary_*.html")) == [f"national_summary_{q}.html" for q in QUARTERS]

    checked = suppressed = 0
    for quarter in QUARTERS:
        parser = _Figures()
        parser.feed((exports / f"national_summary_{quarter}.html").read_text(encoding="utf-8"))
        assert parser.figures, "the summary shows no figures"
        for (name, breakdown, category, column), (value, is_hidden, text) in parser.figures.items():
            if name == "rate":
                continue
            period = quarter if column == 2 else quarter[:4]
            level, area = ("district", category) if breakdown == "district" else ("nation", "RS")
            key = (name, level, area, period, "total" if breakdown == "district" else breakdown,
                   "total" if breakdown == "district" else category)
            assert is_hidden == (key in hidden), key
            if is_hidden:
                suppressed += 1
                assert text.strip() == "x" and value == ""
                continue
            checked += 1
            assert float(value) == want.get(key, 0.0), key
            if catalogue[name]["unit"] in ("persons", "cases"):
                assert not 0 < float(value) <= config.suppression_threshold, key
    assert checked > 50 and suppressed > 0  # the scenario has small cells, and the summary is not empty
