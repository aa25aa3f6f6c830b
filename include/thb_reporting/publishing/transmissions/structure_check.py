"""The check a transmission passes before it leaves, the way the receiver's validation would run it
(Eurostat's STRUVAL for the structure, CONVAL for content): the file is read back as SDMX-CSV with pysdmx and
checked against a pysdmx Schema of the receiver's structure.

Checks, each reported with its problems (keys and codes only, never a value: a report may be read where the
values may not):
- structure: the file is SDMX-CSV 2.0 and holds observations of the schema's structure (STRUCTURE_ID);
- columns: every column is a component of the structure (a receiver's tool drops any other, silently);
- codes: every coded component's values are codes of its code list;
- required: every required dimension and attribute has a value on every observation, and a value is absent
  only where a status says why (e.g. OBS_STATUS Q suppressed, L not collected), and never where it says so;
- values: every value given is a number (a marker such as '#N/A' is not, for a Double measure);
- unique keys: one observation per key (all dimensions, time included);
- totals: a total equals the sum of its parts, where the structure's convention makes it one and all of
  them carry a value;
- confidentiality: no count from 1 to the threshold in the clear, i.e. with neither a confidentiality
  flag the structure holds nor its value withheld; a withheld cell carries no value; where the structure has a
  primary flag (Rules.primary), every value carries a flag and the primary one is exactly on the counts from 1
  to the threshold.

Generic over a Schema: each transmission module says what its rules are (Rules); write_year writes the
report beside the file and a failed check keeps the file from being written."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

MAX_PROBLEMS = 20  # per check in the report; the count says how many there were


@dataclass(frozen=True)
class Total:
    """Along `component`, the observation coded `total` is the sum of those coded `parts`, all other
    dimensions equal."""
    component: str
    total: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Rules:
    threshold: int                                   # disclosure's: a count from 1 to it is confidential
    counts: dict[str, str] = field(default_factory=dict)  # component → code marking a count row (UNIT_MEASURE: NUMBER); empty: every row
    protected_by: dict[str, frozenset[str]] = field(default_factory=dict)  # attribute → codes that flag a value confidential (none in SDG)
    absent_when: dict[str, frozenset[str]] = field(default_factory=dict)   # attribute → codes under which OBS_VALUE may be absent
    # attribute → codes under which an absent value's persons are counted under another code (e.g. OBS_STATUS L): a
    # total adds up without that part instead of being left unchecked
    counted_elsewhere: dict[str, frozenset[str]] = field(default_factory=dict)
    primary: tuple[str, str] | None = None           # (attribute, code) of the primary confidentiality flag (CONF_STATUS C)
    withheld: frozenset[tuple[str, ...]] = frozenset()  # keys (key_components' codes) that must carry no value
    key_components: tuple[str, ...] = ()             # the components naming a withheld key
    totals: tuple[Total, ...] = ()
    measure: str = "OBS_VALUE"


def read_back(content: bytes, schema):
    """The file's observations as the receiver reads them (pysdmx's SDMX-CSV 2.0 reader), only those of the
    schema's structure, every column as text ('' where empty)."""
    return _read(content, schema)[0]


def _read(content: bytes, schema):
    """(the observations of the schema's structure, the other structures the file names)."""
    import pandas as pd
    from pysdmx.io.csv.sdmx20.reader import read

    urn_tail = f"{schema.agency}:{schema.id}({schema.version})"
    datasets = read(content.decode("utf-8"))
    frames = [d.data for d in datasets if str(d.structure).endswith(urn_tail)]
    others = sorted({str(d.structure) for d in datasets if not str(d.structure).endswith(urn_tail)})
    if not frames:
        return pd.DataFrame(), others
    return pd.concat(frames, ignore_index=True).astype(str).replace({"NaN": "", "nan": "", "<NA>": "", "None": ""}), others


def check(content: bytes, schema, rules: Rules, name: str = "") -> dict:
    """The validation report of a file: {'passed', 'structure', 'observations', 'checks': [...]}."""
    checks = []

    def report(check_name: str, what: str, problems: list[str]) -> None:
        checks.append({"check": check_name, "what": what, "passed": not problems, "problems": problems[:MAX_PROBLEMS],
                       "problem_count": len(problems)})

    components = {c.id: c for c in schema.components}
    dimensions = [c.id for c in schema.components if c.role.name == "DIMENSION"]
    urn = f"{schema.agency}:{schema.id}({schema.version})"
    try:
        frame, others = _read(content, schema)
    except Exception as error:  # noqa: BLE001 (any reader error fails the check; its class names what broke)
        report("structure", f"the file is SDMX-CSV 2.0 of {urn}", [f"not readable as SDMX-CSV 2.0: {type(error).__name__}"])
        return _summary(name, schema, 0, checks)
    report("structure", f"the file holds observations of {urn}, and of no other structure",
           ([] if not frame.empty else [f"no observation of {urn}"]) + [f"observations of {o}" for o in others])
    if frame.empty:
        return _summary(name, schema, 0, checks)

    def key_of(row) -> str:
        return ".".join(str(row.get(d, "")) for d in dimensions)

    rows = frame.to_dict("records")
    report("columns", "every column is a component of the structure",
           [f"column {c} is not a component of {schema.id}({schema.version})" for c in frame.columns if c not in components])
    problems = []
    for c in schema.components:
        if c.local_codes is None or c.id not in frame.columns:
            continue
        allowed = {code.id for code in c.local_codes}
        wrong = sorted({v for v in frame[c.id] if v and v not in allowed})
        problems += [f"{c.id}: {v} is not in {c.local_codes.id}" for v in wrong]
    report("codes", "every coded value is a code of its component's code list", problems)

    problems = []
    for c in schema.components:
        if c.id == rules.measure or not c.required or c.role.name not in ("DIMENSION", "ATTRIBUTE"):
            continue
        if c.id not in frame.columns:
            problems.append(f"{c.id}: required, no column")
            continue
        problems += [f"{key_of(r)}: {c.id} required, empty" for r in rows if not r[c.id]]
    for r in rows:
        absent = any(r.get(a) in codes for a, codes in rules.absent_when.items())
        if not r.get(rules.measure) and not absent:
            problems.append(f"{key_of(r)}: no {rules.measure} and no status saying why")
        elif r.get(rules.measure) and absent:
            problems.append(f"{key_of(r)}: a {rules.measure} under a status saying it is absent")
    report("required", "required dimensions and attributes present; a missing value has a status saying why", problems)

    report("values", f"every {rules.measure} given is a number (the receiver's measure is numeric)",
           [f"{key_of(r)}: {rules.measure} is not a number" for r in rows
            if r.get(rules.measure) and _number(r[rules.measure]) is None])

    seen: dict[str, int] = {}
    for r in rows:
        seen[key_of(r)] = seen.get(key_of(r), 0) + 1
    report("unique keys", "one observation per key", [f"{k}: {n} observations" for k, n in seen.items() if n > 1])

    report("totals", "a total equals the sum of its parts (where all carry a value)", _totals(rows, dimensions, rules, key_of))
    report("confidentiality", f"no count from 1 to {rules.threshold} in the clear; a withheld cell carries no value",
           _confidentiality(rows, rules, key_of))
    return _summary(name, schema, len(rows), checks)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _totals(rows: list[dict], dimensions: list[str], rules: Rules, key_of) -> list[str]:
    problems = []
    for t in rules.totals:
        others = [d for d in dimensions if d != t.component]
        groups: dict[tuple, dict[str, dict]] = {}
        for r in rows:
            groups.setdefault(tuple(r.get(d, "") for d in others), {})[r.get(t.component, "")] = r
        for group in groups.values():
            if t.total not in group or any(p not in group for p in t.parts):
                continue
            read = [_number(group[c].get(rules.measure, "")) if not _elsewhere(group[c], rules) else 0.0
                    for c in (t.total, *t.parts)]
            values = [v for v in read if v is not None]
            if len(values) < len(read):  # a withheld part or total: nothing to add up here
                continue
            if abs(values[0] - sum(values[1:])) > 1e-9:
                problems.append(f"{key_of(group[t.total])}: {t.component} {t.total} is not the sum of {', '.join(t.parts)}")
    return problems


def _elsewhere(row: dict, rules: Rules) -> bool:
    return any(row.get(a) in codes for a, codes in rules.counted_elsewhere.items())


def _confidentiality(rows: list[dict], rules: Rules, key_of) -> list[str]:
    problems = []
    for r in rows:
        value = _number(r.get(rules.measure, ""))
        is_count = all(r.get(c) == code for c, code in rules.counts.items())
        small = is_count and value is not None and 1 <= value <= rules.threshold
        flagged = any(r.get(a) in codes for a, codes in rules.protected_by.items())
        if small and not flagged:
            problems.append(f"{key_of(r)}: a count from 1 to {rules.threshold} in the clear")
        if rules.primary is not None and value is not None:
            attribute, code = rules.primary
            if not r.get(attribute):
                problems.append(f"{key_of(r)}: a value without {attribute}")
            elif (r.get(attribute) == code) != small:
                problems.append(f"{key_of(r)}: {attribute} {code} is not exactly on the counts from 1 to {rules.threshold}")
        if rules.withheld and tuple(r.get(c, "") for c in rules.key_components) in rules.withheld and value is not None:
            problems.append(f"{key_of(r)}: withheld, but carries a value")
    return problems


def _summary(name: str, schema, observations: int, checks: list[dict]) -> dict:
    return {"file": name, "structure": f"{schema.agency}:{schema.id}({schema.version})",
            "checked_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "observations": observations, "passed": all(c["passed"] for c in checks), "checks": checks}


def failures(report: dict) -> str:
    """One line saying why a report failed (the checks that failed and their first problem), for the log and
    TransmissionsFailed; codes and keys only."""
    return "; ".join(f"{c['check']}: {c['problem_count']} problem(s), e.g. {c['problems'][0]}"
                     for c in report["checks"] if not c["passed"])
