"""Findings: what a check found in a submission, and the words that tell a team about it.

A Finding names the rule, the row and the column, and quotes the value only where it is a code, number or
date (screened when it is made: privacy.shown). rules.yaml holds what each rule means and how to fix a
failure, in Serbian and English; explain and describe put a finding into those words, with the column as
the team sees it in its spreadsheet (its letter and the header's words).
"""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path


from thb_reporting.core import yaml_files
from thb_reporting.core.contracts import Contract
from thb_reporting.core.privacy import shown
from thb_reporting.core.contracts import ROW_KEY

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str = ERROR
    column: str | None = None
    row: int | None = None
    value: str | None = None  # only codes, numbers and dates, never text that could describe a person
    detail: str | None = None
    letter: str | None = field(default=None, compare=False)  # the column's letter in the team's file (column_letters)

    def __post_init__(self):
        # Screened here, so that no caller can forget: a column may be a header the team wrote, a value any
        # cell, a detail a sentence quoting the file's name or a cell (privacy.shown).
        object.__setattr__(self, "column", shown(self.column))
        object.__setattr__(self, "value", shown(self.value))
        object.__setattr__(self, "detail", shown(self.detail, kind="text"))

    def as_dict(self) -> dict:
        return asdict(self)


@cache
def rule_texts() -> dict:
    return yaml_files.safe_load((Path(__file__).parent / "rules.yaml").read_text(encoding="utf-8"))


def is_note(rule: str) -> bool:
    """A warning that tells that nothing is wrong (rules.yaml `note: true`): the receipt calls it a note and
    lists no rows, and a rejected file's findings leave it out (it says the file is accepted)."""
    return bool(rule_texts().get(rule, {}).get("note"))


def explain(finding: Finding, lang: str = "en", contract: Contract | None = None, quarter=None) -> tuple[str, str]:
    """(what is wrong, how to fix it) in words for the team, in Serbian ('sr') or English ('en')."""
    texts = rule_texts().get(finding.rule, {"en": finding.rule, "sr": finding.rule, "fix_en": "", "fix_sr": ""})
    fields = {"column": column_as_seen(finding, contract), "value": finding.value or "", "detail": _detail_text(finding, lang),
              "quarter": str(quarter or finding.detail or ""), "allowed": "", "min": "", "max": "", "measure": "",
              "version": "", "template": "", "columns": "", "from_quarter": "", "day_first": "", "month_first": ""}
    if contract and contract.history_measure:
        fields["measure"] = contract.history_measure["label"][lang]
    if contract and finding.column in contract.column_names:
        col = contract.column(finding.column)
        fields.update(allowed=_allowed(col, lang), min=col.min if col.min is not None else "",
                      max=col.max if col.max is not None else "")
    if contract and finding.detail and finding.rule in DETAIL_IN_CODES:
        fields["detail"] = _in_words(finding.detail, contract, lang)
    if finding.rule in TEMPLATE_RULES:
        fields.update(_template_fields(finding, contract, lang))
    if finding.rule == "date_order_mixed":  # detail 'reading|reading|a date written day first|one month first'
        fields.update(zip(("day_first", "month_first"), (finding.detail or "").split("|")[2:4]))
    return texts[lang].format(**fields), texts[f"fix_{lang}"].format(**fields)


# Rules about a file made from an earlier template: their messages name the current template's file.
TEMPLATE_RULES = {"columns_of_later_template", "missing_column_of_later_template", "column_of_later_template",
                  "empty_column_of_later_template"}


def _template_fields(finding: Finding, contract: Contract | None, lang: str) -> dict:
    """{version, template, columns} of a TEMPLATE_RULES finding: the version in force, the file name of the
    template to use (a rejected file's: the quarter's, to send it again in; else the current one, for next
    time; messages._templates_to_attach attaches both) and (columns_of_later_template, detail 'followed|a,b')
    the lacking columns' labels."""
    from thb_reporting.core.contracts import load
    from thb_reporting.core.contracts import template_file_name as file_name

    if contract is None:
        return {"version": "", "template": "", "columns": finding.detail or "", "from_quarter": ""}
    version, _, names = (finding.detail or "").partition("|")
    columns = ", ".join(contract.column(n).label[lang] if n in contract.column_names else n
                        for n in names.split(",") if n)
    to_use = contract if finding.severity == ERROR else load(contract.dataset)
    fields = {"version": contract.version, "template": file_name(to_use, "xlsx"), "columns": columns}
    if finding.rule != "missing_column_of_later_template":  # detail 'version|columns' or 'version|from quarter'
        fields["detail"] = version
    if finding.rule in ("column_of_later_template", "empty_column_of_later_template"):
        fields["from_quarter"] = names
    return fields


def _detail_text(finding: Finding, lang: str) -> str:
    """The finding's detail in the team's language: two readings ('350000|350') as '350000 ili 350' or
    '350000 or 350', with a decimal comma in Serbian; the likely date of a two-digit year in brackets."""
    if not finding.detail:
        return ""
    if finding.rule in ("ambiguous_number", "ambiguous_date", "date_order_mixed"):
        readings = finding.detail.split("|")[:2]
        if lang == "sr" and finding.rule == "ambiguous_number":
            readings = [r.replace(".", ",") for r in readings]
        return (" ili " if lang == "sr" else " or ").join(readings)
    if finding.rule == "two_digit_year":
        return f" ({'verovatno' if lang == 'sr' else 'probably'} {finding.detail})"
    return finding.detail


def column_as_seen(finding: Finding, contract: Contract | None) -> str:
    """The finding's column as the team finds it in its spreadsheet: the letter of the column in its file
    (when known) and the header's words, e.g. 'H (Država eksploatacije / Country of exploitation)'."""
    from thb_reporting.core.contracts import column_label

    if not finding.column:
        return ""
    words = (column_label(contract.column(finding.column)) if contract and finding.column in contract.column_names
             else finding.column)
    return f"{finding.letter} ({words})" if finding.letter else words


def spreadsheet_letter(n: int) -> str:
    """The letters of the n-th column (from 1) in a spreadsheet: A … Z, AA … AZ, BA … (bijective base 26).
    Here rather than openpyxl's, whose import (0.7 s) a CSV file's validation would otherwise pay."""
    letters = ""
    while n > 0:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def column_letters(frame) -> dict[str, str]:
    """Column name → its letter in the file as read (A for the first column; 'C, F' for a name twice)."""
    letters: dict[str, str] = {}
    for i, name in enumerate((c for c in frame.columns if c != ROW_KEY), start=1):
        letters[name] = f"{letters[name]}, {spreadsheet_letter(i)}" if name in letters else spreadsheet_letter(i)
    return letters


def located(findings: list[Finding], letters: dict[str, str]) -> list[Finding]:
    """The findings with the letter of their column in the file (column_letters)."""
    return [replace(f, letter=letters[f.column]) if f.column in letters else f for f in findings]


# Rules whose detail names columns and codes ('article 388', 'cross_border = yes', 'article, stage'):
# messages show them in the team's words.
DETAIL_IN_CODES = {"required_when", "stage_not_above", "duplicate_key"}


def _code_label(column, code: str, lang: str) -> str:
    from thb_reporting.core.reference import code_lists
    from thb_reporting.core.contracts import code_list_of

    for c in code_lists().get(code_list_of(column) or "", ()):
        if c.code == code:
            return c.label_en if lang == "en" else c.label_sr
    return code


def _allowed(column, lang: str) -> str:
    """The codes a column allows, each with its label in the message's language: 'Ženski (female), …'."""
    shown = [f"{_code_label(column, code, lang)} ({code})" for code in column.allowed_codes[:12]]
    return ", ".join(shown) + (" …" if len(column.allowed_codes) > 12 else "")


def _in_words(detail: str, contract: Contract, lang: str) -> str:
    """A detail of DETAIL_IN_CODES with the columns' labels and the codes' labels for their names."""
    import re

    m = re.fullmatch(r"(\w+)( = | )(\S+)", detail)
    if m and m.group(1) in contract.column_names:
        col = contract.column(m.group(1))
        values = "/".join(_code_label(col, code, lang) for code in m.group(3).split("/"))
        return f"{col.label[lang]}{' = ' if m.group(2) == ' = ' else ' – '}{values}"
    names = [n.strip() for n in detail.split(",")]
    if all(n in contract.column_names for n in names):
        return ", ".join(contract.column(n).label[lang] for n in names)
    return detail


def describe(finding: Finding, lang: str = "en", contract: Contract | None = None, quarter=None) -> str:
    """The finding in one sentence for the team, with its row and how to fix it."""
    where = f"row {finding.row}: " if lang == "en" and finding.row else (f"red {finding.row}: " if finding.row else "")
    what, fix = explain(finding, lang, contract, quarter)
    return f"{where}{what} {fix}"


def findings_csv(findings: list[Finding], contract, quarter) -> bytes:
    """Every finding of a file as a CSV for the team (attached to its e-mail, kept beside a rejected file)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "column", "rule", "severity", "value", "message_sr", "message_en"])
    for f in findings:
        writer.writerow([f.row or "", f.column or "", f.rule, f.severity, f.value or "",
                         describe(f, "sr", contract, quarter), describe(f, "en", contract, quarter)])
    return out.getvalue().encode("utf-8-sig")  # with BOM, so Excel opens the Serbian letters right
