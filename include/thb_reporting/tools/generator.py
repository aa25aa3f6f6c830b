"""Synthetic submissions, seeded and deterministic, for `thb demo`, `thb generate`, the benchmarks and
the tests.

Everything here is invented: case references, referral numbers and people are generated. Files come in
the formats teams really use (CSV in UTF-8 with and without BOM, Windows-1250 with ';', XLSX from the
template; thb_reporting.tools.synthetic_files writes them), and given errors can be planted in given files.
Each file written is recorded as plain data (GeneratedFile: its rows and what was planted); the figures the
pipeline must publish from them are the tests' oracle (tests/support/oracle.py), not the product's.
"""
from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from thb_reporting.core import contracts, reference
from thb_reporting.core.quarters import Quarter
from thb_reporting.tools.synthetic_files import encode

FORMATS = ("csv_utf8", "csv_utf8_bom", "csv_cp1250", "xlsx")

# Planted errors: the rule the pipeline must name for each. Most apply to any dataset and pick their
# column from the contract; the last ones belong to one dataset.
PLANTS = {
    "unknown_code": "code_list",              # a code that is not in the code list
    "date_outside_quarter": "within_quarter",  # a date after the quarter
    "missing_column": "missing_column",       # a required column deleted
    "jmbg": "personal_identifier",            # a valid JMBG typed into a cell
    "email": "personal_identifier",           # an e-mail address in a cell
    "extra_column": "unknown_column",         # a column 'ime' (first name) added
    "negative_count": "range",                # -3 in a count
    "cross_border_without_country": "required_when",  # victims
    "age_out_of_range": "range",              # victims: age 130
    "age_not_a_number": "whole_number",       # victims: age 'dvadeset'
    "conviction_above_indictment": "stage_not_above",  # criminal_justice
    "end_before_start": "date_order",         # programmes
}
CITIZENSHIPS = ["RS"] * 14 + ["AF", "SY", "MK", "BA", "AL", "PK", "UA", "CN", "BD", "RO"]
DESTINATIONS = ["DE", "AT", "MK", "HU", "GR", "IT", "ME", "BA", "CH", "TR"]
VALID_JMBG = "0101100710006"  # a syntactically valid JMBG from DOMAIN.md's examples (no real person)
PROGRAMME_NAMES = ["Sigurna kuća – smeštaj žrtava", "Ekonomsko osnaživanje žrtava", "Radionice u srednjim školama",
                   "Pravna pomoć i zastupanje", "Obuka stručnjaka centra za socijalni rad", "Psihosocijalna podrška"]
TARGET_GROUPS = ["učenici srednjih škola", "socijalni radnici", "policijski službenici", "migranti u centrima",
                 "zdravstveni radnici", "opšta javnost"]


@dataclass
class GeneratedFile:
    team: str
    quarter: str
    dataset: str
    file_name: str
    path: Path
    file_format: str
    rows: list[dict]
    plant: str | None = None
    planted_row: int | None = None  # spreadsheet row of the planted error, where it is in one row
    planted_column: str | None = None
    planted_rule: str | None = None  # the rule the pipeline must name

    @property
    def people(self) -> list[dict]:  # victims rows are people
        return self.rows

    @property
    def expected_status(self) -> str:
        return "rejected" if self.plant else "accepted"

    @property
    def expected_rule(self) -> str | None:
        return self.planted_rule


class SubmissionGenerator:
    def __init__(self, inbox: Path, seed: int = 2026, shared_persons: int = 0,
                 teams: reference.TeamRegistry | None = None):
        """shared_persons: how many people of each team's victims file the next team in the registry
        reports too, under the same CPTV number (in the same quarter), as happens when two teams meet
        one person. teams: the registry the files are for (a configuration's; default the package's)."""
        self.inbox = Path(inbox)
        self.seed = seed
        self.shared_persons = shared_persons
        self.teams = teams if teams is not None else reference.teams(reference.PACKAGE_TEAMS)
        self.files: list[GeneratedFile] = []  # every file written, in order
        self._serial = Counter()
        self._with_cptv: dict[str, list[dict]] = {}  # quarter → the last victims file's own people with a CPTV number
        self.shared: list[tuple[str, str, str]] = []  # (quarter, team, CPTV number) of each person reported again
        self._referred: dict[str, list[dict]] = {}  # quarter → local teams' people with a CPTV number (for the Centre)

    def _rng(self, *parts) -> random.Random:
        return random.Random(f"{self.seed}:" + ":".join(map(str, parts)))

    @staticmethod
    def _day(rng: random.Random, quarter: Quarter) -> dt.date:
        return quarter.start + dt.timedelta(days=rng.randrange((quarter.end - quarter.start).days + 1))

    def _prefix(self, team: str) -> str:
        return "".join(ch for ch in self.teams[team].name_lat.upper() if ch.isalpha())[:2]

    def victims_rows(self, rng: random.Random, team: str, quarter: Quarter, n: int) -> list[dict]:
        if team in self.teams and self.teams[team].scope == "national":
            return self.centre_victims_rows(rng, team, quarter, n)
        rows = [self.person(rng, team, quarter) for _ in range(n)]
        self._referred.setdefault(str(quarter), []).extend(r for r in rows if r["cptv_ref"])
        if self.shared_persons:
            own = [r for r in rows if r["cptv_ref"]]
            for person in self._with_cptv.get(str(quarter), [])[: self.shared_persons]:
                self._serial[team] += 1  # the same person under this team's own case reference
                rows.insert(rng.randrange(len(rows) + 1),
                            {**person, "case_ref": f"{self._prefix(team)}-{quarter.year}-{self._serial[team]:04d}"})
                self.shared.append((str(quarter), team, person["cptv_ref"]))
            self._with_cptv[str(quarter)] = own
        return rows

    def centre_victims_rows(self, rng: random.Random, team: str, quarter: Quarter, n: int) -> list[dict]:
        """The Centre's file (a unit of national scope): about two thirds of the people with a CPTV number
        that local teams' victims files of the quarter written so far hold (whether or not those files are
        accepted), under the same CPTV number and the Centre's own case reference, and `n` people no local
        team saw, each with a CPTV number (the Centre gives it)."""
        rows = []
        for person in self._referred.get(str(quarter), []):
            if rng.random() < 0.67:
                self._serial[team] += 1
                rows.append({**person, "case_ref": f"{self._prefix(team)}-{quarter.year}-{self._serial[team]:04d}"})
        for _ in range(n):
            person = self.person(rng, team, quarter)
            person["cptv_ref"] = person["cptv_ref"] or f"CZŽTL-{quarter.year}/{rng.randrange(10**10):010d}"
            rows.insert(rng.randrange(len(rows) + 1), person)
        return rows

    def person(self, rng: random.Random, team: str, quarter: Quarter) -> dict:
        codes = {c.name: c.allowed_codes for c in contracts.load("victims").columns}
        self._serial[team] += 1
        status = rng.choices(["possible_victim", "identified_victim", "not_a_victim"], [50, 38, 12])[0]
        age = None if rng.random() < 0.06 else (rng.randint(6, 17) if rng.random() < 0.3 else rng.randint(18, 64))
        citizenship = rng.choice(CITIZENSHIPS)
        cross_border = rng.random() < 0.22
        forms = [] if status == "not_a_victim" and rng.random() < 0.6 else sorted(set(
            rng.choices(["sexual", "labour", "begging", "criminality", "forced_marriage", "servitude", "pornography", "other"],
                        [40, 30, 10, 6, 6, 3, 3, 2], k=rng.choice([1, 1, 1, 2]))))
        row = {
            "case_ref": f"{self._prefix(team)}-{quarter.year}-{self._serial[team]:04d}",
            # wide enough that two people share a number only by design
            "cptv_ref": f"CZŽTL-{quarter.year}/{rng.randrange(10**10):010d}" if rng.random() < 0.45 else None,
            "referral_date": self._day(rng, quarter),
            "status": status,
            "identified_by": rng.choice(codes["identified_by"]) if status == "identified_victim" else None,
            "sex": rng.choices(["female", "male", "other_unknown"], [70, 28, 2])[0],
            "age_years": age,
            "citizenship": citizenship,
            "exploitation": ";".join(forms) or None,
            "referral_source": rng.choice(codes["referral_source"]),
            "migration_status": "none" if citizenship == "RS" else rng.choice(["asylum_seeker", "refugee", "irregular_migrant", "regular_migrant"]),
            "cross_border": "yes" if cross_border else "no",
            "country_of_exploitation": rng.choice(DESTINATIONS) if cross_border else None,
            "services": ";".join(sorted(rng.sample(codes["services"], rng.randint(0, 3)))) or None,
            "reintegration_programme": "yes" if rng.random() < 0.3 else "no",
        }
        return row | self.case_standard_fields(team, quarter, row, age, forms)

    def case_standard_fields(self, team: str, quarter: Quarter, row: dict, age: int | None, forms: list[str]) -> dict:
        """The fields victims v2 adds (HTCDS and access to justice), for quarters under v2; drawn from a
        random stream of their own, so the version 1 fields of every quarter stay as they were."""
        if contracts.for_quarter("victims", quarter).version < 2:
            return {}
        rng = self._rng("victims_v2", team, quarter, self._serial[team])
        victim = row["status"] != "not_a_victim"
        known = lambda p: rng.random() < p  # noqa: E731  (how often a team knows the field)
        methods = sorted(set(rng.choices(
            ["debt_bondage", "withholds_documents", "threats_law_enforcement", "psychological_abuse", "physical_abuse",
             "false_promises", "takes_earnings", "physical_threats", "restricts_financial_access", "other"],
            [14, 12, 6, 16, 10, 18, 10, 8, 4, 2], k=rng.randint(1, 3))))
        labour_industry = rng.choices(
            ["a_agriculture_forestry_fishing", "f_construction", "c_manufacturing",
             "i_accommodation_food_service", "t_households_as_employers"], [30, 30, 15, 15, 10])[0]
        return {
            "methods_of_control": ";".join(methods) if victim and known(0.7) else None,
            "relationship_to_trafficker": rng.choices(["familial", "acquainted", "unacquainted"], [25, 45, 30])[0]
            if victim and known(0.75) else None,
            "age_when_trafficked": age - rng.randint(0, min(age, 4)) if age is not None and victim and known(0.8) else None,
            "forced_labour_industry": labour_industry if "labour" in forms and known(0.85) else None,
            # asked for everyone from v2: mostly Serbia when not cross-border, sometimes not known
            "country_of_exploitation": row["country_of_exploitation"] or ("RS" if known(0.9) else None),
            "compensation": rng.choices(["not_claimed", "claimed_pending", "awarded", "rejected"], [50, 25, 15, 10])[0]
            if victim and known(0.8) else None,
            "free_legal_aid": rng.choice(["yes", "no"]) if victim and known(0.85) else None,
            "residence_permit": ("not_applicable" if row["citizenship"] == "RS" else
                                 rng.choices(["applied", "granted", "refused"], [30, 55, 15])[0]) if known(0.9) else None,
        }

    def criminal_justice_rows(self, rng: random.Random, team: str, quarter: Quarter, n: int) -> list[dict]:
        """A funnel per article: each stage has no more persons than the one before."""
        rows = []
        stages = list(reference.codes("justice_stage"))
        for article in ["388"] + (["390"] if rng.random() < 0.3 else []) + (["389"] if rng.random() < 0.1 else []):
            male, female = rng.randint(0, 6), rng.randint(0, 4)
            for stage in stages:
                cases = min(max(male, female), rng.randint(1, 3)) if male + female else 0
                rows.append({"article": article, "stage": stage, "persons_male": male, "persons_female": female, "cases": cases})
                male, female = rng.randint(0, male), rng.randint(0, female)
        return rows

    def programmes_rows(self, rng: random.Random, team: str, quarter: Quarter, n: int) -> list[dict]:
        rows = []
        for i in range(1, min(n, 5) + 1):
            start = quarter.start - dt.timedelta(days=rng.randint(-60, 300))
            start = min(start, quarter.end)
            end = None if rng.random() < 0.4 else max(start, quarter.start) + dt.timedelta(days=rng.randint(0, 200))
            rows.append({
                "programme_ref": f"PRG-{self._prefix(team)}-{quarter.year}-{i:02d}",
                "name": rng.choice(PROGRAMME_NAMES),
                "type": rng.choice(reference.codes("programme_type")),
                "funding_source": rng.choices(reference.codes("funding_source"), [35, 20, 15, 15, 10, 5])[0],
                "amount_rsd": rng.randrange(50_000, 2_500_000, 1000),
                "beneficiaries": rng.randint(0, 60),
                "start_date": start,
                "end_date": end,
                "partner": rng.choice([None, "Udruženje Atina", "IOM", "Crveni krst", "Centar za socijalni rad"]),
            })
        return rows

    def activities_rows(self, rng: random.Random, team: str, quarter: Quarter, n: int) -> list[dict]:
        return [{
            "activity_date": self._day(rng, quarter),
            "type": rng.choice(reference.codes("activity_type")),
            "participants": rng.randint(3, 250),
            "target_group": rng.choice(TARGET_GROUPS + [None]),
            "with_migration_council": "yes" if rng.random() < 0.35 else "no",
            "public_visibility": "yes" if rng.random() < 0.5 else "no",
        } for _ in range(min(n, 12))]

    def cross_border_rows(self, rng: random.Random, team: str, quarter: Quarter, n: int) -> list[dict]:
        return [{
            "event_date": self._day(rng, quarter),
            "counterpart_country": rng.choice(["MK", "MK", "MK", "HU", "BA", "ME", "RO", "BG", "HR", "AT", "DE"]),
            "counterpart_type": rng.choice(reference.codes("counterpart_type")),
            "direction": rng.choice(reference.codes("cooperation_direction")),
            "kind": rng.choice(reference.codes("cooperation_kind")),
            "persons": rng.randint(0, 15),
            "mixed_migration": "yes" if rng.random() < 0.5 else "no",
        } for _ in range(max(1, min(n, 6)))]

    def _plant(self, plant: str, contract, cells: list[dict], columns: list[str], rng, quarter: Quarter):
        """Damage the rows as the plant says; returns (row, column, rule) of the damage."""
        i = rng.randrange(len(cells))
        cols = contract.columns
        first = lambda pred: next(c.name for c in cols if pred(c))  # noqa: E731
        if plant == "unknown_code":
            column = first(lambda c: c.type == "code")
            cells[i][column] = "nepoznato"
        elif plant == "date_outside_quarter":
            column = first(lambda c: c.within_quarter or c.not_after_quarter_end)
            cells[i][column] = quarter.end + dt.timedelta(days=40)
            if contract.column(column).not_after_quarter_end:
                cells[i]["end_date"] = None  # so that only the start date is wrong
                return i + 2, column, "not_after_quarter_end"
        elif plant == "missing_column":
            column = "sex" if contract.dataset == "victims" else [c.name for c in cols if c.required][-1]
            columns.remove(column)
            return None, column, PLANTS[plant]
        elif plant in ("jmbg", "email"):
            texts = [c.name for c in cols if c.type == "text"] or [cols[-1].name]
            column = texts[0] if plant == "jmbg" else texts[min(1, len(texts) - 1)]
            cells[i][column] = VALID_JMBG if plant == "jmbg" else "osoba.primer@example.org"
        elif plant == "extra_column":
            columns.append("ime")  # a column for the person's first name: never in the template
            for c in cells:
                c["ime"] = "Marko"
            return None, "ime", PLANTS[plant]
        elif plant == "negative_count":
            column = first(lambda c: c.type == "integer" and c.min == 0 and c.required)
            cells[i][column] = -3
        elif plant == "cross_border_without_country" and contract.dataset == "victims":
            column = "country_of_exploitation"
            cells[i]["cross_border"], cells[i][column] = "yes", None
        elif plant == "age_out_of_range" and contract.dataset == "victims":
            column, cells[i]["age_years"] = "age_years", 130
        elif plant == "age_not_a_number" and contract.dataset == "victims":
            column, cells[i]["age_years"] = "age_years", "dvadeset"
        elif plant == "conviction_above_indictment" and contract.dataset == "criminal_justice":
            column = "stage"
            i = next(k for k, r in enumerate(cells) if r["stage"] == "final_conviction")
            indicted = next(r for r in cells if r["article"] == cells[i]["article"] and r["stage"] == "indictment")
            cells[i]["persons_male"] = indicted["persons_male"] + indicted["persons_female"] + 1
        elif plant == "end_before_start" and contract.dataset == "programmes":
            column = "end_date"
            # both dates inside the quarter, the end before the start: only the order is wrong
            cells[i]["start_date"] = quarter.start + dt.timedelta(days=20)
            cells[i]["end_date"] = quarter.start + dt.timedelta(days=5)
        else:
            raise ValueError(f"plant {plant!r} does not apply to {contract.dataset}; known: {', '.join(PLANTS)}")
        return i + 2, column, PLANTS[plant]

    def dataset_file(self, dataset: str, team: str, quarter: Quarter | str, *, plant: str | None = None,
                     version: int = 1, file_format: str | None = None, rows: int | None = None,
                     template_version: int | None = None) -> GeneratedFile:
        """Write one team's file of a dataset for a quarter into <inbox>/<team>/ and record it (self.files).
        template_version: made from that earlier template of the dataset (without the columns later versions
        added; its rows hold them as not stated), instead of the one in force for the quarter."""
        quarter = Quarter.parse(quarter) if isinstance(quarter, str) else quarter
        rng = self._rng(dataset, team, quarter, version)
        teams = list(self.teams)
        file_format = file_format or FORMATS[(teams.index(team) + contracts.datasets().index(dataset)) % len(FORMATS)]
        contract = contracts.for_quarter(dataset, quarter)  # the columns of the version in force for the quarter
        data_rows = getattr(self, f"{dataset}_rows")(rng, team, quarter, rows or rng.randint(4, 24))
        if template_version is not None and template_version < contract.version:
            lacking = dict.fromkeys(c.name for c in contract.later_columns(template_version))
            data_rows = [{**r, **lacking} for r in data_rows]
            contract = contracts.versions(dataset)[template_version - 1]
        columns = list(contract.column_names)
        cells = [dict(r) for r in data_rows]
        planted_row = planted_column = planted_rule = None
        if plant:
            planted_row, planted_column, planted_rule = self._plant(plant, contract, cells, columns, rng, quarter)
        suffix = "" if version == 1 else f"_v{version}"
        name = f"{dataset}_{quarter}{suffix}.{'xlsx' if file_format == 'xlsx' else 'csv'}"
        path = self.inbox / team / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(dataset, cells, columns, file_format))
        generated = GeneratedFile(team, str(quarter), dataset, name, path, file_format, rows=data_rows,
                                  plant=plant, planted_row=planted_row, planted_column=planted_column,
                                  planted_rule=planted_rule)
        self.files.append(generated)
        return generated

    def victims_file(self, team: str, quarter: Quarter | str, *, people: int | None = None, **kw) -> GeneratedFile:
        return self.dataset_file("victims", team, quarter, rows=people, **kw)

    def scenario(self, teams: list[str], quarters: list[str], plants: dict[tuple, str] | None = None,
                 datasets: tuple[str, ...] = ("victims",)) -> list[GeneratedFile]:
        """Every team's file of every dataset it reports (registry) for every quarter; a unit of national
        scope (the Centre) after the local teams of the list, so that its file holds people they reported.
        plants maps (team, quarter) for victims, or
        (team, quarter, dataset), to a plant. Returns self.files: every file written so far."""
        plants = plants or {}
        teams = sorted(teams, key=lambda t: t in self.teams and self.teams[t].scope == "national")  # stable
        for quarter in quarters:
            for dataset in datasets:
                for team in teams:
                    if team in self.teams and not self.teams[team].reports(dataset):
                        continue  # the Centre reports victims only
                    plant = plants.get((team, quarter, dataset)) or (plants.get((team, quarter)) if dataset == "victims" else None)
                    self.dataset_file(dataset, team, quarter, plant=plant)
        return self.files
