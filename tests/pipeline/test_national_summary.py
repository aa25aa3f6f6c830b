"""The published national summary (HTML per quarter next to the exports): every figure it shows equals
the scenario's truth, what it hides is exactly what national.public_indicators suppresses, and no count
of persons or cases from 1 to the threshold is visible."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import select

from test_pipeline import run_cycle
from oracle import Truth
from thb_reporting.core import contracts, reference
from thb_reporting.figures import indicators
from thb_reporting.store.warehouse import reader_engine, table

TEAMS = ["nis", "leskovac", "vranje", "subotica", "sombor", "novi_sad"]
QUARTERS = ["2026Q1", "2026Q2"]


class _Figures(HTMLParser):
    """(indicator, breakdown, category or area, column) → (data-value, suppressed, text) of every figure;
    labels: (indicator, breakdown, category) → the text a reader sees for each category of a breakdown."""

    def __init__(self):
        super().__init__()
        self.figures, self._table, self._row, self._column, self._cell = {}, {}, {}, 0, None
        self.labels, self._label = {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a
        elif tag == "tr":
            self._row, self._column = a, 0
        elif tag == "td":
            self._column += 1
            if self._column == 1 and "data-category" in self._row and "data-breakdown" in self._table:
                self._label = (self._table["data-indicator"], self._table["data-breakdown"], self._row["data-category"])
                self.labels[self._label] = ""
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
        if self._label:
            self.labels[self._label] += data

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = self._label = None


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
        _assert_labels_not_codes(parser.labels)
    assert checked > 50 and suppressed > 0  # the scenario has small cells, and the summary is not empty


def _assert_labels_not_codes(labels: dict) -> None:
    """Each category of the summary's tables reads as its label: a prosecution row names the article and
    the stage by their code lists' labels (čl. 388 KZ: Optužnica), never the key 388/indictment."""
    code_labels = {(name, c.code): c.label_sr for name, codes in reference.code_lists().items() for c in codes}
    shown = {breakdown for _, breakdown, _ in labels}
    assert {"article_stage", "citizenship", "sex", "status", "exploitation_once", "referral_source_status",
            "compensation", "free_legal_aid", "residence_permit"} <= shown, shown
    for (name, breakdown, category), text in labels.items():
        assert text.strip() not in ("", category), (name, breakdown, category, text)
        if breakdown == "referral_source_status":  # the source and the outcome by their labels
            source, status = category.split("/")
            assert code_labels[("referral_source", source)] in text and code_labels[("victim_status", status)] in text, text
        if breakdown == "article_stage":
            assert category not in text, text
            article, stage = category.split("/")
            assert code_labels[("criminal_code_article", article)] in text, text
            assert code_labels[("justice_stage", stage)] in text, text
