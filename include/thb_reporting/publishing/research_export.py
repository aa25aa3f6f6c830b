"""The research export: the pseudonymised victims rows of a year, one row per person, in one vocabulary:
the layout of CTDC's Global Dataset (Counter-Trafficking Data Collaborative, IOM), whose k-anonymised file
is the model of this one (k=11 by default, PipelineConfig.research_k / Variable thb_research_k). Its
columns, codes and missing code: reference/standard_sources.csv (standard CTDC); national code → CTDC
value: reference/standard_codes.csv. HTCDS 2.0 is a case-management standard (dates of birth, referral
dates, multi-select fields): it has no year, age band or per-form flags, so it is not this file's layout.

A person is one row nationally: rows with the same CPTV token count once, the one referred first kept
(indicators.deduplicated, as the national figures count them). No case reference, CPTV token, team,
date or source row leaves: each row gets a random id of its export, and the rows are shuffled.

Every cell is a CTDC value or MISSING (CTDC's code for a value not known), never an empty "no": the
flags are 1 (yes), 0 (no) or MISSING. A suppressed cell reads MISSING, as an unknown one does.

k-anonymity over every released column: a row's equivalence class is the rows equal to it in every column
but the row id. Column groups (COLUMNS_LEFT_OUT) are left out of the whole file, one after another,
until the rows in classes of fewer than k rows are at most SUPPRESSION_BUDGET of the file; the rows still
in small classes then lose cells group by group (LOCAL_SUPPRESSION); a row still in a small class after
that is left out. The sidecar gives the columns released (all of them quasi-identifiers), the columns
left out, the cells suppressed, the rows left out and the smallest class measured on the released rows.

Dependent columns go together, so no suppressed value can be read from another column: the exploitation
flags with each other and with the types of labour (a type of labour says forced labour); ageBroad with
majorityStatus (a band gives it) and majorityStatusAtExploit (a minor at registration was one when
exploited); each set of 0/1 columns of one national field as a whole (the others' zeros would give it).

Stored age bands: an age band nests into CTDC's ageBroad when its bounds lie inside one of CTDC's; a band
of snapshots written before victims v2 (age_band_v1) that does not (0_13, 18_24, 25_34, 35_49) gives
ageBroad MISSING and only majorityStatus (Minor/Adult), which every band gives.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets

from thb_reporting.core import reference
from thb_reporting.core.contracts import band_bounds
from thb_reporting.figures.indicators import AGE_BAND_LISTS, age_group_of_band, national_victims_of_year

CTDC = "CTDC"
MISSING = "-99"  # CTDC's code for a value not known (reference/standard_sources.csv, missing_code)
ROW_ID = "recordId"  # the export's own: a random id per row and export, linking to nothing
SUPPRESSION_BUDGET = 0.05  # at most this share of rows in small classes before a further group is left out
MINORS = ("0--8", "9--17")  # CTDC's ageBroad values under 18


def _flag_columns(code_list: str) -> tuple[str, ...]:
    """The CTDC 0/1 columns a national code list maps to, in reference/standard_codes.csv's order."""
    return tuple(dict.fromkeys(field for (cl, _), fields in reference.standard_codes(CTDC).items() if cl == code_list
                               for field in fields))


FORMS = _flag_columns("exploitation")  # isSexualExploit, isForcedLabour, isOtherExploit
LABOUR = _flag_columns("forced_labour_industry")  # typeOfLabour...: only beside isForcedLabour = 1
CONTROL = _flag_columns("methods_of_control")  # meansOfControl...
RELATION = _flag_columns("relationship_to_trafficker")  # recruiterRelation...
AGE = ("ageBroad", "majorityStatus", "majorityStatusAtExploit")

# column → what it holds; the file's columns in this order after ROW_ID
FIELDS = {
    "yearOfRegistration": "the year the person was referred (the export's year)",
    "gender": "Female or Male",
    "ageBroad": "age band at referral, CTDC's bands",
    "majorityStatus": "Minor (under 18) or Adult at referral",
    "majorityStatusAtExploit": "Minor or Adult when first trafficked (from age when trafficked, victims v2)",
    "citizenship": "ISO 3166-1 alpha-2",
    "CountryOfExploitation": "ISO 3166-1 alpha-2 (victims v2)",
    **{c: "1 when a form of exploitation is this one, else 0" for c in FORMS},
    **{c: "1 when the industry of forced labour is this type, else 0; only beside isForcedLabour = 1 (victims v2)"
       for c in LABOUR},
    **{c: "1 when this means of control was used, else 0 (victims v2)" for c in CONTROL},
    **{c: "1 when the recruiter's relation to the person is this one, else 0 (victims v2)" for c in RELATION},
}
SOURCE_OF = {**{c: c for c in FIELDS}, **{c: "typeOfLabour" for c in LABOUR}, **{c: "meansOfControl" for c in CONTROL},
             **{c: "recruiterRelation" for c in RELATION}}  # column → its row in standard_sources.csv

# Left out of the whole file, in this order, while too many rows are in small classes: the attributes
# with the most combinations first.
COLUMNS_LEFT_OUT = (CONTROL, RELATION, LABOUR, ("CountryOfExploitation",), ("majorityStatusAtExploit",))

# The cells a row in a small class loses, group by group in this order (what tells least about a person's
# trafficking first); each group holds the columns that would give its values away. The year stays.
LOCAL_SUPPRESSION = (("CountryOfExploitation",), ("citizenship",), CONTROL, RELATION, LABOUR, ("ageBroad",),
                     FORMS + LABOUR, AGE, ("gender",))


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


def _codes(value) -> list[str]:
    if value is None or value != value or value == "":
        return []
    return [c for c in str(value).split(";") if c]


def _flags(values, code_list: str, columns: tuple[str, ...]):
    """National codes (one, or several ';'-separated) → one CTDC 0/1 column each; all MISSING when the
    national value is not known."""
    import pandas as pd

    table = {code: fields for (cl, code), fields in reference.standard_codes(CTDC).items() if cl == code_list}

    def one(value):
        codes = _codes(value)
        if not codes:
            return [MISSING] * len(columns)
        named = {field for c in codes for field in table.get(c, {})}
        return ["1" if column in named else "0" for column in columns]
    return pd.DataFrame([one(v) for v in values], columns=list(columns), index=values.index)


def persons(victims, year: str):
    """The year's victims (presumed and identified), one row per person nationally, in CTDC's columns and
    codes, before any suppression. `victims`: the published national.victims rows (pandas)."""
    import pandas as pd

    rows = national_victims_of_year(victims, year)
    column = lambda name: rows[name] if name in rows else pd.Series(None, index=rows.index, dtype=object)  # noqa: E731
    ctdc = reference.standard_codes(CTDC)
    group = age_group_of_band()
    majority = {code: fields["majorityStatus"] for (cl, code), fields in ctdc.items() if cl == "age_group"}
    gender = {code: fields["gender"] for (cl, code), fields in ctdc.items() if cl == "sex"}
    forms = _flags(column("exploitation"), "exploitation", FORMS)
    labour = _flags(column("forced_labour_industry"), "forced_labour_industry", LABOUR)
    labour.loc[forms["isForcedLabour"] != "1"] = MISSING  # an industry only beside forced labour
    out = pd.concat([pd.DataFrame({
        "yearOfRegistration": str(year),
        "gender": rows["sex"].map(gender),
        "ageBroad": rows["age_band"].map(_ctdc_age_broad()),
        "majorityStatus": rows["age_band"].map(group).map(majority),
        "majorityStatusAtExploit": column("age_when_trafficked_band").map(group).map(majority),
        "citizenship": rows["citizenship"],
        "CountryOfExploitation": column("country_of_exploitation"),
    }, index=rows.index), forms, labour, _flags(column("methods_of_control"), "methods_of_control", CONTROL),
        _flags(column("relationship_to_trafficker"), "relationship_to_trafficker", RELATION)], axis=1)
    out = out.astype(object).where(out.notna() & (out != ""), MISSING)
    return out.reset_index(drop=True)[list(FIELDS)]


def class_sizes(frame):
    """Per row, the size of its equivalence class: the rows with the same value in every column of
    `frame` but the row id (MISSING being a value)."""
    columns = [c for c in frame.columns if c != ROW_ID]
    return frame.groupby(columns, dropna=False, sort=False)[columns[0]].transform("size")


def k_anonymised(frame, k: int):
    """(the rows that may leave, with their index in `frame`; what was done): leave out column groups of
    the whole file while more than SUPPRESSION_BUDGET of its rows are in classes under k; then, for the rows
    still in small classes only, suppress one group of cells after another (LOCAL_SUPPRESSION's order);
    rows in a small class even then are left out. Classes are taken over every column kept, so the result
    has no class under k over all of them."""
    left_out: list[str] = []
    current = frame
    for group in COLUMNS_LEFT_OUT:
        columns = [c for c in group if c in current.columns]
        if (class_sizes(current) < k).sum() <= SUPPRESSION_BUDGET * len(current):
            break
        current = current.drop(columns=columns)
        left_out += columns
    suppressed = {}
    for group in LOCAL_SUPPRESSION:
        columns = [c for c in group if c in current.columns]
        small = class_sizes(current) < k if columns else None
        if small is None or not small.any():
            continue
        changed = small & (current[columns] != MISSING).any(axis=1)
        if changed.any():
            current = current.copy()
            current.loc[changed, columns] = MISSING
            key = "+".join(columns) if len(columns) <= 3 else f"{len(columns)} columns: {columns[0]}..."
            suppressed[key] = int(changed.sum())
    small = class_sizes(current) < k
    released = current[~small]
    return released, {"columns_left_out": left_out, "cells_suppressed": suppressed, "rows_suppressed": int(small.sum())}


def build(victims, year: str, k: int, coverage=None, produced_at: dt.datetime | None = None) -> tuple[bytes, dict]:
    """The year's export file (CSV, UTF-8) and its sidecar (a dict)."""
    import pandas as pd

    from thb_reporting.publishing.transmissions.model import metadata

    if k < 1:
        raise ValueError(f"the research export's k must be 1 or more, not {k}")
    before = persons(victims, year) if victims is not None else pd.DataFrame(columns=list(FIELDS))
    released, done = k_anonymised(before, k)
    released = released.sample(frac=1, random_state=secrets.randbits(32)).reset_index(drop=True)  # no order to read
    released.insert(0, ROW_ID, [secrets.token_hex(8) for _ in range(len(released))])
    columns = [c for c in released.columns if c != ROW_ID]
    smallest = int(class_sizes(released).min()) if len(released) else None
    cells = sum(done["cells_suppressed"].values())
    produced_at = produced_at or dt.datetime.now(dt.timezone.utc)
    sources = reference.standard_sources()
    ctdc = sources["k_anonymity"]

    def cite(key):
        s = sources[key]
        return " ".join(filter(None, (s["document"], s["url"], s["note"])))
    sidecar = metadata(
        title=f"Victims of trafficking in human beings, Serbia, {year}: pseudonymised records for research "
              f"(CTDC Global Dataset layout, k-anonymised over every column, k={k})",
        receiver="researchers (on request to the national coordinator)",
        source="national.victims: the local teams' (and the national unit's) accepted quarterly submissions; "
               "one row per person nationally (the same CPTV number counts once, the first referral kept); "
               "presumed and identified victims together (CTDC's layout has no column for the status)",
        coverage=[coverage] if coverage is not None else [],
        definitions={ROW_ID: "a random id of this export's row; it links to nothing and changes with every export",
                     **{name: f"{CTDC}: {FIELDS[name]}; {MISSING}: not known or suppressed" for name in columns}},
        code_lists={name: cite(SOURCE_OF[name]) for name in columns},
        produced_at=produced_at, file_format="CSV (UTF-8, comma-separated, header row)",
        notes=[f"Vocabulary: the columns and codes of CTDC's Global Dataset ({ctdc['document']}, {ctdc['url']}); "
               f"no other standard's names or codes",
               f"{MISSING} in any column: the value is not known, or was suppressed for k-anonymity (cells_suppressed); "
               f"0 is always a known 'no'",
               f"k-anonymity over every column released but {ROW_ID}: every combination of their values occurs in at "
               f"least {k} rows (smallest_class: measured on this file); k as CTDC's Global Dataset",
               "Suppressed together: the exploitation flags with the types of labour; ageBroad with majorityStatus "
               "and majorityStatusAtExploit; each set of 0/1 columns of one field as a whole",
               "typeOfLabour columns: only beside isForcedLabour = 1; otherwise " + MISSING,
               "Columns left out of the whole file for k-anonymity: columns_left_out"],
    ) | {"k": k, "vocabulary": CTDC, "missing_code": MISSING, "quasi_identifiers": columns,
         "smallest_class": smallest, "columns_left_out": done["columns_left_out"],
         "cells_suppressed": done["cells_suppressed"], "cells_suppressed_total": cells,
         "rows_before": len(before), "rows_suppressed": done["rows_suppressed"], "rows": len(released),
         "suppression_budget": SUPPRESSION_BUDGET, "row_id": ROW_ID}
    return released.to_csv(index=False).encode("utf-8"), sidecar


def file_name(year) -> str:
    """The research file's name: CTDC's layout, one year."""
    return f"victims_ctdc_{year}.csv"


def write_year(data_root: str, year: str, victims, k: int, coverage=None, folder=None, release: dict | None = None) -> list:
    """Write <data_root>/research/<year>/victims_ctdc_<year>.csv and its .metadata.json, each whole then
    renamed into place (folder: a release's, else that one). Returns the paths written."""
    from thb_reporting.store.storage import storage_path, write_atomically

    content, sidecar = build(victims, year, k, coverage)
    if release is not None:  # the release it belongs to, and its status
        sidecar["release"] = release
    if folder is None:
        folder = storage_path(data_root) / "research" / str(year)
    path = folder / file_name(year)
    meta = path.with_name(f"{path.name}.metadata.json")
    write_atomically(path, content)
    write_atomically(meta, json.dumps(sidecar, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8"))
    return [path, meta]
