"""The research export: the pseudonymised victims rows of a year, one row per person, under the field
names of IOM's Human Trafficking Case Data Standard (HTCDS 2.0) and of CTDC's public Global Dataset, and
k-anonymised as CTDC's is (k=11 by default, PipelineConfig.research_k / Variable thb_research_k).

A person is one row nationally: rows with the same CPTV token count once, the one referred first kept
(indicators.deduplicated, as the national figures count them). No case reference, CPTV token, team,
date or source row leaves: each row gets a random id of its export, and the rows are shuffled.

k-anonymity: the quasi-identifiers (QUASI_IDENTIFIERS: what someone who knows a person could know of
them) are generalised for the whole file, one step of GENERALISATIONS at a time, until the rows in
classes of fewer than k rows are at most SUPPRESSION_BUDGET of the file; the rows still in small classes
then lose quasi-identifiers one by one (LOCAL_SUPPRESSION; an emptied cell reads as unknown, as CTDC's
redacted values do), and a row still in a small class after that is left out. The sidecar says which
steps were taken, how many cells were emptied and how many rows were left out. Methods of control,
relationship to the trafficker and industry are carried as the attributes studied, not generalised.

Stored age bands: an age band nests into CTDC's ageBroad when its bounds lie inside one of CTDC's; a band
of snapshots written before victims v2 (age_band_v1) that does not (0_13, 18_24, 25_34, 35_49) gives an
empty ageBroad and only majorityStatus (Minor/Adult), which every band gives.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets

from thb_reporting.core import reference
from thb_reporting.core.config import RESEARCH_K
from thb_reporting.core.contracts import band_bounds
from thb_reporting.figures.indicators import AGE_BAND_LISTS, age_group_of_band, national_victims_of_year

HTCDS, CTDC = "HTCDS 2.0", "CTDC"
ROW_ID = "recordId"  # the export's own: a random id per row and export, linking to nothing
SUPPRESSION_BUDGET = 0.05  # at most this share of rows suppressed before a further generalisation
NO_INDUSTRY_WITHOUT_LABOUR = True  # vic_ForcedLabourIndustry only beside the labour form (victims v2's hint)

# field → (standard, what it holds); the file's columns in this order after ROW_ID
FIELDS = {
    "yearOfRegistration": (CTDC, "the year the person was referred (the export's year)"),
    "vic_TraffickingStatus": (HTCDS, "presumed (possible) or formally identified victim"),
    "prs_Gender": (HTCDS, "sex as the teams report it"),
    "ageBroad": (CTDC, "age band at referral, CTDC's bands; empty: unknown, generalised or a band that does not nest"),
    "majorityStatus": (CTDC, "Minor (under 18) or Adult at referral; empty: unknown"),
    "majorityStatusAtExploit": (CTDC, "Minor or Adult when first trafficked (from age when trafficked, victims v2)"),
    "prs_Citizenship": (HTCDS, "ISO 3166-1 alpha-2; generalised: RS, EU (another EU member state), NON_EU"),
    "CountryOfExploitation": (CTDC, "ISO 3166-1 alpha-2; generalised as prs_Citizenship"),
    "vic_TypeOfExploitation": (HTCDS, "forms of exploitation, ';'-separated HTCDS values; empty when generalised"),
    "isSexualExploit": (CTDC, "1 when a form is sexual exploitation"),
    "isForcedLabour": (CTDC, "1 when a form is forced labour"),
    "isOtherExploit": (CTDC, "1 when a form is another form"),
    "vic_MethodsOfControl": (HTCDS, "';'-separated HTCDS values (victims v2)"),
    "vic_RelationshipToTrafficker": (HTCDS, "HTCDS value (victims v2)"),
    "vic_ForcedLabourIndustry": (HTCDS, "ISIC Rev.4 section as HTCDS names it, only beside forced labour (victims v2)"),
}
QUASI_IDENTIFIERS = ("yearOfRegistration", "vic_TraffickingStatus", "prs_Gender", "ageBroad", "majorityStatus",
                     "majorityStatusAtExploit", "prs_Citizenship", "CountryOfExploitation", "vic_TypeOfExploitation",
                     "isSexualExploit", "isForcedLabour", "isOtherExploit")


def _country_group(code):
    if not code:
        return code
    return "RS" if code == "RS" else ("EU" if code in reference.eu_members() else "NON_EU")


def _blank(*fields):
    def step(frame):
        return frame.assign(**{f: "" for f in fields})
    return step


def _grouped(*fields):
    def step(frame):
        return frame.assign(**{f: frame[f].map(_country_group) for f in fields})
    return step


# The quasi-identifiers a row in a small class loses, in this order (what tells least about a person's
# trafficking first); the year and the status stay.
LOCAL_SUPPRESSION = (("CountryOfExploitation",), ("prs_Citizenship",), ("vic_TypeOfExploitation",),
                     ("ageBroad", "majorityStatusAtExploit"), ("isOtherExploit",), ("isForcedLabour",),
                     ("isSexualExploit",), ("majorityStatus",), ("prs_Gender",))

# (what the step does, the step): applied in this order, each on top of the ones before
GENERALISATIONS = (
    ("prs_Citizenship: country -> RS / EU / NON_EU", _grouped("prs_Citizenship")),
    ("CountryOfExploitation: country -> RS / EU / NON_EU", _grouped("CountryOfExploitation")),
    ("vic_TypeOfExploitation: left empty (isSexualExploit / isForcedLabour / isOtherExploit kept)",
     _blank("vic_TypeOfExploitation")),
    ("ageBroad and majorityStatusAtExploit: left empty (majorityStatus kept)", _blank("ageBroad", "majorityStatusAtExploit")),
)


def _ctdc_age_broad() -> dict[str, str]:
    """Stored band → CTDC ageBroad, for every band list snapshots hold: a band maps to the CTDC band that
    contains it (by bounds), or to nothing when it straddles two."""
    ctdc = reference.standard_codes(CTDC)
    targets = [(low, high, ctdc[("age_band", code)]["ageBroad"]) for code, low, high in band_bounds("age_band")
               if ("age_band", code) in ctdc]
    out = {}
    for bands in AGE_BAND_LISTS:
        for code, low, high in band_bounds(bands):
            inside = [value for t_low, t_high, value in targets
                      if t_low <= low and (t_high is None or (high is not None and high <= t_high))]
            if inside:
                out[code] = inside[0]
    return out


def _mapped(values, code_list: str, standard: str, field: str, separator: str = ";"):
    """National codes (one, or several ';'-separated) → the standard's values, ';'-separated, each once."""
    table = {code: fields[field] for (cl, code), fields in reference.standard_codes(standard).items()
             if cl == code_list and field in fields}

    def one(value):
        if value is None or value != value or value == "":
            return ""
        return separator.join(dict.fromkeys(table[c] for c in str(value).split(";") if c in table))
    return values.map(one)


def persons(victims, year: str):
    """The year's victims (presumed and identified), one row per person nationally, under the export's
    field names, before any generalisation. `victims`: the published national.victims rows (pandas)."""
    import pandas as pd

    rows = national_victims_of_year(victims, year)
    column = lambda name: rows[name] if name in rows else pd.Series(None, index=rows.index, dtype=object)  # noqa: E731
    group = age_group_of_band()
    majority = {code: fields["majorityStatus"] for (cl, code), fields in reference.standard_codes(CTDC).items()
                if cl == "age_group"}
    forms = column("exploitation")
    flags = {flag: _mapped(forms, "exploitation", CTDC, flag) for flag in ("isSexualExploit", "isForcedLabour", "isOtherExploit")}
    out = pd.DataFrame({
        "yearOfRegistration": str(year),
        "vic_TraffickingStatus": _mapped(rows["status"], "victim_status", HTCDS, "vic_TraffickingStatus"),
        "prs_Gender": _mapped(rows["sex"], "sex", HTCDS, "prs_Gender"),
        "ageBroad": rows["age_band"].map(_ctdc_age_broad()).fillna(""),
        "majorityStatus": rows["age_band"].map(group).map(majority).fillna(""),
        "majorityStatusAtExploit": column("age_when_trafficked_band").map(group).map(majority).fillna(""),
        "prs_Citizenship": rows["citizenship"].fillna(""),
        "CountryOfExploitation": column("country_of_exploitation").fillna(""),
        "vic_TypeOfExploitation": _mapped(forms, "exploitation", HTCDS, "vic_TypeOfExploitation"),
        **flags,
        "vic_MethodsOfControl": _mapped(column("methods_of_control"), "methods_of_control", HTCDS, "vic_MethodsOfControl"),
        "vic_RelationshipToTrafficker": _mapped(column("relationship_to_trafficker"), "relationship_to_trafficker", HTCDS,
                                                "vic_RelationshipToTrafficker"),
        "vic_ForcedLabourIndustry": _mapped(column("forced_labour_industry"), "forced_labour_industry", HTCDS,
                                            "vic_ForcedLabourIndustry"),
    }, index=rows.index)
    if NO_INDUSTRY_WITHOUT_LABOUR:
        out.loc[out["isForcedLabour"] != "1", "vic_ForcedLabourIndustry"] = ""
    return out.reset_index(drop=True)[list(FIELDS)]


def small_classes(frame, quasi_identifiers=QUASI_IDENTIFIERS, k: int = RESEARCH_K):
    """A boolean Series: the rows whose equivalence class (the rows with the same values of every
    quasi-identifier, empty being a value) has fewer than k rows."""
    sizes = frame.groupby(list(quasi_identifiers), dropna=False, sort=False)[quasi_identifiers[0]].transform("size")
    return sizes < k


def k_anonymised(frame, k: int):
    """(the rows that may leave, what was done to them): generalise the whole file step by step while more
    than SUPPRESSION_BUDGET of its rows are in small classes; then, for the rows still in small classes
    only, empty one quasi-identifier after another (LOCAL_SUPPRESSION's order); rows in a small class even
    then are left out. Rows in classes of k or more are never touched by the last two, so the result has
    no class under k."""
    steps, current = [], frame
    for description, step in GENERALISATIONS:
        if small_classes(current, k=k).sum() <= SUPPRESSION_BUDGET * len(current):
            break
        current = step(current)
        steps.append(description)
    emptied = {}
    for fields in LOCAL_SUPPRESSION:
        small = small_classes(current, k=k)
        if not small.any():
            break
        changed = small & (current[list(fields)] != "").any(axis=1)
        if changed.any():
            current = current.copy()
            current.loc[changed, list(fields)] = ""
            emptied["+".join(fields)] = int(changed.sum())
    small = small_classes(current, k=k)
    return current[~small].reset_index(drop=True), {
        "generalisations": steps, "cells_emptied": emptied, "rows_suppressed": int(small.sum())}


def build(victims, year: str, k: int, coverage=None, produced_at: dt.datetime | None = None) -> tuple[bytes, dict]:
    """The year's export file (CSV, UTF-8) and its sidecar (a dict)."""
    from thb_reporting.publishing.transmissions.model import metadata

    if k < 1:
        raise ValueError(f"the research export's k must be 1 or more, not {k}")
    before = persons(victims, year) if victims is not None else None
    if before is None:
        import pandas as pd

        before = pd.DataFrame(columns=list(FIELDS))
    released, done = k_anonymised(before, k)
    released = released.sample(frac=1, random_state=secrets.randbits(32)).reset_index(drop=True)  # no order to read
    released.insert(0, ROW_ID, [secrets.token_hex(8) for _ in range(len(released))])
    produced_at = produced_at or dt.datetime.now(dt.timezone.utc)
    sources = reference.standard_sources()
    sidecar = metadata(
        title=f"Victims of trafficking in human beings, Serbia, {year}: pseudonymised records for research "
              f"(HTCDS 2.0 / CTDC field names, k-anonymised, k={k})",
        receiver="researchers (on request to the national coordinator)",
        source="national.victims: the local teams' (and the national unit's) accepted quarterly submissions; "
               "one row per person nationally (the same CPTV number counts once, the first referral kept); "
               "presumed and identified victims",
        coverage=[coverage] if coverage is not None else [],
        definitions={ROW_ID: "a random id of this export's row; it links to nothing and changes with every export",
                     **{name: f"{standard}: {text}" for name, (standard, text) in FIELDS.items()}},
        code_lists={name: " ".join(filter(None, (sources[name]["document"], sources[name]["url"],
                                                 f"commit {sources[name]['commit']}" if sources[name]["commit"] else "",
                                                 sources[name]["note"])))
                    for name in FIELDS if name in sources},
        produced_at=produced_at, file_format="CSV (UTF-8, comma-separated, header row)",
        notes=[f"k-anonymity: every combination of the quasi-identifiers occurs in at least {k} rows "
               f"(k as CTDC's Global Dataset: {sources['k_anonymity']['url']})",
               "An empty quasi-identifier is unknown, generalised away (generalisations) or emptied for k-anonymity "
               "(cells_emptied: how many, per field); rows_suppressed rows were left out",
               "Methods of control, relationship to the trafficker and industry are not quasi-identifiers: they are "
               "the attributes studied and are not generalised",
               "ageBroad is empty for age bands stored before victims v2 that do not nest into CTDC's bands "
               "(0-13, 18-24, 25-34, 35-49); majorityStatus is given for every known age"],
    ) | {"k": k, "quasi_identifiers": list(QUASI_IDENTIFIERS), "generalisations": done["generalisations"],
         "cells_emptied": done["cells_emptied"], "rows_before": len(before), "rows_suppressed": done["rows_suppressed"],
         "rows": len(released),
         "suppression_budget": SUPPRESSION_BUDGET, "row_id": ROW_ID}
    return released.to_csv(index=False).encode("utf-8"), sidecar


def write_year(data_root: str, year: str, victims, k: int, coverage=None, folder=None, release: dict | None = None) -> list:
    """Write <data_root>/research/<year>/victims_htcds_<year>.csv and its .metadata.json, each whole then
    renamed into place (folder: a release's, else that one). Returns the paths written."""
    from thb_reporting.store.storage import storage_path, write_atomically

    content, sidecar = build(victims, year, k, coverage)
    if release is not None:  # the release it belongs to, and its status
        sidecar["release"] = release
    if folder is None:
        folder = storage_path(data_root) / "research" / str(year)
    path, meta = folder / f"victims_htcds_{year}.csv", folder / f"victims_htcds_{year}.csv.metadata.json"
    write_atomically(path, content)
    write_atomically(meta, json.dumps(sidecar, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8"))
    return [path, meta]
