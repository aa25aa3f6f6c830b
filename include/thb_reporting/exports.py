"""Exports a ministry can hand on, per year: the national indicators (CSV and XLSX), a table shaped like
Eurostat's crim_thb, and SDG indicator 16.2.2 (victims per 100,000 population).

Everything here is for the public: counts from 1 to the threshold are suppressed, in the indicators and
the crim_thb cube together (thb_reporting.disclosure.public_outputs). The exact figures stay in
national.indicators, for the ministries' analysts."""
from __future__ import annotations

import io

from thb_reporting import indicator_catalogue, reference
from thb_reporting.indicators import NATION, NOT_STATED, VICTIM_STATUSES, deduplicated

CRIM_THB_COLUMNS = ["geo", "time", "leg_stat", "sex", "citizen", "expl", "unit", "value", "suppressed"]
SDG_COLUMNS = ["level", "area_code", "year", "breakdown", "category", "victims", "population", "rate_per_100000",
               "suppressed"]


def crim_thb(victims, years: set[str]):
    """Victims (identified and presumed) of each year, counted once nationally, by legal status, sex,
    citizenship (reporting country / other EU / non-EU) and form of exploitation (sexual / labour /
    other; a person with forms in two groups counts in each): exact counts, every column of
    CRIM_THB_COLUMNS but `suppressed` (disclosure.public_outputs suppresses them with the public indicators)."""
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
    return counts.assign(geo=NATION, unit="NR")[CRIM_THB_COLUMNS[:-1]]


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
    `indicator_rows` are the public ones: where the count is suppressed, so is the rate."""
    import pandas as pd

    rows = indicator_rows[indicator_rows["level"].isin(["team", "nation"]) & indicator_rows["period"].isin(years)]
    rows = rows[indicator_catalogue.shown_rows(rows, "sdg_16_2_2")]  # victims: total, sex, age group, form
    if rows.empty:
        return pd.DataFrame(columns=SDG_COLUMNS)
    out = pd.DataFrame({
        "level": rows["level"], "area_code": rows["area_code"], "year": rows["period"],
        "breakdown": rows["breakdown"], "category": rows["category"], "victims": rows["value"].round().astype("Int64"),
        "population": rows["area_code"].map(population).astype("int64"), "suppressed": rows["suppressed"],
    })
    out["rate_per_100000"] = (out["victims"].astype("Float64") * 100_000 / out["population"])
    return out.reset_index(drop=True)[SDG_COLUMNS]


def _csv(frame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8-sig")  # BOM: Excel reads the Serbian letters right


def _xlsx(sheets: dict) -> bytes:
    """One sheet per frame, header first. openpyxl's write-only mode streams the rows (pandas' to_excel
    makes every cell an object first: several times slower on a year's indicators); a missing value
    (a suppressed count) stays an empty cell."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    for name, frame in sheets.items():
        sheet = book.create_sheet(name[:31])
        sheet.append([str(c) for c in frame.columns])
        columns = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in frame.columns]
        for row in zip(*columns):
            sheet.append([v.item() if hasattr(v, "item") else v for v in row])
        del columns
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def write_files(data_root: str, year: str, indicator_rows, crim, sdg, catalogue) -> list:
    """<data_root>/exports/<year>/: national_indicators_<year>.csv and .xlsx, crim_thb_<year>.csv,
    sdg_16_2_2_<year>.csv. Each file is written whole, then renamed into place."""
    from thb_reporting.storage import storage_path, write_atomically

    folder = storage_path(data_root) / "exports" / year
    year_rows = indicator_rows[indicator_rows["period"].str.startswith(year)]
    files = {
        f"national_indicators_{year}.csv": _csv(year_rows),
        f"national_indicators_{year}.xlsx": _xlsx({
            "nacija_nation": year_rows[year_rows["level"] == "nation"],
            "okruzi_districts": year_rows[year_rows["level"] == "district"],
            "timovi_teams": year_rows[year_rows["level"] == "team"],
            "pokazatelji_indicators": catalogue,
        }),
        f"crim_thb_{year}.csv": _csv(crim[crim["time"] == year]),
        f"sdg_16_2_2_{year}.csv": _csv(sdg[sdg["year"] == year]),
    }
    written = []
    for name, content in files.items():
        write_atomically(folder / name, content)
        written.append(folder / name)
    return written
