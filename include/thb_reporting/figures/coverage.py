"""What a figure covers: the reporting units whose accepted submissions it sums, and whether that is the
nation.

Local teams see a part of the country's cases. A figure is the nation's only where a unit of national
scope (reference.Team.scope == "national", e.g. the Centre for Protection of Victims of Trafficking for
victims) has an accepted submission of the dataset for every quarter the figure sums; otherwise it is the
sum of the units listed, covering their municipalities' population. Every national figure and export row
carries its Coverage; nothing labels a partial sum as the country.

A period is complete only where every quarter it has (a year's four) is: each submission the reporting
calendar says is owed for it (store.reporting_calendar.owed_submissions, passed in as `owed`) is accepted.
A quarter with no data counts as not complete, so a "2026" summed from 2026Q2 and 2026Q3 says so
(`incomplete`), and the transmissions flag it provisional (transmissions.model.partial_year). Pure: no I/O.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from thb_reporting.core import reference
from thb_reporting.core.quarters import is_year

NATION_LABEL = "nation"
UNITS_LABEL = "units"


@dataclass(frozen=True)
class Coverage:
    dataset: str
    period: str                  # a quarter (2026Q3) or a year (2026)
    national: bool               # a national unit reported the dataset for every quarter in `quarters`
    units: tuple[str, ...]       # the reporting units whose accepted submissions the figure sums, sorted
    quarters: tuple[str, ...]    # the quarters of the period with any accepted submission of the dataset
    population: int | None       # of the local units' municipalities; the nation's when national
    nation_population: int | None
    # the quarters of the period not complete: one with no data, or with a submission the reporting calendar
    # says is owed and that is not accepted; empty: every quarter of the period is in
    incomplete: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.incomplete

    def describe_period(self, lang: str = "en") -> str:
        """One line for a reader: '' for a complete period, else which quarters it sums and which are not in."""
        if self.complete:
            return ""
        summed, missing = ", ".join(self.quarters) or "-", ", ".join(self.incomplete)
        if lang == "sr":
            return f"nepotpun period {self.period}: obuhvata {summed}; nisu sve obaveze izveštavanja prihvaćene za {missing}"
        return f"incomplete period {self.period}: sums {summed}; not every owed submission accepted for {missing}"

    @property
    def label(self) -> str:
        """'nation' or 'units' (then `units` says which)."""
        return NATION_LABEL if self.national else UNITS_LABEL

    @property
    def population_share(self) -> float | None:
        if self.population is None or not self.nation_population:
            return None
        return self.population / self.nation_population

    def describe(self, lang: str = "en") -> str:
        """One line for a reader: what the figure covers."""
        if self.national:
            return "cela Republika Srbija (nacionalna jedinica)" if lang == "sr" else "the whole country (national unit)"
        n = len(self.units)
        share = f", {self.population_share:.1%}" if self.population_share is not None else ""
        pop = f"{self.population:,}".replace(",", ".") if self.population is not None else "?"
        if lang == "sr":
            return f"zbir {n} jedinica izveštavanja ({', '.join(self.units)}; stanovništvo {pop}{share}), ne cela zemlja"
        return f"sum of {n} reporting units ({', '.join(self.units)}; population {pop}{share}), not the whole country"


def reports_nationally(team: reference.Team, dataset: str) -> bool:
    return team.scope == "national" and team.reports(dataset)


def quarters_of(period: str) -> tuple[str, ...]:
    """Every quarter a period has: a year's four, or the quarter itself."""
    return tuple(f"{period}Q{n}" for n in range(1, 5)) if is_year(period) else (period,)


def of_submissions(submitted: Iterable[tuple[str, str, str]], teams: reference.TeamRegistry,
                   periods: Iterable[str], owed: Iterable[tuple[str, str, str]] | None = None) -> dict[tuple[str, str], Coverage]:
    """(dataset, period) → Coverage, for every dataset with an accepted submission in a period of
    `periods` (quarters like 2026Q3 and/or years like 2026). `submitted`: (dataset, unit, quarter) of
    the current accepted submissions (publish's ledger view); a unit missing from the registry counts as
    local with no known population. `owed`: (dataset, unit, quarter) the reporting calendar says is owed
    (reporting_calendar.owed_submissions); every quarter of each period is checked against it (None: a
    quarter is complete when it has any accepted submission of the dataset)."""
    by_quarter: dict[tuple[str, str], set[str]] = {}
    for dataset, unit, quarter in submitted:
        by_quarter.setdefault((dataset, quarter), set()).add(unit)
    owed_by_quarter: dict[tuple[str, str], set[str]] = {}
    for dataset, unit, quarter in owed or ():
        owed_by_quarter.setdefault((dataset, quarter), set()).add(unit)
    nation_population = teams.population.get("RS")
    out = {}
    for period in periods:
        for dataset in sorted({d for d, _ in by_quarter}):
            quarters = tuple(sorted(q for d, q in by_quarter if d == dataset and q.startswith(period)))
            if not quarters:
                continue
            units = set().union(*(by_quarter[(dataset, q)] for q in quarters))
            national = all(any(u in teams and reports_nationally(teams[u], dataset) for u in by_quarter[(dataset, q)])
                           for q in quarters)
            local = [u for u in units if not (u in teams and teams[u].scope == "national")]
            known = [teams.population.get(u) for u in local]
            population = nation_population if national else (None if None in known else sum(known))
            incomplete = tuple(q for q in quarters_of(period) if (dataset, q) not in by_quarter
                               or not owed_by_quarter.get((dataset, q), set()) <= by_quarter[(dataset, q)])
            out[(dataset, period)] = Coverage(dataset, period, national, tuple(sorted(units)), quarters, population,
                                              nation_population, incomplete)
    return out


# What the tables and files say of each figure (national.indicators, public_indicators, export_crim_thb,
# sdg_16_2_2 and their files): 'nation' | 'units', the units summed (';'-separated), the population they
# cover (the nation's when national; empty when a unit's is not known, e.g. the Centre's own row).
COLUMNS = ("coverage", "coverage_units", "coverage_population")
# geo / area code of a nation-level sum that is not the nation's (documented in docs/architecture.md):
# never 'RS', which Eurostat and the SDG database read as the country.
PARTIAL_AREA = "RS_PART"


def nation_area(c: Coverage) -> str:
    """The geo/area code of a nation-level figure: the country's only where it covers the nation."""
    from thb_reporting.figures.indicators import NATION

    return NATION if c.national else PARTIAL_AREA


def columns_of(c: Coverage | None) -> dict:
    """The COLUMNS of a figure with this coverage (all empty without one)."""
    if c is None:
        return dict.fromkeys(COLUMNS)
    return {"coverage": c.label, "coverage_units": ";".join(c.units), "coverage_population": c.population}


def of_area(covered: dict[tuple[str, str], Coverage], teams: reference.TeamRegistry, dataset: str, period: str,
            level: str, area: str) -> Coverage | None:
    """The coverage of a figure of `level` (team | district | nation) and `area`: the nation's as
    of_submissions says; a district's the units of the nation's that lie in it; a team's the team alone
    (a unit of national scope included: its own records, not the nation's figure)."""
    whole = covered.get((dataset, period))
    if whole is None:
        return None
    if level == "nation":
        return whole
    units = [u for u in whole.units if (u == area if level == "team" else u in teams and teams[u].district == area)]
    known = [teams.population.get(u) for u in units]
    return Coverage(dataset, period, False, tuple(units), whole.quarters, None if None in known else sum(known),
                    whole.nation_population, whole.incomplete)


def annotate(rows, covered: dict[tuple[str, str], Coverage], teams: reference.TeamRegistry, dataset_of: dict[str, str]):
    """`rows` (indicator rows: indicator, level, area_code, period, …) with the COLUMNS added, from the
    coverage of the indicator's dataset (dataset_of: indicator → dataset) in the row's area and period.
    Rows of an indicator computed from no submissions (the calendar's rates) get empty columns."""
    import pandas as pd

    keys = rows[["indicator", "level", "area_code", "period"]].drop_duplicates()
    found = [columns_of(of_area(covered, teams, dataset_of.get(i), p, lvl, a))
             for i, lvl, a, p in zip(keys["indicator"], keys["level"], keys["area_code"], keys["period"])]
    table = pd.concat([keys.reset_index(drop=True), pd.DataFrame(found, columns=list(COLUMNS))], axis=1)
    table["coverage_population"] = table["coverage_population"].astype("Int64")
    return rows.drop(columns=[c for c in COLUMNS if c in rows], errors="ignore").merge(
        table, on=["indicator", "level", "area_code", "period"], how="left")


def not_in_files(current: dict, periods: Iterable[str]) -> dict[tuple[str, str], dict[str, int]]:
    """(dataset, period) → column → the rows (persons, for victims) of the current submissions whose file
    lacked that column, made from an earlier template (ledger columns_not_in_file): stored as not stated.
    `current`: (dataset, unit, quarter) → its ledger row, as for of_submissions."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for (dataset, _, quarter), sub in sorted(current.items()):
        for column in filter(None, (sub.columns_not_in_file or "").split(",")):
            for period in periods:
                if quarter.startswith(period) and sub.rows_accepted:
                    counts = out.setdefault((dataset, period), {})
                    counts[column] = counts.get(column, 0) + sub.rows_accepted
    return out


def _counted(n: int, threshold: int) -> str:
    """A count of persons as a public note may show it: one that disclosure suppresses (primary_cells: 1 to
    the threshold) as that range."""
    from thb_reporting.figures.disclosure import primary_cells

    return f"1–{threshold}" if primary_cells([n], threshold) else str(n)


def _not_in_file_notes(dataset: str, counts: dict[str, int], threshold: int) -> dict[str, str | None]:
    """national.coverage.not_in_file ('column: count; …') and the sentences that say it, the columns named
    by their labels."""
    from thb_reporting.core.contracts import load

    if not counts:
        return {"not_in_file": None, "sr": "", "en": ""}
    contract = load(dataset)
    shown = {column: _counted(n, threshold) for column, n in sorted(counts.items())}  # each count masked once
    listed = [(contract.column(column).label, n) for column, n in shown.items()]
    return {"not_in_file": "; ".join(f"{column}: {n}" for column, n in shown.items()),
            "sr": "; nije navedeno jer fajl ranijeg šablona nema kolonu: "
                  + ", ".join(f"{label['sr']} ({n} osoba/redova)" for label, n in listed),
            "en": "; not stated because a file of an earlier template lacks the column: "
                  + ", ".join(f"{label['en']} ({n} persons/rows)" for label, n in listed)}


def table_rows(covered: dict[tuple[str, str], Coverage], not_in_file: dict | None = None,
               threshold: int = 0) -> list[dict]:
    """national.coverage: one row per dataset and period, for a ministry to read what each figure covers,
    and how many persons' columns are not stated because their file lacked them (not_in_files)."""
    rows = []
    for key, c in sorted(covered.items()):
        notes = _not_in_file_notes(c.dataset, (not_in_file or {}).get(key, {}), threshold)
        rows.append({"dataset": c.dataset, "period": c.period, "coverage": c.label, "national": c.national,
                     "units": ";".join(c.units), "quarters": ";".join(c.quarters), "population": c.population,
                     "nation_population": c.nation_population, "population_share": c.population_share,
                     "description_sr": "; ".join(filter(None, [c.describe("sr"), c.describe_period("sr")])) + notes["sr"],
                     "description_en": "; ".join(filter(None, [c.describe("en"), c.describe_period("en")])) + notes["en"],
                     "not_in_file": notes["not_in_file"]})
    return rows
