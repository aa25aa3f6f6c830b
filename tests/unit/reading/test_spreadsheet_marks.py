"""What spreadsheet programs add and hide (#27 points 2 and 5): Excel's delimiter hint line, characters a
person cannot see (format characters and odd spaces pasted from the web or a word processor), and dates whose
day and month could swap. Files are real LibreOffice exports where LibreOffice can make them here, otherwise
built byte for byte as Excel writes them; each test reads what the team is told."""
from __future__ import annotations

import datetime as dt
import unicodedata

import pytest

from thb_reporting.core import contracts, invisible_characters, templates
from thb_reporting.validation.checks import finish, prepare
from thb_reporting.core.findings import ERROR, describe
from thb_reporting.tools.synthetic_files import encode
from thb_reporting.core.privacy import shown
from thb_reporting.reading.submission_files import parse_file_name, read_submission
from test_templates import soffice  # noqa: F401 (a fixture: LibreOffice, headless)

Q = "2026Q2"
CONTRACT = contracts.for_quarter("victims", Q)
COLUMNS = list(CONTRACT.column_names)


def _rows(n: int = 6) -> list[dict]:
    """Valid rows of the quarter, as the generator makes them (tests/test_bad_input)."""
    from test_bad_input import _rows as generated

    rows = generated("victims")[:n]
    assert len(rows) == n
    return [{c: r.get(c) for c in COLUMNS} for r in rows]


@pytest.fixture(scope="module")
def runner():
    from thb_reporting.validation.suite_runner import SuiteRunner

    return SuiteRunner(contracts.datasets())


def _checked(data: bytes, name: str = f"victims_{Q}.csv", contract=CONTRACT):
    """The file's outcome after every check but the suite (prepare): its rows and findings."""
    prepared = prepare(read_submission(data, parse_file_name(name)), contract)
    return prepared, {(f.rule, f.row, f.column) for f in prepared.findings}


def _validated(data: bytes, runner, name: str = f"victims_{Q}.csv", contract=CONTRACT):
    """The file's outcome after every check, the suite's included (code lists)."""
    from thb_reporting.core.quarters import Quarter

    outcome = finish(prepare(read_submission(data, parse_file_name(name)), contract), contract, Quarter.parse(Q), runner)
    return outcome, {(f.rule, f.row, f.column) for f in outcome.findings}


def _told(prepared, contract=CONTRACT) -> str:
    """Every finding as the team reads it, in both languages."""
    return "\n".join(describe(f, lang, contract, Q) for f in prepared.findings for lang in ("sr", "en"))


# --- the characters -------------------------------------------------------------------------------
def test_every_format_character_and_odd_space_is_invisible_and_nothing_else_is():
    every = [chr(i) for i in range(0x110000)]
    expected = {ch for ch in every if unicodedata.category(ch) == "Cf"
                or (unicodedata.category(ch) in ("Zs", "Zl", "Zp") and ch != " ")}
    found = {ch for ch in every if invisible_characters.is_invisible(ch)}
    assert expected <= found
    # the only others: Egyptian hieroglyph format controls that Unicode 15 added (this Python may know an older one)
    assert {hex(ord(ch)) for ch in found - expected} <= {hex(i) for i in range(0x13439, 0x13440)}
    assert not any(invisible_characters.is_invisible(ch) for ch in "female ŽžČćĐ;,.-_/0123456789\t")


def test_a_value_shown_to_a_team_writes_out_what_cannot_be_seen():
    assert shown("fe\u200bmale") == "fe<U+200B>male"
    assert shown("female\u00a0") == "female<U+00A0>"
    assert invisible_characters.names("\u200bx\u00ad\u200b") == "ZERO WIDTH SPACE (U+200B), SOFT HYPHEN (U+00AD)"


# --- Excel's delimiter hint line ------------------------------------------------------------------
@pytest.mark.parametrize("hint, delimiter, encoding", [
    ("sep=;", ";", "utf-8-sig"),       # Excel, Serbian locale, CSV UTF-8
    ('"sep=;"', ";", "cp1250"),          # quoted, as a sheet cell exported
    ("sep=,;;;;", ",", "utf-8"),          # the hint in a cell of its own row, the row's empty cells after it
    ("SEP=\t", "\t", "utf-16"),          # tab-separated Unicode text
    ("sep=\\t", "\t", "utf-8"),           # written out by a script
])
def test_a_delimiter_hint_line_is_read_as_the_hint_it_is(hint, delimiter, encoding, runner):
    rows = _rows()
    rows[1]["sex"] = "zenska"  # a wrong code in the second data row: row 3 as the team sees it in Excel
    body = _csv_text(rows, delimiter)
    prepared, found = _validated(f"{hint}\r\n{body}".encode(encoding), runner)
    assert found == {("code_list", 3, "sex")}, found
    assert prepared.typed["case_ref"].tolist() == [r["case_ref"] for r in rows]
    told = _told(prepared)
    assert "sep=" not in told and "delete the rows above the header" not in told


def _csv_text(rows: list[dict], delimiter: str) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([["" if r[c] is None else r[c] for c in COLUMNS] for r in rows])
    return out.getvalue()


def test_without_a_hint_a_line_above_the_header_is_still_a_title_row():
    from thb_reporting.reading.submission_files import SubmissionError

    body = encode("victims", _rows(), COLUMNS, "csv_utf8").decode()
    with pytest.raises(SubmissionError) as refused:
        _checked(f"Izveštaj tima Niš\r\n{body}".encode())
    assert refused.value.rule == "title_row_above_header"


# --- invisible characters, from LibreOffice ------------------------------------------------------
PASTED = {  # (row index, column) → how the cell was pasted, around its value
    (0, "sex"): lambda v: f"{v[:2]}\u200b{v[2:]}",           # a zero-width space inside a code
    (1, "status"): lambda v: f"\u00a0{v}\u00a0",             # no-break spaces around it
    (2, "citizenship"): lambda v: f"\u200e{v}",               # a left-to-right mark before it
    (3, "exploitation"): lambda v: f"{v[:3]}\u00ad{v[3:]}",   # a soft hyphen
    (0, "age_years"): lambda v: f"{str(v)[:1]}\u2060{str(v)[1:]}",  # a word joiner inside a number
    (2, "case_ref"): lambda v: f"{v}\ufeff",                  # a BOM at the end of a reference
}


def test_invisible_characters_in_a_libreoffice_export_are_removed_and_named(tmp_path, soffice):  # noqa: F811
    rows = _rows()
    meant = {(i, column): rows[i][column] for i, column in PASTED}
    assert all(v is not None for v in meant.values()), meant
    for (i, column), paste in PASTED.items():
        rows[i][column] = paste(rows[i][column])
    book = tmp_path / f"victims_{Q}.xlsx"
    book.write_bytes(templates.xlsx_template(CONTRACT, rows))
    # LibreOffice's CSV export: comma, double quotes, UTF-8 (76), from the first row
    [exported] = soffice([book], 'csv:Text - txt - csv (StarCalc):44,34,76,1', tmp_path / "out")
    data = exported.read_bytes()
    assert "\u200b".encode() in data and "\u00ad".encode() in data  # LibreOffice kept them: a real case
    prepared, found = _checked(data)
    assert not [f for f in prepared.findings if f.severity == ERROR], _told(prepared)
    for (i, column), value in meant.items():
        assert ("invisible_character_removed", i + 2, column) in found
        read = prepared.typed.loc[prepared.typed["source_row"] == i + 2, column].iloc[0]
        assert read == value, (column, read)
    told = _told(prepared)
    for char in ("ZERO WIDTH SPACE (U+200B)", "NO-BREAK SPACE (U+00A0)", "LEFT-TO-RIGHT MARK (U+200E)",
                 "SOFT HYPHEN (U+00AD)", "WORD JOINER (U+2060)", "ZERO WIDTH NO-BREAK SPACE (U+FEFF)"):
        assert char in told
    for f in prepared.findings:  # never a value that looks right, shown as the one that is wrong
        assert f.value is None or not invisible_characters.INVISIBLE.search(f.value)


def test_a_code_still_wrong_after_the_invisible_characters_go_is_shown_as_read(runner):
    rows = _rows()
    rows[0]["sex"] = "femal\u200be"  # the bytes a paste leaves
    prepared, found = _validated(encode("victims", rows, COLUMNS, "csv_utf8"), runner)
    assert ("code_list", 2, "sex") not in found  # 'female' once the zero-width space is removed
    rows[0]["sex"] = "fem\u200ba"
    prepared, found = _validated(encode("victims", rows, COLUMNS, "csv_utf8"), runner)
    [wrong] = [f for f in prepared.findings if f.rule == "code_list"]
    assert wrong.value == "fema"  # the value as read, with nothing hidden in it
    told = _told(prepared)
    assert "ZERO WIDTH SPACE (U+200B)" in told


def test_free_text_keeps_its_invisible_characters():
    """Programme names are free text: what the team wrote is kept, and nothing is said about it."""
    from test_bad_input import _rows as rows_of

    contract = contracts.for_quarter("programmes", Q)
    programmes = rows_of("programmes")
    assert {c.name for c in contract.words_as_written} == {"name", "partner"}  # not programme_ref: it names a row
    column = "name"
    programmes[0][column] = f"Program\u00a0podrške\u200b {programmes[0][column]}"
    data = encode("programmes", programmes, list(contract.column_names), "csv_utf8")
    prepared, found = _checked(data, f"programmes_{Q}.csv", contract)
    assert not any(rule == "invisible_character_removed" for rule, *_ in found)
    assert prepared.typed[column].iloc[0].startswith("Program\u00a0podrške\u200b")


def test_a_reference_that_names_a_row_is_cleaned_as_a_code_is(runner):
    """programme_ref is free of form but names its row (the unique key): 'PR-01' with a zero-width space after
    it is the same programme as 'PR-01', so two such rows are a duplicate, and the reference is stored clean."""
    from test_bad_input import _rows as rows_of

    contract = contracts.for_quarter("programmes", Q)
    programmes = rows_of("programmes")[:3]
    programmes[1]["programme_ref"] = programmes[0]["programme_ref"] + "\u200b"
    programmes[2]["programme_ref"] = "\u00a0" + programmes[2]["programme_ref"]
    data = encode("programmes", programmes, list(contract.column_names), "csv_utf8")
    prepared, found = _checked(data, f"programmes_{Q}.csv", contract)
    assert {("invisible_character_removed", 3, "programme_ref"), ("invisible_character_removed", 4, "programme_ref")} <= found
    assert not any(invisible_characters.INVISIBLE.search(ref) for ref in prepared.typed["programme_ref"])
    assert prepared.typed["programme_ref"].iloc[1] == programmes[0]["programme_ref"]
    outcome, found = _validated(data, runner, f"programmes_{Q}.csv", contract)
    assert ("duplicate_key", 3, "programme_ref") in found, found


def test_a_header_with_an_invisible_character_is_the_template_s_column():
    body = encode("victims", _rows(), COLUMNS, "csv_utf8").decode()
    header, rest = body.split("\r\n", 1)
    cells = header.split(",")
    cells[COLUMNS.index("sex")] = "\u200bsex"
    cells[COLUMNS.index("status")] = "sta\u200dtus\u00a0"  # a zero-width joiner, and a no-break space after
    header = ",".join(cells)
    prepared, found = _checked(f"{header}\r\n{rest}".encode("utf-8-sig"))
    assert {rule for rule, *_ in found} == {"invisible_character_removed"}, found
    assert {(row, column) for _, row, column in found} == {(1, "sex"), (1, "status")}


# --- dates whose day and month could swap --------------------------------------------------------
def _dated(written: list[str], column: str = "referral_date") -> bytes:
    rows = _rows(len(written))
    for row, text in zip(rows, written):
        row[column] = text
    return encode("victims", rows, COLUMNS, "csv_utf8")


@pytest.mark.parametrize("written, meant", [
    (["25/4/2026", "11/5/2026"], dt.date(2026, 5, 11)),   # day first, as the file's other date shows
    (["4/25/2026", "5/11/2026"], dt.date(2026, 5, 11)),   # month first (an English-locale export)
    (["25.04.2026.", "11/5/2026"], dt.date(2026, 5, 11)),  # dots are always day first
])
def test_a_date_both_ways_readable_takes_the_order_the_file_shows(written, meant):
    prepared, found = _checked(_dated(written))
    assert not [f for f in prepared.findings if f.severity == ERROR], _told(prepared)
    assert prepared.typed["referral_date"].iloc[1].date() == meant


def test_a_date_is_still_refused_when_nothing_decides():
    written = ["11/5/2026", "4/6/2026"]
    prepared, found = _checked(_dated(written))
    assert found == {("ambiguous_date", 2, "referral_date"), ("ambiguous_date", 3, "referral_date")}
    told = _told(prepared)
    assert "2026-05-11" in told and "2026-11-05" in told  # both readings shown


@pytest.mark.parametrize("written, elsewhere", [
    (["25/4/2026", "4/25/2026", "11/5/2026"], None),       # the column itself writes both ways
    (["11/5/2026", "2026-05-02"], ["25/4/2026", "4/25/2026"]),  # the column shows nothing; the file both ways
])
def test_a_file_that_writes_dates_both_ways_is_told_so(written, elsewhere):
    """A date both ways readable in a file that shows both orders is date_order_mixed: the message shows both
    readings and a date written each way, so the team can find what to make alike."""
    from test_bad_input import _rows as rows_of

    if elsewhere is None:
        data, contract, name, column = _dated(written), CONTRACT, f"victims_{Q}.csv", "referral_date"
    else:
        contract = contracts.for_quarter("programmes", Q)
        start, end = [c.name for c in contract.columns if c.type == "date"]
        programmes = rows_of("programmes")[:2]
        for row, first, last in zip(programmes, elsewhere, written):
            row[start], row[end] = first, last
        data = encode("programmes", programmes, list(contract.column_names), "csv_utf8")
        name, column = f"programmes_{Q}.csv", end
    prepared, found = _checked(data, name, contract)
    assert {f for f in found if f[0] != "date_in_quarter"} == {("date_order_mixed", 2 + written.index("11/5/2026"), column)}
    told = _told(prepared, contract)
    for words in ("2026-05-11", "2026-11-05", "25/4/2026", "4/25/2026", "sa mesecom na prvom mestu", "month first"):
        assert words in told, (words, told)


def test_the_file_s_other_date_columns_decide_where_the_column_shows_nothing(tmp_path, soffice):  # noqa: F811
    """Programmes have a start and an end date. LibreOffice writes both in the day-first format set on the
    cells; the start dates (25/4/2026) decide for an end date that alone could be read either way."""
    from openpyxl import load_workbook

    from test_bad_input import _rows as rows_of

    contract = contracts.for_quarter("programmes", Q)
    dates = [c.name for c in contract.columns if c.type == "date"]
    assert len(dates) == 2, dates
    programmes = rows_of("programmes")[:2]
    programmes[0][dates[0]], programmes[0][dates[1]] = dt.date(2026, 4, 25), dt.date(2026, 6, 5)
    programmes[1][dates[0]], programmes[1][dates[1]] = dt.date(2026, 4, 20), dt.date(2026, 6, 30)
    path = tmp_path / f"programmes_{Q}.xlsx"
    path.write_bytes(templates.xlsx_template(contract, programmes))
    book = load_workbook(path)
    sheet = book[contract.dataset]
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, dt.datetime | dt.date):
                cell.number_format = "D/M/YYYY"
    book.save(path)
    [exported] = soffice([path], 'csv:Text - txt - csv (StarCalc):44,34,76,1', tmp_path / "out")
    assert b"5/6/2026" in exported.read_bytes() and b"25/4/2026" in exported.read_bytes()
    prepared, found = _checked(exported.read_bytes(), f"programmes_{Q}.csv", contract)
    assert not any(rule == "ambiguous_date" for rule, *_ in found), _told(prepared, contract)
    assert prepared.typed[dates[1]].iloc[0].date() == dt.date(2026, 6, 5)


# --- identifiers a pasted invisible character would hide -------------------------------------------
HIDDEN_IDENTIFIERS = {  # the partner's free text, as pasted: an identifier with format characters inside
    "jmbg": "Udruženje Atina, kontakt 0101100\u200b710006",          # a zero-width space
    "email": "Udruženje Atina, ana\u2060@\u200batina.org.rs",     # word joiners around the '@'
    "phone": "Udruženje Atina, tel. 064\u00ad123\u00ad4567",        # soft hyphens (Word's optional hyphens)
    "jmbg ": "Udruženje Atina \u200e0101\u200d006500006",           # a direction mark, a zero-width joiner
}


def test_an_identifier_with_invisible_characters_inside_is_still_found(tmp_path, soffice):  # noqa: F811
    """Free text keeps what the team wrote, so the identifier screen must read it as the reader sees it: a
    JMBG with a zero-width space inside is a JMBG. The file is rejected, and no message shows its digits."""
    from test_bad_input import _rows as rows_of

    contract = contracts.for_quarter("programmes", Q)
    [column] = [c.name for c in contract.columns if c.name == "partner"]
    programmes = rows_of("programmes")[: len(HIDDEN_IDENTIFIERS)]
    for row, text in zip(programmes, HIDDEN_IDENTIFIERS.values()):
        row[column] = text
    book = tmp_path / f"programmes_{Q}.xlsx"
    book.write_bytes(templates.xlsx_template(contract, programmes))
    [exported] = soffice([book], 'csv:Text - txt - csv (StarCalc):59,34,76,1', tmp_path / "out")  # ';', UTF-8
    data = exported.read_bytes()
    assert "\u200b".encode() in data and "\u00ad".encode() in data  # LibreOffice kept them
    for name, content in ((f"programmes_{Q}.csv", data),  # and Excel's own CSV, in Windows-1250 (soft hyphen only)
                          (f"programmes_{Q}.csv", encode("programmes", programmes[2:3], list(contract.column_names),
                                                         "csv_utf8").decode().encode("cp1250"))):
        prepared, found = _checked(content, name, contract)
        told = _told(prepared, contract)
        identified = {(row, kind) for row, kind in ((f.row, f.detail) for f in prepared.findings
                                                   if f.rule == "personal_identifier")}
        expected = {(2 + i, kind.strip()) for i, kind in enumerate(HIDDEN_IDENTIFIERS)} if content is data \
            else {(2, "phone")}
        assert identified == expected, told
        for digits in ("0101100", "710006", "0101", "006500006", "123", "4567", "atina.org"):
            assert digits not in told


def test_a_value_with_an_identifier_split_by_an_invisible_character_is_never_shown():
    for text in HIDDEN_IDENTIFIERS.values():
        assert shown(text) == "[hidden]"
        assert "[hidden]" in shown(f"Partner: {text}", kind="text")
    assert shown("SU-2026\u200b-0017") == "[hidden]"  # a reference too
