"""The check a crim_thb file passes before it leaves, as Eurostat's STRUVAL (structure) and CONVAL (content) would
run it: the file is read back with pysdmx, as a receiver reads it, and held against its structure (a pysdmx
Schema, eurostat.schema):
  - structure: the STRUCTURE_ID is the schema's, every component is there and no other;
  - codes: each coded value is in its component's code list (only codes confirmed as Eurostat's are listed);
  - required: every dimension and the required attributes (OBS_STATUS) have a value; OBS_VALUE is empty only
    where OBS_STATUS says the data were not collected (L);
  - keys: one observation per key;
  - sums: along SEX, and along the table's own dimension where its TOTAL is the sum of its codes
    (eurostat.TABLES), the parts with a value add up to the total;
  - confidentiality: every value from 1 to the threshold carries CONF_STATUS C, no C is on another value, and
    every observation carries a CONF_STATUS.
check() returns the report ({"status": "passed" | "failed", "checks": {name: [problem, ...]}}); a failed one
blocks the file (transmissions.write_year writes the report beside where the file would have been).
The SDG file's check (transmissions.structure_check) is the same idea for its structure."""
from __future__ import annotations

# table → (the dimension it breaks down besides SEX, its title, whether that dimension's TOTAL is the sum of its codes)
TABLES = {
    "persons_legal_status": ("LEG_STAT", "Persons in the criminal justice system by legal status and sex", True),
    "victims_citizenship": ("CITIZEN", "Registered victims by citizenship and sex", True),
    "victims_exploitation": ("EXPL", "Registered victims by form of exploitation and sex (each person once per group)", False),
    "victims_age": ("AGE", "Registered victims by age group and sex", True),
}
CHECKS = ("structure", "codes", "required", "keys", "sums", "confidentiality")
NOT_COLLECTED = "L"
PRIMARY = "C"


def read_back(content: bytes):
    """The file as a receiver's tool reads it: pysdmx's SDMX-CSV 2.0 reader → (its STRUCTURE_ID, its frame)."""
    from pysdmx.io.csv.sdmx20.reader import read

    (dataset,) = read(content.decode("utf-8"))
    return dataset.short_urn, dataset.data


def _blank(value) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, str) and pd.isna(value)) or str(value).strip() == ""


def check_frame(urn: str, frame, structure, table: str, threshold: int) -> dict[str, list[str]]:
    """The problems found, per check (an empty list: passed)."""
    import pandas as pd

    found: dict[str, list[str]] = {c: [] for c in CHECKS}
    expected = f"{structure.agency}:{structure.id}({structure.version})"
    if not urn.endswith(expected):
        found["structure"].append(f"structure {urn}, not {expected}")
    ids = [c.id for c in structure.components]
    if sorted(frame.columns) != sorted(ids):
        found["structure"].append(f"columns {sorted(frame.columns)} are not the structure's {sorted(ids)}")
        return found
    for component in structure.components:
        values = frame[component.id]
        if component.required and values.map(_blank).any():
            found["required"].append(f"{component.id}: {int(values.map(_blank).sum())} observation(s) without a value")
        if component.local_codes is not None:
            allowed = {c.id for c in component.local_codes}
            bad = sorted({str(v) for v in values if not _blank(v)} - allowed)
            if bad:
                found["codes"].append(f"{component.id}: {bad} not in {component.local_codes.id}")
    empty = frame["OBS_VALUE"].map(_blank)
    if (empty != frame["OBS_STATUS"].eq(NOT_COLLECTED)).any():
        found["required"].append("OBS_VALUE empty where OBS_STATUS is not L, or a value where it is L")
    key = [c.id for c in structure.components if c.role.name == "DIMENSION"]
    doubled = frame[frame.duplicated(key, keep=False)]
    if not doubled.empty:
        found["keys"].append(f"{len(doubled)} observations share a key, e.g. {doubled[key].iloc[0].tolist()}")
    value = [None if _blank(v) else int(float(v)) for v in frame["OBS_VALUE"]]
    value = pd.Series(value, index=frame.index, dtype=object)
    dimension, _, with_total = TABLES[table]
    sums = [("SEX", "T")] + ([(dimension, "TOTAL")] if with_total else [])
    for along, total in sums:
        others = [d for d in key if d != along]
        for group_key, group in frame.assign(_v=value).groupby(others):
            whole = group[(group[along] == total) & group["_v"].notna()]["_v"]
            parts = group[group[along] != total]
            if table == "persons_legal_status" and along == dimension:
                parts = parts[parts[dimension].isin(("IDENT", "PRESUM"))]
            parts = parts[parts["_v"].notna()]  # not collected (L): counted under another code
            if len(whole) == 1 and len(parts) > 1:
                if int(parts["_v"].sum()) != int(whole.iloc[0]):
                    found["sums"].append(f"{along} at {dict(zip(others, group_key))}: parts {int(parts['_v'].sum())} "
                                         f"≠ total {int(whole.iloc[0])}")
    flags = frame["CONF_STATUS"]
    small = pd.Series([v is not None and 0 < v <= threshold for v in value], index=frame.index)
    if (small & flags.ne(PRIMARY)).any():
        found["confidentiality"].append(f"{int((small & flags.ne(PRIMARY)).sum())} value(s) of 1 to {threshold} "
                                        "without CONF_STATUS C")
    if (flags.eq(PRIMARY) & ~small).any():
        found["confidentiality"].append("CONF_STATUS C on a value that is not 1 to the threshold")
    if (flags.map(_blank) & pd.Series([v is not None for v in value], index=frame.index)).any():
        found["confidentiality"].append("an observation with a value and no CONF_STATUS")
    return found


def check(content: bytes, structure, table: str, threshold: int) -> dict:
    """The validation report of a file: read back, then checked (check_frame)."""
    try:
        urn, frame = read_back(content)
    except Exception as error:  # noqa: BLE001 (any reader error blocks the file; its class names what broke)
        return {"structure": f"{structure.agency}:{structure.id}({structure.version})", "status": "failed",
                "checks": {"structure": [f"not readable as SDMX-CSV 2.0: {type(error).__name__}"]}}
    found = check_frame(urn, frame, structure, table, threshold)
    return {"structure": f"{structure.agency}:{structure.id}({structure.version})", "observations": len(frame),
            "status": "failed" if any(found.values()) else "passed",
            "checks": {name: problems or "passed" for name, problems in found.items()}}
