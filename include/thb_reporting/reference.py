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
    # Trafficking, CZŽTLJ, for victims). Optional columns of the registry (thb_reporting.coverage).
    scope: str = "local"
    datasets: str = ""  # the datasets the unit reports, ';'-separated; empty: every dataset


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


PACKAGE_TEAMS = REFERENCE_DIR / "teams.csv"  # the registry when a configuration names none


@dataclass(frozen=True)
class TeamRegistry(Mapping):
    """The teams of one registry file (the columns of reference/teams.csv), by municipality code in the
    file's order, with the population of every municipality known (population.csv, then the registry's own
    optional population column). A configuration holds the one it names (PipelineConfig.teams) and passes
    it on: no registry is ever "in force" for the whole process, so two configurations cannot fight."""
    path: Path
    by_code: dict[str, Team] = field(compare=False, repr=False)
    population: dict[str, int] = field(compare=False, repr=False)

    def __getitem__(self, code: str) -> Team:
        return self.by_code[code]

    def __iter__(self):
        return iter(self.by_code)

    def __len__(self) -> int:
        return len(self.by_code)


def teams(registry: str | Path | None = None) -> TeamRegistry:
    """The registry at `registry` (a local path or file:// URL; None: the package's teams.csv), read once
    per path."""
    return _read_registry(Path(str(registry).removeprefix("file://")).resolve() if registry else PACKAGE_TEAMS)


@cache
def _read_registry(path: Path) -> TeamRegistry:
    by_code, population = {}, {r["area_code"]: int(r["population"]) for r in csv_rows("population.csv")}
    for r in csv_rows(path):
        emails = tuple(e.strip() for e in r.pop("contact_emails").split(";") if e.strip())
        own = r.pop("population", None)  # optional: a registry may give the population of its municipalities
        if own and r["municipality_code"] not in population:
            population[r["municipality_code"]] = int(own)
        if not r.get("scope"):
            r.pop("scope", None)  # an empty optional column: the default
        by_code[r["municipality_code"]] = Team(contact_emails=emails, **r)
    return TeamRegistry(path, by_code, population)


def population(registry: str | Path | None = None) -> dict[str, int]:
    """Population per municipality code of the registry, and of the nation under 'RS' (see population.csv
    for the source; the figures must be checked against the statistical office's release before an export
    is published)."""
    return teams(registry).population


@cache
def districts() -> dict[str, dict[str, str]]:
    return {r["district_code"]: r for r in csv_rows("districts.csv")}


@cache
def eurostat_codes() -> dict[tuple[str, str], str]:
    """(dimension, our code) → Eurostat crim_thb code."""
    return {(r["dimension"], r["code"]): r["eurostat_code"] for r in csv_rows("eurostat.csv")}


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
