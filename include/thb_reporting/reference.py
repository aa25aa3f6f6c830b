"""Reference data shipped with the package as CSV files: teams, districts, code lists, countries."""
from __future__ import annotations

import csv
from dataclasses import dataclass
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


def _rows(name: str | Path) -> list[dict[str, str]]:
    with open(REFERENCE_DIR / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# The team registry in force: the package's teams.csv unless a configuration names another file with the
# same columns (PipelineConfig.teams_registry, variable thb_teams_registry), e.g. all 145 municipalities.
_teams_registry: Path | None = None


def use_teams_registry(path: str | Path | None) -> None:
    """Make the registry at `path` (a local path or file:// URL; None: the package's teams.csv) the one
    that teams(), population() and everything built on them read from now on."""
    global _teams_registry
    new = Path(str(path).removeprefix("file://")).resolve() if path else None
    if new != _teams_registry:
        _teams_registry = new
        for name in ("teams", "population", "reporting_obligations"):  # everything cached that reads it
            getattr(globals().get(name), "cache_clear", lambda: None)()


def teams_registry_path() -> Path:
    return _teams_registry or REFERENCE_DIR / "teams.csv"


@cache
def code_lists() -> dict[str, tuple[Code, ...]]:
    lists: dict[str, list[Code]] = {}
    for row in _rows("code_lists.csv"):
        lists.setdefault(row["code_list"], []).append(Code(row["code"], row["label_sr"], row["label_en"]))
    lists["country"] = [Code(r["code"], r["label_sr"], r["label_en"]) for r in _rows("countries.csv")]
    return {name: tuple(codes) for name, codes in lists.items()}


def codes(code_list: str) -> tuple[str, ...]:
    try:
        return tuple(c.code for c in code_lists()[code_list])
    except KeyError:
        raise KeyError(f"unknown code list {code_list!r}; see {REFERENCE_DIR / 'code_lists.csv'}") from None


@cache
def eu_members() -> frozenset[str]:
    return frozenset(r["code"] for r in _rows("countries.csv") if r["eu_member"] == "yes")


@cache
def teams() -> dict[str, Team]:
    out = {}
    for r in _rows(teams_registry_path()):
        emails = tuple(e.strip() for e in r.pop("contact_emails").split(";") if e.strip())
        r.pop("population", None)  # optional in a registry: see population()
        out[r["municipality_code"]] = Team(contact_emails=emails, **r)
    return out


@cache
def districts() -> dict[str, dict[str, str]]:
    return {r["district_code"]: r for r in _rows("districts.csv")}


@cache
def population() -> dict[str, int]:
    """Population per municipality code, and of the nation under 'RS' (see population.csv for the source;
    the figures must be checked against the statistical office's release before an export is published)."""
    out = {r["area_code"]: int(r["population"]) for r in _rows("population.csv")}
    for r in _rows(teams_registry_path()):  # a registry may give the population of its own municipalities
        if r.get("population") and r["municipality_code"] not in out:
            out[r["municipality_code"]] = int(r["population"])
    return out


@cache
def eurostat_codes() -> dict[tuple[str, str], str]:
    """(dimension, our code) → Eurostat crim_thb code."""
    return {(r["dimension"], r["code"]): r["eurostat_code"] for r in _rows("eurostat.csv")}


@cache
def national_contacts() -> dict[str, dict[str, str]]:
    """role (national_coordinator, sender) → {"email": …, "name": …}."""
    return {r["role"]: {"email": r["email"], "name": r["name"]} for r in _rows("national_contacts.csv")}


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


# --- the reporting calendar: deadlines and obligations, as the national coordinator publishes them ----
DEFAULT_DEADLINE_DAYS = 15  # after the quarter's end, for a quarter reporting_calendar.csv does not list


@cache
def reporting_calendar() -> dict[str, dict]:
    """quarter → {"deadline": date, "note_sr": …, "note_en": …} from reporting_calendar.csv."""
    import datetime as dt

    from thb_reporting.quarters import Quarter

    out = {}
    for line, r in enumerate(_rows("reporting_calendar.csv"), start=2):
        quarter = Quarter.parse(r["quarter"])
        deadline = dt.date.fromisoformat(r["deadline"])
        if deadline <= quarter.end:
            raise ValueError(f"reporting_calendar.csv line {line}: the deadline {deadline} of {quarter} "
                             f"is not after the quarter's end ({quarter.end})")
        out[str(quarter)] = {"deadline": deadline, "note_sr": r["note_sr"], "note_en": r["note_en"]}
    return out


@dataclass(frozen=True)
class Obligation:
    """One line of reporting_obligations.csv; `*` matches every team or dataset; an empty first quarter
    means the team's active_since, an empty last quarter means open-ended. Later lines override earlier."""
    team_code: str
    dataset: str
    first_quarter: str
    last_quarter: str
    owes: bool


@cache
def reporting_obligations() -> tuple[Obligation, ...]:
    from thb_reporting import contracts
    from thb_reporting.quarters import Quarter

    known_teams, known_datasets = set(teams()), set(contracts.datasets())
    out = []
    for line, r in enumerate(_rows("reporting_obligations.csv"), start=2):
        where = f"reporting_obligations.csv line {line}"
        if r["team_code"] != "*" and r["team_code"] not in known_teams:
            raise ValueError(f"{where}: team {r['team_code']!r} is not in teams.csv")
        if r["dataset"] != "*" and r["dataset"] not in known_datasets:
            raise ValueError(f"{where}: dataset {r['dataset']!r} is not one of {sorted(known_datasets)}")
        for column in ("first_quarter", "last_quarter"):
            if r[column]:
                Quarter.parse(r[column])
        if r["owes"] not in ("yes", "no"):
            raise ValueError(f"{where}: owes must be yes or no, not {r['owes']!r}")
        out.append(Obligation(r["team_code"], r["dataset"], r["first_quarter"], r["last_quarter"], r["owes"] == "yes"))
    return tuple(out)
