"""Reference data shipped with the package as CSV files: teams, districts, code lists, countries."""
from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

REFERENCE_DIR = Path(__file__).parent / "reference"


@dataclass(frozen=True)
class Code:
    code: str
    label_sr: str
    label_en: str


@dataclass(frozen=True)
class Team:
    municipality_code: str  # also the team's inbox folder name
    name_lat: str
    name_cyr: str
    district_code: str
    district_lat: str
    district_cyr: str
    contact_emails: tuple[str, ...]
    active_since: str  # first quarter the team owes submissions, e.g. 2024Q1
    # local: a team of one municipality, whose figures are a part of the nation's; national: a unit whose
    # records cover the whole country for its datasets (the Centre for Protection of Victims of
    # Trafficking, CZŽTLJ, for victims). Optional columns of the registry (thb_reporting.figures.coverage).
    scope: str = "local"
    datasets: str = ""  # the datasets the unit reports, ';'-separated; empty: every dataset

    def reports(self, dataset: str) -> bool:
        """Whether the unit reports (and owes) the dataset at all: the Centre reports victims only."""
        return not self.datasets or dataset in self.datasets.split(";")

    @property
    def district(self) -> str | None:
        """The district the unit's municipality lies in; None for a unit of national scope (the Centre
        has no municipality: its rows count at team and nation level, in no district)."""
        return self.district_code or None


def csv_rows(name: str | Path) -> list[dict[str, str]]:
    with open(REFERENCE_DIR / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@cache
def code_lists() -> dict[str, tuple[Code, ...]]:
    lists: dict[str, list[Code]] = {}
    for row in csv_rows("code_lists.csv"):
        lists.setdefault(row["code_list"], []).append(Code(row["code"], row["label_sr"], row["label_en"]))
    lists["country"] = [Code(r["code"], r["label_sr"], r["label_en"]) for r in csv_rows("countries.csv")]
    return {name: tuple(codes) for name, codes in lists.items()}


def codes(code_list: str) -> tuple[str, ...]:
    try:
        return tuple(c.code for c in code_lists()[code_list])
    except KeyError:
        raise KeyError(f"unknown code list {code_list!r}; see {REFERENCE_DIR / 'code_lists.csv'}") from None


@cache
def standard_codes(standard: str) -> dict[tuple[str, str], dict[str, str]]:
    """A standard's value of each national code (reference/standard_codes.csv; standard: 'HTCDS 2.0' or
    'CTDC'): {(code_list, code): {field: value}}."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for r in csv_rows("standard_codes.csv"):
        if r["standard"] == standard:
            out.setdefault((r["code_list"], r["code"]), {})[r["field"]] = r["value"]
    return out


@cache
def standard_sources() -> dict[str, dict[str, str]]:
    """Where each standard's field and values come from (reference/standard_sources.csv), by field."""
    return {r["field"]: r for r in csv_rows("standard_sources.csv")}


@cache
def eu_members() -> frozenset[str]:
    return frozenset(r["code"] for r in csv_rows("countries.csv") if r["eu_member"] == "yes")


@dataclass(frozen=True)
class Population:
    value: int
    year: int       # the year the figure is of (a census or the statistical office's mid-year estimate)
    source: str


# The year of the census whose figures TeamRegistry.population gives (the public SDG export and the
# coverage of a figure use them); per-year figures: TeamRegistry.population_in.
POPULATION_CENSUS_YEAR = 2022


def _population_figures() -> dict[str, dict[int, Population]]:
    figures: dict[str, dict[int, Population]] = {}
    for r in csv_rows("population.csv"):
        year = int(r["year"])
        if year in figures.setdefault(r["area_code"], {}):
            raise ValueError(f"population.csv: two figures for {r['area_code']} in {year}")
        figures[r["area_code"]][year] = Population(int(r["population"]), year, r["source"])
    return figures


PACKAGE_TEAMS = REFERENCE_DIR / "teams.csv"  # the registry when a configuration names none


@dataclass(frozen=True)
class TeamRegistry(Mapping):
    """The teams of one registry file (the columns of reference/teams.csv), by municipality code in the
    file's order, with the population of every municipality known (population.csv, then the registry's own
    optional population column). A configuration holds the one it names (PipelineConfig.teams) and passes
    it on: no registry is ever "in force" for the whole process, so two configurations cannot fight."""
    path: Path
    by_code: dict[str, Team] = field(compare=False, repr=False)
    population: dict[str, int] = field(compare=False, repr=False)  # of the census year (POPULATION_CENSUS_YEAR)
    # area → year → Population: every figure of population.csv (a registry's own column counts as the census year's)
    population_by_year: dict[str, dict[int, "Population"]] = field(default_factory=dict, compare=False, repr=False)

    def __getitem__(self, code: str) -> Team:
        return self.by_code[code]

    def __iter__(self):
        return iter(self.by_code)

    def __len__(self) -> int:
        return len(self.by_code)

    def population_in(self, area: str, year: int | str) -> Population | None:
        """The population of an area for a year: that year's figure, else the latest earlier one (its
        `year` then says which; a caller that must not use another year's figure checks it), else None."""
        figures = self.population_by_year.get(area, {})
        earlier = [y for y in figures if y <= int(year)]
        return figures[max(earlier)] if earlier else None


def teams(registry: str | Path | None = None) -> TeamRegistry:
    """The registry at `registry` (a local path or file:// URL; None: the package's teams.csv), read once
    per path."""
    return _read_registry(Path(str(registry).removeprefix("file://")).resolve() if registry else PACKAGE_TEAMS)


@cache
def _read_registry(path: Path) -> TeamRegistry:
    by_year = _population_figures()
    by_code = {}
    for r in csv_rows(path):
        emails = tuple(e.strip() for e in r.pop("contact_emails").split(";") if e.strip())
        own = r.pop("population", None)  # optional: a registry may give the population of its municipalities
        if own and r["municipality_code"] not in by_year:
            by_year[r["municipality_code"]] = {POPULATION_CENSUS_YEAR: Population(
                int(own), POPULATION_CENSUS_YEAR, f"team registry {path.name} (taken as of the census year)")}
        if not r.get("scope"):
            r.pop("scope", None)  # an empty optional column: the default
        by_code[r["municipality_code"]] = Team(contact_emails=emails, **r)
    population = {area: f[POPULATION_CENSUS_YEAR].value for area, f in by_year.items() if POPULATION_CENSUS_YEAR in f}
    return TeamRegistry(path, by_code, population, by_year)


def population(registry: str | Path | None = None) -> dict[str, int]:
    """Population per municipality code of the registry, and of the nation under 'RS', of the census year
    (POPULATION_CENSUS_YEAR; see population.csv for the source; the figures must be checked against the
    statistical office's release before an export is published). Per year: TeamRegistry.population_in."""
    return teams(registry).population


@cache
def districts() -> dict[str, dict[str, str]]:
    return {r["district_code"]: r for r in csv_rows("districts.csv")}


@cache
def eurostat_codes() -> dict[tuple[str, str], str]:
    """(dimension, our code) → Eurostat crim_thb code."""
    return {(r["dimension"], r["code"]): r["eurostat_code"] for r in csv_rows("eurostat.csv")}


@dataclass(frozen=True)
class SdgCode:
    component: str     # a dimension or attribute of the SDG data structure (or CONF_STATUS, added by us)
    code: str
    label_en: str
    national_code: str  # what it stands for here: our code, or a role (all_victims, per_100000:<series> …)
    code_list: str     # agency:id(version) of its code list
    source: str        # where the code was read (structure URN and copy)


@cache
def sdg_codes() -> dict[str, tuple[SdgCode, ...]]:
    """component → the SDG data structure's codes the SDG 16.2.2 transmission uses (reference/sdg.csv)."""
    out: dict[str, list[SdgCode]] = {}
    for r in csv_rows("sdg.csv"):
        out.setdefault(r["component"], []).append(SdgCode(**r))
    return {component: tuple(codes) for component, codes in out.items()}


@cache
def sdg_series_of_exploitation() -> dict[str, str]:
    """National form of exploitation → the SDG 16.2.2 count series of its group (reference/sdg_exploitation.csv)."""
    return {r["exploitation"]: r["sdg_series"] for r in csv_rows("sdg_exploitation.csv")}


@cache
def eurostat_transmission() -> dict[tuple[str, str], dict[str, str]]:
    """(code list, our code) → its row of eurostat_transmission.csv (eurostat_code, label_en, confirmed,
    source): the codes the Eurostat transmission adds to eurostat.csv's, and where each came from."""
    return {(r["code_list"], r["code"]): r for r in csv_rows("eurostat_transmission.csv")}


@cache
def national_contacts() -> dict[str, dict[str, str]]:
    """role (national_coordinator, sender) → {"email": …, "name": …}."""
    return {r["role"]: {"email": r["email"], "name": r["name"]} for r in csv_rows("national_contacts.csv")}


_CYRILLIC = dict(zip("абвгдђежзијклљмнњопрстћуфхцчџшАБВГДЂЕЖЗИЈКЛЉМНЊОПРСТЋУФХЦЧЏШ",
                     ["a", "b", "v", "g", "d", "đ", "e", "ž", "z", "i", "j", "k", "l", "lj", "m", "n", "nj", "o", "p",
                      "r", "s", "t", "ć", "u", "f", "h", "c", "č", "dž", "š",
                      "A", "B", "V", "G", "D", "Đ", "E", "Ž", "Z", "I", "J", "K", "L", "Lj", "M", "N", "Nj", "O", "P",
                      "R", "S", "T", "Ć", "U", "F", "H", "C", "Č", "Dž", "Š"]))


def to_latin(text: str) -> str:
    """Serbian Cyrillic to Latin script (one to one, as the two scripts are used in Serbia)."""
    return "".join(_CYRILLIC.get(ch, ch) for ch in text)


def code_choice(code: Code) -> str:
    """A code as the template's drop-down offers it, 'Serbian / English (code)': the team picks by label,
    the pipeline keeps the code."""
    label = code.label_sr if code.label_sr == code.label_en else f"{code.label_sr} / {code.label_en}"
    return f"{label} ({code.code})"


@cache
def code_aliases(code_list: str) -> dict[str, str]:
    """Every way a team may write a code, lower-cased, in Latin script → the code: the code itself, its
    Serbian and its English label, and the drop-down's choice (code_choice). A label shared by two codes
    of the list is left out (ambiguous)."""
    seen: dict[str, set[str]] = {}
    for c in code_lists()[code_list]:
        for alias in (c.code, c.label_sr, c.label_en, code_choice(c)):
            seen.setdefault(to_latin(alias).strip().lower(), set()).add(c.code)
    return {alias: next(iter(codes)) for alias, codes in seen.items() if len(codes) == 1}
