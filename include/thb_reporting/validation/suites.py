"""Expectation suites, generated from the data contracts.

The suite is plain JSON in expectations/<dataset>.json (the current version of the contract; an earlier
version N in <dataset>.vN.json), written by `thb suites` and checked by a test to equal what the contract
generates; building it needs no Great Expectations import. Each
expectation's meta names the rule and column so that results map back to messages for the team.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from thb_reporting.core.contracts import CODES_SEPARATOR, ROW_KEY, Contract, datasets, load, versions



def expectations_dir() -> Path:
    return Path(os.environ.get("THB_EXPECTATIONS_DIR") or Path(__file__).resolve().parents[3] / "expectations")


def _expectation(type_: str, rule: str, column: str | None, severity: str = "critical", **kwargs) -> dict:
    meta = {"rule": rule}
    if column:
        meta["column"] = column
        kwargs = {"column": column, **kwargs}
    return {"type": type_, "kwargs": kwargs, "meta": meta, "severity": severity}


def suite_for(contract: Contract) -> dict:
    exps = [
        _expectation(
            "expect_table_columns_to_match_set", "template_columns", None,
            column_set=sorted([*contract.column_names, ROW_KEY]), exact_match=True,
        )
    ]
    for c in contract.columns:
        if c.required:
            exps.append(_expectation("expect_column_values_to_not_be_null", "required", c.name))
        if c.required_when:
            other, codes = c.required_when["column"], list(c.required_when["in"])
            exps.append(_expectation(
                "expect_column_values_to_not_be_null", "required_when", c.name,
                row_condition=f"{other} in {codes!r}", condition_parser="pandas",
            ))
        if c.type in ("code", "country"):
            exps.append(_expectation(
                "expect_column_values_to_be_in_set", "country_code" if c.type == "country" else "code_list",
                c.name, value_set=list(c.allowed_codes),
            ))
        if c.type == "codes":
            one = "(?:" + "|".join(c.allowed_codes) + ")"
            exps.append(_expectation(
                "expect_column_values_to_match_regex", "code_list", c.name,
                regex=f"^{one}(?:{CODES_SEPARATOR}{one})*$",
            ))
        if c.type == "integer" and (c.min is not None or c.max is not None):
            exps.append(_expectation(
                "expect_column_values_to_be_between", "range", c.name, min_value=c.min, max_value=c.max,
            ))
        if c.within_quarter:
            exps.append(_expectation(
                "expect_column_values_to_be_between", "within_quarter", c.name,
                min_value={"$PARAMETER": "quarter_start"}, max_value={"$PARAMETER": "quarter_end"},
            ))
        if c.not_after_quarter_end:
            exps.append(_expectation(
                "expect_column_values_to_be_between", "not_after_quarter_end", c.name,
                max_value={"$PARAMETER": "quarter_end"},
            ))
        if c.not_before_quarter_start:
            exps.append(_expectation(
                "expect_column_values_to_be_between", "not_before_quarter_start", c.name,
                min_value={"$PARAMETER": "quarter_start"},
            ))
        if c.max_length:
            exps.append(_expectation(
                "expect_column_value_lengths_to_be_between", "max_length", c.name, max_value=c.max_length,
            ))
    if len(contract.unique_key) == 1:
        exps.append(_expectation("expect_column_values_to_be_unique", "duplicate_key", contract.unique_key[0]))
    elif contract.unique_key:
        exp = _expectation("expect_compound_columns_to_be_unique", "duplicate_key", None,
                           column_list=list(contract.unique_key))
        exp["meta"].update(column=contract.unique_key[-1], columns=list(contract.unique_key))
        exps.append(exp)
    for pair in contract.column_pairs:
        exp = _expectation("expect_column_pair_values_a_to_be_greater_than_b", pair["rule"], None,
                           column_A=pair["later"], column_B=pair["earlier"], or_equal=True,
                           ignore_row_if="either_value_is_missing")
        exp["meta"].update(column=pair["later"], columns=[pair["earlier"], pair["later"]])
        exps.append(exp)
    for soft in contract.soft_rules:
        if soft.rule == "unique_within_team":
            exps.append(_expectation(
                "expect_column_values_to_be_unique", soft.rule, soft.column, severity="warning",
            ))
        else:
            raise ValueError(f"{contract.dataset}: soft rule {soft.rule!r} has no expectation")
    meta = {"generated_from": f"include/thb_reporting/core/contracts/{contract.dataset}.yaml",
            "contract_version": contract.version}
    if contract.from_quarter:
        meta["from_quarter"] = contract.from_quarter
    if contract.row_rules:
        meta["checked_in_code"] = [r["rule"] for r in contract.row_rules]  # rules across rows: checks.py
    return {"name": contract.suite_name, "expectations": exps, "meta": meta}


def suite_names(dataset: str | None = None) -> tuple[str, ...]:
    """The suites of one dataset's (or every dataset's) contract versions: victims, victims.v1, ..."""
    return tuple(c.suite_name for d in ([dataset] if dataset else datasets()) for c in versions(d))


def suite_json(name: str) -> str:
    """The suite `name` (a dataset: its current version; victims.v1: version 1) as committed."""
    return json.dumps(suite_for(load(name)), indent=2, ensure_ascii=False) + "\n"


def write_suites(target: Path | None = None) -> list[Path]:
    target = target or expectations_dir()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in suite_names():
        path = target / f"{name}.json"
        path.write_text(suite_json(name), encoding="utf-8")
        written.append(path)
    return written


def load_suite(name: str) -> dict:
    return json.loads((expectations_dir() / f"{name}.json").read_text(encoding="utf-8"))
