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
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from thb_reporting import contracts, reference
from thb_reporting.quarters import Quarter

FORMATS = ("csv_utf8", "csv_utf8_bom", "csv_cp1250", "xlsx")

# Planted errors: what is done to the file, and the rule the pipeline must name.
PLANTS = {
    "unknown_code": "code_list",            # status = 'victim' in one row
    "date_outside_quarter": "within_quarter",  # a referral date a year earlier
    "missing_column": "missing_column",     # the column sex is deleted
    "jmbg": "personal_identifier",          # a valid JMBG typed into case_ref
    "email": "personal_identifier",         # an e-mail address in cptv_ref
    "cross_border_without_country": "required_when",
    "age_out_of_range": "range",            # age 130
    "age_not_a_number": "whole_number",     # age 'dvadeset'
    "extra_column": "unknown_column",       # a column 'ime' (name) added
}
CITIZENSHIPS = ["RS"] * 14 + ["AF", "SY", "MK", "BA", "AL", "PK", "UA", "CN", "BD", "RO"]
DESTINATIONS = ["DE", "AT", "MK", "HU", "GR", "IT", "ME", "BA", "CH", "TR"]
VALID_JMBG = "0101100710006"  # a syntactically valid JMBG from DOMAIN.md's examples (no real person)


@dataclass
class GeneratedFile:
    team: str
    quarter: str
    dataset: str
    file_name: str
    path: Path
    file_format: str
    people: list[dict]
    plant: str | None = None
    planted_row: int | None = None  # spreadsheet row of the planted error, where it is in one row

    @property
    def expected_status(self) -> str:
        return "rejected" if self.plant else "accepted"

    @property
    def expected_rule(self) -> str | None:
        return PLANTS.get(self.plant) if self.plant else None


@dataclass
class Truth:
    """What the pipeline must make of the generated files."""
    files: list[GeneratedFile] = field(default_factory=list)

    def current(self) -> dict[tuple[str, str], GeneratedFile]:
        """Per team and quarter, the last accepted file written (a re-submission replaces)."""
        out = {}
        for f in self.files:
            if f.expected_status == "accepted":
                out[(f.team, f.quarter)] = f
        return out

    def victims_by_team_quarter(self) -> Counter:
        counts = Counter()
        for (team, quarter), f in self.current().items():
            for p in f.people:
                age = p["age_years"]
                group = "unknown" if age is None else ("child" if age < 18 else "adult")
                for form in (p["exploitation"].split(";") if p["exploitation"] else ["not_stated"]):
                    counts[(team, quarter, p["status"], p["sex"], group, form)] += 1
        return counts

    def published_rows(self) -> int:
        return sum(len(f.people) for f in self.current().values())

    def references(self) -> set[str]:
        """Every case and CPTV reference written into any file (they must never appear in clear after ingestion)."""
        return {p[k] for f in self.files for p in f.people for k in ("case_ref", "cptv_ref") if p[k]}


class SubmissionGenerator:
    def __init__(self, inbox: Path, seed: int = 2026):
        self.inbox = Path(inbox)
        self.seed = seed
        self.truth = Truth()
        self._serial = Counter()

    def _rng(self, *parts) -> random.Random:
        return random.Random(f"{self.seed}:" + ":".join(map(str, parts)))

    def person(self, rng: random.Random, team: str, quarter: Quarter) -> dict:
        contract = contracts.load("victims")
        codes = {c.name: c.allowed_codes for c in contract.columns}
        self._serial[team] += 1
        prefix = "".join(ch for ch in reference.teams()[team].name_lat.upper() if ch.isalpha())[:2]
        status = rng.choices(["possible_victim", "identified_victim", "not_a_victim"], [50, 38, 12])[0]
        age = None if rng.random() < 0.06 else (rng.randint(6, 17) if rng.random() < 0.3 else rng.randint(18, 64))
        citizenship = rng.choice(CITIZENSHIPS)
        cross_border = rng.random() < 0.22
        forms = [] if status == "not_a_victim" and rng.random() < 0.6 else sorted(set(
            rng.choices(["sexual", "labour", "begging", "criminality", "forced_marriage", "servitude", "pornography", "other"],
                        [40, 30, 10, 6, 6, 3, 3, 2], k=rng.choice([1, 1, 1, 2]))))
        day = quarter.start + dt.timedelta(days=rng.randrange((quarter.end - quarter.start).days + 1))
        return {
            "case_ref": f"{prefix}-{quarter.year}-{self._serial[team]:04d}",
            # wide enough that two people share a number only by design
            "cptv_ref": f"CZŽTL-{quarter.year}/{rng.randrange(10**10):010d}" if rng.random() < 0.45 else None,
            "referral_date": day,
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

    def victims_file(self, team: str, quarter: Quarter | str, *, plant: str | None = None, version: int = 1,
                     file_format: str | None = None, people: int | None = None) -> GeneratedFile:
        """Write one team's victims file for a quarter into <inbox>/<team>/ and record its truth."""
        quarter = Quarter.parse(quarter) if isinstance(quarter, str) else quarter
        rng = self._rng("victims", team, quarter, version)
        teams = list(reference.teams())
        file_format = file_format or FORMATS[teams.index(team) % len(FORMATS)]
        rows = [self.person(rng, team, quarter) for _ in range(people or rng.randint(4, 24))]
        columns = list(contracts.load("victims").column_names)
        cells = [dict(r) for r in rows]
        planted_row = None
        if plant:
            i = rng.randrange(len(cells))
            planted_row = i + 2
            if plant == "unknown_code":
                cells[i]["status"] = "victim"
            elif plant == "date_outside_quarter":
                cells[i]["referral_date"] = quarter.start - dt.timedelta(days=400)
            elif plant == "missing_column":
                columns.remove("sex")
                planted_row = None
            elif plant == "jmbg":
                cells[i]["case_ref"] = VALID_JMBG
            elif plant == "email":
                cells[i]["cptv_ref"] = "osoba.primer@example.org"
            elif plant == "cross_border_without_country":
                cells[i]["cross_border"], cells[i]["country_of_exploitation"] = "yes", None
            elif plant == "age_out_of_range":
                cells[i]["age_years"] = 130
            elif plant == "age_not_a_number":
                cells[i]["age_years"] = "dvadeset"
            elif plant == "extra_column":
                columns.append("ime")  # a column for the person's first name: never in the template
                for c in cells:
                    c["ime"] = "Marko"
                planted_row = None
            else:
                raise ValueError(f"unknown plant {plant!r}; known: {', '.join(PLANTS)}")
        suffix = "" if version == 1 else f"_v{version}"
        ext = "xlsx" if file_format == "xlsx" else "csv"
        name = f"victims_{quarter}{suffix}.{ext}"
        path = self.inbox / team / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(cells, columns, file_format))
        generated = GeneratedFile(team, str(quarter), "victims", name, path, file_format,
                                  people=rows, plant=plant, planted_row=planted_row)
        self.truth.files.append(generated)
        return generated

    def scenario(self, teams: list[str], quarters: list[str], plants: dict[tuple[str, str], str] | None = None) -> Truth:
        for quarter in quarters:
            for team in teams:
                self.victims_file(team, quarter, plant=(plants or {}).get((team, quarter)))
        return self.truth


def _cell(value, file_format: str):
    if value is None:
        return None if file_format == "xlsx" else ""
    if isinstance(value, dt.date):
        # XLSX keeps real dates; CSV from Serbian Excel often has day.month.year.
        return value if file_format == "xlsx" else (value.strftime("%d.%m.%Y") if file_format == "csv_cp1250" else value.isoformat())
    return value


def encode(rows: list[dict], columns: list[str], file_format: str) -> bytes:
    if file_format == "xlsx":
        from thb_reporting.templates import xlsx_template

        contract = contracts.load("victims")
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


def touch_in_order(files: list[GeneratedFile]) -> None:
    """Give files strictly increasing modification times in the order given (received order)."""
    base = dt.datetime.now().timestamp() - len(files)
    for i, f in enumerate(files):
        os.utime(f.path, (base + i, base + i))
