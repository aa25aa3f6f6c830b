"""Validating a submission against its contract.

Order: the columns of the template (missing, unknown, duplicated); personal identifiers in any cell;
types (whole numbers, dates) parsed in plain code; then the contract's expectation suite in Great
Expectations on the typed rows, keyed by each row's `source_row`. Each failure becomes a Finding that
names the row, the column and the rule, and quotes the value only where it is a code, number or date.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import yaml

from thb_reporting.contracts import CODES_SEPARATOR, Contract
from thb_reporting.privacy import SUSPECT, identifier_kind
from thb_reporting.quarters import Quarter
from thb_reporting.suites import ROW_KEY, load_suite

log = logging.getLogger(__name__)
ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str = ERROR
    column: str | None = None
    row: int | None = None
    value: str | None = None  # only codes, numbers and dates, never text that could describe a person
    detail: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@cache
def rule_texts() -> dict:
    return yaml.safe_load((Path(__file__).parent / "rules.yaml").read_text(encoding="utf-8"))


def explain(finding: Finding, lang: str = "en", contract: Contract | None = None, quarter=None) -> tuple[str, str]:
    """(what is wrong, how to fix it) in words for the team, in Serbian ('sr') or English ('en')."""
    texts = rule_texts().get(finding.rule, {"en": finding.rule, "sr": finding.rule, "fix_en": "", "fix_sr": ""})
    fields = {"column": finding.column or "", "value": finding.value or "", "detail": finding.detail or "",
              "quarter": str(quarter or finding.detail or ""), "allowed": "", "min": "", "max": "", "measure": ""}
    if contract and contract.history_measure:
        fields["measure"] = contract.history_measure["label"][lang]
    if contract and finding.column in contract.column_names:
        col = contract.column(finding.column)
        fields.update(allowed=", ".join(col.allowed_codes[:12]) + (" …" if len(col.allowed_codes) > 12 else ""),
                      min=col.min if col.min is not None else "", max=col.max if col.max is not None else "")
    return texts[lang].format(**fields), texts[f"fix_{lang}"].format(**fields)


def describe(finding: Finding, lang: str = "en", contract: Contract | None = None, quarter=None) -> str:
    """The finding in one sentence for the team, with its row and how to fix it."""
    where = f"row {finding.row}: " if lang == "en" and finding.row else (f"red {finding.row}: " if finding.row else "")
    what, fix = explain(finding, lang, contract, quarter)
    return f"{where}{what} {fix}"


# --- structure and identifiers ----------------------------------------------------------------
def check_columns(frame, contract: Contract) -> list[Finding]:
    seen, findings = set(), []
    for col in frame.columns:
        if col == ROW_KEY:
            continue
        if col in seen:
            findings.append(Finding("duplicate_column", column=col))
        elif col not in contract.column_names:
            findings.append(Finding("unknown_column", column=col or "(empty header)"))
        seen.add(col)
    findings += [Finding("missing_column", column=c) for c in contract.column_names if c not in frame.columns]
    return findings


def find_personal_identifiers(frame) -> list[Finding]:
    """Every cell holding a JMBG with a valid check digit, an e-mail address or a phone number.
    The value is never kept in the finding."""
    findings = []
    for position, col in enumerate(frame.columns):
        if col == ROW_KEY:
            continue
        values = frame.iloc[:, position].dropna()
        suspects = values[values.str.contains(SUSPECT, regex=True)]
        for idx, text in suspects.items():
            kind = identifier_kind(text)
            if kind:
                findings.append(Finding("personal_identifier", column=col, row=int(frame.at[idx, ROW_KEY]), detail=kind))
    return findings


# --- types ----------------------------------------------------------------------------------
def _parse_dates(raw):
    import pandas as pd

    text = raw.str.strip().str.slice(0, 10).str.rstrip(".")
    iso = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    local = pd.to_datetime(text.str.replace("/", ".", regex=False), format="%d.%m.%Y", errors="coerce")
    # A date cell formatted as a number in Excel arrives as its serial number (days since 1899-12-30).
    serial = pd.to_numeric(raw.where(raw.str.fullmatch(r"\s*\d{5}\s*").fillna(False).astype(bool)), errors="coerce")
    excel = pd.to_datetime("1899-12-30") + pd.to_timedelta(serial.where(serial.between(20000, 80000)), unit="D")
    return iso.fillna(local).fillna(excel)


def _as_codes(raw, code_list: str):
    """Codes as the contract has them: a Serbian or English label, in Latin or Cyrillic script, becomes
    its code when it names exactly one; anything else is left for the code-list rule to report."""
    from thb_reporting.reference import code_aliases, codes, to_latin

    aliases = code_aliases(code_list)
    lowered = raw.str.lower()
    odd = lowered.notna() & ~lowered.isin(list(codes(code_list)))  # only these need the slower mapping
    if not odd.any():
        return lowered
    latin = lowered[odd].map(lambda v: to_latin(v).strip().lower())
    return lowered.where(~odd, latin.map(lambda v: aliases.get(v, v)))


def parse_types(frame, contract: Contract):
    """A typed copy of the rows, and a finding for each cell that is not of its column's type."""
    import pandas as pd

    typed = pd.DataFrame({ROW_KEY: frame[ROW_KEY].astype("int64")}, index=frame.index)
    findings = []
    for col in contract.columns:
        raw = frame[col.name].str.strip().replace("", None)
        if col.type == "integer":
            # "12,00" or "12.0" (a decimal comma or point with zero decimals) is the whole number 12
            numbers = pd.to_numeric(raw.str.replace(r"^(-?\d+)[.,]0+$", r"\1", regex=True), errors="coerce")
            bad = raw.notna() & (numbers.isna() | (numbers % 1 != 0))
            typed[col.name] = numbers.where(~bad).astype("Int64")
            rule = "whole_number"
        elif col.type == "date":
            dates = _parse_dates(raw)
            bad = raw.notna() & dates.isna()
            typed[col.name] = dates
            rule = "date_format"
        else:
            if col.type == "code":
                raw = _as_codes(raw, col.code_list)
            elif col.type == "country":
                raw = raw.str.upper()
            elif col.type == "codes":
                raw = raw.str.lower()
                several = raw.str.contains(r"[;,|]", regex=True).fillna(False).astype(bool)
                raw = raw.where(~several, raw[several].map(_canonical_codes)).replace("", None)
                raw = _as_codes(raw, col.code_list).where(~several, raw)  # labels stand only for a single code
            elif col.type == "text":
                findings += [Finding("formula_injection", column=col.name, row=int(frame.at[idx, ROW_KEY]))
                             for idx in raw.index[raw.str.match(r"^[=+\-@]").fillna(False).astype(bool)]]
            typed[col.name] = raw.astype("str")
            continue
        for idx in raw.index[bad]:
            findings.append(Finding(rule, column=col.name, row=int(frame.at[idx, ROW_KEY]), value=str(raw[idx])[:20]))
    return typed, findings


def _canonical_codes(text: str) -> str:
    import re

    return CODES_SEPARATOR.join(sorted({c.strip() for c in re.split(r"[;,|]+", text) if c.strip()}))


# --- Great Expectations ---------------------------------------------------------------------
class SuiteRunner:
    """One ephemeral GX context with the committed suites, reused for every file of a batch."""

    def __init__(self, datasets: tuple[str, ...]):
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        import great_expectations as gx
        from great_expectations.core.expectation_suite import ExpectationSuite

        self._context = gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = {"globally": False}
        source = self._context.data_sources.add_pandas("submissions")
        self._definitions = {}
        for dataset in datasets:
            batch = source.add_dataframe_asset(dataset).add_batch_definition_whole_dataframe("submission")
            suite = self._context.suites.add(ExpectationSuite(**load_suite(dataset)))
            self._definitions[dataset] = self._context.validation_definitions.add(
                gx.ValidationDefinition(name=dataset, data=batch, suite=suite)
            )

    def run(self, dataset: str, typed, quarter: Quarter):
        import pandas as pd

        return self._definitions[dataset].run(
            batch_parameters={"dataframe": typed},
            expectation_parameters={"quarter_start": pd.Timestamp(quarter.start),
                                    "quarter_end": pd.Timestamp(quarter.end)},
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_KEY]},
        )


def _missing(value) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def findings_from_gx(result, contract: Contract) -> list[Finding]:
    findings = []
    for res in result.results:
        if res.success:
            continue
        config = res.expectation_config
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise RuntimeError(f"expectation {config.type} on {config.kwargs.get('column')} could not run: "
                               f"{res.exception_info.get('exception_message')}")
        meta = config.meta or {}
        rule, column = meta.get("rule", config.type), meta.get("column")
        severity = WARNING if str(getattr(config.severity, "value", config.severity)) == "warning" else ERROR
        rows = res.result.get("unexpected_index_list") or []
        if not rows:
            findings.append(Finding(rule, severity, column=column, detail=str(res.result.get("observed_value", ""))[:200]))
            continue
        echo = column is not None and contract.column(column).echo_values
        detail = ", ".join(meta["columns"]) if "columns" in meta else None
        if rule == "required_when":
            when = contract.column(column).required_when
            detail = f"{when['column']} = {'/'.join(when['in'])}"
        for entry in rows:
            value = entry.get(column)
            value = None if (not echo or _missing(value)) else str(value)[:40]
            if value and rule == "within_quarter":
                value = value[:10]
            findings.append(Finding(rule, severity, column=column, row=int(entry[ROW_KEY]), value=value, detail=detail))
    return findings


def check_row_rules(typed, contract: Contract) -> list[Finding]:
    """Rules across rows that the suite cannot express (listed in the suite's meta as checked_in_code)."""
    findings = []
    for rule in contract.row_rules:
        if rule["rule"] != "stage_not_above":
            raise ValueError(f"{contract.dataset}: no check for row rule {rule['rule']!r}")
        totals = typed[rule["sum"]].fillna(0).sum(axis=1)
        stage = typed[rule["stage_column"]]
        for group, rows in typed.groupby(rule["group_by"]).groups.items():
            top = totals[rows][stage[rows] == rule["stage"]].sum()
            limit = totals[rows][stage[rows] == rule["not_above"]].sum()
            if top > limit:
                for idx in rows[(stage[rows] == rule["stage"]).to_numpy()]:
                    findings.append(Finding(rule["rule"], column=rule["stage_column"], row=int(typed.at[idx, ROW_KEY]),
                                            value=f"{int(top)} > {int(limit)}", detail=f"{rule['group_by']} {group}"))
    return findings


@dataclass
class Outcome:
    typed: object  # pandas.DataFrame of the contract's columns, parsed; None when the structure failed
    findings: list[Finding]
    gx_result: object = None  # Great Expectations' validation result, when the suite ran

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]


def validate(frame, contract: Contract, quarter: Quarter, runner: SuiteRunner) -> Outcome:
    if frame.shape[0] == 0:
        return Outcome(None, [Finding("empty_file", detail="header only")])
    structure = check_columns(frame, contract)
    identifiers = find_personal_identifiers(frame)
    if structure or identifiers:
        return Outcome(None, structure + identifiers)
    typed, type_findings = parse_types(frame, contract)
    flagged = {(f.row, f.column) for f in type_findings}
    gx_result = runner.run(contract.dataset, typed, quarter)
    gx_findings = [f for f in findings_from_gx(gx_result, contract) if (f.row, f.column) not in flagged]
    findings = sorted(type_findings + gx_findings + check_row_rules(typed, contract), key=lambda f: (f.severity != ERROR, f.row or 0, f.column or "", f.rule))
    return Outcome(typed, findings, gx_result)


_VALUE_LISTS = ("partial_unexpected_list", "unexpected_list", "partial_unexpected_index_list",
                "unexpected_index_list", "partial_unexpected_counts", "unexpected_rows", "details")


def data_docs_html(result, contract: Contract) -> str:
    """GX's own HTML rendering of a validation result (Data Docs), with the values of every column that may
    not be quoted (references, free text) removed first: only row numbers and counts remain for those."""
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    for res in result.results:
        column = res.expectation_config.kwargs.get("column")
        if column in contract.column_names and not contract.column(column).echo_values or column is None:
            for key in _VALUE_LISTS:
                if key in (res.result or {}):
                    res.result[key] = [] if isinstance(res.result[key], list) else {}
    return DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result))
