"""Exports a ministry can hand on, per year: the national indicators (CSV and XLSX), a table shaped like
Eurostat's crim_thb, and SDG indicator 16.2.2 (victims per 100,000 population).

Everything here is for the public: counts from 1 to the threshold are suppressed, in the indicators and
the crim_thb cube together (thb_reporting.figures.disclosure.public_outputs). The exact figures stay in
national.indicators, for the ministries' analysts. Every row says its coverage (thb_reporting.figures.coverage):
a nation-level figure is labelled 'RS' only where a unit of national scope (the Centre) reported every
quarter it sums; otherwise it is 'RS_PART', the sum of the units named, over the population they cover."""
from __future__ import annotations

import io

from thb_reporting.figures import coverage, indicator_catalogue
from thb_reporting.core import reference
from thb_reporting.figures.indicators import NATION, NOT_STATED, VICTIM_STATUSES, deduplicated

# geo / area_code is 'RS' only where the figures cover the nation (coverage.nation_area); a sum of local
# teams is 'RS_PART' with the units and population it covers in the coverage columns.
CRIM_THB_COLUMNS = ["geo", "time", "leg_stat", "sex", "citizen", "expl", "unit", *coverage.COLUMNS, "value", "suppressed"]
SDG_COLUMNS = ["level", "area_code", "year", "breakdown", "category", "victims", "population", "rate_per_100000",
               *coverage.COLUMNS, "suppressed"]


def crim_thb(victims, years: set[str], covered: dict):
    """Victims (identified and presumed) of each year, counted once nationally, by legal status, sex,
    citizenship (reporting country / other EU / non-EU) and form of exploitation (sexual / labour /
    other; a person with forms in two groups counts in each): exact counts, every column of
    CRIM_THB_COLUMNS but `suppressed` (disclosure.public_outputs suppresses them with the public indicators).
    covered: coverage.of_submissions of the years; geo is 'RS' only for a year the Centre covers."""
    import pandas as pd

    if victims is None or victims.empty:
        return pd.DataFrame(columns=CRIM_THB_COLUMNS[:-1])
    codes = reference.eurostat_codes()
    eu = reference.eu_members()
    persons = victims.assign(area_code=NATION, period=victims["quarter"].str.slice(0, 4))
    persons = deduplicated(persons[persons["period"].isin(years)])  # as the indicators: one person, one report
    persons = persons[persons["status"].isin(VICTIM_STATUSES)]
    citizen = persons["citizenship"].map(lambda c: "reporting_country" if c == "RS" else ("other_eu" if c in eu else "non_eu"))
    frame = pd.DataFrame({
        "time": persons["period"],
        "leg_stat": persons["status"].map(lambda s: codes[("leg_stat", s)]),
        "sex": persons["sex"].map(lambda s: codes[("sex", s)]),
        "citizen": citizen.map(lambda c: codes[("citizen", c)]),
        "expl": persons["exploitation"].fillna("").map(
            lambda forms: sorted({codes[("expl", f)] for f in forms.split(";") if f}) or ["UNK"]),
    }).explode("expl")
    counts = frame.groupby(["time", "leg_stat", "sex", "citizen", "expl"]).size().rename("value").reset_index()
    of_year = {year: covered[("victims", year)] for year in counts["time"].unique()}
    described = pd.DataFrame([{"time": y, "geo": coverage.nation_area(c), **coverage.columns_of(c)} for y, c in of_year.items()],
                             columns=["time", "geo", *coverage.COLUMNS])
    counts = counts.merge(described, on="time", how="left").assign(unit="NR")
    counts["coverage_population"] = counts["coverage_population"].astype("Int64")
    return counts[CRIM_THB_COLUMNS[:-1]]


def crim_thb_margins() -> dict[str, dict[str, tuple[str, str, list[str]]]]:
    """For each crim_thb dimension, Eurostat code → (indicator, breakdown, categories) of the nation's
    public count of the year that the code's cells add up to (disclosure.crim_thb_relations)."""
    margins = {"leg_stat": {}, "sex": {}, "citizen": {}, "expl": {"UNK": ("victims", "exploitation", [NOT_STATED])}}
    for (dimension, code), eurostat in reference.eurostat_codes().items():
        if dimension == "leg_stat":
            margins[dimension][eurostat] = ("persons_by_status", "status", [code])
        elif dimension == "sex":
            margins[dimension][eurostat] = ("victims", "sex", [code])
        elif dimension == "citizen":
            margins[dimension][eurostat] = ("victims", "citizenship", ["serbian" if code == "reporting_country" else "foreign"])
        else:
            margins[dimension].setdefault(eurostat, ("victims", "exploitation", []))[2].append(code)
    return margins


def sdg_16_2_2(indicator_rows, years: set[str], population: dict[str, int]):
    """Victims per 100,000 population by sex, age group and form of exploitation, for each team's
    municipality and for the nation, per year (population: the team registry's, reference.TeamRegistry).
    `indicator_rows` are the public ones, with their coverage columns: where the count is suppressed, so is
    the rate. A nation-level sum that is not the nation's is 'RS_PART' over the population it covers, never
    the nation's; a unit without a municipality (the Centre) has no rate of its own."""
    import pandas as pd

    rows = indicator_rows[indicator_rows["level"].isin(["team", "nation"]) & indicator_rows["period"].isin(years)]
    rows = rows[indicator_catalogue.shown_rows(rows, "sdg_16_2_2")]  # victims: total, sex, age group, form
    nation = rows["level"] == "nation"
    partial = nation & (rows["coverage"] != coverage.NATION_LABEL)
    people = rows["coverage_population"].where(nation, rows["area_code"].map(population))
    rows, people, partial = rows[people.notna()], people[people.notna()], partial[people.notna()]
    if rows.empty:
        return pd.DataFrame(columns=SDG_COLUMNS)
    out = pd.DataFrame({
        "level": rows["level"], "area_code": rows["area_code"].mask(partial, coverage.PARTIAL_AREA), "year": rows["period"],
        "breakdown": rows["breakdown"], "category": rows["category"], "victims": rows["value"].round().astype("Int64"),
        "population": people.astype("int64"), "suppressed": rows["suppressed"],
        **{c: rows[c] for c in coverage.COLUMNS},
    })
    out["rate_per_100000"] = (out["victims"].astype("Float64") * 100_000 / out["population"])
    return out.reset_index(drop=True)[SDG_COLUMNS]


def csv_bytes(frame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8-sig")  # BOM: Excel reads the Serbian letters right


def xlsx_bytes(sheets: dict) -> bytes:
    """One sheet per frame, header first; a missing value (a suppressed count) or an empty text stays an
    empty cell. XlsxWriter (pandas' to_excel makes every cell an object first: several times slower on a
    year's indicators; openpyxl's write-only mode takes half as long again), each column written by the
    method of its type (_cells): text is always text, never a formula ('=…', or '{=…}', which its generic
    write takes for one) nor a link."""
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})
    for name, frame in sheets.items():
        sheet = book.add_worksheet(name[:31])
        for col, column in enumerate(frame.columns):
            sheet.write_string(0, col, str(column))
            _cells(sheet, col, frame[column])
    book.close()
    return buf.getvalue()


def _cells(sheet, col: int, values) -> None:
    """A column's cells below its header: numbers and truth values by their own methods (a column of one
    type), texts by write_string; the generic write (which dispatches on every cell's value, a quarter
    of a year's workbook at 145 teams) only for a value of any other type."""
    import pandas as pd

    column = values.astype(object).where(values.notna(), None).tolist()
    typed = (sheet.write_boolean if pd.api.types.is_bool_dtype(values)
             else sheet.write_number if pd.api.types.is_numeric_dtype(values) else None)
    for row, value in enumerate(column, start=1):
        if value is None or value == "":
            continue
        if typed is not None:
            typed(row, col, value)
        elif type(value) is str:
            sheet.write_string(row, col, value)
        else:
            sheet.write(row, col, value.item() if hasattr(value, "item") else value)


def write_files(data_root: str, year: str, indicator_rows, crim, sdg, catalogue) -> list:
    """<data_root>/exports/<year>/: national_indicators_<year>.csv and .xlsx, crim_thb_<year>.csv,
    sdg_16_2_2_<year>.csv. Each file is written whole, then renamed into place."""
    from thb_reporting.store.storage import storage_path, write_atomically

    folder = storage_path(data_root) / "exports" / year
    year_rows = indicator_rows[indicator_rows["period"].str.startswith(year)].copy()
    # in a file that leaves the ministries, a nation-level sum that is not the nation's is not 'RS'
    partial = (year_rows["level"] == "nation") & (year_rows["coverage"] == coverage.UNITS_LABEL)
    year_rows.loc[partial, "area_code"] = coverage.PARTIAL_AREA
    files = {
        f"national_indicators_{year}.csv": csv_bytes(year_rows),
        f"national_indicators_{year}.xlsx": xlsx_bytes({
            "nacija_nation": year_rows[year_rows["level"] == "nation"],
            "okruzi_districts": year_rows[year_rows["level"] == "district"],
            "timovi_teams": year_rows[year_rows["level"] == "team"],
            "pokazatelji_indicators": catalogue,
        }),
        f"crim_thb_{year}.csv": csv_bytes(crim[crim["time"] == year]),
        f"sdg_16_2_2_{year}.csv": csv_bytes(sdg[sdg["year"] == year]),
    }
    written = []
    for name, content in files.items():
        write_atomically(folder / name, content)
        written.append(folder / name)
    return written
