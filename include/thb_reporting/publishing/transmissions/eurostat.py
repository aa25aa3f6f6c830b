"""Eurostat's trafficking in human beings collection (crim_thb) as SDMX-CSV 2.0, from exact counts, per year.

The crim_thb metadata (ESMS, https://ec.europa.eu/eurostat/cache/metadata/en/crim_thb_esms.htm, 3.1) describes
separate tables, so each is its own file and its own dataset, crim_thb_<table>_<year>.csv (TABLES):
  - persons in the criminal justice system by legal status and sex: registered victims (identified, presumed,
    and their total), suspected, prosecuted and convicted persons (criminal_justice through the stage mapping of
    eurostat_transmission.csv: criminal complaint, indictment, final conviction; the other stages are not sent);
  - registered victims by citizenship and sex; by form of exploitation and sex; by age group and sex.
Victims are counted once nationally per year (indicators.national_victims_of_year); the criminal-justice counts
are the teams' aggregates summed (they cannot be deduplicated).

Forms of exploitation: each registered victim counts once under each group of its forms (sexual, labour,
other; UNK when none is stated), so the groups can add up to more than the registered victims; the table has no
total of forms (the registered victims are in the other tables) and no sum within EXPL is claimed.

The codes. No published Eurostat transmission structure for crim_thb was found: each file is written against
the sender's own draft structure (schema(): agency `structure,sender_agency`, id CRIM_THB_<TABLE>, version
0.1), never an ESTAT id. A code whose Eurostat equivalent is not confirmed (the `confirmed` column of
eurostat.csv and eurostat_transmission.csv) is kept out of the file: its observations are withheld and the
sidecar lists them as pending; a table left with none is not written. GEO is RS; a figure that sums only some
units is still RS, with OBS_STATUS D and COMMENT_OBS naming the units.

Flags, in the SDMX cross-domain lists (upper case: Eurostat's lower-case letters are its dissemination flags):
CONF_STATUS C a count of 1 to the threshold, D a cell hidden to protect another (disclosure.confidential over
every sum of the year's tables together, and every cell whose figure the public tables suppress), F free; the
same C / D / F as the SDG file. OBS_STATUS is one code: L (data exist but were not collected: stateless
persons) > P (provisional: a provisional release, or a year not complete, transmissions.model.partial_year) >
D (definition differs: a partial sum, or final convictions only) > A; COMMENT_OBS says every reason.
Every file is checked against its structure before it leaves (structure_check, with rules()). Pure but for
building bytes.
"""
from __future__ import annotations

from thb_reporting.core import reference
from thb_reporting.figures import disclosure, indicator_catalogue
from thb_reporting.figures.indicators import NATION, NOT_STATED, VICTIM_STATUSES, age_group_of_band, national_victims_of_year
from thb_reporting.publishing.transmissions import structure_check

# table → (the dimension it breaks down besides SEX, its title, whether that dimension's TOTAL is the sum of its codes)
TABLES = {
    "persons_legal_status": ("LEG_STAT", "Persons in the criminal justice system by legal status and sex", True),
    "victims_citizenship": ("CITIZEN", "Registered victims by citizenship and sex", True),
    "victims_exploitation": ("EXPL", "Registered victims by form of exploitation and sex (each person once per group)", False),
    "victims_age": ("AGE", "Registered victims by age group and sex", True),
}
ATTRIBUTES = ("OBS_STATUS", "CONF_STATUS", "COMMENT_OBS")


def dimensions(table: str) -> tuple[str, ...]:
    return ("FREQ", "UNIT", TABLES[table][0], "SEX", "GEO", "TIME_PERIOD")


def columns(table: str) -> list[str]:
    return [*dimensions(table), "OBS_VALUE", *ATTRIBUTES]


def _code(code_list: str, code: str) -> str:
    return reference.eurostat_transmission()[(code_list, code)]["eurostat_code"]


def _codes() -> dict[str, dict[str, str]]:
    """Per dimension (lower case): our code → Eurostat code, from eurostat.csv and eurostat_transmission.csv."""
    out: dict[str, dict[str, str]] = {"leg_stat": {}, "sex": {}, "citizen": {}, "expl": {}, "age": {}}
    for (dimension, code), eurostat in reference.eurostat_codes().items():
        out[dimension][code] = eurostat
    for (code_list, code), row in reference.eurostat_transmission().items():
        if code_list in ("age", "citizen", "expl", "sex") or (code_list == "leg_stat" and code == "total"):
            out[code_list][code] = row["eurostat_code"]
    return out


def confirmed() -> set[tuple[str, str]]:
    """(DIMENSION, Eurostat code) of every code confirmed as Eurostat's (the reference data's `confirmed`)."""
    out = {(r["dimension"].upper(), r["eurostat_code"]) for r in reference.csv_rows("eurostat.csv") if r["confirmed"] == "yes"}
    return out | {(cl.upper(), r["eurostat_code"]) for (cl, _), r in reference.eurostat_transmission().items()
                  if r["confirmed"] == "yes" and r["eurostat_code"]}


def _stages() -> dict[str, str]:
    """criminal_justice stage → Eurostat legal status; a stage with no code is not transmitted."""
    mapping = reference.eurostat_transmission()
    return {stage: mapping[("leg_stat", stage)]["eurostat_code"] for stage in reference.codes("justice_stage")
            if mapping[("leg_stat", stage)]["eurostat_code"]}


def _victim_cells(victims, year: str) -> dict[tuple, int | None]:
    """(table, code, SEX) → registered victims of the year (None: exist but not collected)."""
    codes = _codes()
    eu = reference.eu_members()
    group_of = age_group_of_band()
    persons = national_victims_of_year(victims, year)
    people = [{"LEG_STAT": codes["leg_stat"][status], "SEX": codes["sex"][sex],
               "AGE": codes["age"][group_of.get(band, "unknown") if isinstance(band, str) else "unknown"],
               "CITIZEN": codes["citizen"]["reporting_country" if c == NATION else ("other_eu" if c in eu else "non_eu")],
               "EXPL": {codes["expl"][f] for f in (forms if isinstance(forms, str) else "").split(";") if f}
               or {codes["expl"][NOT_STATED]}}
              for status, sex, band, c, forms in zip(persons["status"], persons["sex"], persons["age_band"],
                                                      persons["citizenship"], persons["exploitation"])]
    sexes = [*dict.fromkeys(v for k, v in codes["sex"].items() if k != "total")]
    total_sex = codes["sex"]["total"]
    # the contract records an ISO country for everyone (reference/countries.csv has none for the stateless):
    # a stateless person exists but is not recorded as such, and counts under the country recorded
    not_collected = {("victims_citizenship", codes["citizen"]["stateless"])}
    values = {"LEG_STAT": [*dict.fromkeys(codes["leg_stat"][s] for s in VICTIM_STATUSES)],
              "CITIZEN": [*dict.fromkeys(v for k, v in codes["citizen"].items() if k != "total")],
              "EXPL": [*dict.fromkeys(v for k, v in codes["expl"].items() if k != "total")],
              "AGE": [*dict.fromkeys(v for k, v in codes["age"].items() if k != "total")]}
    cells: dict[tuple, int | None] = {}
    for table, (dimension, _, with_total) in TABLES.items():
        lines = values[dimension] + ([codes[dimension.lower()]["total"]] if with_total else [])
        for line in lines:
            for sex in [*sexes, total_sex]:
                if (table, line) in not_collected:
                    cells[(table, line, sex)] = None
                    continue
                cells[(table, line, sex)] = sum(
                    1 for p in people if (sex == total_sex or p["SEX"] == sex)
                    and (line == codes[dimension.lower()].get("total") and with_total
                         or (line in p[dimension] if dimension == "EXPL" else p[dimension] == line)))
    return cells


def _justice_cells(rows, year: str) -> dict[tuple, int]:
    """("persons_legal_status", legal status, SEX) → persons of the year at the stages transmitted."""
    codes, stages = _codes(), _stages()
    rows = rows[rows["quarter"].str.startswith(year) & rows["stage"].isin(stages)]
    cells = {}
    for legal_status in dict.fromkeys(stages.values()):
        mine = rows[rows["stage"].map(stages) == legal_status]
        female, male = int(mine["persons_female"].sum()), int(mine["persons_male"].sum())
        for sex, n in (("female", female), ("male", male), ("total", female + male)):
            cells[("persons_legal_status", legal_status, codes["sex"][sex])] = n
    return cells


def relations(keys: list[tuple], values: list[int]) -> list[disclosure.Relation]:
    """The sums that tie the year's cells (table, code, SEX): along SEX in every table, along the table's dimension
    where its TOTAL is the sum of its codes (the registered victims: identified + presumed), and the registered
    victims of a sex, the same in every table that has them."""
    codes = _codes()
    total_sex = codes["sex"]["total"]
    index = {k: i for i, k in enumerate(keys)}
    groups: list[disclosure.Relation] = []
    victim_lines = set(codes["leg_stat"][s] for s in VICTIM_STATUSES)
    for table, (dimension, _, with_total) in TABLES.items():
        total = codes[dimension.lower()]["total"]
        mine = [k for k in keys if k[0] == table]
        for line in {k[1] for k in mine}:
            parts = [index[k] for k in mine if k[1] == line and k[2] != total_sex]
            if (table, line, total_sex) in index:
                groups.append((parts, [index[(table, line, total_sex)]]))
        if with_total:
            for sex in {k[2] for k in mine}:
                parts = [index[k] for k in mine if k[2] == sex and k[1] != total
                         and (table != "persons_legal_status" or k[1] in victim_lines)]
                if (table, total, sex) in index:
                    groups.append((parts, [index[(table, total, sex)]]))
    registered = {sex: [index[(t, codes[d.lower()]["total"], sex)] for t, (d, _, w) in TABLES.items()
                        if w and (t, codes[d.lower()]["total"], sex) in index] for sex in {k[2] for k in keys}}
    for cells in registered.values():
        groups += [([a], [b]) for a, b in zip(cells, cells[1:])]
    return [(p, t) for p, t in groups if sum(values[i] for i in p) == sum(values[i] for i in t)]


def _hidden_in_public(inputs, year: str) -> set[tuple]:
    """The cells whose figure the public outputs of the year suppress: were they free here, the receiver's
    publication would give the public suppression away (transmissions.public_rows). A convicted (or suspected,
    prosecuted) sex is hidden where any article's cell of its stage and sex is."""
    from thb_reporting.publishing.transmissions.model import public_rows

    if inputs.indicators is None or inputs.indicators.empty:
        return set()
    public = public_rows(inputs)
    hidden = public[public["suppressed"] & (public["level"] == "nation") & (public["period"] == year)]
    codes, stages = _codes(), _stages()
    t = {d: codes[d]["total"] for d in codes}
    victims = [(table, t[d.lower()]) for table, (d, _, w) in TABLES.items() if w]
    out = set()
    for indicator, breakdown, category in zip(hidden["indicator"], hidden["breakdown"], hidden["category"]):
        if indicator == "persons_by_status" and category in VICTIM_STATUSES:
            out.add(("persons_legal_status", codes["leg_stat"][category], t["sex"]))
        elif indicator == "prosecution_persons" and breakdown in ("article_stage", "article_stage_sex"):
            parts = indicator_catalogue.category_parts(category)
            if parts[1] in stages:
                out.add(("persons_legal_status", stages[parts[1]], codes["sex"][parts[2]] if len(parts) > 2 else t["sex"]))
        elif indicator != "victims":
            continue
        elif breakdown == "total":
            out |= {(table, total, t["sex"]) for table, total in victims}
        elif breakdown == "sex":
            out |= {(table, total, codes["sex"][category]) for table, total in victims}
        elif breakdown == "age_group":
            out.add(("victims_age", codes["age"][category], t["sex"]))
        elif breakdown == "citizenship" and category == "serbian":
            out.add(("victims_citizenship", codes["citizen"]["reporting_country"], t["sex"]))
    return out


def confidentiality(cells: dict[tuple, int | None], threshold: int, hidden_elsewhere=frozenset()) -> dict[tuple, str]:
    """CONF_STATUS of every cell with a value: C primary (1 to the threshold), D secondary (hidden so that no C can
    be recomputed from the year's tables, or hidden by the public tables), F free."""
    keys = [k for k, v in cells.items() if v is not None]
    values = [cells[k] for k in keys]
    groups = relations(keys, values)
    hidden = disclosure.confidential(values, groups, threshold, [i for i, k in enumerate(keys) if k in hidden_elsewhere])
    primary = set(disclosure.primary_cells(values, threshold))
    flag = {c: _code("conf_status", c) for c in ("primary", "secondary", "free")}
    return {k: flag["primary"] if i in primary else flag["secondary"] if i in hidden else flag["free"]
            for i, k in enumerate(keys)}


def observations(inputs, year: str) -> dict[str, object]:
    """table → its rows of the year (columns(table)), every code included (pending ones too: withheld later)."""
    import pandas as pd

    from thb_reporting.publishing.transmissions.model import partial_year

    cells: dict[tuple, int | None] = {}
    dataset_of: dict[tuple, str] = {}
    for dataset, make in (("victims", _victim_cells), ("criminal_justice", _justice_cells)):
        facts = inputs.facts.get(dataset)
        if inputs.coverage.get((dataset, year)) is not None and facts is not None and not facts.empty:
            made = make(facts, year)
            cells |= made
            dataset_of |= dict.fromkeys(made, dataset)
    if not cells:
        return {}
    flags = confidentiality(cells, inputs.threshold, _hidden_in_public(inputs, year))
    convicted = _code("leg_stat", "final_conviction")
    status = {s: _code("obs_status", s) for s in ("normal", "definition_differs", "not_collected", "provisional")}
    notes = {d: (partial_year(inputs, d, year), inputs.coverage[(d, year)]) for d in set(dataset_of.values())}
    provisional_release = inputs.release is not None and inputs.release.provisional
    rows: dict[str, list] = {}
    for (table, line, sex), value in cells.items():
        incomplete, cover = notes[dataset_of[(table, line, sex)]]
        comment = [incomplete or "", "" if cover.national else f"definition differs: {cover.describe('en')}",
                   "definition differs: final convictions only" if line == convicted else ""]
        differs = not cover.national or line == convicted
        obs_status = (status["not_collected"] if value is None else status["provisional"] if incomplete or provisional_release
                      else status["definition_differs"] if differs else status["normal"])
        if value is None:
            comment.append("stateless persons exist but are not recorded as such (an ISO country is recorded for everyone)")
        rows.setdefault(table, []).append({
            "FREQ": _code("freq", "annual"), "UNIT": _code("unit", "persons"), TABLES[table][0]: line, "SEX": sex,
            "GEO": _code("geo", "nation"), "TIME_PERIOD": year, "OBS_VALUE": value, "OBS_STATUS": obs_status,
            "CONF_STATUS": flags.get((table, line, sex), "") if value is not None else "",
            "COMMENT_OBS": "; ".join(c for c in comment if c)})
    frames = {}
    for table in TABLES:
        if table in rows:
            frame = pd.DataFrame(rows[table], columns=columns(table))
            frame["OBS_VALUE"] = frame["OBS_VALUE"].astype("Int64")
            if inputs.release is not None and inputs.release.previous is not None:
                _mark_revised(frame, table, inputs, year)
            frames[table] = frame
    return frames


def _mark_revised(frame, table: str, inputs, year: str) -> None:
    """COMMENT_OBS 'revised since release N' on a value that differs from the period's previous release (SDMX's
    OBS_STATUS has no code for a revision: a resent value replaces the earlier one)."""
    previous_id, previous_inputs = inputs.release.previous
    before = observations(previous_inputs, year).get(table)
    if before is None:
        return
    key = list(dimensions(table))
    was = {tuple(r[:-1]): r[-1] for r in before[[*key, "OBS_VALUE"]].itertuples(index=False)}
    note = f"revised since release {previous_id}"
    for i, r in zip(frame.index, frame[[*key, "OBS_VALUE"]].itertuples(index=False)):
        old = was.get(tuple(r[:-1]), r[-1])
        if str(old) != str(r[-1]):
            frame.at[i, "COMMENT_OBS"] = f"{note}; {frame.at[i, 'COMMENT_OBS']}" if frame.at[i, "COMMENT_OBS"] else note


def withhold_pending(frame, table: str):
    """The rows whose codes are all confirmed as Eurostat's, and the pending ones (DIMENSION=code → rows withheld)."""
    ok = confirmed()
    coded = [d for d in dimensions(table) if d != "TIME_PERIOD"]
    keep = frame[coded].apply(lambda r: all((d, r[d]) in ok for d in coded), axis=1)
    pending: dict[str, int] = {}
    for _, r in frame[~keep].iterrows():
        for d in coded:
            if (d, r[d]) not in ok:
                pending[f"{d}={r[d]}"] = pending.get(f"{d}={r[d]}", 0) + 1
    return frame[keep].reset_index(drop=True), pending


def schema(table: str):
    """The pysdmx Schema of a table's file: the sender's draft structure, its code lists the confirmed codes only."""
    from pysdmx.model import Code, Codelist, Component, Components, Concept, DataType, Role, Schema

    agency = _code("structure", "sender_agency")
    labels = {r["eurostat_code"]: r["label_en"] for r in reference.eurostat_transmission().values()}
    labels |= {r["eurostat_code"]: r["eurostat_label"] for r in reference.csv_rows("eurostat.csv")}
    ok = confirmed()

    def component(cid, role, required=True, dtype=DataType.STRING):
        codes = sorted(c for d, c in ok if d == cid)
        codelist = Codelist(id=f"CL_{cid}", agency=agency, name=cid,
                            items=[Code(id=c, name=labels.get(c, c)) for c in codes]) if codes else None
        return Component(id=cid, required=required, role=role, concept=Concept(id=cid, dtype=dtype), local_dtype=dtype,
                         local_codes=codelist, attachment_level="O" if role == Role.ATTRIBUTE else None)
    return Schema(context="datastructure", agency=agency, id=f"CRIM_THB_{table.upper()}", version="0.1",
                  components=Components([component(d, Role.DIMENSION) for d in dimensions(table)]
                                        + [component("OBS_VALUE", Role.MEASURE, required=False, dtype=DataType.INTEGER)]
                                        + [component("OBS_STATUS", Role.ATTRIBUTE), component("CONF_STATUS", Role.ATTRIBUTE, required=False),
                                           component("COMMENT_OBS", Role.ATTRIBUTE, required=False)]))


def rules(table: str, threshold: int) -> structure_check.Rules:
    """What the structure check holds a table's file to: OBS_VALUE absent exactly where OBS_STATUS is L (not
    collected: those persons count under another code, so a total adds up without them); CONF_STATUS C exactly on
    the counts from 1 to the threshold, C or D protecting them, a flag on every value; the totals along SEX, and
    along the table's dimension where its TOTAL is the sum of its codes (TABLES; legal status: the registered
    victims are identified + presumed, the justice stages are not parts of them)."""
    codes, dimension = _codes(), TABLES[table][0]
    not_collected = frozenset({_code("obs_status", "not_collected")})
    conf = {c: _code("conf_status", c) for c in ("primary", "secondary")}
    ok = confirmed()

    def total(component: str, parts=None) -> structure_check.Total:
        whole = codes[component.lower()]["total"]
        return structure_check.Total(component, whole, tuple(sorted(parts or {c for d, c in ok if d == component and c != whole})))

    totals = [total("SEX")]
    if TABLES[table][2]:
        totals.append(total(dimension, {codes["leg_stat"][s] for s in VICTIM_STATUSES} if dimension == "LEG_STAT" else None))
    return structure_check.Rules(threshold=threshold, absent_when={"OBS_STATUS": not_collected},
                                 counted_elsewhere={"OBS_STATUS": not_collected},
                                 protected_by={"CONF_STATUS": frozenset(conf.values())},
                                 primary=("CONF_STATUS", conf["primary"]),
                                 totals=tuple(t for t in totals if t.parts))  # parts all pending: the total alone is sent


def to_sdmx_csv(frame, structure) -> bytes:
    from pysdmx.io.csv.sdmx20.writer import write
    from pysdmx.io.pd import PandasDataset

    return write([PandasDataset(structure=structure, data=frame)]).encode("utf-8")


def build(inputs, year: str) -> list:
    from thb_reporting.publishing.transmissions.eurostat_sidecar import sidecar
    from thb_reporting.publishing.transmissions.model import TransmissionFile

    out = []
    for table, frame in observations(inputs, year).items():
        sent, pending = withhold_pending(frame, table)
        name = f"crim_thb_{table}_{year}.csv"
        if sent.empty:
            meta = sidecar(inputs, year, table, TABLES[table], pending, sent, schema(table))
            meta["pending"]["observations_withheld"] = len(frame)
            out.append(TransmissionFile(name, b"", meta, withheld=True))
            continue
        structure = schema(table)
        content = to_sdmx_csv(sent, structure)
        report = structure_check.check(content, structure, rules(table, inputs.threshold), name)
        meta = sidecar(inputs, year, table, TABLES[table], pending, sent, structure)
        if pending:
            meta["pending"]["observations_withheld"] = len(frame) - len(sent)
        meta["notes"].append(f"Structure check: {'passed' if report['passed'] else 'FAILED'} ({name}.validation.json).")
        out.append(TransmissionFile(name, content, meta, validation=report))
    return out
