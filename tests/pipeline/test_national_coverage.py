"""Coverage that tells the truth: the Centre for Protection of Victims of Trafficking (czztlj, national
scope, victims only) makes the nation's victims figures the nation's; elsewhere a national-level sum is
the sum of the units named, and no table or file labels it as the country ('RS')."""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

from sqlalchemy import select

from oracle import Truth
from test_indicators import CALENDAR, _assert_equal, published
from test_pipeline import run_cycle
from thb_reporting.figures import indicator_catalogue
from thb_reporting.store import ledger
from thb_reporting.core import reference
from thb_reporting.store.warehouse import reader_engine, table

LOCAL = ["subotica", "novi_sad", "nis", "leskovac"]
CENTRE = "czztlj"
DATASETS = ("victims", "criminal_justice")


def _expected_from_ledger(conn, teams) -> dict[tuple[str, str], tuple[bool, tuple[str, ...], int]]:
    """(dataset, period) → (national, units, population), from the ledger's current submissions and the
    registry, computed here: national where a national-scope unit of the dataset has a current
    submission in every quarter of the period that has any."""
    by_quarter: dict[tuple[str, str], set[str]] = {}
    for dataset, team, quarter in ledger.current_submissions(conn):
        by_quarter.setdefault((dataset, quarter), set()).add(team)
    out = {}
    for dataset, quarter in list(by_quarter):
        for period in (quarter, quarter[:4]):
            quarters = [q for d, q in by_quarter if d == dataset and q.startswith(period)]
            units = set().union(*(by_quarter[(dataset, q)] for q in quarters))
            national = all(any(teams[u].scope == "national" and teams[u].reports(dataset) for u in by_quarter[(dataset, q)])
                           for q in quarters)
            population = teams.population["RS"] if national else sum(
                teams.population[u] for u in units if teams[u].scope == "local")
            out[(dataset, period)] = (national, tuple(sorted(units)), population)
    return out


def assert_no_partial_sum_labelled_as_the_nation(config) -> dict:
    """Scans every nation-level row of the national tables and every row of the export files against the
    ledger's submissions: 'RS' only where the figure covers the nation, the coverage columns right, the
    SDG population the covered one. Returns the expected coverage."""
    teams = config.teams
    dataset_of = {name: item["dataset"] for name, item in indicator_catalogue.catalogue().items()}
    with reader_engine(config.reporting_db_url).connect() as conn:
        expected = _expected_from_ledger(conn, teams)
        for name in ("indicators", "public_indicators"):
            t = table(name)
            rows = conn.execute(select(t).where(t.c.level == "nation", t.c.indicator.not_in(CALENDAR))).all()
            assert rows
            for r in rows:
                national, units, population = expected[(dataset_of[r.indicator], r.period)]
                assert (r.coverage, r.coverage_units, r.coverage_population) == (
                    "nation" if national else "units", ";".join(units), population), (name, r)
        crim = conn.execute(select(table("export_crim_thb"))).all()
        sdg = conn.execute(select(table("sdg_16_2_2")).where(table("sdg_16_2_2").c.level == "nation")).all()
        stored = {(r.dataset, r.period): (r.national, tuple(r.units.split(";")), r.population)
                  for r in conn.execute(select(table("coverage")))}
    assert stored == expected
    assert crim and sdg
    for r in crim:
        national, units, population = expected[("victims", r.time)]
        assert (r.geo, r.coverage, r.coverage_units, r.coverage_population) == (
            "RS" if national else "RS_PART", "nation" if national else "units", ";".join(units), population), r
    for r in sdg:
        national, units, population = expected[("victims", r.year)]
        assert (r.area_code, r.population, r.coverage) == ("RS" if national else "RS_PART", population,
                                                           "nation" if national else "units"), r
    folder_root = Path(config.data_root.removeprefix("file://")) / "exports"
    for folder in folder_root.iterdir():
        year = folder.name
        with open(folder / f"crim_thb_{year}.csv", encoding="utf-8-sig") as f:
            for r in csv.DictReader(f):
                assert (r["geo"] == "RS") == expected[("victims", year)][0], r
        with open(folder / f"sdg_16_2_2_{year}.csv", encoding="utf-8-sig") as f:
            for r in csv.DictReader(f):
                if r["level"] == "nation":
                    national, _, population = expected[("victims", year)]
                    assert (r["area_code"], int(r["population"])) == ("RS" if national else "RS_PART", population), r
                assert r["area_code"] != CENTRE  # the Centre has no municipality, so no rate of its own
        with open(folder / f"national_indicators_{year}.csv", encoding="utf-8-sig") as f:
            for r in csv.DictReader(f):
                if r["level"] == "nation" and r["indicator"] not in CALENDAR:
                    assert (r["area_code"] == "RS") == expected[(dataset_of[r["indicator"]], r["period"])][0], r
    _assert_transmissions_name_the_country_only_when_covered(Path(config.data_root.removeprefix("file://")), expected)
    return expected


# The column that names the area in each transmission file, and the country's code in it (the files are
# read here as a receiver reads them: SDMX-CSV with pysdmx, the workbook with openpyxl).
COUNTRY = {"crim_thb": ("GEO", "RS"), "sdg_16_2_2": ("REF_AREA", "688"), "greta": ("area", "RS")}


def _assert_transmissions_name_the_country_only_when_covered(root: Path, expected) -> None:
    import io
    import json

    from openpyxl import load_workbook
    from pysdmx.io import get_datasets

    files = [p for p in sorted((root / "transmissions").glob("*/*")) if p.suffix in (".csv", ".xlsx")]  # not sidecars, reports
    kind_of = {p: "crim_thb" if p.name.startswith("crim_thb_") else p.name.rsplit("_", 1)[0] for p in files}
    assert set(kind_of.values()) == set(COUNTRY)
    for path in files:
        year, kind = path.parent.name, kind_of[path]
        column, country = COUNTRY[kind]
        sidecar = json.loads(path.with_name(path.name + ".metadata.json").read_text(encoding="utf-8"))
        for c in sidecar["coverage"]:
            assert (c["scope"] == "nation") == expected[(c["dataset"], c["period"])][0], (path.name, c)
        if kind == "greta":  # RS on every row, the coverage column says whether it is the country (#25)
            areas = set()
            for sheet in load_workbook(io.BytesIO(path.read_bytes()), read_only=True).worksheets[1:]:  # [0]: metadata
                header, *rows = list(sheet.iter_rows(values_only=True))
                cells = [dict(zip(header, r)) for r in rows]
                assert {c["area"] for c in cells} == {country}
                areas |= {("victims", "partial" if "not the whole country" in c["coverage"] else country) for c in cells}
        else:
            frame = get_datasets(str(path))[0].data
            if kind == "crim_thb":  # GEO=RS always; a partial sum says so in COMMENT_OBS (and OBS_STATUS D or P)
                assert set(frame["GEO"]) == {country}
                justice = {"PER_SUSP", "PER_PRSC", "PER_CNV"}
                legal = frame["LEG_STAT"] if "LEG_STAT" in frame else [""] * len(frame)
                areas = {("criminal_justice" if leg in justice else "victims",
                          "partial" if "not the whole country" in str(comment) else country)
                         for leg, comment in zip(legal, frame["COMMENT_OBS"])}
            else:  # SDG: 688 always; a sum of teams flagged D (P where the year is provisional) and said in COMMENT_OBS
                assert set(frame[column].astype(str)) == {country}
                areas = {("victims", "partial" if "not the whole country" in str(comment) else country)
                         for comment in frame["COMMENT_OBS"]}
                for comment, status in zip(frame["COMMENT_OBS"], frame["OBS_STATUS"]):  # Q: withheld, stays Q
                    assert status in ({"D", "P", "Q"} if "not the whole country" in str(comment) else {"A", "P", "Q"})
        assert areas, path
        for dataset, area in areas:
            assert (area == country) == expected[(dataset, year)][0], (path.name, dataset, area)


def _coverage_cells(html: str) -> dict[tuple[str, str], str]:
    table_html = html[html.index('<table id="coverage">'):]
    table_html = table_html[:table_html.index("</table>")]
    out = {}
    for row in re.finditer(r'<tr data-dataset="([a-z_]+)">(.*?)</tr>', table_html, re.S):
        for cell in re.finditer(r'data-period="([0-9Q]+)" data-coverage="([a-z]+)"', row.group(2)):
            out[(row.group(1), cell.group(1))] = cell.group(2)
    return out


def test_the_centre_makes_the_nations_victims_figures_and_nothing_else(config, generator):
    generator.scenario(LOCAL, ["2026Q2", "2026Q3"], datasets=DATASETS)
    centre_q3 = generator.victims_file(CENTRE, "2026Q3")  # the Centre reports the third quarter only, so far
    truth = Truth(generator.files)
    local_numbers = {r["cptv_ref"] for f in truth.files if f.team != CENTRE and f.quarter == "2026Q3"
                     and f.dataset == "victims" for r in f.rows if r["cptv_ref"]}
    centre_numbers = {r["cptv_ref"] for r in centre_q3.rows}
    assert None not in centre_numbers  # the Centre gives every person a CPTV number
    assert centre_numbers & local_numbers and centre_numbers - local_numbers  # seen by teams too, and by none
    run_cycle(config)

    # every figure equals the truth: a person the Centre and a team report counts once in the nation
    district_of = {code: t.district_code for code, t in config.teams.items()}
    want = truth.indicators(district_of)
    _assert_equal(published(config.reporting_db_url), want)
    nation = want[("persons_by_status", "nation", "RS", "2026Q3", "status", "possible_victim")] + \
        want.get(("persons_by_status", "nation", "RS", "2026Q3", "status", "identified_victim"), 0) + \
        want.get(("persons_by_status", "nation", "RS", "2026Q3", "status", "not_a_victim"), 0)
    by_team = sum(v for k, v in want.items() if k[:2] == ("persons_by_status", "team") and k[3] == "2026Q3")
    assert nation == by_team - len(centre_numbers & local_numbers) > 0  # (no team shares a person here)
    assert not [k for k in want if k[1] == "district" and k[2] in ("", None)]  # the Centre is in no district

    expected = assert_no_partial_sum_labelled_as_the_nation(config)
    assert expected == truth.coverage(config.teams)
    assert expected[("victims", "2026Q3")][0]  # the Centre reported the quarter
    assert not expected[("victims", "2026Q2")][0] and not expected[("victims", "2026")][0]  # Q2 without it
    assert not any(national for (dataset, _), (national, _, _) in expected.items() if dataset != "victims")

    # the public summary and the status page say it, Serbian first
    summary = (Path(config.data_root.removeprefix("file://")) / "exports" / "2026" / "national_summary_2026Q3.html").read_text()
    assert _coverage_cells(summary) == {("victims", "2026Q3"): "nation", ("victims", "2026"): "units",
                                        ("criminal_justice", "2026Q3"): "units", ("criminal_justice", "2026"): "units"}
    # the Centre covers the country; the other quarters of 2026 are not in, and the coverage says so (#25)
    assert re.search(r"cela Republika Srbija \(nacionalna jedinica\)[^<]*<br><i>the whole country \(national unit\)", summary)
    assert "nepotpun period 2026" in summary and "incomplete period 2026: sums 2026Q2, 2026Q3" in summary
    assert "zbir 4 jedinica izveštavanja" in summary and "not the whole country" in summary
    import datetime as dt

    from thb_reporting.ui.status_page import status_page_html

    page = status_page_html(config.reporting_db_url, config.teams, today=dt.date(2026, 11, 1))
    cells = _coverage_cells(page)
    assert cells[("victims", "2026Q3")] == "nation" and cells[("victims", "2026Q2")] == "units"
    assert cells[("criminal_justice", "2026Q3")] == "units"

    # the Centre's second quarter arrives: the year's victims figures become the nation's, over its population
    generator.victims_file(CENTRE, "2026Q2")
    run_cycle(config)
    truth = Truth(generator.files)
    _assert_equal(published(config.reporting_db_url), truth.indicators(district_of))
    expected = assert_no_partial_sum_labelled_as_the_nation(config)
    assert expected[("victims", "2026")][0] and not expected[("criminal_justice", "2026")][0]
    sdg = table("sdg_16_2_2")
    with reader_engine(config.reporting_db_url).connect() as conn:
        total = conn.execute(select(sdg).where(sdg.c.level == "nation", sdg.c.breakdown == "total")).one()
    assert (total.area_code, total.population) == ("RS", reference.population()["RS"])
    rate = truth.sdg_16_2_2(district_of)[("nation", "RS", "2026", "total", "total")]
    assert total.suppressed or math.isclose(total.rate_per_100000, rate)


def test_without_the_centre_every_national_figure_is_a_partial_sum(config, generator):
    """The old situation (only local teams): nothing is 'RS', and the SDG rate is over the teams' population."""
    truth = Truth(generator.scenario(LOCAL, ["2026Q3"], datasets=("victims",)))
    run_cycle(config)
    expected = assert_no_partial_sum_labelled_as_the_nation(config)
    assert not any(national for national, _, _ in expected.values())
    population = sum(reference.population()[t] for t in LOCAL)
    assert expected[("victims", "2026")] == (False, tuple(sorted(LOCAL)), population)
    rates = truth.sdg_16_2_2({})
    assert ("nation", "RS_PART", "2026", "total", "total") in rates and not any(k[1] == "RS" for k in rates)
