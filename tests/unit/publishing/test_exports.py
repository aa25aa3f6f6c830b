"""The export workbook: each value in the cell of its type, and text only ever text."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from thb_reporting.publishing.exports import xlsx_bytes


def test_the_workbook_holds_each_value_as_its_type_and_text_never_as_a_formula():
    texts = ["=1+1", "{=SUM(A1:A2)}", "http://example.org", "12", "", "Novi Sad – Šabac", None]
    frame = pd.DataFrame({
        "text": pd.Series(texts, dtype="str"),
        "value": [1.0, np.nan, 2.5, 0.0, 3.0, 4.0, 5.0],
        "count": pd.Series([1, None, 3, 4, 5, 6, 7], dtype="Int64"),
        "suppressed": [False, True, False, False, False, False, True],
        "as_objects": [1, "a", None, 2.5, True, "b", "{=1}"],
    })
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(xlsx_bytes({"indicators": frame, "empty": frame.iloc[:0]})))
    sheet = book["indicators"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == tuple(frame.columns) and list(book["empty"].iter_rows(values_only=True)) == [tuple(frame.columns)]
    # a text stays that text (an empty one an empty cell), a missing number an empty cell
    assert [r[0] for r in rows[1:]] == ["=1+1", "{=SUM(A1:A2)}", "http://example.org", "12", None, "Novi Sad – Šabac", None]
    assert [r[1] for r in rows[1:]] == [1, None, 2.5, 0, 3, 4, 5]
    assert [r[2] for r in rows[1:]] == [1, None, 3, 4, 5, 6, 7]
    assert [r[3] for r in rows[1:]] == frame["suppressed"].tolist()
    assert [r[4] for r in rows[1:]] == [1, "a", None, 2.5, True, "b", "{=1}"]
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)  # no formula, of either kind
    assert not sheet._hyperlinks
