"""National indicators computed from published fact rows."""
from __future__ import annotations

from thb_reporting.contracts import band_bounds

NOT_STATED = "not_stated"


def age_group_of_band() -> dict[str, str]:
    """child for bands that end below 18, adult for the rest; 'unknown' stays unknown."""
    groups = {code: ("child" if high is not None and high < 18 else "adult") for code, _, high in band_bounds("age_band")}
    groups["unknown"] = "unknown"
    return groups


def victims_by_team_quarter(victims):
    """Persons by team, quarter, status, sex, child/adult and form of exploitation (a person with
    several forms counts once under each; one with none under 'not_stated'). `victims` is a pyarrow
    Table of national.victims rows; returns a pyarrow Table shaped like the indicator table."""
    import pyarrow as pa

    frame = victims.select(["team_code", "quarter", "status", "sex", "age_band", "exploitation"]).to_pandas()
    frame["age_group"] = frame["age_band"].map(age_group_of_band())
    frame["exploitation"] = frame["exploitation"].fillna(NOT_STATED).str.split(";")
    frame = frame.explode("exploitation")
    keys = ["team_code", "quarter", "status", "sex", "age_group", "exploitation"]
    counts = frame.groupby(keys, sort=True).size().rename("victims").reset_index()
    return pa.Table.from_pandas(counts.astype({k: "str" for k in keys} | {"victims": "int64"}), preserve_index=False)
