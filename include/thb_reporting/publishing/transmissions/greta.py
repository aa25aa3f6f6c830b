"""GRETA-style tables of a year, exact, in one workbook greta_<year>.xlsx (and its metadata sidecar): what
the Council of Europe's Group of Experts (GRETA) asks in its questionnaires' "Statistics on THB" and the
Programme for combating trafficking in human beings 2024–2029 ask of Serbia.

Sheets: metadata; victims by form of exploitation, each person once (one form, or "multiple forms"), by
sex and by children/adults; referral outcome by referral source (identified / presumed / not a victim);
access to justice (compensation, free legal aid, residence permits). One row per cell: the exact count
and `confidential` (C or D) where the disclosure rule (thb_reporting.figures.disclosure) suppresses the cell in the
public tables or, for the crossing of form, sex and age that the public tables do not have, would
suppress it in this table (its primary and secondary suppression run over the table's own sums, with the
published margins' suppression as given: a margin the public tables show is never chosen); C where the count is
1 to the threshold (primary), D where it is hidden to protect another (secondary), as the SDG and Eurostat files.
Every row says its area, RS, and its coverage: the whole country only where the national unit reported every
quarter of the year (thb_reporting.figures.coverage), otherwise which reporting units and what population it
sums. `status` is provisional where the release is, or the year is not complete (transmissions.model.partial_year,
the quarters it covers in `comment`).
"""
from __future__ import annotations

from itertools import product

from thb_reporting.figures import indicator_catalogue
from thb_reporting.figures.indicators import NATION, NOT_STATED
from thb_reporting.publishing.transmissions.model import TransmissionFile, TransmissionInputs, metadata, partial_year

CONFIDENTIAL = "C"
SECONDARY = "D"
TOTAL = indicator_catalogue.TOTAL
# where the tables' headings come from (the brief asked for the 4th round; access to justice is the 3rd's)
QUESTIONNAIRE = ("GRETA, questionnaire for the evaluation of the implementation of the Council of Europe Convention on "
                 "Action against Trafficking in Human Beings, third evaluation round (launched 20 November 2018), "
                 "'Access to justice and effective remedies for victims of trafficking in human beings': Part I "
                 "2 (legal assistance and free legal aid), 3 (compensation from the perpetrators), 4 (State "
                 "compensation); Part III (statistics on THB); "
                 "https://www.coe.int/en/web/anti-human-trafficking/3rd-evaluation-round")
PROGRAMME = "Program za borbu protiv trgovine ljudima u Republici Srbiji 2024–2029 (Action Plan 2024–2026)"
SHEETS = {  # sheet → (indicator, breakdowns) of the catalogue it shows as they are
    "referral_outcome": ("persons_referred", ("total", "referral_source", "referral_source_status")),
    "access_to_justice": ("victims", ("compensation", "free_legal_aid", "residence_permit")),
}
CELL_COLUMNS = ["area", "coverage", "status", "comment", "breakdown", "category", "label_sr", "label_en", "sex",
                "age_group", "value", "confidential"]


def build(inputs: TransmissionInputs, year: str) -> list[TransmissionFile]:
    victims = (inputs.facts or {}).get("victims")
    cover = inputs.coverage.get(("victims", year))
    if victims is None or victims.empty or cover is None:
        return []
    exact = inputs.indicators[inputs.indicators["period"].str.slice(0, 4) == year]
    published = _public_suppressed(inputs, exact, year)
    sheets = {
        "victims_by_form": _victims_by_form(victims, published, year, inputs.threshold),
        **{name: _catalogue_cells(exact, published, year, *what) for name, what in SHEETS.items()},
    }
    incomplete = partial_year(inputs, "victims", year)  # a year is the year: otherwise every row says provisional
    provisional = incomplete is not None or (inputs.release is not None and inputs.release.provisional)
    for rows in sheets.values():
        for r in rows:
            # the country's code with the coverage beside it: a partial sum says so, it gets no area code of its own
            r["area"], r["coverage"] = NATION, cover.describe("en")
            r["status"], r["comment"] = ("provisional" if provisional else "final"), incomplete or ""
            if r["confidential"]:  # primary (1 to the threshold) C, secondary D, as the SDG and Eurostat files
                r["confidential"] = CONFIDENTIAL if 0 < r["value"] <= inputs.threshold else SECONDARY
    meta = metadata(
        title=(f"GRETA tables, {'Serbia' if cover.national else 'sum of the reporting units, not the whole country'}, "
               f"{year}: victims by form of exploitation, referral outcome, access to justice"),
        receiver="Council of Europe, GRETA (Group of Experts on Action against Trafficking in Human Beings)",
        source="Quarterly submissions of the anti-trafficking reporting units (national.indicators, exact counts)",
        coverage=[c for (d, p), c in sorted(inputs.coverage.items()) if d == "victims" and p == year],
        definitions={
            "victims": indicator_catalogue.catalogue()["victims"]["en"] + ": persons with status possible_victim "
                       "or identified_victim, a person reported with the same CPTV number counted once",
            "multiple_forms": "a person with two or more forms of exploitation, counted once under this category "
                              "and under no single form; the forms add up to the total",
            "referral_outcome": "persons referred (every status) by the source of the referral and their status: "
                                "identified, presumed (possible) or found not to be a victim",
            "access_to_justice": "victims by compensation status, free legal aid and residence permit (victims "
                                 "contract version 2 from 2026Q3); not_stated where the report did not say or the "
                                 "quarter's contract had no such column",
            "confidential": f"C: a count of 1 to {inputs.threshold} (primary); D: a cell hidden so that no C can be "
                            "recomputed, or that the public tables hide (secondary); empty: free. The value is exact",
            "area": f"{NATION} on every row; `coverage` says whether it is the whole country or which reporting units "
                    "it sums (no area code of our own)",
            "status": "provisional where the release is provisional or the year is not complete (every quarter's owed "
                      "submissions accepted, or released); `comment` then names the quarters covered; else final",
        },
        code_lists={"exploitation, sex, age_group, referral_source, victim_status, yes_no":
                    "national code lists, reference/code_lists.csv (victims data contract)",
                    "compensation_status, residence_permit":
                    "national code lists, reference/code_lists.csv (victims contract version 2), made for the "
                    "questionnaire's topics (compensation, residence permits); no international code list for them "
                    "was found to confirm",
                    "tables": QUESTIONNAIRE + "; " + PROGRAMME},
        produced_at=inputs.produced_at,
        file_format="XLSX (Office Open XML workbook): a metadata sheet and one sheet per table, one row per cell",
        notes=([f"{incomplete}: every row has status provisional."] if incomplete else []) + [
               "The GRETA questionnaire prescribes questions, not a fixed statistical table: the tables' categories "
               "are the national code lists; no international code list is claimed."])
    return [TransmissionFile(f"greta_{year}.xlsx", _workbook(sheets, meta), meta)]


def _public_suppressed(inputs: TransmissionInputs, exact, year: str) -> set[tuple]:
    """(indicator, breakdown, category) of the nation's cells of the year that the public tables suppress:
    disclosure.public_outputs as publish runs it."""
    from thb_reporting.publishing.transmissions.model import public_rows

    public = public_rows(inputs)
    hidden = public[public["suppressed"] & (public["level"] == "nation") & (public["period"] == year)]
    return set(zip(hidden["indicator"], hidden["breakdown"], hidden["category"]))


def _nation_year(exact, year: str, indicator: str, breakdown: str) -> dict[str, float]:
    rows = exact[(exact["level"] == "nation") & (exact["period"] == year) & (exact["indicator"] == indicator)
                 & (exact["breakdown"] == breakdown)]
    return dict(zip(rows["category"], rows["value"]))


def _cell(breakdown: str, category: str, label: tuple[str, str], value: float, confidential: bool,
          sex: str = TOTAL, age_group: str = TOTAL) -> dict:
    return {"breakdown": breakdown, "category": category, "label_sr": label[0], "label_en": label[1], "sex": sex,
            "age_group": age_group, "value": int(value), "confidential": CONFIDENTIAL if confidential else None}  # an empty cell: not confidential


def _catalogue_cells(exact, published: set[tuple], year: str, indicator: str, breakdowns) -> list[dict]:
    """The nation's cells of the year of these breakdowns, every category of the code list (0 when none)."""
    rows = []
    for breakdown in breakdowns:
        values = _nation_year(exact, year, indicator, breakdown)
        if breakdown == TOTAL:
            categories = [TOTAL]
        else:
            named = [c for i, b, c, *_ in indicator_catalogue.category_labels() if (i, b) == (indicator, breakdown)
                     and c not in (TOTAL, NOT_STATED)]
            categories = named + sorted(set(values) - set(named))
        for c in categories:
            rows.append(_cell(breakdown, c, indicator_catalogue.category_label(indicator, breakdown, c),
                              values.get(c, 0), (indicator, breakdown, c) in published))
    return rows


def _victims_by_form(victims, published: set[tuple], year: str, threshold: int) -> list[dict]:
    """Victims of the year, counted once nationally, by form (once per person) × sex and by form × age group,
    with every margin (total). The one-way margins are the catalogue's public cells (their suppression as published);
    the crossings' flags come from disclosure.suppress over this table's sums."""
    import pandas as pd

    from thb_reporting.figures import disclosure
    from thb_reporting.core import reference
    from thb_reporting.figures.indicators import age_group_of_band, form_once, national_victims_of_year

    persons = national_victims_of_year(victims, year)
    frame = pd.DataFrame({"form": form_once(persons["exploitation"]), "sex": persons["sex"],
                          "age_group": persons["age_band"].map(age_group_of_band())})
    forms = [c for c in reference.codes("exploitation")] + ["multiple_forms", NOT_STATED]
    sexes, ages = list(reference.codes("sex")), list(reference.codes("age_group"))
    counts = frame.value_counts().to_dict()
    # form × sex and form × age group, not the three crossed: the public tables give sex and age group
    # apart, and the disclosure rule's bounds are exact for such tables (on three crossed dimensions an
    # attacker's linear programme pins cells that its propagation leaves open)
    keys = [k for k in product([*forms, TOTAL], [*sexes, TOTAL], [*ages, TOTAL]) if TOTAL in k[1:]]

    def count(form, sex, age):
        return sum(n for (f, s, a), n in counts.items()
                   if form in (f, TOTAL) and sex in (s, TOTAL) and age in (a, TOTAL))

    values = [count(*k) for k in keys]
    position = {k: i for i, k in enumerate(keys)}
    # each line of the table adds up to its total, along each of the three dimensions
    groups = []
    for dimension, codes in enumerate((forms, sexes, ages)):
        for k in keys:
            line = [k[:dimension] + (c,) + k[dimension + 1:] for c in codes]
            if k[dimension] == TOTAL and all(cell in position for cell in line):
                groups.append(([position[cell] for cell in line], [position[k]]))
    margins = {(TOTAL, TOTAL, TOTAL): ("victims", TOTAL, TOTAL)}
    margins |= {(f, TOTAL, TOTAL): ("victims", "exploitation_once", f) for f in forms}
    margins |= {(TOTAL, s, TOTAL): ("victims", "sex", s) for s in sexes}
    margins |= {(TOTAL, TOTAL, a): ("victims", "age_group", a) for a in ages}
    primary = {i for i, v in enumerate(values) if 0 < v <= threshold}
    primary |= {position[k] for k, cell in margins.items() if cell in published}
    # a margin the public tables show stays shown: the crossings are suppressed around it
    shown = frozenset(position[k] for k, cell in margins.items() if cell not in published)
    confidential = disclosure.suppress(values, primary, groups, shown)
    label = {f: indicator_catalogue.category_label("victims", "exploitation_once", f) for f in [*forms, TOTAL]}
    return [_cell("exploitation_once", f, label[f], values[position[(f, s, a)]], position[(f, s, a)] in confidential, s, a)
            for f, s, a in keys]


def _workbook(sheets: dict[str, list[dict]], meta: dict) -> bytes:
    """The workbook: a metadata sheet (the sidecar's content, one line per field), then one sheet per table
    with a header of column names and one row per cell."""
    import io
    import json

    from openpyxl import Workbook

    book = Workbook()
    info = book.active
    info.title = "metadata"
    info.append(["field", "value"])
    for key, value in sorted(meta.items()):
        if isinstance(value, dict):
            for sub, text in value.items():
                info.append([f"{key}.{sub}", text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)])
        elif isinstance(value, list):
            for i, item in enumerate(value):
                info.append([f"{key}.{i}", item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)])
        else:
            info.append([key, value])
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        sheet.append(CELL_COLUMNS)
        for r in rows:
            sheet.append([r[c] for c in CELL_COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
