"""SDG indicator 16.2.2 for UNODC, in the SDG data structure (IAEG-SDGs:SDG 1.14) as SDMX-CSV 2.0: detected
victims of each year counted once nationally (indicators.deduplicated), by sex × age jointly, in the all-
victims series and the four series by group of forms, as counts.

Decisions (also in each file's sidecar and docs/transmissions.md):
- The groups of forms: reference/sdg_exploitation.csv maps each national form to its group's series. A
  person with forms in two groups counts once in each group's series (the series are separate counts of
  victims detected for a purpose, so they can add up to more than VC_HTF_DETV); one with two forms of one
  group counts once in it; one with no form stated only in VC_HTF_DETV.
- Only what the structure carries. It has no confidentiality attribute (a CONF_STATUS column is dropped by a
  receiver's tool, and the value with it arrives as a plain one), so a confidential count (primary: 1 to the
  threshold; secondary: hidden so that none follows from the sex × age sums or from the public tables) is
  withheld: no value, OBS_STATUS Q ("missing value; suppressed", SDMX's code for statistical
  confidentiality, in the structure's CL_OBS_STATUS), and its key listed in the sidecar. Primary and
  secondary are not told apart (that would say which cells are 1 to the threshold).
- Counts only, no rate series: UNODC computes the 16.2.2 rate over the resident population itself; the
  reference data has no population by sex and age (the denominators of the child and female cells), and a
  national rate over another population would contradict UNODC's.
- Area: always 688 (Serbia), the structure's code for the country; 922 means a custom grouping of data
  providers, not a part of one. Where the year's victims are a sum of local teams, not the whole country,
  each value is flagged OBS_STATUS D ("definition differs", footnote-type) with COMMENT_OBS naming the
  teams and their population; whether UNODC accepts such a sum is pending its confirmation (sidecar).
- A year is the year: a year not complete (model.partial_year) is flagged provisional, OBS_STATUS P, with the
  quarters it covers first in COMMENT_OBS. One OBS_STATUS per observation, the strongest reason: Q (withheld)
  > P (provisional: a year not complete or a provisional release) > D (partial coverage) > A; COMMENT_OBS keeps
  every reason.
- Before the file leaves, structure_check reads it back and checks it against the structure (codes, required
  attributes, one observation per key, sex and age totals, no confidential count in the clear): a failed check
  keeps it back (write_year).
"""
from __future__ import annotations


from thb_reporting.figures import disclosure
from thb_reporting.core import reference
from thb_reporting.figures.indicators import age_group_of_band, national_victims_of_year
from thb_reporting.publishing.transmissions import structure_check
from thb_reporting.publishing.transmissions.model import TransmissionFile, TransmissionInputs, flag_partial_year, metadata

STRUCTURE = ("IAEG-SDGs", "SDG", "1.14")
DIMENSIONS = ("FREQ", "REPORTING_TYPE", "SERIES", "REF_AREA", "SEX", "AGE", "URBANISATION", "INCOME_WEALTH_QUANTILE",
              "EDUCATION_LEV", "OCCUPATION", "CUST_BREAKDOWN", "COMPOSITE_BREAKDOWN", "DISABILITY_STATUS", "ACTIVITY",
              "PRODUCT")  # the structure's order
ATTRIBUTES = ("OBS_STATUS", "UNIT_MULT", "UNIT_MEASURE", "NATURE", "COMMENT_OBS")  # all components of the structure
CELL = ("SERIES", "SEX", "AGE")  # the dimensions a cell of the file varies in (the others have one code)
WITHHELD_NOTE = "withheld: confidential under the national disclosure rule"


def _code(component: str, national_code: str) -> str:
    return next(c.code for c in reference.sdg_codes()[component] if c.national_code == national_code)


def _only(component: str) -> str:
    """The one code of a component the file uses (FREQ, NATURE, the breakdowns it does not make …)."""
    (code,) = {c.code for c in reference.sdg_codes()[component] if c.national_code in ("", "total")}
    return code


def victims_of_year(victims, year: str):
    """The victims (identified and presumed) of a year, one row per person nationally."""
    return national_victims_of_year(victims, year)


def counts(persons):
    """{(series, SEX, AGE): persons} for every count series, sex and age, totals (_T) included, zeros too."""
    from collections import Counter

    sex_of = {c.national_code: c.code for c in reference.sdg_codes()["SEX"]}
    age_of = {c.national_code: c.code for c in reference.sdg_codes()["AGE"]}
    group_of = reference.sdg_series_of_exploitation()
    all_victims = _code("SERIES", "all_victims")
    tally = Counter()
    age_groups = age_group_of_band()
    for sex, band, forms in zip(persons["sex"], persons["age_band"].fillna("unknown"), persons["exploitation"]):
        forms = forms.split(";") if isinstance(forms, str) and forms else []
        unknown = [f for f in forms if f not in group_of]
        if unknown:
            raise KeyError(f"no SDG series for the form(s) {unknown}: add them to reference/sdg_exploitation.csv")
        for series in {all_victims} | {group_of[f] for f in forms}:  # once per group, whatever its forms
            for s in (sex_of[sex], sex_of["total"]):
                for a in (age_of[age_groups[band]], age_of["total"]):
                    tally[(series, s, a)] += 1
    series = [all_victims] + sorted(set(group_of.values()))
    return {(se, s, a): tally[(se, s, a)] for se in series for s in sex_of.values() for a in age_of.values()}


def withheld(cells: dict[tuple, int], threshold: int, hidden_in_public: set[tuple] = frozenset()) -> set[tuple]:
    """The count cells withheld from the file, by the disclosure rule (disclosure.confidential over the sex × age
    sums of each series, the cells the public tables hide given): those from 1 to the threshold and those
    hidden so that none of them can be recomputed."""
    keys = list(cells)
    index = {k: i for i, k in enumerate(keys)}
    values = [cells[k] for k in keys]
    total_sex, total_age = _code("SEX", "total"), _code("AGE", "total")
    series_codes = dict.fromkeys(k[0] for k in keys)
    sexes = [c.code for c in reference.sdg_codes()["SEX"] if c.code != total_sex]
    ages = [c.code for c in reference.sdg_codes()["AGE"] if c.code != total_age]
    groups = []  # (parts, totals): the sexes of an age add up to its total, the ages of a sex to its total
    for series in series_codes:
        for age in [*ages, total_age]:
            groups.append(([index[(series, s, age)] for s in sexes], [index[(series, total_sex, age)]]))
        for sex in [*sexes, total_sex]:
            groups.append(([index[(series, sex, a)] for a in ages], [index[(series, sex, total_age)]]))
    hidden = set(disclosure.primary_cells(values, threshold))
    hidden |= disclosure.confidential(values, groups, threshold, also=[index[k] for k in hidden_in_public if k in index])
    return {keys[i] for i in hidden}


def _hidden_in_public(inputs: TransmissionInputs, year: str) -> set[tuple]:
    """The cells of the all-victims series whose nation figure of the year the public tables hide (the
    victims' total, by sex, by child/adult): were they free here, the receiver's publication would give
    the public suppression away (transmissions.public_rows)."""
    from thb_reporting.publishing.transmissions.model import public_rows

    if inputs.indicators is None or inputs.indicators.empty:
        return set()
    public = public_rows(inputs)
    hidden = public[public["suppressed"] & (public["level"] == "nation") & (public["period"] == year)
                    & (public["indicator"] == "victims")]
    everyone, total_sex, total_age = _code("SERIES", "all_victims"), _code("SEX", "total"), _code("AGE", "total")
    out = set()
    for breakdown, category in zip(hidden["breakdown"], hidden["category"]):
        if breakdown == "total":
            out.add((everyone, total_sex, total_age))
        elif breakdown == "sex":
            out.add((everyone, _code("SEX", category), total_age))
        elif breakdown == "age_group":
            out.add((everyone, total_sex, _code("AGE", category)))
    return out


def schema():
    """The pysdmx Schema of the file: the structure's components with the codes of reference/sdg.csv (each read from
    the structure; tests/support/structures holds the structure itself and checks them against it)."""
    from pysdmx.model import Code, Codelist, Component, Components, Concept, Role, Schema

    def codelist(component):
        codes = reference.sdg_codes()[component]
        agency, rest = codes[0].code_list.split(":")
        cl_id, _, version = rest.rstrip(")").partition("(")
        return Codelist(id=cl_id, agency=agency, version=version, items=[Code(id=c.code, name=c.label_en) for c in codes])

    components = [Component(id=d, required=True, role=Role.DIMENSION, concept=Concept(id=d), local_codes=codelist(d))
                  for d in DIMENSIONS]
    components.append(Component(id="TIME_PERIOD", required=True, role=Role.DIMENSION, concept=Concept(id="TIME_PERIOD")))
    # no dtype: pysdmx would write a count 3 as 3.0; the values are written as given (counts as integers). Not
    # required here (the structure's is): pysdmx writes a required empty value as '#N/A', which the structure's
    # Double measure cannot read; a withheld cell's value is an empty cell, its OBS_STATUS Q says why
    components.append(Component(id="OBS_VALUE", required=False, role=Role.MEASURE, concept=Concept(id="OBS_VALUE")))
    for a in ATTRIBUTES:
        coded = a in reference.sdg_codes()
        components.append(Component(id=a, required=a in ("OBS_STATUS", "UNIT_MULT", "UNIT_MEASURE"), role=Role.ATTRIBUTE,
                                    concept=Concept(id=a), attachment_level="O",
                                    local_codes=codelist(a) if coded else None))
    agency, sid, version = STRUCTURE
    return Schema(context="datastructure", agency=agency, id=sid, version=version, components=Components(components))


def rules(threshold: int, withheld_keys: set[tuple]) -> structure_check.Rules:
    """What the structure check holds the file to: no count from 1 to the threshold with a value (the structure
    has no confidentiality flag), a value absent only under OBS_STATUS Q, the withheld cells without one, and
    the sex and age totals the sums of their parts (every person has one sex code and one age code; the series
    are not: a person counts in each group of forms)."""
    codes = reference.sdg_codes()
    parts = {d: tuple(c.code for c in codes[d] if c.code != _code(d, "total")) for d in ("SEX", "AGE")}
    return structure_check.Rules(
        threshold=threshold, counts={"UNIT_MEASURE": _code("UNIT_MEASURE", "count")},
        absent_when={"OBS_STATUS": frozenset({_code("OBS_STATUS", "withheld")})},
        withheld=frozenset(withheld_keys), key_components=CELL,
        totals=tuple(structure_check.Total(d, _code(d, "total"), parts[d]) for d in ("SEX", "AGE")))


def rows(inputs: TransmissionInputs, year: str) -> tuple[list[dict], list[str], set[tuple]]:
    """The observations of a year (dicts of the file's columns), the notes for the sidecar and the keys
    (SERIES, SEX, AGE) of the cells withheld."""
    victims = inputs.facts.get("victims")
    cover = inputs.coverage.get(("victims", year))
    if victims is None or victims.empty or cover is None:
        return [], [], set()
    cells = counts(victims_of_year(victims, year))
    hidden = withheld(cells, inputs.threshold, _hidden_in_public(inputs, year))
    fixed = {d: _only(d) for d in DIMENSIONS if d not in (*CELL, "REF_AREA")}
    fixed |= {"REF_AREA": _code("REF_AREA", "nation"), "TIME_PERIOD": year, "UNIT_MULT": _only("UNIT_MULT"),
              "NATURE": _only("NATURE"), "UNIT_MEASURE": _code("UNIT_MEASURE", "count")}
    # a sum of local teams is not the country: flagged and said on every value (the country's code stays)
    status = _code("OBS_STATUS", "" if cover.national else "partial_coverage")
    coverage_note = "" if cover.national else f"partial coverage: {cover.describe('en')}"
    out = []
    for key, value in cells.items():
        cell = dict(zip(CELL, key))
        if key in hidden:
            out.append({**fixed, **cell, "OBS_VALUE": "", "OBS_STATUS": _code("OBS_STATUS", "withheld"),
                        "COMMENT_OBS": "; ".join(filter(None, [WITHHELD_NOTE, coverage_note]))})
        else:
            out.append({**fixed, **cell, "OBS_VALUE": str(value), "OBS_STATUS": status, "COMMENT_OBS": coverage_note})
    notes = [] if cover.national else [
        f"The victims of {year} are a sum of local teams, not the whole country: REF_AREA 688 with OBS_STATUS "
        f"{status} and COMMENT_OBS on every value (pending UNODC's confirmation that such a sum is accepted)."]
    return out, notes, hidden


def _mark_release(observations: list[dict], inputs: TransmissionInputs, year: str) -> list[str]:
    """A release's file: OBS_STATUS P (SDMX's provisional value) on every value of a provisional release (P outranks
    D: a partial sum keeps saying so in COMMENT_OBS); COMMENT_OBS 'revised since release N' on a value that differs
    from the previous release's file of the year. Withheld cells stay Q. Returns the sidecar's notes."""
    mark = inputs.release
    notes = [f"Release {mark.release_id} of {year}, " + ("provisional: values flagged OBS_STATUS P (a partial sum's "
                                                            "COMMENT_OBS still says so)." if mark.provisional else "final.")]
    withheld_status = _code("OBS_STATUS", "withheld")

    def comment(o, note):
        o["COMMENT_OBS"] = f"{note}; {o['COMMENT_OBS']}" if o["COMMENT_OBS"] else note

    if mark.provisional:
        provisional = _code("OBS_STATUS", "provisional")
        for o in observations:
            if o["OBS_STATUS"] != withheld_status:
                o["OBS_STATUS"] = provisional
    if mark.previous is not None:
        previous_id, previous_inputs = mark.previous
        was = {tuple(o[k] for k in CELL): o["OBS_VALUE"] for o in rows(previous_inputs, year)[0]}
        note = f"revised since release {previous_id}"
        for o in observations:
            before = was.get(tuple(o[k] for k in CELL))
            if before is not None and o["OBS_STATUS"] != withheld_status and before != o["OBS_VALUE"]:
                comment(o, note)
        notes.append(f"COMMENT_OBS '{note}' marks each value that differs from that release's file.")
    return notes


def pending_confirmation() -> list[str]:
    """What the file does that no published document here confirms: for UNODC to confirm before a real
    sending (the sidecar lists it)."""
    unconfirmed = sorted(r["exploitation"] for r in reference.csv_rows("sdg_exploitation.csv") if "not confirmed" in r["source"])
    return [
        "Structure version: the copy used is IAEG-SDGs:SDG(1.14) as published on 2023-08-20 (open-sdg/sdg-build, "
        "commit 0b450bf); the registry's current version may differ.",
        "Partial coverage: a sum of local teams is sent under 688 flagged OBS_STATUS D with COMMENT_OBS; whether "
        "UNODC accepts such a sum (or wants the year left out) is not confirmed.",
        f"Forms {', '.join(unconfirmed)} are counted in VC_HTF_DETVOP (other purposes) by a project decision "
        "(reference/sdg_exploitation.csv), not by a UNODC document.",
    ]


def build(inputs: TransmissionInputs, year: str) -> list[TransmissionFile]:
    import pandas as pd
    from pysdmx.io.csv.sdmx20.writer import write
    from pysdmx.io.pd import PandasDataset

    observations, notes, hidden = rows(inputs, year)
    if not observations:
        return []
    # a year is the year: not complete, each value provisional (P outranks D), a withheld one stays Q
    notes += flag_partial_year(observations, inputs, "victims", year, _code("OBS_STATUS", "provisional"),
                               frozenset({_code("OBS_STATUS", "withheld")}))
    if inputs.release is not None:
        notes += _mark_release(observations, inputs, year)
    structure = schema()
    name = f"sdg_16_2_2_{year}.csv"
    frame = pd.DataFrame(observations, columns=[*DIMENSIONS, "TIME_PERIOD", "OBS_VALUE", *ATTRIBUTES])
    content = write([PandasDataset(structure=structure, data=frame)]).encode("utf-8")
    report = structure_check.check(content, structure, rules(inputs.threshold, hidden), name)
    cover = inputs.coverage[("victims", year)]
    codes = reference.sdg_codes()
    sidecar = metadata(
        title=f"SDG indicator 16.2.2: detected victims of trafficking in persons, {year}",
        receiver="UNODC (custodian of SDG indicator 16.2.2), for the UN global SDG database",
        source="national.victims: the accepted quarterly submissions of the reporting units (local anti-trafficking "
               "teams and, where registered, the national unit), one row per person; exact counts",
        coverage=[cover],
        definitions={
            "victim": "a person the submitting unit reported as an identified or a presumed (possible) victim in a quarter "
                      "of the year; counted once nationally per year: rows with the same CPTV referral number are one "
                      "person (the first referred kept)",
            "SEX × AGE": "each series crossed by sex (F, M, _U = other or unknown) and age (Y0T17 under 18, Y_GE18 18 and "
                         "over, _U unknown, from the age band) jointly, with totals _T of each",
            "forms of exploitation": "VC_HTF_DETVSX/FL/OG/OP: the national forms grouped by reference/sdg_exploitation.csv; "
                                     "a person with forms in several groups counts once in each group's series, so the "
                                     "four series may add up to more than VC_HTF_DETV; a person with no form stated "
                                     "counts only in VC_HTF_DETV",
            "counts only": "no rate series (VC_HTF_DETV…R): UNODC computes the 16.2.2 rate over the resident population "
                           "itself; the population of the area covered is in 'coverage'",
            "REF_AREA": "688 Serbia; where the victims of the year are a sum of local teams, not the whole country, every "
                        "value is flagged OBS_STATUS D (definition differs; P where it is also provisional) and COMMENT_OBS "
                        "names the teams and their population",
            "withheld": f"a confidential count (1 to {inputs.threshold}, or hidden so that none of those can be recomputed "
                        "from the sex × age sums or the public tables) has no value and OBS_STATUS Q (missing value; "
                        "suppressed); the structure has no confidentiality attribute to send it flagged",
        },
        code_lists={component: f"{cs[0].code_list}: codes {', '.join(c.code for c in cs)}; {cs[0].source}"
                    for component, cs in codes.items()}
        | {"SERIES by form": "reference/sdg_exploitation.csv (national form → series, with each mapping's source)",
           "structure": "urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=IAEG-SDGs:SDG(1.14)"},
        produced_at=inputs.produced_at,
        file_format="SDMX-CSV 2.0 (pysdmx), structure IAEG-SDGs:SDG(1.14), only its components",
        notes=notes + [f"Structure check: {'passed' if report['passed'] else 'FAILED'} ({name}.validation.json)."],
    )
    sidecar["withheld"] = {"keys": [".".join(k) for k in sorted(hidden)], "key": ".".join(CELL),
                           "why": "confidential under the national disclosure rule (disclosure.py); sent without value, "
                                  "OBS_STATUS Q"}
    sidecar["pending_confirmation"] = pending_confirmation()
    return [TransmissionFile(name, content, sidecar, validation=report)]
