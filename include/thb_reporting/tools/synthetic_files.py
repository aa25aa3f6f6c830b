"""Synthetic data as files: a generated file's rows encoded in the formats teams use (encode: CSV in UTF-8
with and without BOM, Windows-1250 with ';' as Excel writes it in the Serbian locale, XLSX from the template or a
team's own workbook), and a synthetic team registry of every municipality (synthetic_registry) for the scale
benchmarks and tests. Apart from thb_reporting.tools.generator, which invents the rows, so that each stays a size
to read (#21). Everything here is invented; nothing describes a real person."""
from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

from thb_reporting.core import contracts, reference


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
        from thb_reporting.core.templates import xlsx_template

        contract = next((c for c in reversed(contracts.versions(dataset)) if list(columns) == list(c.column_names)), None)
        if contract is not None:  # the template of the version whose columns these are
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
    local teams: the real registry's local teams first, then invented municipalities ('opstina_014', …)
    spread over the districts outside Kosovo and Metohija, for scale tests of a registry with every
    municipality; then the real registry's units of national scope (the Centre), which have no municipality."""
    rng = random.Random(seed)
    real = list(reference.teams(reference.PACKAGE_TEAMS).values())
    population = reference.population(reference.PACKAGE_TEAMS)
    districts = [d for d in reference.districts().values() if d["region_code"] != "RS-KM"]

    def row(t):
        return {"municipality_code": t.municipality_code, "name_lat": t.name_lat, "name_cyr": t.name_cyr,
                "district_code": t.district_code, "district_lat": t.district_lat, "district_cyr": t.district_cyr,
                "contact_emails": ";".join(t.contact_emails), "active_since": t.active_since,
                "population": population.get(t.municipality_code, ""), "scope": t.scope, "datasets": t.datasets}

    rows = [row(t) for t in real if t.scope == "local"][:municipalities]
    for n in range(len(rows) + 1, municipalities + 1):
        d = districts[n % len(districts)]
        rows.append({"municipality_code": f"opstina_{n:03d}", "name_lat": f"Opština {n:03d}",
                     "name_cyr": f"Општина {n:03d}", "district_code": d["district_code"], "district_lat": d["name_lat"],
                     "district_cyr": d["name_cyr"], "contact_emails": f"tim.opstina{n:03d}@example.org",
                     "active_since": "2024Q1", "population": rng.randint(5_000, 120_000), "scope": "local", "datasets": ""})
    rows += [row(t) for t in real if t.scope != "local"]
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target
