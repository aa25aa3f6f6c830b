"""How a received file's bytes become rows, for every class of file that used to crash or be misread:
formats told by their bytes, encodings decoded honestly, control characters, header problems, the data
sheet of a workbook, and cells outside the data screened for personal identifiers."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import submission_makers as make
from thb_reporting.core import contracts
from thb_reporting.validation.checks import check_columns, prepare
from thb_reporting.tools.generator import SubmissionGenerator
from thb_reporting.tools.synthetic_files import encode
from thb_reporting.core.quarters import Quarter
from thb_reporting.reading.submission_files import (
    READING_FINDINGS, SubmissionError, file_format, parse_file_name, read_submission,
)
from thb_reporting.core.contracts import ROW_KEY

CSV_NAME, XLSX_NAME = parse_file_name("victims_2026Q2.csv"), parse_file_name("victims_2026Q2.xlsx")
CONTRACT = contracts.for_quarter("victims", CSV_NAME.quarter)  # the version the files' quarter is read under
VICTIMS = list(CONTRACT.column_names)


def _rows(n: int = 6, seed: int = 1) -> list[dict]:
    generator = SubmissionGenerator(Path("/nonexistent"), seed=seed)
    return generator.victims_rows(generator._rng("victims", "nis", "2026Q2", 1), "nis", Quarter.parse("2026Q2"), n)


def _good_csv(**kw) -> str:
    return encode("victims", _rows(**kw), VICTIMS, "csv_utf8").decode()


def _refused(data: bytes, name=CSV_NAME) -> SubmissionError:
    with pytest.raises(SubmissionError) as e:
        read_submission(data, name)
    return e.value


def _reading_findings(frame) -> list:
    return frame.attrs.get(READING_FINDINGS, [])


# --- formats by their bytes ---------------------------------------------------------------------
def test_an_xlsx_named_csv_and_a_csv_named_xlsx_are_read_by_their_bytes():
    rows = _rows()
    xlsx = make.workbook(lambda book: make.fill_sheet(book.active, "victims", rows))
    as_csv, as_xlsx = read_submission(xlsx, CSV_NAME), read_submission(_good_csv().encode(), XLSX_NAME)
    for frame in (as_csv, as_xlsx):
        assert list(frame.columns) == [ROW_KEY, *VICTIMS]
        assert frame["case_ref"].tolist() == [r["case_ref"] for r in rows]
        assert frame[ROW_KEY].tolist() == list(range(2, len(rows) + 2))
        assert _reading_findings(frame) == []


@pytest.mark.parametrize("data,rule", [
    (make.compound_file(["Workbook", "\x05SummaryInformation"]), "xls_format"),
    (make.compound_file(["EncryptionInfo", "EncryptedPackage"]), "encrypted_workbook"),
    (make.ods(), "ods_format"),
    (make.pdf(), "pdf_format"),
    (make.png(), "image_format"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)), "image_format"),
    (make.zip_of("victims_2026Q2.csv", b"case_ref,status\n"), "zip_archive"),
    (make.zip_of("word/document.xml", b"<w:document/>"), "other_format"),
    (b"<html><body><table><tr><td>case_ref</td></tr></table></body></html>", "other_format"),
    (b"{\\rtf1\\ansi case_ref}", "other_format"),
    (b"PK\x03\x04 damaged", "unreadable_file"),
])
def test_other_formats_are_refused_each_with_its_own_rule(data, rule):
    for name in (CSV_NAME, XLSX_NAME):  # whatever the name says
        error = _refused(data, name)
        assert error.rule == rule
    from thb_reporting.core.findings import rule_texts

    texts = rule_texts()[rule]
    assert texts["sr"] and texts["en"] and texts["fix_sr"] and texts["fix_en"]
    if rule not in ("unreadable_file", "zip_archive", "other_format"):  # how to save it again is said
        assert ".xlsx" in texts["fix_en"] and "UTF-8" in texts["fix_en"]


def test_file_format_of_text_is_csv():
    assert file_format(_good_csv().encode("cp1250")) == "csv"
    assert file_format(b"") == "csv"


# --- decoding -----------------------------------------------------------------------------------
def test_bytes_undecodable_in_every_encoding_are_a_finding_naming_the_rows():
    lines = _good_csv().encode().split(b"\r\n")
    lines[3] = lines[3].replace(b",", b",\x98", 1)  # 0x98: undefined in Windows-1250, invalid in UTF-8
    lines[5] = lines[5].replace(b",", b",\x98", 1)
    error = _refused(b"\r\n".join(lines))
    assert (error.rule, error.row, error.message) == ("undecodable_text", 4, "4, 6")


def test_rows_pasted_in_another_encoding_are_named():
    text = _good_csv().replace("male", "muški")  # UTF-8 letters in most rows
    lines = text.encode().split(b"\r\n")
    lines[2] = "RED-2,ćevapčić,šž".encode("cp1250") + b"," * (len(VICTIMS) - 3)  # one row from a Windows-1250 file
    error = _refused(b"\r\n".join(lines))
    assert (error.rule, error.row, error.message) == ("mixed_encoding", 3, "3")
    # mostly Windows-1250 with one UTF-8 row: the UTF-8 row is the odd one
    lines = text.encode("cp1250").split(b"\r\n")
    lines[4] = "RED-4,čćžšđ".encode() + b"," * (len(VICTIMS) - 2)
    assert (_refused(b"\r\n".join(lines)).message) == "5"


def test_windows_1250_with_letter_pairs_that_look_like_utf8_is_read_as_windows_1250():
    # 'Čš' is C8 9A in Windows-1250: also a valid UTF-8 character (U+021A), which no team writes
    text = "case_ref;status;sex\r\nČšA-1;possible_victim;muški\r\nŽĐ-2;possible_victim;ženski\r\n"
    frame = read_submission(text.encode("cp1250"), CSV_NAME)
    assert frame["case_ref"].tolist() == ["ČšA-1", "ŽĐ-2"]


def test_windows_1251_from_a_cyrillic_excel_is_read_as_cyrillic():
    text = "Статус (status);Пол (sex);case_ref\r\nИдентификована жртва;Женски;ЉЊ-1\r\nМогућа жртва;Мушки;ЂЋ-2\r\n"
    frame = read_submission(text.encode("cp1251"), CSV_NAME)
    assert list(frame.columns) == [ROW_KEY, "status", "sex", "case_ref"]
    assert frame["sex"].tolist() == ["Женски", "Мушки"] and frame["case_ref"].tolist() == ["ЉЊ-1", "ЂЋ-2"]
    lines = text.encode("cp1251").split(b"\r\n")
    lines[2] = "Могућа жртва;Мушки;ЂЋ-2".encode()  # a row pasted from a UTF-8 file
    assert (_refused(b"\r\n".join(lines)).rule, _refused(b"\r\n".join(lines)).row) == ("mixed_encoding", 3)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom(encoding):
    frame = read_submission(_good_csv().replace("male", "muški").encode(encoding), CSV_NAME)
    assert list(frame.columns) == [ROW_KEY, *VICTIMS]
    assert frame[ROW_KEY].tolist() == [2, 3, 4, 5, 6, 7]
    assert _reading_findings(frame) == []


def test_broken_utf16_is_a_finding():
    assert _refused(b"\xff\xfe" + "case_ref\n".encode("utf-16-le") + b"\x00\xd8A\x00").rule == "undecodable_text"


# --- control characters -------------------------------------------------------------------------
@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f"])
def test_control_characters_in_a_cell_are_a_finding_without_the_value(char):
    lines = _good_csv().split("\r\n")
    cells = lines[2].split(",")
    cells[0] = f"SECRET{char}X"
    lines[2] = ",".join(cells)
    frame = read_submission("\r\n".join(lines).encode(), CSV_NAME)
    found = [f for f in check_columns(frame, CONTRACT)]
    assert [(f.rule, f.column, f.row) for f in found] == [("control_character", "case_ref", 3)]
    assert "SECRET" not in repr(found)
    prepared = prepare(frame, CONTRACT)  # rejected, every other finding still reported
    assert any(f.rule == "control_character" for f in prepared.findings) and "SECRET" not in repr(prepared.findings)
    assert prepared.typed is None or prepared.typed.loc[prepared.typed["source_row"] == 3, "case_ref"].isna().all()


def test_tabs_and_line_breaks_in_cells_are_no_control_characters():
    lines = _good_csv().split("\r\n")
    cells = lines[1].split(",")
    cells[0] = '"A\t1\nB"'
    lines[1] = ",".join(cells)
    assert _reading_findings(read_submission("\r\n".join(lines).encode(), CSV_NAME)) == []


def test_a_control_character_in_a_header_and_nul_padding_after_the_last_line():
    text = _good_csv()
    padded = read_submission(text.encode() + b"\x00" * 512, CSV_NAME)  # dropped: harmless
    assert _reading_findings(padded) == [] and len(padded) == 6
    header = read_submission(text.replace("status", "sta\x00tus", 1).encode(), CSV_NAME)
    found = [(f.rule, f.column, f.row) for f in check_columns(header, CONTRACT)]
    position = VICTIMS.index("status") + 1
    assert ("control_character", f"{chr(64 + position)} (#{position})", 1) in found
    assert "sta\x00tus" not in repr(check_columns(header, CONTRACT))


def test_control_characters_in_an_xlsx_cell():
    rows = _rows()
    rows[1] = dict(rows[1], case_ref="A\x7fB")  # XML can hold DEL and C1 controls
    rows[2] = dict(rows[2], case_ref="A_x0001_B")  # and Excel writes C0 controls escaped like this
    frame = read_submission(make.workbook(lambda book: make.fill_sheet(book.active, "victims", rows)), XLSX_NAME)
    assert [(f.rule, f.column, f.row) for f in _reading_findings(frame)] == [
        ("control_character", "case_ref", 3), ("control_character", "case_ref", 4)]


@settings(max_examples=int(os.environ.get("THB_FUZZ_EXAMPLES", 60)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=400), st.text(max_size=300).map(str.encode),
                 st.text(st.characters(max_codepoint=0x17F), max_size=300).map(lambda t: t.encode("cp1250", "ignore"))),
       st.sampled_from(["csv", "xlsx"]))
def test_any_bytes_give_rows_or_a_submission_error(data, suffix):
    """Never another exception; and rows that come back hold no control character without a finding."""
    import re

    header = ",".join(VICTIMS).encode()
    for content in (data, header + b"\r\n" + data):
        try:
            frame = read_submission(content, parse_file_name(f"victims_2026Q2.{suffix}"))
        except SubmissionError:
            continue
        cells = frame.drop(columns=ROW_KEY).stack().astype(str)
        controlled = cells.str.contains(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", regex=True)
        heads = any(re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", str(c)) for c in frame.columns)
        if controlled.any() or heads:
            assert any(f.rule == "control_character" for f in _reading_findings(frame))


# --- the header ---------------------------------------------------------------------------------
def test_a_deleted_header_row_is_one_finding_that_quotes_no_cell():
    rows = _rows()
    text = _good_csv().split("\r\n", 1)[1]  # the header row deleted
    for data, name in ((text.encode(), CSV_NAME),
                       (make.workbook(lambda book: make.fill_sheet(book.active, "victims", rows, header=False)), XLSX_NAME)):
        error = _refused(data, name)
        assert (error.rule, error.row) == ("header_missing", 1)
        assert rows[0]["case_ref"] not in error.message and rows[0]["case_ref"] not in str(error)


def test_a_title_row_above_the_header_is_reported_with_the_header_row():
    title = "Izveštaj tima Niš, drugo tromesečje 2026"
    error = _refused(f"{title}\r\n\r\n{_good_csv()}".encode())
    assert (error.rule, error.row, error.message) == ("title_row_above_header", 3, "3")

    def titled(book):
        book.active.append([title])
        book.active.append(["Datum: 2026-07-01"])
        make.fill_sheet(book.active, "victims", _rows())
    error = _refused(make.workbook(titled), XLSX_NAME)
    assert (error.rule, error.row) == ("title_row_above_header", 3)


def test_a_header_with_labels_only_after_a_title_is_found_too():
    labels = [CONTRACT.column(c).label["sr"] for c in VICTIMS]
    error = _refused(("Naslov\r\n" + ";".join(labels) + "\r\n").encode("cp1250"))
    assert (error.rule, error.row) == ("title_row_above_header", 2)


def test_blank_rows_above_an_xlsx_header_are_fine():
    def build(book):
        book.active.append([])
        book.active.append([])
        make.fill_sheet(book.active, "victims", _rows())
    frame = read_submission(make.workbook(build), XLSX_NAME)
    assert frame[ROW_KEY].tolist() == [4, 5, 6, 7, 8, 9]


@pytest.mark.parametrize("first", ["empty", "readme"])
def test_the_data_sheet_is_found_when_the_first_sheet_is_empty_or_a_readme(first):
    rows = _rows()

    def build(book):
        if first == "readme":
            book.active.append(["Uputstvo: popunite list Podaci / fill in the sheet Podaci"])
        make.fill_sheet(book.create_sheet("Podaci"), "victims", rows)
    frame = read_submission(make.workbook(build), XLSX_NAME)
    assert frame["case_ref"].tolist() == [r["case_ref"] for r in rows]
    assert _reading_findings(frame) == []


def test_the_sheet_named_after_the_dataset_wins_over_an_earlier_one():
    rows, other = _rows(seed=1), _rows(seed=2)

    def build(book):
        make.fill_sheet(book.active, "victims", other)  # e.g. last quarter's copy
        make.fill_sheet(book.create_sheet("victims"), "victims", rows)
    frame = read_submission(make.workbook(build), XLSX_NAME)
    assert frame["case_ref"].tolist() == [r["case_ref"] for r in rows]


# --- headers in messages, and cells outside the data --------------------------------------------
def test_unknown_headers_are_named_only_where_they_may_be_shown():
    lines = _good_csv().split("\r\n")
    extra = ["napomena", "SU-2026-000123", "marko@example.org", "0101100710006", "x" * 60]
    lines = [lines[0] + "," + ",".join(extra)] + [line + "," * len(extra) if line else line for line in lines[1:]]
    frame = read_submission("\r\n".join(lines).encode(), CSV_NAME)
    found = [f for f in check_columns(frame, CONTRACT) if f.rule == "unknown_column"]
    n = len(VICTIMS)
    from openpyxl.utils import get_column_letter

    assert [f.column for f in found] == ["napomena"] + [f"{get_column_letter(n + i)} (#{n + i})" for i in range(2, 6)]
    assert not any(e.lower() in repr(found) for e in extra[1:])


def test_a_duplicated_unknown_header_is_named_by_its_place():
    lines = _good_csv().split("\r\n")
    lines = [lines[0] + ",SU-2026-1,SU-2026-1"] + [line + ",," if line else line for line in lines[1:]]
    found = check_columns(read_submission("\r\n".join(lines).encode(), CSV_NAME), CONTRACT)
    assert "SU-2026-1".lower() not in repr(found)
    assert [f.rule for f in found] == ["unknown_column", "duplicate_column"]


@pytest.mark.parametrize("where", ["hidden_sheet", "other_sheet", "right_of_the_data"])
def test_an_identifier_outside_the_data_rejects_the_file_without_its_value(where):
    jmbg = "0101100710006"

    def build(book):
        make.fill_sheet(book.active, "victims", _rows())
        book.active.title = "victims"
        if where == "right_of_the_data":
            book.active.cell(4, len(VICTIMS) + 3).value = jmbg
            book.active.column_dimensions["Z"].hidden = True
            return
        sheet = book.create_sheet("beleske")
        sheet["B7"] = f"kontakt {jmbg}"
        if where == "hidden_sheet":
            sheet.sheet_state = "hidden"
    frame = read_submission(make.workbook(build), XLSX_NAME)
    prepared = prepare(frame, CONTRACT)  # rejected whole, with every other finding
    identifiers = [f for f in prepared.findings if f.rule == "personal_identifier"]
    assert identifiers and all(f.detail.startswith("jmbg") for f in identifiers)
    if where != "right_of_the_data":
        assert [f.detail for f in identifiers] == ["jmbg: beleske!B7"]
    assert jmbg not in repr(prepared.findings)


def test_a_sheet_whose_name_may_not_be_shown_is_named_by_its_place():
    def build(book):
        make.fill_sheet(book.active, "victims", _rows())
        book.active.title = "victims"
        book.create_sheet("Jovana 0641234567")["A1"] = "marko@example.org"
    found = _reading_findings(read_submission(make.workbook(build), XLSX_NAME))
    assert [f.detail for f in found] == ["email: #1!A1"]


def test_the_template_workbook_itself_holds_nothing_to_report(tmp_path):
    """The read-me and code-list sheets of the XLSX template are screened too, and pass."""
    generated = SubmissionGenerator(tmp_path, seed=4).victims_file("nis", "2026Q2", file_format="xlsx", people=5)
    frame = read_submission(generated.path.read_bytes(), parse_file_name(generated.file_name))
    assert _reading_findings(frame) == []
    assert check_columns(frame, CONTRACT) == []


def test_a_decimal_number_cell_is_never_read_as_thousands():
    """In a workbook whose typed amounts group thousands with '.', a number cell holding 1.234 (a decimal)
    is a finding, never the whole number 1234."""
    rows = SubmissionGenerator(Path("/nonexistent"), seed=3).programmes_rows(
        SubmissionGenerator(Path("/nonexistent"), seed=3)._rng("programmes", "nis", "2026Q2", 1), "nis",
        Quarter.parse("2026Q2"), 3)

    def build(book):
        book.active.title = "programmes"
        columns = make.fill_sheet(book.active, "programmes", rows)
        amount = columns.index("amount_rsd") + 1
        book.active.cell(2, amount).value = "1.250.000"  # typed, Serbian grouping: '.' separates thousands
        book.active.cell(3, amount).value = 1.234  # a number cell with decimals
    frame = read_submission(make.workbook(build), parse_file_name("programmes_2026Q2.xlsx"))
    prepared = prepare(frame, contracts.load("programmes"))
    amounts = dict(zip(prepared.typed[ROW_KEY], prepared.typed["amount_rsd"]))
    assert amounts[2] == 1_250_000 and str(amounts[3]) == "<NA>"  # not typed at all, let alone as 1234
    assert ("whole_number", 3) in {(f.rule, f.row) for f in prepared.findings if f.column == "amount_rsd"}


def _utf8_variants() -> dict[str, bytes]:
    """CSV files in UTF-8 in the shapes teams send: each is read from its bytes without making its text."""
    good = _good_csv(n=30)
    lines = good.split("\r\n") if "\r\n" in good else good.split("\n")
    title = ["Izveštaj lokalnog tima Niš", "", "Tromesečje: 2026Q2", ";;;", "", "", "Napomena: sve je tačno", "", ""]
    return {
        "plain": good.encode(),
        "bom": b"\xef\xbb\xbf" + good.encode(),
        "hint line": b"sep=,\r\n" + good.encode(),
        "hint line and bom": b"\xef\xbb\xbf\"sep=,\"\n" + good.encode(),
        "title rows above the header": "\n".join(title + lines).encode(),
        "blank lines among the rows": "\n".join(lines[:5] + ["", "  "] + lines[5:]).encode(),
        "a row longer than the header": "\n".join(lines[:4] + [lines[4] + ",extra,cells"] + lines[5:]).encode(),
        "no line end at all": lines[0].encode(),
        "only white space": "  \n\u00a0\n\t\n".encode(),
        "white space, then a header far below": ("\n" * 40 + good).encode(),
        "NUL padding": good.encode() + b"\x00" * 9,
    }


@pytest.mark.parametrize("shape", list(_utf8_variants()))
def test_a_utf8_file_read_from_its_bytes_gives_what_its_whole_text_gives(shape, monkeypatch):
    """The text of a large UTF-8 file is not made (it would take twice the file's size): read from its bytes
    and its first lines (head_of), every shape of file gives the frame and findings, or the refusal, that
    reading its whole text gave."""
    import thb_reporting.reading.submission_files as reading
    from thb_reporting.reading.text import _decode

    data = _utf8_variants()[shape]
    assert _decode(data, whole=False)[0] is None  # the text is not made

    def outcome():
        try:
            frame = read_submission(data, CSV_NAME)
        except SubmissionError as e:
            return ("refused", e.rule, str(e))
        return (frame.to_dict("split"), repr(_reading_findings(frame)))

    from_bytes = outcome()
    monkeypatch.setattr(reading, "_decode", lambda data, whole=True: _decode(data, whole=True))
    assert from_bytes == outcome()
