"""Synthetic submissions: seeded and deterministic, with the ground truth they imply.

Everything here is invented: case references, referral numbers and people are generated. Files come in
the formats teams really use (CSV in UTF-8 with and without BOM, Windows-1250 with ';', XLSX from the
template), and given errors can be planted in given files. The truth is computed here from the
generated people, independently of the pipeline's own code, so that tests can compare the published
figures with it.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from thb_reporting import contracts, reference
from thb_reporting.quarters import Quarter

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


@dataclass
class Truth:
    """What the pipeline must make of the generated files."""
    files: list[GeneratedFile] = field(default_factory=list)

    def current(self, dataset: str = "victims") -> dict[tuple[str, str], GeneratedFile]:
        """Per team and quarter, the last accepted file written (a re-submission replaces)."""
        out = {}
        for f in self.files:
            if f.dataset == dataset and f.expected_status == "accepted":
                out[(f.team, f.quarter)] = f
        return out

    def rows(self, dataset: str) -> list[tuple[str, str, dict]]:
        """(team, quarter, row) of every row that must be published for a dataset."""
        return [(t, q, r) for (t, q), f in sorted(self.current(dataset).items()) for r in f.rows]

    def victims_by_team_quarter(self) -> Counter:
        counts = Counter()
        for team, quarter, p in self.rows("victims"):
            age = p["age_years"]
            group = "unknown" if age is None else ("child" if age < 18 else "adult")
            for form in (p["exploitation"].split(";") if p["exploitation"] else ["not_stated"]):
                counts[(team, quarter, p["status"], p["sex"], group, form)] += 1
        return counts

    def published_rows(self, dataset: str = "victims") -> int:
        return len(self.rows(dataset))

    def indicators(self, district_of: dict[str, str]) -> dict[tuple, float]:
        """Every indicator the pipeline must publish, computed here in plain Python from the generated
        rows: {(indicator, level, area, period, breakdown, category): value}. Zeros of counts are absent
        unless a row gave them; shares are given for every code of an area and period with victims."""
        out: dict[tuple, float] = defaultdict(float)
        statuses = ("possible_victim", "identified_victim")
        areas = {"team": lambda t: t, "district": lambda t: district_of[t], "nation": lambda t: "RS"}
        services = reference.codes("service")
        for level, area_of in areas.items():
            for period_of in (lambda q: q, lambda q: q[:4]):
                def add(indicator, area, period, breakdown, category, value=1):
                    out[(indicator, level, area, period, breakdown, category)] += value

                # victims: one person per CPTV number per area and period, the first referred kept
                people = sorted(((r["referral_date"], t, i, q, r) for t, q, rows in self._files_rows("victims")
                                 for i, r in enumerate(rows)), key=lambda x: x[:3])
                kept, seen = [], set()
                for _, team, _, quarter, r in people:
                    key = (area_of(team), period_of(quarter), " ".join(r["cptv_ref"].split()).upper()) if r["cptv_ref"] else None
                    if key and key in seen:
                        continue
                    seen.add(key)
                    kept.append((team, area_of(team), period_of(quarter), r))
                victims_per = Counter()
                teams_per_number = defaultdict(set)
                for team, area, period, r in kept:
                    add("persons_by_status", area, period, "status", r["status"])
                    if r["status"] not in statuses:
                        continue
                    victims_per[(area, period)] += 1
                    add("victims", area, period, "total", "total")
                    add("victims", area, period, "sex", r["sex"])
                    age = r["age_years"]
                    add("victims", area, period, "age_group", "unknown" if age is None else ("child" if age < 18 else "adult"))
                    for form in (r["exploitation"] or "not_stated").split(";"):
                        add("victims", area, period, "exploitation", form)
                    add("victims", area, period, "citizenship", "serbian" if r["citizenship"] == "RS" else "foreign")
                    add("victims", area, period, "migration_status", r["migration_status"])
                    for service in (r["services"] or "").split(";"):
                        if service:
                            add("victims_receiving_service", area, period, "service", service)
                    if r["reintegration_programme"] == "yes":
                        add("victims_in_reintegration", area, period, "total", "total")
                    if r["cptv_ref"]:
                        teams_per_number[(period, " ".join(r["cptv_ref"].split()).upper())].add(team)
                for (area, period), n in victims_per.items():
                    for service in services:
                        out[("share_receiving_service", level, area, period, "service", service)] = \
                            out.get(("victims_receiving_service", level, area, period, "service", service), 0) / n
                    out[("share_in_reintegration", level, area, period, "total", "total")] = \
                        out.get(("victims_in_reintegration", level, area, period, "total", "total"), 0) / n
                if level == "team":
                    for team, area, period, r in kept:
                        if r["status"] in statuses and r["cptv_ref"] and len(
                                teams_per_number[(period, " ".join(r["cptv_ref"].split()).upper())]) > 1:
                            add("victims_also_reported_by_another_team", area, period, "total", "total")

                for team, quarter, rows in self._files_rows("criminal_justice"):
                    area, period = area_of(team), period_of(quarter)
                    for r in rows:
                        pair = f"{r['article']}/{r['stage']}"
                        add("prosecution_persons", area, period, "article_stage", pair, r["persons_male"] + r["persons_female"])
                        add("prosecution_persons", area, period, "article_stage_sex", pair + "/male", r["persons_male"])
                        add("prosecution_persons", area, period, "article_stage_sex", pair + "/female", r["persons_female"])
                        add("prosecution_cases", area, period, "article_stage", pair, r["cases"])

                latest = {}  # a programme counts once per period: its latest report
                for team, quarter, rows in sorted(self._files_rows("programmes"), key=lambda x: x[1]):
                    for r in rows:
                        latest[(team, r["programme_ref"], period_of(quarter))] = (area_of(team), r)
                funding = defaultdict(lambda: [0, 0])
                for (_, _, period), (area, r) in latest.items():
                    add("programme_funding_rsd", area, period, "total", "total", r["amount_rsd"])
                    add("programme_funding_rsd", area, period, "funding_source", r["funding_source"], r["amount_rsd"])
                    add("programmes", area, period, "total", "total")
                    add("programmes", area, period, "type", r["type"])
                    add("programme_beneficiaries", area, period, "total", "total", r["beneficiaries"])
                    add("programme_beneficiaries", area, period, "type", r["type"], r["beneficiaries"])
                    funding[(area, period)][0] += r["amount_rsd"] if r["funding_source"] == "local_migration_council" else 0
                    funding[(area, period)][1] += r["amount_rsd"]
                for (area, period), (local, total) in funding.items():
                    if total:
                        out[("share_funding_local_migration_councils", level, area, period, "total", "total")] = local / total

                for team, quarter, rows in self._files_rows("activities"):
                    area, period = area_of(team), period_of(quarter)
                    for r in rows:
                        add("activities", area, period, "total", "total")
                        for breakdown in ("type", "with_migration_council", "public_visibility"):
                            add("activities", area, period, breakdown, r[breakdown])
                        add("people_reached", area, period, "total", "total", r["participants"])
                        add("people_reached", area, period, "type", r["type"], r["participants"])

                for team, quarter, rows in self._files_rows("cross_border"):
                    area, period = area_of(team), period_of(quarter)
                    for r in rows:
                        add("cross_border_events", area, period, "total", "total")
                        for breakdown in ("counterpart_country", "kind", "direction", "mixed_migration"):
                            add("cross_border_events", area, period, breakdown, r[breakdown])
                        add("cross_border_persons", area, period, "total", "total", r["persons"])
                        add("cross_border_persons", area, period, "counterpart_country", r["counterpart_country"], r["persons"])
        return dict(out)

    def crim_thb(self) -> dict[tuple, int]:
        """{(time, leg_stat, sex, citizen, expl): victims}, each person once nationally per year."""
        codes, eu = reference.eurostat_codes(), reference.eu_members()
        people = sorted(((r["referral_date"], t, i, q, r) for t, q, rows in self._files_rows("victims")
                         for i, r in enumerate(rows)), key=lambda x: x[:3])
        seen, out = set(), Counter()
        for _, _, _, quarter, r in people:
            key = (quarter[:4], " ".join(r["cptv_ref"].split()).upper()) if r["cptv_ref"] else None
            if key and key in seen:
                continue
            seen.add(key)
            if r["status"] not in ("possible_victim", "identified_victim"):
                continue
            citizen = "reporting_country" if r["citizenship"] == "RS" else ("other_eu" if r["citizenship"] in eu else "non_eu")
            groups = {codes[("expl", f)] for f in (r["exploitation"] or "").split(";") if f} or {"UNK"}
            for group in groups:
                out[(quarter[:4], codes[("leg_stat", r["status"])], codes[("sex", r["sex"])],
                     codes[("citizen", citizen)], group)] += 1
        return dict(out)

    def sdg_16_2_2(self, district_of: dict[str, str]) -> dict[tuple, float]:
        """{(level, area, year, breakdown, category): victims per 100,000 population}."""
        population = reference.population()
        return {(level, area, period, breakdown, category): value * 100_000 / population[area]
                for (indicator, level, area, period, breakdown, category), value in self.indicators(district_of).items()
                if indicator == "victims" and level in ("team", "nation") and len(period) == 4
                and breakdown in ("total", "sex", "age_group", "exploitation")}

    def _files_rows(self, dataset: str) -> list[tuple[str, str, list[dict]]]:
        return [(t, q, f.rows) for (t, q), f in sorted(self.current(dataset).items())]

    def references(self) -> set[str]:
        """Every case and CPTV reference written into any file (they must never appear in clear after ingestion)."""
        return {r[k] for f in self.files if f.dataset == "victims" for r in f.rows for k in ("case_ref", "cptv_ref") if r[k]}


class SubmissionGenerator:
    def __init__(self, inbox: Path, seed: int = 2026, shared_persons: int = 0):
        """shared_persons: how many people of each team's victims file the next team in the registry
        reports too, under the same CPTV number (in the same quarter), as happens when two teams meet
        one person."""
        self.inbox = Path(inbox)
        self.seed = seed
        self.shared_persons = shared_persons
        self.truth = Truth()
        self._serial = Counter()
        self._with_cptv: dict[str, list[dict]] = {}  # quarter → the last victims file's own people with a CPTV number
        self.shared: list[tuple[str, str, str]] = []  # (quarter, team, CPTV number) of each person reported again

    def _rng(self, *parts) -> random.Random:
        return random.Random(f"{self.seed}:" + ":".join(map(str, parts)))

    @staticmethod
    def _day(rng: random.Random, quarter: Quarter) -> dt.date:
        return quarter.start + dt.timedelta(days=rng.randrange((quarter.end - quarter.start).days + 1))

    @staticmethod
    def _prefix(team: str) -> str:
        return "".join(ch for ch in reference.teams()[team].name_lat.upper() if ch.isalpha())[:2]

    def victims_rows(self, rng: random.Random, team: str, quarter: Quarter, n: int) -> list[dict]:
        rows = [self.person(rng, team, quarter) for _ in range(n)]
        if self.shared_persons:
            own = [r for r in rows if r["cptv_ref"]]
            for person in self._with_cptv.get(str(quarter), [])[: self.shared_persons]:
                self._serial[team] += 1  # the same person under this team's own case reference
                rows.insert(rng.randrange(len(rows) + 1),
                            {**person, "case_ref": f"{self._prefix(team)}-{quarter.year}-{self._serial[team]:04d}"})
                self.shared.append((str(quarter), team, person["cptv_ref"]))
            self._with_cptv[str(quarter)] = own
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
        return {
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
                     version: int = 1, file_format: str | None = None, rows: int | None = None) -> GeneratedFile:
        """Write one team's file of a dataset for a quarter into <inbox>/<team>/ and record its truth."""
        quarter = Quarter.parse(quarter) if isinstance(quarter, str) else quarter
        rng = self._rng(dataset, team, quarter, version)
        teams = list(reference.teams())
        file_format = file_format or FORMATS[(teams.index(team) + contracts.datasets().index(dataset)) % len(FORMATS)]
        contract = contracts.load(dataset)
        data_rows = getattr(self, f"{dataset}_rows")(rng, team, quarter, rows or rng.randint(4, 24))
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
        self.truth.files.append(generated)
        return generated

    def victims_file(self, team: str, quarter: Quarter | str, *, people: int | None = None, **kw) -> GeneratedFile:
        return self.dataset_file("victims", team, quarter, rows=people, **kw)

    def scenario(self, teams: list[str], quarters: list[str], plants: dict[tuple, str] | None = None,
                 datasets: tuple[str, ...] = ("victims",)) -> Truth:
        """Every team's file of every dataset for every quarter. plants maps (team, quarter) for victims, or
        (team, quarter, dataset), to a plant."""
        plants = plants or {}
        for quarter in quarters:
            for dataset in datasets:
                for team in teams:
                    plant = plants.get((team, quarter, dataset)) or (plants.get((team, quarter)) if dataset == "victims" else None)
                    self.dataset_file(dataset, team, quarter, plant=plant)
        return self.truth


def _cell(value, file_format: str):
    """A value as a file of the format holds it. XLSX keeps real numbers and dates; CSV saved by Excel in
    the Serbian locale (csv_cp1250) writes dates as day.month.year. and numbers from a thousand on in its
    number format, 1.250.000,00 (written_forms reads both back to the same values)."""
    if value is None:
        return None if file_format == "xlsx" else ""
    if isinstance(value, dt.date):
        return value if file_format == "xlsx" else (value.strftime("%d.%m.%Y.") if file_format == "csv_cp1250" else value.isoformat())
    if file_format == "csv_cp1250" and isinstance(value, int) and abs(value) >= 1000:
        return f"{value:,}".replace(",", ".") + ",00"
    return value


def encode(dataset: str, rows: list[dict], columns: list[str], file_format: str) -> bytes:
    if file_format == "xlsx":
        from thb_reporting.templates import xlsx_template

        contract = contracts.load(dataset)
        if list(columns) == list(contract.column_names):
            return xlsx_template(contract, [{c: _cell(r.get(c), "xlsx") for c in columns} for r in rows])
        from openpyxl import Workbook  # a team's own workbook that does not follow the template

        book = Workbook()
        book.active.append(columns)
        for r in rows:
            book.active.append([_cell(r.get(c), "xlsx") for c in columns])
        buf = io.BytesIO()
        book.save(buf)
        return buf.getvalue()
    delimiter = "," if file_format == "csv_utf8" else ";"
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([_cell(r.get(c), file_format) for c in columns])
    text = out.getvalue()
    if file_format == "csv_cp1250":
        return text.encode("cp1250")
    return text.encode("utf-8-sig" if file_format == "csv_utf8_bom" else "utf-8")



def synthetic_registry(target: Path, municipalities: int = 145, seed: int = 145) -> Path:
    """A team registry (the columns of reference/teams.csv, with a population column) of `municipalities`
    teams: the real registry's teams first, then invented municipalities ('opstina_014', …) spread over
    the districts outside Kosovo and Metohija, for scale tests of a registry with every municipality."""
    rng = random.Random(seed)
    real = list(reference.teams().values())
    population = reference.population()
    districts = [d for d in reference.districts().values() if d["region_code"] != "RS-KM"]
    rows = [{"municipality_code": t.municipality_code, "name_lat": t.name_lat, "name_cyr": t.name_cyr,
             "district_code": t.district_code, "district_lat": t.district_lat, "district_cyr": t.district_cyr,
             "contact_emails": ";".join(t.contact_emails), "active_since": t.active_since,
             "population": population.get(t.municipality_code, "")} for t in real[:municipalities]]
    for n in range(len(rows) + 1, municipalities + 1):
        d = districts[n % len(districts)]
        rows.append({"municipality_code": f"opstina_{n:03d}", "name_lat": f"Opština {n:03d}",
                     "name_cyr": f"Општина {n:03d}", "district_code": d["district_code"], "district_lat": d["name_lat"],
                     "district_cyr": d["name_cyr"], "contact_emails": f"tim.opstina{n:03d}@example.org",
                     "active_since": "2024Q1", "population": rng.randint(5_000, 120_000)})
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target
