"""Data contracts: one YAML file per dataset in contracts/, the single source for columns, types,
code lists and rules. The team template, the expectation suite and the warehouse table are all
derived from a Contract; nothing else lists a dataset's columns.

A contract has versions: the file's columns are version 1, and each entry of its `versions:` list says
what changes from a quarter on (added columns, code values accepted from then). A submission is
validated under the version in force for its quarter (for_quarter); everything made for teams and
readers (template, dictionary, warehouse table) shows the current, latest version."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from thb_reporting.core import reference, yaml_files

PACKAGE_CONTRACTS = Path(__file__).parent / "contracts"
COLUMN_TYPES = {"text", "integer", "date", "code", "codes", "country"}
# How a column is stored once accepted (snapshot and warehouse): a logical type per stored column.
STORED_TYPE = {"text": "text", "code": "text", "codes": "text", "country": "text", "integer": "integer", "date": "date"}
CODES_SEPARATOR = ";"
ROW_KEY = "source_row"  # the row number as the team sees it in its spreadsheet; added by the reader


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    label: dict[str, str]
    hint: dict[str, str] = field(default_factory=dict)
    required: bool = False
    required_when: dict | None = None  # {"column": other, "in": [codes]}
    code_list: str | None = None
    min: int | None = None
    max: int | None = None
    max_length: int | None = None
    unit: str | None = None  # a whole number's currency or unit (amount_rsd: RSD), which a team may write after it
    within_quarter: bool = False
    not_after_quarter_end: bool = False  # may start before the quarter (programmes span quarters)
    not_before_quarter_start: bool = False
    privacy: str | None = None  # "pseudonymise" | "band"
    band_list: str | None = None
    stored_as: str | None = None  # a banded column's stored name when not its band list's (two columns, one list)
    not_yet_codes: tuple[str, ...] = ()  # codes of its list that a later version of the contract adds
    since_version: int = 1  # the contract version that added the column (its template has it from then)

    @property
    def allowed_codes(self) -> tuple[str, ...]:
        if self.type == "country":
            return reference.codes("country")
        codes = reference.codes(self.code_list) if self.code_list else ()
        return tuple(c for c in codes if c not in self.not_yet_codes) if self.not_yet_codes else codes

    @property
    def stored_name(self) -> str:
        """The column's name once accepted: references become tokens, ages become bands."""
        if self.privacy == "pseudonymise":
            return f"{self.name}_token"
        if self.privacy == "band":
            return self.stored_as or self.band_list
        return self.name

    @property
    def stored_type(self) -> str:
        return "text" if self.privacy else STORED_TYPE[self.type]

    @property
    def echo_values(self) -> bool:
        """Whether a validation message may quote this column's value back to the team.
        Only codes, numbers and dates: free text could describe a person."""
        return self.type != "text" and self.privacy != "pseudonymise"


@dataclass(frozen=True)
class SoftRule:
    rule: str
    column: str
    message: dict[str, str]


@dataclass(frozen=True)
class Contract:
    dataset: str
    title: dict[str, str]
    grain: dict[str, str]
    columns: tuple[Column, ...]
    soft_rules: tuple[SoftRule, ...] = ()
    unique_key: tuple[str, ...] = ()  # no two rows may share these values
    column_pairs: tuple[dict, ...] = ()  # {"rule": "date_order", "earlier": a, "later": b}
    row_rules: tuple[dict, ...] = ()  # rules across rows, checked in code (see checks.check_row_rules)
    history_measure: dict | None = None  # {"count": "rows"} or {"sum": [columns]}, with a label
    version: int = 1
    from_quarter: str | None = None  # the first quarter this version applies to; None: every quarter before
    current: bool = True  # the latest version: the one templates, dictionary and warehouse table show

    @property
    def suite_name(self) -> str:
        """The expectation suite of this version: expectations/<suite_name>.json (victims, victims.v1)."""
        return self.dataset if self.current else f"{self.dataset}.v{self.version}"

    def measure(self, typed) -> int:
        """The submission's headline figure, compared with the team's earlier quarters by the soft rules."""
        if not self.history_measure or "count" in self.history_measure:
            return len(typed)
        return int(typed[self.history_measure["sum"]].fillna(0).sum().sum())

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def words_as_written(self) -> tuple[Column, ...]:
        """The columns whose cells are kept as the team wrote them, characters it cannot see included: free
        text. Every other column holds a code, number, date or reference (a pseudonymised one, or a text
        that names a row: the unique key), which the reader cleans of them (invisible_characters)."""
        return tuple(c for c in self.columns
                     if c.type == "text" and c.privacy != "pseudonymise" and c.name not in self.unique_key)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.dataset} has no column {name!r}")

    def template_followed(self, header, declared: int | None = None) -> int:
        """The template version a file of this version's quarter was made from, by the columns its header
        has (a later version's columns are absent from an earlier template), raised to the version the file
        declares (declared_version) where it names one up to this version. A version that added
        no column is told apart only by its declaration."""
        present = set(header)
        followed = max((c.since_version for c in self.columns if c.name in present), default=1)
        added = {c.since_version for c in self.columns}
        while followed < self.version and followed + 1 not in added:  # versions that changed codes or hints only
            followed += 1
        if declared is not None and followed <= declared <= self.version:
            followed = declared
        return followed

    def later_columns(self, followed: int) -> tuple[Column, ...]:
        """The columns that this version has and the template of version `followed` does not."""
        return tuple(c for c in self.columns if c.since_version > followed)

    def stored_columns(self) -> tuple[tuple[str, str], ...]:
        """(name, logical type) of each column as accepted data keeps it."""
        return tuple((c.stored_name, c.stored_type) for c in self.columns)


def band_bounds(band_list: str) -> list[tuple[str, int, int | None]]:
    """Numeric bounds from band codes such as 0_13, 14_17, 50_plus; 'unknown' has none."""
    bounds = []
    for code in reference.codes(band_list):
        m = re.fullmatch(r"(\d+)_(\d+|plus)", code)
        if m:
            bounds.append((code, int(m.group(1)), None if m.group(2) == "plus" else int(m.group(2))))
    return bounds


def _check(contract: Contract) -> None:
    names = contract.column_names
    if len(set(names)) != len(names):
        raise ValueError(f"{contract.dataset}: duplicated column names")
    for c in contract.columns:
        for texts in (c.label, c.hint or {"sr": "", "en": ""}):
            if set(texts) != {"sr", "en"} or not all(isinstance(t, str) for t in texts.values()):
                raise ValueError(f"{contract.dataset}.{c.name}: label and hint need sr and en texts (quote texts with commas)")
        if c.type not in COLUMN_TYPES:
            raise ValueError(f"{contract.dataset}.{c.name}: unknown type {c.type!r}")
        if c.type in ("code", "codes"):
            c.allowed_codes  # raises on an unknown code list
        if c.required_when and c.required_when["column"] not in names:
            raise ValueError(f"{contract.dataset}.{c.name}: required_when names an unknown column")
        if c.privacy == "band" and not band_bounds(c.band_list):
            raise ValueError(f"{contract.dataset}.{c.name}: band list {c.band_list!r} has no bands")
    named = [*contract.unique_key, *(p[k] for p in contract.column_pairs for k in ("earlier", "later")),
             *(r[k] for r in contract.row_rules for k in ("group_by", "stage_column")),
             *(c for r in contract.row_rules for c in r["sum"]),
             *((contract.history_measure or {}).get("sum") or ())]
    if unknown := sorted(set(named) - set(names)):
        raise ValueError(f"{contract.dataset}: rules name unknown columns {unknown}")


def contracts_dir() -> Path:
    """Where the contracts are: the package's contracts/ unless THB_CONTRACTS_DIR names another folder
    (a deployment's own copy, or a test's)."""
    return Path(os.environ.get("THB_CONTRACTS_DIR") or PACKAGE_CONTRACTS)


def load(dataset: str) -> Contract:
    """The current version of a dataset's contract; `victims.v1` (a suite name) is version 1 of victims."""
    name, _, version = dataset.partition(".v")
    every = _versions(contracts_dir(), name)
    if version and not 1 <= int(version) <= len(every):
        raise KeyError(f"{name} has no contract version {version} (versions 1 to {len(every)})")
    return every[int(version) - 1 if version else -1]


def for_quarter(dataset: str, quarter) -> Contract:
    """The version in force for a quarter: the latest whose from_quarter is not after it."""
    return [c for c in versions(dataset) if c.from_quarter is None or c.from_quarter <= str(quarter)][-1]


def of_submission(dataset: str | None, quarter) -> Contract | None:
    """The version a submission was validated under (its file name's dataset and quarter), to explain its
    findings; None when the name gave no known dataset."""
    if dataset not in datasets():
        return None
    return for_quarter(dataset, quarter) if quarter else load(dataset)


def versions(dataset: str) -> tuple[Contract, ...]:
    """Every version of a dataset's contract, the first first."""
    return _versions(contracts_dir(), dataset)


@cache
def _versions(folder: Path, dataset: str) -> tuple[Contract, ...]:
    path = folder / f"{dataset}.yaml"
    if not path.exists():
        raise KeyError(f"no data contract for dataset {dataset!r} (known: {', '.join(datasets())})")
    doc = yaml_files.safe_load(path.read_text(encoding="utf-8"))
    changes = doc.get("versions") or ()
    columns = [Column(**c) for c in doc["columns"]]
    later_codes = [{k: tuple(v) for k, v in (ch.get("added_codes") or {}).items()} for ch in changes]
    out = []
    for n in range(1, len(changes) + 2):
        change = changes[n - 2] if n > 1 else {"version": 1}
        if change.get("version") != n:
            raise ValueError(f"{dataset}: versions must be numbered 2, 3, ... in order (found {change.get('version')!r})")
        columns += [Column(**c, since_version=n) for c in change.get("added_columns") or ()]
        # a hint reworded from a version on (what teams are asked changes, the rule does not)
        hints = change.get("changed_hints") or {}
        if unknown := sorted(set(hints) - {c.name for c in columns}):
            raise ValueError(f"{dataset}: version {n} changes the hints of unknown columns {unknown}")
        columns = [replace(c, hint=hints[c.name]) if c.name in hints else c for c in columns]
        not_yet: dict[str, set] = {}
        for added in later_codes[n - 1:]:  # codes added by a later version are not accepted under this one
            for code_list, codes in added.items():
                not_yet.setdefault(code_list, set()).update(codes)
        contract = Contract(
            dataset=doc["dataset"],
            title=doc["title"],
            grain=doc["grain"],
            columns=tuple(replace(c, not_yet_codes=tuple(sorted(not_yet.get(c.code_list, ())))) for c in columns),
            soft_rules=tuple(SoftRule(**r) for r in doc.get("soft_rules", ())),
            unique_key=tuple(doc.get("unique_key", ())),
            column_pairs=tuple(doc.get("column_pairs", ())),
            row_rules=tuple(doc.get("row_rules", ())),
            history_measure=doc.get("history_measure"),
            version=n,
            from_quarter=None if n == 1 else str(change.get("from_quarter")),
            current=n == len(changes) + 1,
        )
        _check(contract)
        out.append(contract)
    _check_versions(out, later_codes)
    return tuple(out)


def _check_versions(versions: list[Contract], added_codes: list[dict]) -> None:
    starts = [c.from_quarter for c in versions[1:]]
    if any(not re.fullmatch(r"\d{4}Q[1-4]", q) for q in starts) or starts != sorted(set(starts)):
        raise ValueError(f"{versions[0].dataset}: each version needs a from_quarter (e.g. 2026Q3), later than the one before")
    lists = {c.code_list for c in versions[-1].columns if c.code_list}
    for added in added_codes:
        for code_list, codes in added.items():
            if code_list not in lists:
                raise ValueError(f"{versions[0].dataset}: added_codes names {code_list!r}, a code list none of its columns uses")
            if unknown := sorted(set(codes) - set(reference.codes(code_list))):
                raise ValueError(f"{versions[0].dataset}: added codes {unknown} are not in reference/code_lists.csv "
                                 f"under {code_list} (add them there, with their labels)")


def datasets() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in contracts_dir().glob("*.yaml")))


# --- the contract as the team template shows it (templates.py builds the workbook) ---------------------
def column_label(column) -> str:
    """The column's name for the team, 'Serbian / English' (one of them when both are the same)."""
    sr, en = column.label["sr"], column.label["en"]
    return sr if sr == en else f"{sr} / {en}"


def code_list_of(column) -> str | None:
    """The reference code list a coded column takes its values from (countries: 'country')."""
    return "country" if column.type == "country" else column.code_list


# The template says which version of its contract it is, in its XLSX file properties (keywords), so that a
# file a team made from it tells the version it follows (declared_version); a CSV template in its name.
_DECLARATION = re.compile(r"thb-template (\w+) v(\d+)")


def template_file_name(contract: Contract, suffix: str) -> str:
    """The template's file name, which names its version: victims_template_v2.xlsx."""
    return f"{contract.dataset}_template_v{contract.version}.{suffix}"


def declaration(contract: Contract) -> str:
    return f"thb-template {contract.dataset} v{contract.version}"


def declared_version(keywords: str | None, dataset: str) -> int | None:
    """The contract version a workbook's keywords declare for `dataset` (None when they declare none)."""
    m = _DECLARATION.search(keywords or "")
    return int(m.group(2)) if m and m.group(1) == dataset else None
