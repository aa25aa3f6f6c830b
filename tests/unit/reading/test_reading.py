"""Reading what teams really send: encodings, delimiters, XLSX, and row numbers as in the spreadsheet."""
from __future__ import annotations

import datetime as dt
import io

import pytest

from thb_reporting.core.quarters import Quarter
from thb_reporting.reading.submission_files import SubmissionError, parse_file_name, read_submission
from thb_reporting.core.contracts import ROW_KEY

ROWS = [["ŠA-2026-0001", "CZŽTL-2026/00017", "identified_victim"], ["ŠA-2026-0002", "", "possible_victim"]]
HEADER = ["case_ref", "cptv_ref", "status"]
CSV_NAME = parse_file_name("victims_2026Q1.csv")


def _csv(delimiter: str, newline: str = "\r\n") -> str:
    return newline.join(delimiter.join(r) for r in [HEADER, *ROWS]) + newline


@pytest.mark.parametrize("encoding,delimiter", [
    ("utf-8", ","), ("utf-8-sig", ","), ("utf-8-sig", ";"), ("cp1250", ";"), ("cp1250", ","), ("utf-16", ";"),
])
def test_csv_encodings_and_delimiters(encoding, delimiter):
    frame = read_submission(_csv(delimiter).encode(encoding), CSV_NAME)
    assert list(frame.columns) == [ROW_KEY, *HEADER]
    assert frame["case_ref"].tolist() == ["ŠA-2026-0001", "ŠA-2026-0002"]
    assert frame["cptv_ref"].tolist()[0] == "CZŽTL-2026/00017"
    assert frame["cptv_ref"].isna().tolist() == [False, True]
    assert frame[ROW_KEY].tolist() == [2, 3]


def test_row_numbers_skip_blank_lines_and_follow_quoted_newlines():
    text = 'case_ref,status\r\nA-1,possible_victim\r\n\r\n"B\n2",identified_victim\r\nC-3,not_a_victim\r\n'
    frame = read_submission(text.encode(), CSV_NAME)
    # A spreadsheet shows the blank line as row 3 and the quoted newline inside one cell.
    assert frame[ROW_KEY].tolist() == [2, 4, 5]
    assert frame["status"].tolist() == ["possible_victim", "identified_victim", "not_a_victim"]


def test_headers_with_labels_and_case_are_understood():
    text = "Oznaka slučaja (case_ref);Status (STATUS)\nA-1;possible_victim\n"
    frame = read_submission(text.encode("cp1250"), CSV_NAME)
    assert list(frame.columns) == [ROW_KEY, "case_ref", "status"]


def test_xlsx_rows_dates_and_numbers():
    from openpyxl import Workbook

    book = Workbook()
    other = book.active
    other.title = "napomene"
    other.append(["not the data sheet"])
    sheet = book.create_sheet("victims")
    sheet.append(["case_ref", "referral_date", "age_years"])
    sheet.append(["A-1", dt.datetime(2026, 2, 3), 17])
    sheet.append([None, None, None])  # an empty row in the middle
    sheet.append(["A-2", dt.date(2026, 3, 1), 34.0])
    buf = io.BytesIO()
    book.save(buf)
    frame = read_submission(buf.getvalue(), parse_file_name("victims_2026Q1.xlsx"))
    assert frame[ROW_KEY].tolist() == [2, 4]
    assert frame["referral_date"].tolist() == ["2026-02-03", "2026-03-01"]
    assert frame["age_years"].tolist() == ["17", "34"]


@pytest.mark.parametrize("data,rule", [
    (b"", "empty_file"),
    (b"   \r\n", "empty_file"),
    (b"case_ref,status\nA,b,c,d\nB,c\n", "unreadable_file"),
])
def test_unreadable_csv_is_a_submission_error(data, rule):
    with pytest.raises(SubmissionError) as e:
        read_submission(data, CSV_NAME)
    assert e.value.rule == rule


def test_corrupt_xlsx_is_a_submission_error():
    with pytest.raises(SubmissionError) as e:
        read_submission(b"PK\x03\x04 this is not a workbook", parse_file_name("victims_2026Q1.xlsx"))
    assert e.value.rule == "unreadable_file"


@pytest.mark.parametrize("name,dataset,quarter,fmt", [
    ("victims_2026Q1.csv", "victims", "2026Q1", "csv"),
    ("VICTIMS_2026-Q3_ispravka.XLSX", "victims", "2026Q3", "xlsx"),
    ("victims 2025 q4.csv", "victims", "2025Q4", "csv"),
])
def test_file_name_convention(name, dataset, quarter, fmt):
    parsed = parse_file_name(name)
    assert (parsed.dataset, parsed.quarter, parsed.file_format) == (dataset, Quarter.parse(quarter), fmt)


@pytest.mark.parametrize("name", ["victims.csv", "zrtve_2026Q1.csv", "victims_2026Q5.csv", "victims_2026Q1.pdf", "victims_2026Q1x.csv"])
def test_file_names_that_break_the_convention(name):
    with pytest.raises(SubmissionError) as e:
        parse_file_name(name)
    assert e.value.rule == "file_name"


def test_quarters():
    q = Quarter.parse("2026Q4")
    assert (q.start, q.end, q.deadline()) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31), dt.date(2027, 1, 15))
    assert (str(q.next()), str(q.previous()), str(Quarter.parse("2026Q1").previous())) == ("2027Q1", "2026Q3", "2025Q4")
    assert Quarter.containing(dt.date(2026, 5, 31)) == Quarter(2026, 2)
