"""Team templates generated from the data contracts: CSV (header only) and XLSX (a data sheet named
after the dataset with a drop-down on every coded column and a hint on every header, a read-me sheet and
a code-list sheet with each code's Serbian and English label, all set up to print on A4 landscape)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from thb_reporting.core import contracts, reference
from thb_reporting.core.contracts import (CODES_SEPARATOR, Contract, code_list_of, column_label, declaration,
                                     template_file_name)

MAX_TEMPLATE_ROWS = 5000  # rows the drop-downs cover
CODE_SHEET, README_SHEET = "sifarnici", "procitaj_me"
CODED_TYPES = ("code", "codes", "country")


def header(column) -> str:
    """'Serbian / English (code)': the reader keeps only the code in parentheses."""
    return f"{column_label(column)} ({column.name})"


def several_example(column) -> str:
    """An example cell of a column of several codes, e.g. sexual;labour."""
    return CODES_SEPARATOR.join(column.allowed_codes[:2])


def csv_template(contract: Contract) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([header(c) for c in contract.columns])
    return out.getvalue().encode("utf-8-sig")  # BOM: Excel then reads UTF-8 correctly


def _print_setup(sheet, title: str, wide: bool = True) -> None:
    """A4, landscape for wide sheets, fitted to the page width, the header row repeated on every page."""
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if wide else "portrait"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages down as the rows need
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    sheet.oddHeader.center.text = title
    sheet.oddFooter.right.text = "&P / &N"


def _code_sheet(book, contract: Contract) -> dict[str, str]:
    """The code-list sheet: one block of rows per code list the contract uses (the drop-down's choice, the
    code, its Serbian and English label); returns code list → the range of its choices, for the drop-downs."""
    from openpyxl.styles import Alignment, Border, Font, Side

    sheet = book.create_sheet(CODE_SHEET)
    sheet.append(["Kolone / Columns", "Izbor u padajućoj listi / Choice in the drop-down", "Kod / Code",
                  "Srpski", "English"])
    used: dict[str, list] = {}
    for col in contract.columns:
        if col.type in CODED_TYPES:
            used.setdefault(code_list_of(col), []).append(col)
    ranges = {}
    for code_list, columns in used.items():
        start = sheet.max_row + 1
        for i, code in enumerate(reference.code_lists()[code_list]):
            names = "\n".join(header(c) for c in columns) if i == 0 else None
            sheet.append([names, reference.code_choice(code), code.code, code.label_sr, code.label_en])
        ranges[code_list] = f"{CODE_SHEET}!$B${start}:$B${sheet.max_row}"
        for cell in sheet[start]:
            cell.border = Border(top=Side(style="thin"))
        sheet.cell(start, 1).font = Font(bold=True)
        sheet.cell(start, 1).alignment = Alignment(wrap_text=True, vertical="top")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCDE", (34, 52, 20, 34, 34)):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    _print_setup(sheet, f"{contract.title['sr']} / {contract.title['en']}: šifarnici / code lists")
    return ranges


def _readme(book, contract: Contract) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(README_SHEET, 1)
    several = next((c for c in contract.columns if c.type == "codes"), None)
    sheet.append(["", f"{contract.title['sr']} / {contract.title['en']}"])
    sheet.append(["", contract.grain["sr"]])
    sheet.append(["", contract.grain["en"]])
    since = f", od / from {contract.from_quarter}" if contract.from_quarter else ""
    sheet.append(["", f"Verzija obrasca / Template version {contract.version}{since}"])
    sheet.append(["", f"Popunite list „{contract.dataset}“ od drugog reda; prvi red (zaglavlje) ne menjajte."])
    sheet.append(["", f"Fill in the sheet '{contract.dataset}' from the second row; do not change the first row (the header)."])
    sheet.append(["", f"Kolone sa šifarnikom: izaberite vrednost po nazivu sa padajuće liste, npr. "
                      f"„{reference.code_choice(reference.code_lists()['yes_no'][0])}“; sistem zadržava kod u zagradi. "
                      f"Svi kodovi sa nazivima su na listu „{CODE_SHEET}“."])
    sheet.append(["", f"Coded columns: pick the value by its label from the drop-down, e.g. "
                      f"'{reference.code_choice(reference.code_lists()['yes_no'][0])}'; the system keeps the code in "
                      f"parentheses. Every code with its labels is on the sheet '{CODE_SHEET}'."])
    if several is not None:
        example = several_example(several)
        sheet.append(["", f"Kolone sa više kodova ({', '.join(c.name for c in contract.columns if c.type == 'codes')}): "
                          f"upišite kodove odvojene znakom „{CODES_SEPARATOR}“, npr. {example}, ili izaberite jednu vrednost sa liste."])
        sheet.append(["", f"Columns of several codes: enter the codes separated by '{CODES_SEPARATOR}', e.g. {example}, "
                          f"or pick one value from the list."])
    sheet.append(["", "Datumi: GGGG-MM-DD ili DD.MM.GGGG. Ne upisujte imena, JMBG, adrese, telefone ni e-adrese."])
    sheet.append(["", "Dates: YYYY-MM-DD or DD.MM.YYYY. Never enter names, JMBG, addresses, phone numbers or e-mail addresses."])
    sheet.append([])
    top = sheet.max_row + 1
    sheet.append(["Kolona / Column", "Zaglavlje / Header", "Obavezno / Required", "Vrsta / Kind", "Opis", "Description"])
    kinds = {"text": "tekst / text", "integer": "ceo broj / whole number", "date": "datum / date",
             "code": "jedan kod sa liste / one code from the list", "country": "ISO kod države sa liste / ISO country code from the list"}
    for i, col in enumerate(contract.columns, start=1):
        required = "da / yes" if col.required else ("uslovno / conditional" if col.required_when else "ne / no")
        kind = kinds.get(col.type) or (f"jedan ili više kodova, npr. {several_example(col)} / "
                                       f"one or more codes, e.g. {several_example(col)}")
        sheet.append([get_column_letter(i), header(col), required, kind, f"{col.label['sr']}. {col.hint.get('sr', '')}",
                      f"{col.label['en']}. {col.hint.get('en', '')}"])
    for cell in sheet[top]:
        cell.font = Font(bold=True)
    sheet["B1"].font = Font(bold=True, size=13)
    for row in sheet.iter_rows(min_row=top + 1):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for letter, width in zip("ABCDEF", (10, 36, 14, 26, 50, 50)):
        sheet.column_dimensions[letter].width = width
    _print_setup(sheet, f"{contract.title['sr']} / {contract.title['en']}: uputstvo / read me")
    sheet.print_title_rows = f"{top}:{top}"  # the column table's header


def workbook(contract: Contract, rows: list[dict] | None = None):
    """An openpyxl Workbook of the template, optionally filled with rows (dicts by column name)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    data = book.active
    data.title = contract.dataset
    _readme(book, contract)
    choices = _code_sheet(book, contract)
    data.append([header(c) for c in contract.columns])
    for cell in data[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    data.row_dimensions[1].height = 48  # three lines of a wrapped header, on screen and on paper
    data.freeze_panes = "A2"
    for i, col in enumerate(contract.columns, start=1):
        letter = get_column_letter(i)
        data.column_dimensions[letter].width = min(30, max(14, len(column_label(col)) // 2 + 6))
        note = column_label(col)
        if col.hint:
            note += f"\n\n{col.hint.get('sr', '')}\n{col.hint.get('en', '')}"
        if col.type in CODED_TYPES:
            note += f"\n\nIzaberite sa liste; šifarnik: list {CODE_SHEET}.\nPick from the list; code list: sheet {CODE_SHEET}."
        if col.type == "codes":
            note += (f"\n\nViše kodova odvojite znakom {CODES_SEPARATOR}, npr. {several_example(col)}\n"
                     f"Separate several codes with {CODES_SEPARATOR}, e.g. {several_example(col)}")
        data[f"{letter}1"].comment = Comment(note, "thb-national-reporting", width=320, height=200)
        if col.type not in CODED_TYPES:
            continue
        several = col.type == "codes"
        if several:
            prompt = (f"Jedna vrednost sa liste, ili više kodova odvojenih znakom {CODES_SEPARATOR}, npr. {several_example(col)}\n"
                      f"One value from the list, or several codes separated by {CODES_SEPARATOR}, e.g. {several_example(col)}")
        else:
            prompt = "Izaberite sa liste / Pick from the list"
        rule = DataValidation(
            type="list", formula1=choices[code_list_of(col)], allow_blank=not col.required,
            # several codes in one cell are no entry of the list: that column's drop-down only offers
            showErrorMessage=not several, errorStyle="stop",
            errorTitle="Nedozvoljena vrednost / Not allowed",
            error=f"{column_label(col)}: izaberite sa liste / pick from the list"[:255],
            promptTitle=col.label["sr"][:32], prompt=prompt[:255], showInputMessage=True,
        )
        data.add_data_validation(rule)
        rule.add(f"{letter}2:{letter}{MAX_TEMPLATE_ROWS + 1}")
    _print_setup(data, f"{contract.title['sr']} / {contract.title['en']}")
    book.properties.title = f"{contract.title['sr']} / {contract.title['en']}: obrazac v{contract.version} / template v{contract.version}"
    book.properties.keywords = declaration(contract)
    book.properties.creator = "thb-national-reporting"
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
            path = target / template_file_name(contract, suffix)
            path.write_bytes(content)
            written.append(path)
    return written
