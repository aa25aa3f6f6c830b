"""SDG indicator 16.2.2 for UNODC, in the SDG data structure (IAEG-SDGs:SDG 1.14) as SDMX-CSV 2.0: detected
victims of each year counted once nationally (indicators.deduplicated), by sex × age jointly, in the all-
victims series and the four series by group of forms, as counts and as rates per 100,000 population of
that year.

Decisions (also in each file's sidecar):
- The groups of forms: reference/sdg_exploitation.csv maps each national form to its group's series. A
  person with forms in two groups counts once in each group's series (the series are separate counts of
  victims detected for a purpose, so they can add up to more than VC_HTF_DETV); one with two forms of one
  group counts once in it; one with no form stated only in VC_HTF_DETV.
- Rates: every cell over the whole population of the area covered (reference data gives no population by
  sex and age). The population is that year's (TeamRegistry.population_in). Without a figure of the year
  the latest earlier one is carried forward and the rate row says so: OBS_STATUS E and COMMENT_OBS name
  the year and source used. Without any earlier figure no rate is written (a note in the sidecar).
- Area: 688 (Serbia) only where the Coverage of the victims of the year is national; otherwise 922
  (Custom groupings of data providers) with COMMENT_OBS saying which teams and population it sums, and
  the rate over the population of those teams' municipalities.
- Exact counts; the confidentiality flag CONF_STATUS (not a component of the SDG structure: added, and
  said in the sidecar) is C for counts disclosure.primary_cells suppresses, D for the further cells
  disclosure.suppress hides so that no suppressed cell follows from the sex × age sums, F otherwise. A
  rate carries its count's flag (with the population it gives the count back).
"""
from __future__ import annotations


from thb_reporting.figures import disclosure
from thb_reporting.core import reference
from thb_reporting.figures.indicators import NATION, age_group_of_band, national_victims_of_year
from thb_reporting.publishing.transmissions.model import TransmissionFile, TransmissionInputs, flag_partial_year, metadata

STRUCTURE = ("IAEG-SDGs", "SDG", "1.14")
DIMENSIONS = ("FREQ", "REPORTING_TYPE", "SERIES", "REF_AREA", "SEX", "AGE", "URBANISATION", "INCOME_WEALTH_QUANTILE",
              "EDUCATION_LEV", "OCCUPATION", "CUST_BREAKDOWN", "COMPOSITE_BREAKDOWN", "DISABILITY_STATUS", "ACTIVITY",
              "PRODUCT")  # the structure's order
ATTRIBUTES = ("OBS_STATUS", "UNIT_MULT", "UNIT_MEASURE", "NATURE", "COMMENT_OBS", "CONF_STATUS")
PER = 100_000


def _code(component: str, national_code: str) -> str:
    return next(c.code for c in reference.sdg_codes()[component] if c.national_code == national_code)


def _only(component: str) -> str:
    """The one code of a component the file uses (FREQ, NATURE, the breakdowns it does not make …)."""
    (code,) = {c.code for c in reference.sdg_codes()[component] if c.national_code in ("", "total")}
    return code


def rate_series() -> dict[str, str]:
    """Count series → its rate series (per 100,000 population)."""
    return {c.national_code.removeprefix("per_100000:"): c.code for c in reference.sdg_codes()["SERIES"]
            if c.national_code.startswith("per_100000:")}


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


def confidentiality(cells: dict[tuple, int], threshold: int, hidden_in_public: set[tuple] = frozenset()) -> dict[tuple, str]:
    """CONF_STATUS of each count cell, by the disclosure rule (disclosure.confidential over the sex × age sums
    of each series, the cells the public tables hide given): C where the count itself is from 1 to the
    threshold, D where it is hidden so that no C can be recomputed (or the public tables hide it), F otherwise."""
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
    first = set(disclosure.primary_cells(values, threshold))
    hidden = disclosure.confidential(values, groups, threshold, also=[index[k] for k in hidden_in_public if k in index])
    flag = {c.national_code: c.code for c in reference.sdg_codes()["CONF_STATUS"]}
    return {k: flag["primary"] if index[k] in first else flag["secondary"] if index[k] in hidden else flag["free"]
            for k in keys}


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


def denominator(inputs: TransmissionInputs, year: str, coverage) -> tuple[int, list[reference.Population]] | None:
    """The population the rates of a year divide by, and the figures it sums: the nation's when the
    coverage is national, else that of the local units summed; None when an area has no figure of the
    year or earlier."""
    teams = inputs.teams
    if coverage.national:
        areas = [NATION]
    else:
        areas = [u for u in coverage.units if not (u in teams and teams[u].scope == "national")]
    figures = [teams.population_in(a, year) for a in areas]
    if not figures or None in figures:
        return None
    return sum(f.value for f in figures), figures


def schema():
    """The pysdmx Schema of the file: the structure's components with the codes of reference/sdg.csv."""
    from pysdmx.model import Code, Codelist, Component, Components, Concept, Role, Schema

    def codelist(component):
        codes = reference.sdg_codes()[component]
        agency, rest = codes[0].code_list.split(":")
        cl_id, _, version = rest.rstrip(")").partition("(")  # CL_CONF_STATUS: its version was not confirmed
        return Codelist(id=cl_id, agency=agency, items=[Code(id=c.code, name=c.label_en) for c in codes],
                        **({"version": version} if version else {}))

    components = [Component(id=d, required=True, role=Role.DIMENSION, concept=Concept(id=d), local_codes=codelist(d))
                  for d in DIMENSIONS]
    components.append(Component(id="TIME_PERIOD", required=True, role=Role.DIMENSION, concept=Concept(id="TIME_PERIOD")))
    # no dtype: pysdmx would write a count 3 as 3.0; the values are written as given (counts as integers)
    components.append(Component(id="OBS_VALUE", required=False, role=Role.MEASURE, concept=Concept(id="OBS_VALUE")))
    for a in ATTRIBUTES:
        coded = a in reference.sdg_codes()
        components.append(Component(id=a, required=a in ("OBS_STATUS", "UNIT_MULT", "UNIT_MEASURE"), role=Role.ATTRIBUTE,
                                    concept=Concept(id=a), attachment_level="O",
                                    local_codes=codelist(a) if coded else None))
    agency, sid, version = STRUCTURE
    return Schema(context="datastructure", agency=agency, id=sid, version=version, components=Components(components))


def _validated(frame, structure):
    """Every coded column's values are codes of its component (pysdmx writes whatever it is given)."""
    for component in structure.components:
        if component.local_codes is not None:
            allowed = {c.id for c in component.local_codes}
            wrong = set(frame[component.id]) - allowed
            if wrong:
                raise ValueError(f"{component.id}: {sorted(wrong)} not in {component.local_codes.id}")
    return frame


def rows(inputs: TransmissionInputs, year: str) -> tuple[list[dict], list[str]]:
    """The observations of a year (dicts of the file's columns) and the notes for the sidecar."""
    victims = inputs.facts.get("victims")
    cover = inputs.coverage.get(("victims", year))
    if victims is None or victims.empty or cover is None:
        return [], []
    cells = counts(victims_of_year(victims, year))
    flags = confidentiality(cells, inputs.threshold, _hidden_in_public(inputs, year))
    area = _code("REF_AREA", "nation" if cover.national else "units")
    fixed = {d: _only(d) for d in DIMENSIONS if d not in ("SERIES", "REF_AREA", "SEX", "AGE")}
    fixed |= {"REF_AREA": area, "TIME_PERIOD": year, "UNIT_MULT": _only("UNIT_MULT"), "NATURE": _only("NATURE")}
    normal, carried = _code("OBS_STATUS", ""), _code("OBS_STATUS", "population_carried_forward")
    coverage_note = "" if cover.national else cover.describe("en")
    out = [{**fixed, "SERIES": series, "SEX": sex, "AGE": age, "OBS_VALUE": str(value), "OBS_STATUS": normal,
            "UNIT_MEASURE": _code("UNIT_MEASURE", "count"), "COMMENT_OBS": coverage_note, "CONF_STATUS": flags[(series, sex, age)]}
           for (series, sex, age), value in cells.items()]
    notes = []
    population = denominator(inputs, year, cover)
    if population is None:
        notes.append(f"No rates for {year}: no population figure of {year} or earlier for every area covered "
                     "(reference/population.csv).")
        return out, notes
    total, figures = population
    used = sorted({f.year for f in figures})
    status, comment = normal, []
    if used != [int(year)]:
        status = carried
        comment.append(f"rate over the population of {', '.join(map(str, used))} carried forward (no figure of {year}): "
                       f"{total} ({'; '.join(sorted({f.source for f in figures}))})")
        notes.append(f"Rates of {year} use the population of {', '.join(map(str, used))} ({total}), the latest "
                     f"before {year}: flagged OBS_STATUS {carried} with a COMMENT_OBS on each rate row.")
    comment += [coverage_note] if coverage_note else []
    rates = rate_series()
    for (series, sex, age), value in cells.items():
        out.append({**fixed, "SERIES": rates[series], "SEX": sex, "AGE": age, "OBS_VALUE": repr(value * PER / total),
                    "OBS_STATUS": status, "UNIT_MEASURE": _code("UNIT_MEASURE", "rate"), "COMMENT_OBS": "; ".join(comment),
                    "CONF_STATUS": flags[(series, sex, age)]})
    return out, notes


def _mark_release(observations: list[dict], inputs: TransmissionInputs, year: str) -> list[str]:
    """A release's file: OBS_STATUS P (SDMX's provisional value) on the normal values of a provisional release (an
    estimated rate keeps its E); COMMENT_OBS 'revised since release N' on a value that differs from the previous
    release's file of the year. Returns the sidecar's notes."""
    mark = inputs.release
    notes = [f"Release {mark.release_id} of {year}, " + ("provisional: values flagged OBS_STATUS P." if mark.provisional
                                                            else "final.")]
    if mark.provisional:
        normal, provisional = _code("OBS_STATUS", ""), _code("OBS_STATUS", "provisional")
        for o in observations:
            o["OBS_STATUS"] = provisional if o["OBS_STATUS"] == normal else o["OBS_STATUS"]
    if mark.previous is not None:
        previous_id, previous_inputs = mark.previous
        key = ("SERIES", "SEX", "AGE")
        was = {tuple(o[k] for k in key): o["OBS_VALUE"] for o in rows(previous_inputs, year)[0]}
        note = f"revised since release {previous_id}"
        for o in observations:
            before = was.get(tuple(o[k] for k in key))
            if before is not None and before != o["OBS_VALUE"]:
                o["COMMENT_OBS"] = f"{note}; {o['COMMENT_OBS']}" if o["COMMENT_OBS"] else note
        notes.append(f"COMMENT_OBS '{note}' marks each value that differs from that release's file.")
    return notes


def build(inputs: TransmissionInputs, year: str) -> list[TransmissionFile]:
    import pandas as pd
    from pysdmx.io.csv.sdmx20.writer import write
    from pysdmx.io.pd import PandasDataset

    observations, notes = rows(inputs, year)
    if not observations:
        return []
    notes += flag_partial_year(observations, inputs, "victims", year, _code("OBS_STATUS", "provisional"))  # a year is the year
    if inputs.release is not None:
        notes += _mark_release(observations, inputs, year)
    structure = schema()
    columns = [*DIMENSIONS, "TIME_PERIOD", "OBS_VALUE", *ATTRIBUTES]
    frame = _validated(pd.DataFrame(observations, columns=columns), structure)
    content = write([PandasDataset(structure=structure, data=frame)])
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
            "rate": f"count × {PER:,} / population of the area covered in the year (population.csv, the year's figure; "
                    "the latest earlier one carried forward where the year has none, OBS_STATUS E and COMMENT_OBS); "
                    "every sex and age cell divides by the whole population (no population by sex and age in the "
                    "reference data; UNODC's denominator for those cells was not confirmed)",
            "REF_AREA": "688 Serbia only where the national unit reported victims for every quarter of the year summed; "
                        "else 922 (Custom groupings of data providers): the sum of the teams listed in COMMENT_OBS and "
                        "the coverage, over their population",
            "CONF_STATUS": "exact counts for the receiver to protect: C where the national disclosure rule suppresses the "
                           f"count (1 to {inputs.threshold}), D where it suppresses it to protect those through the "
                           "sex × age sums, F free; a rate has its count's flag",
        },
        code_lists={component: f"{cs[0].code_list}: codes {', '.join(c.code for c in cs)}; {cs[0].source}"
                    for component, cs in codes.items()}
        | {"SERIES by form": "reference/sdg_exploitation.csv (national form → series, with each mapping's source)",
           "structure": "urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=IAEG-SDGs:SDG(1.14)"},
        produced_at=inputs.produced_at,
        file_format="SDMX-CSV 2.0 (pysdmx), structure IAEG-SDGs:SDG(1.14), plus attribute CONF_STATUS",
        notes=notes + ["CONF_STATUS is not a component of IAEG-SDGs:SDG(1.14); the receiver drops it or maps it.",
                       "The 16.2.2 structure copy used (open-sdg/sdg-build, prepared 2023-08-20) may be older than the "
                       "receiver's current version; codes not found there are not used."],
    )
    return [TransmissionFile(f"sdg_16_2_2_{year}.csv", content.encode("utf-8"), sidecar)]
