"""Eurostat's trafficking in human beings collection (crim_thb) as SDMX-CSV 2.0, from exact counts, per year.

One file, crim_thb_<year>.csv, one dataflow (reference/eurostat_transmission.csv, `structure`), one cube:
FREQ, UNIT, LEG_STAT, SEX, AGE, CITIZEN, EXPL, GEO, TIME_PERIOD; OBS_VALUE; OBS_STATUS, CONF_STATUS,
COMMENT_OBS. Eurostat's tables are its slices, every dimension not broken down at TOTAL:
  - victims (identified / presumed / all registered) × sex × age (children / adults / unknown);
  - victims × sex × citizenship (reporting country / other EU / non-EU / stateless / unknown);
  - victims × sex × form of exploitation (sexual / labour / other / not stated). A person with forms in two
    groups counts under each (as Eurostat's tables count per form) and once in EXPL=TOTAL; GRETA's
    "multiple forms" category is the GRETA transmission's;
  - suspected, prosecuted and convicted persons × sex, from criminal_justice through the stage mapping of
    eurostat_transmission.csv (leg_stat rows: criminal_complaint, indictment, final_conviction; the
    other stages are not transmitted, the file says why).
One cube rather than a file per table: the tables share their totals (a total is one observation, not
one per table), and the confidentiality flags are computed over all the sums that tie them.

Victims are counted once nationally per year (indicators.deduplicated, as every national figure); the
criminal-justice counts are the teams' aggregates summed (they cannot be deduplicated).
OBS_VALUE is always the exact count; 0 is an observed zero. CONF_STATUS C marks what the disclosure rule
(disclosure.confidential: 1 to the threshold, then secondary cells over the cube's sums) keeps from the
public; Eurostat's Conf_status list has no code for free data, so a free cell has none. OBS_STATUS m with
no value only where the data cannot tell (stateless: the contract records an ISO country for everyone);
d on convicted persons (final convictions only: UNODC's definition counts first-instance ones too).
GEO is RS only where thb_reporting.figures.coverage says the figure is the nation's; otherwise the national
extension code of eurostat_transmission.csv (`geo`, `units`), with the coverage in COMMENT_OBS and the
sidecar. Pure but for building bytes: no database, no files.
"""
from __future__ import annotations

from itertools import product

from thb_reporting.figures import coverage, disclosure
from thb_reporting.core import reference
from thb_reporting.figures.indicators import NATION, NOT_STATED, VICTIM_STATUSES, age_group_of_band, national_victims_of_year

DIMENSIONS = ("FREQ", "UNIT", "LEG_STAT", "SEX", "AGE", "CITIZEN", "EXPL", "GEO", "TIME_PERIOD")
CUBE = ("LEG_STAT", "SEX", "AGE", "CITIZEN", "EXPL")  # the dimensions the tables break down
ATTRIBUTES = ("OBS_STATUS", "CONF_STATUS", "COMMENT_OBS")
COLUMNS = [*DIMENSIONS, "OBS_VALUE", *ATTRIBUTES]


def _code(code_list: str, code: str) -> str:
    return reference.eurostat_transmission()[(code_list, code)]["eurostat_code"]


def _codes() -> dict[str, dict[str, str]]:
    """Per cube dimension: our code → Eurostat code. Victims' codes from eurostat.csv (the public crim_thb
    export's), the rest from eurostat_transmission.csv."""
    out = {"leg_stat": {}, "sex": {}, "citizen": {}, "expl": {}}
    for (dimension, code), eurostat in reference.eurostat_codes().items():
        out[dimension][code] = eurostat
    for (code_list, code), row in reference.eurostat_transmission().items():
        if code_list in ("age", "citizen", "expl", "sex") or (code_list == "leg_stat" and code == "total"):
            out.setdefault(code_list, {})[code] = row["eurostat_code"]
    return out


def _stages() -> dict[str, str]:
    """criminal_justice stage → Eurostat legal status; a stage with no code is not transmitted."""
    mapping = reference.eurostat_transmission()
    return {stage: mapping[("leg_stat", stage)]["eurostat_code"] for stage in reference.codes("justice_stage")
            if mapping[("leg_stat", stage)]["eurostat_code"]}


def _victim_cells(victims, year: str) -> dict[tuple, int | None]:
    """(LEG_STAT, SEX, AGE, CITIZEN, EXPL) → victims of the year (None: cannot be known)."""
    codes = _codes()
    eu = reference.eu_members()
    persons = national_victims_of_year(victims, year)
    age_group = age_group_of_band()
    people = [(codes["leg_stat"][status], codes["sex"][sex], codes["age"][age_group.get(band, "unknown") if isinstance(band, str) else "unknown"],
               codes["citizen"]["reporting_country" if c == NATION else ("other_eu" if c in eu else "non_eu")],
               frozenset(codes["expl"][f] for f in (forms if isinstance(forms, str) else "").split(";") if f)
               or frozenset({codes["expl"][NOT_STATED]}))
              for status, sex, band, c, forms in zip(persons["status"], persons["sex"], persons["age_band"],
                                                      persons["citizenship"], persons["exploitation"])]
    total = {d: codes[d]["total"] for d in ("leg_stat", "sex", "age", "citizen", "expl")}
    legs = [*dict.fromkeys(codes["leg_stat"][s] for s in VICTIM_STATUSES), total["leg_stat"]]
    sexes = [*dict.fromkeys(v for k, v in codes["sex"].items() if k != "total"), total["sex"]]
    ages = [*dict.fromkeys(v for k, v in codes["age"].items() if k != "total"), total["age"]]
    citizens = [*dict.fromkeys(v for k, v in codes["citizen"].items() if k != "total"), total["citizen"]]
    forms = [*dict.fromkeys(v for k, v in codes["expl"].items() if k != "total"), total["expl"]]
    keys = dict.fromkeys(
        [(line, s, a, total["citizen"], total["expl"]) for line, s, a in product(legs, sexes, ages)]
        + [(line, s, total["age"], c, total["expl"]) for line, s, c in product(legs, sexes, citizens)]
        + [(line, s, total["age"], total["citizen"], e) for line, s, e in product(legs, sexes, forms)])
    # The contract's citizenship is a required ISO code (reference/countries.csv has none for the
    # stateless): a stateless person cannot be told apart, and no person's citizenship is unknown.
    unknowable = {codes["citizen"]["stateless"]}

    def count(key):
        if key[3] in unknowable:
            return None
        return sum(1 for p in people
                   if all(k == total_code or k == v for k, v, total_code in zip(key[:4], p[:4], total.values()))
                   and (key[4] == total["expl"] or key[4] in p[4]))
    return {key: count(key) for key in keys}


def _justice_cells(rows, year: str) -> dict[tuple, int]:
    """(LEG_STAT, SEX, TOTAL, TOTAL, TOTAL) → persons of the year at the stages transmitted."""
    codes = _codes()
    stages = _stages()
    rows = rows[rows["quarter"].str.startswith(year) & rows["stage"].isin(stages)]
    cells = {}
    for legal_status in dict.fromkeys(stages.values()):
        mine = rows[rows["stage"].map(stages) == legal_status]
        female, male = int(mine["persons_female"].sum()), int(mine["persons_male"].sum())
        for sex, n in ((codes["sex"]["female"], female), (codes["sex"]["male"], male), (codes["sex"]["total"], female + male)):
            cells[(legal_status, sex, codes["age"]["total"], codes["citizen"]["total"], codes["expl"]["total"])] = n
    return cells


def _hidden_in_public(inputs, year: str) -> set[tuple]:
    """The cube's cells whose figure the public outputs of the year suppress (the nation's victims, by
    sex, by child/adult, Serbian citizens, by legal status): were they free here, the receiver's
    publication would give the public suppression away (transmissions.public_rows)."""
    from thb_reporting.publishing.transmissions.model import public_rows

    if inputs.indicators is None or inputs.indicators.empty or inputs.facts.get("victims") is None:
        return set()
    public = public_rows(inputs)
    hidden = public[public["suppressed"] & (public["level"] == "nation") & (public["period"] == year)]
    codes = _codes()
    total = {d: codes[d]["total"] for d in ("leg_stat", "sex", "age", "citizen", "expl")}
    citizen = {"serbian": codes["citizen"]["reporting_country"]}
    out = set()
    for indicator, breakdown, category in zip(hidden["indicator"], hidden["breakdown"], hidden["category"]):
        cell = dict(total)
        if indicator == "persons_by_status" and category in VICTIM_STATUSES:
            cell["leg_stat"] = codes["leg_stat"][category]
        elif indicator != "victims" or breakdown not in ("total", "sex", "age_group", "citizenship"):
            continue
        elif breakdown == "sex":
            cell["sex"] = codes["sex"][category]
        elif breakdown == "age_group":
            cell["age"] = codes["age"][category]
        elif breakdown == "citizenship":
            if category not in citizen:
                continue  # foreign = other EU + non-EU: no one cell of the cube
            cell["citizen"] = citizen[category]
        out.add(tuple(cell.values()))
    return out


def _flags(cells: dict[tuple, int | None], totals: tuple, threshold: int, hidden_elsewhere=frozenset()) -> set[tuple]:
    """The cells the disclosure rule keeps from the public, over the sums of this block."""
    keys = [k for k, v in cells.items() if v is not None]
    values = [cells[k] for k in keys]
    also = [i for i, k in enumerate(keys) if k in hidden_elsewhere]
    hidden = disclosure.confidential(values, disclosure.margin_relations(keys, values, totals), threshold, also)
    return {keys[i] for i in hidden}


def observations(inputs, year: str):
    """The cube's rows of the year (COLUMNS) and the Coverage of each block transmitted."""
    import pandas as pd

    codes = _codes()
    total = tuple(codes[d]["total"] for d in ("leg_stat", "sex", "age", "citizen", "expl"))
    blocks = []
    victims = inputs.facts.get("victims")
    if (c := inputs.coverage.get(("victims", year))) is not None and victims is not None:
        blocks.append((c, _victim_cells(victims, year), total))
    justice = inputs.facts.get("criminal_justice")
    if (c := inputs.coverage.get(("criminal_justice", year))) is not None and justice is not None:
        blocks.append((c, _justice_cells(justice, year), (None, *total[1:])))  # stages are not parts of a total
    convicted = _code("leg_stat", "final_conviction")
    rows = []
    hidden_in_public = _hidden_in_public(inputs, year) if blocks else set()
    for cover, cells, totals in blocks:
        confidential = _flags(cells, totals, inputs.threshold, hidden_in_public)
        geo = coverage.nation_area(cover)  # the code list's geo rows carry the same two codes (a test checks)
        comment = "" if cover.national else cover.describe("en")
        for key, value in cells.items():
            status = _code("obs_status", "missing") if value is None else (
                _code("obs_status", "definition_differs") if key[0] == convicted else "")
            rows.append(dict(zip(CUBE, key), FREQ=_code("freq", "annual"), UNIT=_code("unit", "persons"), GEO=geo,
                             TIME_PERIOD=year, OBS_VALUE=value, OBS_STATUS=status,
                             CONF_STATUS=_code("conf_status", "confidential") if key in confidential else "",
                             COMMENT_OBS=comment))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["OBS_VALUE"] = frame["OBS_VALUE"].astype("Int64")
    if inputs.release is not None:
        _mark_release(frame, inputs, year)
    return frame, [cover for cover, _, _ in blocks]


def _mark_release(frame, inputs, year: str) -> None:
    """A release's file: OBS_STATUS p on every value of a provisional release (where no other status is set:
    Eurostat takes one); COMMENT_OBS says 'revised' on a value that differs from the period's previous release
    (Eurostat's flags have no code for a revision: a resent value replaces the earlier one, and the comment
    and the sidecar's list say which)."""
    mark = inputs.release
    if mark.provisional:
        frame.loc[frame["OBS_STATUS"].eq("") & frame["OBS_VALUE"].notna(), "OBS_STATUS"] = _code("obs_status", "provisional")
    if mark.previous is None:
        return
    previous_id, previous_inputs = mark.previous
    before, _ = observations(previous_inputs, year)
    was = {tuple(r[:len(CUBE)]): r[-1] for r in before[[*CUBE, "OBS_VALUE"]].itertuples(index=False)}
    revised = [i for i, r in enumerate(frame[[*CUBE, "OBS_VALUE"]].itertuples(index=False))
               if tuple(r[:len(CUBE)]) in was and not _equal(was[tuple(r[:len(CUBE)])], r[-1])]
    note = f"revised since release {previous_id}"
    frame.loc[frame.index[revised], "COMMENT_OBS"] = [
        f"{note}; {c}" if c else note for c in frame.loc[frame.index[revised], "COMMENT_OBS"]]


def _equal(a, b) -> bool:
    import pandas as pd

    return (pd.isna(a) and pd.isna(b)) or (not pd.isna(a) and not pd.isna(b) and int(a) == int(b))


def schema():
    """The pysdmx Schema of the file, its code lists built from the reference data."""
    from pysdmx.model import Code, Codelist, Component, Components, Concept, DataType, Role, Schema

    dataflow = _code("structure", "dataflow")  # AGENCY:ID(VERSION)
    agency, rest = dataflow.split(":")
    flow_id, version = rest.rstrip(")").split("(")
    codes = _codes()
    labels = {r["eurostat_code"]: r["label_en"] for r in reference.eurostat_transmission().values()}
    labels |= {r["eurostat_code"]: r["eurostat_label"] for r in reference.csv_rows("eurostat.csv")}
    transmission = reference.eurostat_transmission()

    def listed(code_list):
        return [row["eurostat_code"] for (cl, _), row in transmission.items() if cl == code_list and row["eurostat_code"]]
    lists = {"FREQ": listed("freq"), "UNIT": listed("unit"), "GEO": listed("geo"),
             "LEG_STAT": [*dict.fromkeys([*codes["leg_stat"].values(), *_stages().values()])],
             "SEX": [*dict.fromkeys(codes["sex"].values())], "AGE": [*dict.fromkeys(codes["age"].values())],
             "CITIZEN": [*dict.fromkeys(codes["citizen"].values())], "EXPL": [*dict.fromkeys(codes["expl"].values())],
             "OBS_STATUS": listed("obs_status"), "CONF_STATUS": listed("conf_status")}

    def component(cid, role, required=True, dtype=DataType.STRING):
        codelist = (Codelist(id=f"CL_{cid}", agency=agency, name=cid,
                             items=[Code(id=c, name=labels.get(c, c)) for c in lists[cid]]) if cid in lists else None)
        return Component(id=cid, required=required, role=role, concept=Concept(id=cid, dtype=dtype), local_dtype=dtype,
                         local_codes=codelist, attachment_level="O" if role == Role.ATTRIBUTE else None)
    return Schema(context="dataflow", agency=agency, id=flow_id, version=version, components=Components(
        [component(d, Role.DIMENSION) for d in DIMENSIONS]
        + [component("OBS_VALUE", Role.MEASURE, required=False, dtype=DataType.INTEGER)]
        + [component(a, Role.ATTRIBUTE, required=False) for a in ATTRIBUTES]))


def check_codes(frame, structure) -> None:
    """Every coded value is in its code list (pysdmx's writer does not check): raises ValueError."""
    for component in structure.components:
        if component.local_codes is None or component.id not in frame:
            continue
        allowed = {c.id for c in component.local_codes}
        bad = set(frame[component.id].dropna()) - allowed - ({""} if not component.required else set())
        if bad:
            raise ValueError(f"{component.id}: codes not in {component.local_codes.id}: {sorted(bad)}")


def to_sdmx_csv(frame, structure) -> bytes:
    from pysdmx.io.csv.sdmx20.writer import write
    from pysdmx.io.pd import PandasDataset

    check_codes(frame, structure)
    text = write([PandasDataset(structure=structure, data=frame)])
    return text.encode("utf-8")


def code_list_sources() -> dict[str, str]:
    """Dimension or attribute → where its codes come from, unconfirmed codes named."""
    transmission = reference.eurostat_transmission()
    out = {}
    for (code_list, code), row in transmission.items():
        key = code_list.upper()
        state = "" if row["confirmed"] == "yes" else " [NOT CONFIRMED against Eurostat's code list]"
        entry = f"{row['eurostat_code'] or '(not transmitted)'} ({code}): {row['source']}{state}"
        out[key] = f"{out[key]} | {entry}" if key in out else entry
    out["LEG_STAT"] += (" | IDENT, PRESUM (victims): reference/eurostat.csv, the public crim_thb export's codes"
                        " [NOT CONFIRMED against Eurostat's code list]")
    out["SEX"] += " | F, M, UNK: reference/eurostat.csv; Eurostat SEX code list"
    out["CITIZEN"] += " | NAT, EU27_2020_FOR, NEU27_2020_FOR: reference/eurostat.csv; Eurostat CITIZEN codes (as STLS)"
    out["EXPL"] += " | SEX, LAB, OTH: reference/eurostat.csv [NOT CONFIRMED against Eurostat's code list]"
    return out


def build(inputs, year: str) -> list:
    from thb_reporting.publishing.transmissions.model import TransmissionFile, metadata

    frame, covered = observations(inputs, year)
    if frame.empty:
        return []
    structure = schema()
    notes = [
        "OBS_VALUE is exact; CONF_STATUS C marks the cells that the disclosure rule (threshold "
        f"{inputs.threshold}, primary and secondary over this file's sums) keeps from the public: the receiver "
        "must not publish them. A cell without CONF_STATUS is free.",
        "0 is an observed zero. OBS_STATUS m with no OBS_VALUE: cannot be known from the records (stateless "
        "persons: citizenship is recorded as an ISO country for everyone, so CITIZEN=UNK is an observed 0).",
        "GEO=RS only where a national unit reported for every quarter of the year; otherwise GEO="
        f"{_code('geo', 'units')} (not the country) and COMMENT_OBS says which units and population it sums.",
        "Several forms of exploitation: a person counts under each Eurostat group of its forms, once in TOTAL.",
        "Criminal justice: persons at criminal complaint = suspected, indictment = prosecuted, final conviction = "
        "convicted (OBS_STATUS d: final convictions only). Investigations and first-instance judgments are not "
        "transmitted (see code_lists LEG_STAT). Teams' aggregate counts are summed: a person reported by two "
        "teams counts twice.",
        "SDMX-CSV 2.0 (STRUCTURE, STRUCTURE_ID, ACTION first), written with pysdmx: version 2.0 names the "
        "structure type and the action in every row; Eurostat's converter reads SDMX-CSV (check the "
        "dataflow id with Eurostat before sending: see code_lists STRUCTURE).",
    ]
    if inputs.release is not None:
        mark = inputs.release
        notes.append(f"Release {mark.release_id} of {year}, " + ("provisional: every value without another status is "
                     "flagged OBS_STATUS p (provisional); a later release may revise it." if mark.provisional else
                     "final.") + ("" if mark.previous is None else f" COMMENT_OBS 'revised since release "
                     f"{mark.previous[0]}' marks each value that differs from that release's transmission."))
    return [TransmissionFile(f"crim_thb_{year}.csv", to_sdmx_csv(frame, structure), metadata(
        title=f"Trafficking in human beings, Serbia, {year} (Eurostat crim_thb)",
        receiver="Eurostat",
        source="Local anti-trafficking teams' and national units' accepted quarterly submissions (victims, "
               "criminal_justice), thb-national-reporting",
        coverage=covered,
        definitions={
            "LEG_STAT": "IDENT identified, PRESUM presumed (possible) victims, TOTAL registered victims; PER_SUSP, "
                        "PER_PRSC, PER_CNV suspected, prosecuted, convicted persons (stage mapping in code_lists)",
            "AGE": "Y_LT18 children (age bands below 18), Y_GE18 adults, UNK age not known",
            "EXPL": "a person with forms in several groups counts in each; TOTAL counts each person once",
            "OBS_VALUE": "number of persons, exact",
            "CONF_STATUS": "C: confidential (disclosure rule); empty: free",
        },
        code_lists=code_list_sources(), produced_at=inputs.produced_at, file_format="SDMX-CSV 2.0", notes=notes))]
