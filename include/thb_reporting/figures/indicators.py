"""National indicators computed from the published rows (catalogue: indicators.yaml).

Counts per team, district and nation, per quarter and year, in one long table. A person reported with
the same CPTV referral number (the same token) several times counts once per area and period: once in
each team that reported them, once in the district, once nationally; of two reports, the one referred
first is kept. The Centre for Protection of Victims of Trafficking (a unit of national scope, no
municipality) reports every person it referred or identified: its rows make its own team-level rows and
count at nation level, where the CPTV number links them to the local teams' rows (a person once); they
count in no district (the Centre's records do not say where a person was met). A programme reported in
several quarters counts once in the year (its latest report).
"""
from __future__ import annotations

from thb_reporting.core.contracts import band_bounds
from thb_reporting.figures.indicator_catalogue import catalogue, category_key  # noqa: F401  (catalogue: its callers' name)

NOT_STATED = "not_stated"
LEVELS = ("team", "district", "nation")
PERIODS = ("quarter", "year")
NATION = "RS"
VICTIM_STATUSES = ("possible_victim", "identified_victim")
MULTIPLE_FORMS = "multiple_forms"
# access to justice: victims contract version 2 (2026Q3); a quarter validated under version 1 has no such
# column, and its persons count as not stated
ACCESS_TO_JUSTICE = ("compensation", "free_legal_aid", "residence_permit")
OUTPUT_COLUMNS = ["indicator", "level", "area_code", "period", "breakdown", "category", "value"]


# Band lists of stored ages: the current one (CTDC's bands) and the one snapshots written before victims v2 hold
AGE_BAND_LISTS = ("age_band", "age_band_v1")


def age_group_of_band() -> dict[str, str]:
    """child for bands that end below 18, adult for the rest (of every band list snapshots hold: both nest
    into <18/18+); 'unknown' stays unknown."""
    groups = {code: ("child" if high is not None and high < 18 else "adult")
              for bands in AGE_BAND_LISTS for code, _, high in band_bounds(bands)}
    groups["unknown"] = "unknown"
    return groups


def victims_by_team_quarter(victims):
    """Persons by team, quarter, status, sex, child/adult and form of exploitation (a person with
    several forms counts once under each; one with none under 'not_stated'). `victims` is a pyarrow
    Table of national.victims rows; returns a pyarrow Table shaped like the indicator table."""
    import pyarrow as pa

    frame = victims.select(["team_code", "quarter", "status", "sex", "age_band", "exploitation"]).to_pandas()
    frame["age_group"] = frame["age_band"].map(age_group_of_band())
    frame["exploitation"] = frame["exploitation"].fillna(NOT_STATED).str.split(";")
    frame = frame.explode("exploitation")
    keys = ["team_code", "quarter", "status", "sex", "age_group", "exploitation"]
    counts = frame.groupby(keys, sort=True).size().rename("victims").reset_index()
    return pa.Table.from_pandas(counts.astype({k: "str" for k in keys} | {"victims": "int64"}), preserve_index=False)


def _grouped(frame, category, value=1):
    """Sum of value per area, period and category."""
    import pandas as pd

    part = pd.DataFrame({"area_code": frame["area_code"], "period": frame["period"], "category": category,
                         "value": value}, index=frame.index)
    return part.groupby(["area_code", "period", "category"], sort=False)["value"].sum().reset_index()


def _exploded(frame, column: str, empty: str | None = NOT_STATED):
    """One row per code of a multi-code column, the code in _category; `empty` stands for no code."""
    codes = frame[column].str.split(";") if empty is None else frame[column].fillna(empty).str.split(";")
    exploded = frame.assign(_category=codes).explode("_category")
    return exploded[exploded["_category"].notna()]


class _Emitter:
    """Collects indicator rows for one level."""

    def __init__(self, level: str):
        self.level, self.parts = level, []

    def add(self, frame, indicator: str, breakdown: str, category, value=1):
        if not frame.empty:
            self.parts.append(_grouped(frame, category, value).assign(indicator=indicator, breakdown=breakdown, level=self.level))

    def share(self, frame, indicator: str, breakdown: str, category, codes, denominators, value=1):
        """The sum of value per code over the denominator of its area and period, every code included."""
        import pandas as pd

        numerators = _grouped(frame, category, value) if not frame.empty else pd.DataFrame(
            columns=["area_code", "period", "category", "value"])
        grid = denominators.merge(pd.DataFrame({"category": list(codes)}), how="cross")
        merged = grid.merge(numerators, on=["area_code", "period", "category"], how="left")
        merged["value"] = merged["value"].astype("float64").fillna(0) / merged["denominator"]
        self.parts.append(merged.drop(columns="denominator").assign(indicator=indicator, breakdown=breakdown, level=self.level))


def deduplicated(persons):
    """One row per person per area and period: rows with the same CPTV token count once, the one
    referred first (then by team and row) kept."""
    ordered = persons.sort_values(["referral_date", "team_code", "source_row"], kind="stable")
    tokened = ordered["cptv_ref_token"].notna()
    return ordered[~tokened | ~ordered.duplicated(["area_code", "period", "cptv_ref_token"])]


def form_once(exploitation):
    """A person's form of exploitation counted once: the one code, MULTIPLE_FORMS for two or more,
    NOT_STATED for none (a Series of ';'-joined codes in, a Series of categories out)."""
    codes = exploitation.fillna("").str.split(";").map(lambda forms: sorted({f for f in forms if f}))
    return codes.map(lambda forms: NOT_STATED if not forms else (forms[0] if len(forms) == 1 else MULTIPLE_FORMS))


def stated(frame, column: str):
    """The column's codes with NOT_STATED for an empty cell, or for every row when the rows' contract
    version has no such column."""
    import pandas as pd

    if column not in frame:
        return pd.Series(NOT_STATED, index=frame.index, dtype="object")
    return frame[column].astype("object").where(frame[column].notna() & (frame[column] != ""), NOT_STATED)


def national_victims_of_year(victims, year: str):
    """The victims (identified and presumed) of a year, one row per person nationally (deduplicated as
    the indicators are): what every transmission and the research export count from."""
    persons = victims[victims["quarter"].str.startswith(str(year))].assign(area_code=NATION, period=str(year))
    persons = deduplicated(persons)
    return persons[persons["status"].isin(VICTIM_STATUSES)]


def _victim_indicators(out: _Emitter, persons) -> None:
    from thb_reporting.core import reference

    persons = deduplicated(persons)
    out.add(persons, "persons_by_status", "status", persons["status"])
    out.add(persons, "persons_referred", "total", "total")
    source = stated(persons, "referral_source")
    out.add(persons, "persons_referred", "referral_source", source)
    out.add(persons, "persons_referred", "referral_source_status", category_key(source, persons["status"]))
    victims = persons[persons["status"].isin(VICTIM_STATUSES)]
    out.add(victims, "victims", "total", "total")
    out.add(victims, "victims", "sex", victims["sex"])
    out.add(victims, "victims", "age_group", victims["age_band"].map(age_group_of_band()))
    forms = _exploded(victims, "exploitation")
    out.add(forms, "victims", "exploitation", forms["_category"])
    out.add(victims, "victims", "citizenship", victims["citizenship"].map(lambda c: "serbian" if c == "RS" else "foreign"))
    out.add(victims, "victims", "migration_status", victims["migration_status"])
    out.add(victims, "victims", "exploitation_once", form_once(victims["exploitation"]))
    for breakdown in ACCESS_TO_JUSTICE:
        out.add(victims, "victims", breakdown, stated(victims, breakdown))
    served = _exploded(victims, "services", empty=None)
    out.add(served, "victims_receiving_service", "service", served["_category"])
    in_programme = victims[victims["reintegration_programme"] == "yes"]
    out.add(in_programme, "victims_in_reintegration", "total", "total")
    denominators = victims.groupby(["area_code", "period"]).size().rename("denominator").reset_index()
    out.share(served, "share_receiving_service", "service", served["_category"], reference.codes("service"), denominators)
    out.share(in_programme, "share_in_reintegration", "total", "total", ["total"], denominators)
    if out.level == "team":
        shared = victims[victims["cptv_ref_token"].notna()]
        teams_per_person = shared.groupby(["period", "cptv_ref_token"])["team_code"].transform("nunique")
        also = shared[teams_per_person > 1]
        out.add(also, "victims_also_reported_by_another_team", "total", "total")


def _criminal_justice_indicators(out: _Emitter, rows) -> None:
    pair = category_key(rows["article"], rows["stage"])
    out.add(rows, "prosecution_persons", "article_stage", pair, rows["persons_male"] + rows["persons_female"])
    out.add(rows, "prosecution_persons", "article_stage_sex", category_key(pair, "male"), rows["persons_male"])
    out.add(rows, "prosecution_persons", "article_stage_sex", category_key(pair, "female"), rows["persons_female"])
    out.add(rows, "prosecution_cases", "article_stage", pair, rows["cases"])


def _programme_indicators(out: _Emitter, rows) -> None:
    rows = rows.sort_values("quarter", kind="stable").drop_duplicates(["team_code", "programme_ref", "period"], keep="last")
    out.add(rows, "programme_funding_rsd", "total", "total", rows["amount_rsd"])
    out.add(rows, "programme_funding_rsd", "funding_source", rows["funding_source"], rows["amount_rsd"])
    totals = rows.groupby(["area_code", "period"])["amount_rsd"].sum().rename("denominator").reset_index()
    totals = totals[totals["denominator"] > 0]
    local = rows[rows["funding_source"] == "local_migration_council"]
    out.share(local, "share_funding_local_migration_councils", "total", "total", ["total"], totals, local["amount_rsd"])
    out.add(rows, "programmes", "total", "total")
    out.add(rows, "programmes", "type", rows["type"])
    out.add(rows, "programme_beneficiaries", "total", "total", rows["beneficiaries"])
    out.add(rows, "programme_beneficiaries", "type", rows["type"], rows["beneficiaries"])


def _activity_indicators(out: _Emitter, rows) -> None:
    out.add(rows, "activities", "total", "total")
    for breakdown in ("type", "with_migration_council", "public_visibility"):
        out.add(rows, "activities", breakdown, rows[breakdown])
    out.add(rows, "people_reached", "total", "total", rows["participants"])
    out.add(rows, "people_reached", "type", rows["type"], rows["participants"])


def _cross_border_indicators(out: _Emitter, rows) -> None:
    out.add(rows, "cross_border_events", "total", "total")
    for breakdown in ("counterpart_country", "kind", "direction", "mixed_migration"):
        out.add(rows, "cross_border_events", breakdown, rows[breakdown])
    out.add(rows, "cross_border_persons", "total", "total", rows["persons"])
    out.add(rows, "cross_border_persons", "counterpart_country", rows["counterpart_country"], rows["persons"])


BY_DATASET = {"victims": _victim_indicators, "criminal_justice": _criminal_justice_indicators,
              "programmes": _programme_indicators, "activities": _activity_indicators,
              "cross_border": _cross_border_indicators}


def national_indicators(facts: dict, district_of: dict[str, str], levels: tuple[str, ...] = LEVELS,
                        periods: tuple[str, ...] = PERIODS):
    """Every indicator for every level (of `levels`) and period (quarters, years: of `periods`) found in
    `facts` (dataset → pandas DataFrame of published rows with team_code and quarter). Each period is
    computed on its own: the quarters' rows are the same with or without the years'. Returns a DataFrame
    of OUTPUT_COLUMNS."""
    import pandas as pd

    parts = []
    for level in levels:
        out = _Emitter(level)
        for dataset, rows in facts.items():
            if rows is None or rows.empty:
                continue
            area = {"team": rows["team_code"], "district": rows["team_code"].map(district_of).replace("", None),
                    "nation": pd.Series(NATION, index=rows.index)}[level]
            if level == "district":  # a unit of national scope (the Centre) lies in no district
                rows, area = rows[area.notna()], area[area.notna()]
                if rows.empty:
                    continue
            for period in periods:
                BY_DATASET[dataset](out, rows.assign(
                    area_code=area, period=rows["quarter"] if period == "quarter" else rows["quarter"].str.slice(0, 4)))
        parts.extend(out.parts)
    if not parts:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    result = pd.concat(parts, ignore_index=True)[OUTPUT_COLUMNS]
    result["value"] = result["value"].astype("float64")
    return result.sort_values(OUTPUT_COLUMNS[:-1], kind="stable").reset_index(drop=True)
