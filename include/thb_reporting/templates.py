"""Team templates generated from the data contracts: CSV (header only) and XLSX (a data sheet named
after the dataset with drop-down lists for coded columns and a hint on every header, a code-list
sheet, and a read-me sheet in Serbian and English)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from thb_reporting import contracts
from thb_reporting.contracts import Contract

MAX_TEMPLATE_ROWS = 5000  # rows the drop-downs cover


def header(column) -> str:
    """'Serbian / English (code)': the reader keeps only the code in parentheses."""
    sr, en = column.label["sr"], column.label["en"]
    return f"{sr} ({column.name})" if sr == en else f"{sr} / {en} ({column.name})"


def csv_template(contract: Contract) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([header(c) for c in contract.columns])
    return out.getvalue().encode("utf-8-sig")  # BOM: Excel then reads UTF-8 correctly


def workbook(contract: Contract, rows: list[dict] | None = None):
    """An openpyxl Workbook of the template, optionally filled with rows (dicts by column name)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    data = book.active
    data.title = contract.dataset
    readme = book.create_sheet("procitaj_me")
    lists = book.create_sheet("sifarnici")
    data.append([header(c) for c in contract.columns])
    for cell in data[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    data.freeze_panes = "A2"
    list_column = 0
    for i, col in enumerate(contract.columns, start=1):
        letter = get_column_letter(i)
        data.column_dimensions[letter].width = min(40, max(14, len(header(col)) // 2 + 4))
        note = f"{col.label['sr']} / {col.label['en']}"
        if col.hint:
            note += f"\n\n{col.hint.get('sr', '')}\n{col.hint.get('en', '')}"
        data[f"{letter}1"].comment = Comment(note, "thb-national-reporting", width=320, height=160)
        if col.type in ("code", "country"):  # a drop-down of the contract's codes, kept on the code-list sheet
            list_column += 1
            list_letter = get_column_letter(list_column)
            lists[f"{list_letter}1"] = col.name
            for r, code in enumerate(col.allowed_codes, start=2):
                lists[f"{list_letter}{r}"] = code
            rule = DataValidation(
                type="list", formula1=f"sifarnici!${list_letter}$2:${list_letter}${len(col.allowed_codes) + 1}",
                allow_blank=not col.required, showErrorMessage=True,
                errorTitle="Nedozvoljena vrednost / Not allowed", error=f"{col.name}: izaberite sa liste / choose from the list",
                promptTitle=col.name[:32], prompt=(col.hint.get("sr") or col.label["sr"])[:250], showInputMessage=True,
            )
            data.add_data_validation(rule)
            rule.add(f"{letter}2:{letter}{MAX_TEMPLATE_ROWS + 1}")
    readme.append([f"{contract.title['sr']} / {contract.title['en']}"])
    readme.append([contract.grain["sr"]])
    readme.append([contract.grain["en"]])
    readme.append([])
    readme.append(["kolona / column", "obavezno / required", "opis", "description"])
    for col in contract.columns:
        required = "da / yes" if col.required else ("uslovno / conditional" if col.required_when else "ne / no")
        readme.append([col.name, required, f"{col.label['sr']}. {col.hint.get('sr', '')}",
                       f"{col.label['en']}. {col.hint.get('en', '')}"])
    readme.column_dimensions["A"].width = 26
    readme.column_dimensions["C"].width = 70
    readme.column_dimensions["D"].width = 70
    for row in rows or ():
        data.append([row.get(name) for name in contract.column_names])
    return book


def xlsx_template(contract: Contract, rows: list[dict] | None = None) -> bytes:
    buf = io.BytesIO()
    workbook(contract, rows).save(buf)
    return buf.getvalue()


def write_templates(target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset in contracts.datasets():
        contract = contracts.load(dataset)
        for suffix, content in (("csv", csv_template(contract)), ("xlsx", xlsx_template(contract))):
            path = target / f"{dataset}_template.{suffix}"
            path.write_bytes(content)
            written.append(path)
    return written

