"""A CSV file's text: its encoding (UTF-8, UTF-16, Windows-1250 or -1251, and lines pasted from another),
Excel's delimiter hint line, and the characters a cell should not hold: control characters (the cell is never
shown) and invisible ones (removed from codes, numbers, dates, references and headers, with a warning)."""
from __future__ import annotations

import logging
import re

from thb_reporting.core import invisible_characters
from thb_reporting.core.arrow_text import one_text
from thb_reporting.core.contracts import ROW_KEY
from thb_reporting.core.contracts import load as load_contract
from thb_reporting.core.invisible_characters import CONTROL, CONTROL_RE2
from thb_reporting.reading.header import _column_name, column_position, shown_header
from thb_reporting.reading.names import HEADER_SEARCH_ROWS, ROWS_NAMED, SubmissionError

log = logging.getLogger(__name__)

# --- text: encodings and control characters ----------------------------------------------------
# C0 controls but tab, LF and CR; DEL; C1 controls. None of them is ever typed in a cell: where they
# appear the cell was pasted from another program or the file is damaged, and PostgreSQL refuses NUL.
_CONTROL, _CONTROL_RE2 = CONTROL, CONTROL_RE2
# In XLSX, XML cannot hold C0 controls: Excel writes them as _x0000_ … _x001F_, which openpyxl leaves as they are.
# A blank line, whichever line ends the file uses (pandas numbers it as a row, pyarrow's reader may not).
_BLANK_LINE_RE2 = r"\n\n|\n\r\n|\r\r"
_ESCAPED_CONTROL_RE2 = r"_x(?:000[0-8BbCcEeFf]|001[0-9A-Fa-f]|007[Ff]|008[0-9A-Fa-f]|009[0-9A-Fa-f])_"


def _holds(text: str | None, utf8: bytes | None, pattern: str) -> bool:
    """Whether the RE2 `pattern` matches anywhere in the text (its UTF-8 bytes, where known, are not copied):
    pyarrow's RE2 scans a large file many times faster than Python's re."""
    import pyarrow.compute as pc

    return pc.match_substring_regex(one_text(text.encode("utf-8") if utf8 is None else utf8), pattern)[0].as_py()


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 (with or without BOM), else Windows-1250 (Serbian Latin in
    Excel) or Windows-1251 (Serbian Cyrillic in Excel); a file mixing UTF-8 and Windows lines, or with
    bytes neither can read, raises SubmissionError naming the rows."""
    return _decode(data)[0]


def _decode(data: bytes, whole: bool = True) -> tuple[str | None, bytes | None]:
    """The text, and its UTF-8 bytes where the file already holds them (else None). whole=False: a file in
    UTF-8 is not decoded (text None; head_of gives its first lines), its bytes are read as they are: the
    text of a large file would hold twice its size (Serbian letters take two bytes each in a str)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode_utf16(data, "utf-16"), None
    utf16 = _utf16_without_bom(data)
    if utf16:
        return _decode_utf16(data, utf16), None
    data = data.rstrip(b"\x00")  # NUL padding after the last line (a damaged copy) is no cell: dropped
    body = memoryview(data)[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if not whole:
        if _is_utf8(body):
            return None, body
    else:
        try:
            return str(body, "utf-8"), body
        except UnicodeDecodeError:
            pass
    codec = _windows_code_page(body)
    try:
        text = str(body, codec)
    except UnicodeDecodeError:
        text = None
    # Valid UTF-8 beyond ASCII in a file that is not all UTF-8 may be rows pasted in from a UTF-8 file (or,
    # rarely, two Windows letters that happen to form one character): the lines tell.
    if text is None or not str(body, "utf-8", "ignore").isascii():
        _check_line_encodings(bytes(body), codec)  # (it always raises where text is None)
    return text, None


def _is_utf8(body) -> bool:
    """Whether the bytes are valid UTF-8 (as Python's strict decoder judges: no surrogates, no overlong
    forms), checked by pyarrow without making the text."""
    import pyarrow as pa

    try:
        one_text(body).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


HEAD_LINES = 2 * HEADER_SEARCH_ROWS + 2  # lines of head_of: the header search's, and a delimiter hint line before them


def head_of(text: str | None, utf8) -> str:
    """The first HEAD_LINES lines of a CSV text (all of it where shorter): where the header is looked for
    and the delimiter chosen. From the UTF-8 bytes where the text was not made (_decode(whole=False))."""
    if text is not None:
        return text
    data = utf8 if isinstance(utf8, bytes) else memoryview(utf8)
    size = 1 << 16
    while True:
        prefix = bytes(data[:size])
        end = -1
        for _ in range(HEAD_LINES):
            end = prefix.find(b"\n", end + 1)
            if end < 0:
                break
        if end >= 0:
            return str(prefix[:end + 1], "utf-8")  # (a line ends at a whole character)
        if size >= len(data):
            return str(prefix, "utf-8")
        size *= 4


def is_blank(head: str, text: str | None, utf8) -> bool:
    """Whether a CSV text holds nothing but white space (as `not text.strip()`, without copying the text)."""
    if head and not head.isspace():
        return False
    whole = text if text is not None else str(utf8, "utf-8")  # (only a file whose first lines are blank)
    return not whole or whole.isspace()


_ASCII = bytes(range(0x80))
_LATIN_1250 = bytes([0x8A, 0x8E, 0x9A, 0x9E, 0xC6, 0xC8, 0xD0, 0xE6, 0xE8, 0xF0])  # Š Ž š ž Ć Č Đ ć č đ
_CYRILLIC_ONLY_1251 = bytes(b for b in range(0xC0, 0x100) if b not in _LATIN_1250)  # а-я, А-Я but Ж И Р ж и р


def _windows_code_page(body) -> str:
    """'cp1251' for a file that Excel saved with a Serbian Cyrillic locale (its letters beyond ASCII are mostly
    Cyrillic in Windows-1251, which read as Windows-1250 would be Latin letters no Serbian word has), else
    'cp1250' (Serbian Latin)."""
    beyond = bytes(body).translate(None, _ASCII)
    latin = len(beyond) - len(beyond.translate(None, _LATIN_1250))
    cyrillic = len(beyond) - len(beyond.translate(None, _CYRILLIC_ONLY_1251))
    return "cp1251" if cyrillic > 2 * latin else "cp1250"


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' where every other byte of the text is NUL (ASCII in UTF-16), else None."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2].count(0) / len(sample[0::2]), sample[1::2].count(0) / len(sample[1::2])
    if odd > 0.3 and even < 0.02:
        return "utf-16-le"
    if even > 0.3 and odd < 0.02:
        return "utf-16-be"
    return None


def _decode_utf16(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        row = data[: e.start].decode(encoding, errors="replace").count("\n") + 1
        raise SubmissionError("undecodable_text", str(row), row=row) from None


def _plausible_utf8(text: str) -> bool:
    """Whether a line read as UTF-8 holds only letters a team writes: Latin (with Serbian letters),
    Cyrillic, typographic punctuation and the euro sign. Two Windows-1250 letters that form one UTF-8
    character (as 'Čš') give other characters."""
    return all(ch < "\x80" or "\xa0" <= ch <= "\u017f" or "\u0400" <= ch <= "\u04ff" or "\u2010" <= ch <= "\u206f"
               or ch == "\u20ac" for ch in text)


def _check_line_encodings(body: bytes, codec: str) -> None:
    """Line by line, for a file that is not all UTF-8: a line that is text in neither UTF-8 nor the file's
    Windows code page, or UTF-8 lines beside lines in the code page (rows pasted from another file), reject
    the file, naming the rows (lines of the file, the header being 1) of the odd kind."""
    utf8, windows, neither = [], [], []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            if _plausible_utf8(line.decode("utf-8")):
                utf8.append(number)
                continue
        except UnicodeDecodeError:
            pass
        try:
            line.decode(codec)
            windows.append(number)
        except UnicodeDecodeError:
            neither.append(number)
    if neither:
        raise SubmissionError("undecodable_text", _rows_named(neither), row=neither[0])
    if utf8 and windows:
        odd = windows if len(windows) <= len(utf8) else utf8
        raise SubmissionError("mixed_encoding", _rows_named(odd), row=odd[0])


def _rows_named(rows: list[int]) -> str:
    return ", ".join(map(str, rows[:ROWS_NAMED])) + (f" (+{len(rows) - ROWS_NAMED})" if len(rows) > ROWS_NAMED else "")


def _control_findings(frame, header: list[str], header_row: int, contract_columns, pattern: str = _CONTROL_RE2) -> list:
    """A control_character finding for every cell (and header) holding one; the value is never kept.
    `frame` has its columns named, `source_row` first (read_submission): a column of the contract is named,
    others by their place."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from thb_reporting.core.findings import Finding

    findings = [Finding("control_character", column=column_position(i), row=header_row)
                for i, text in enumerate(header, start=1) if _CONTROL.search(text) or re.search(_ESCAPED_CONTROL_RE2, text)]
    for position, col in enumerate((c for c in frame.columns if c != ROW_KEY), start=1):
        hits = pc.match_substring_regex(pa.array(frame.iloc[:, position], type=pa.string(), from_pandas=True), pattern)
        hits = hits.fill_null(False).to_numpy(zero_copy_only=False)
        if hits.any():
            shown = col if col in contract_columns else column_position(position)
            findings += [Finding("control_character", column=shown, row=int(row)) for row in frame[ROW_KEY].to_numpy()[hits]]
    return findings


def _invisible_findings(frame, header: list[str], header_row: int, dataset: str) -> list:
    """An invisible_character_removed warning for every header, and every cell of a code, number, date or
    reference, that holds a character the team cannot see (invisible_characters), which is removed here,
    in `frame`, before any check; the warning names the character and the cell. Free text
    (Contract.words_as_written) keeps them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from thb_reporting.core.findings import WARNING, Finding

    contract = load_contract(dataset)
    pattern = invisible_characters.INVISIBLE_CLASS
    findings = [Finding("invisible_character_removed", WARNING, column=shown_header(_column_name(text), i), row=header_row,
                        detail=invisible_characters.names(text))
                for i, text in enumerate(header, start=1) if invisible_characters.INVISIBLE.search(text)]
    cleaned = [c for c in contract.columns if c not in contract.words_as_written]
    for col in cleaned:
        if col.name not in frame.columns or list(frame.columns).count(col.name) > 1:
            continue  # a missing or duplicated column is reported as such
        cells = pa.array(frame[col.name], type=pa.string(), from_pandas=True)
        hits = pc.match_substring_regex(cells, pattern).fill_null(False).to_numpy(zero_copy_only=False)
        if not hits.any():
            continue
        rows = frame[ROW_KEY].to_numpy()[hits]
        texts = frame[col.name].to_numpy()[hits]
        findings += [Finding("invisible_character_removed", WARNING, column=col.name, row=int(row),
                             detail=invisible_characters.names(text)) for row, text in zip(rows, texts)]
        frame[col.name] = frame[col.name].str.replace(pattern, "", regex=True)
    return findings


def _without_delimiter_hint(text: str | None, utf8, head: str):
    """(text, its UTF-8 bytes or None, the delimiter, head) of a CSV whose first line is Excel's delimiter
    hint ('sep=;', which Excel reads and hides, so the header is the first row the team sees), with that line
    removed; (text, utf8, None, head) when it has none. text None: read from utf8 (_decode(whole=False))."""
    m = _DELIMITER_HINT.match(head[:200])
    if not m:
        return text, utf8, None, head
    end = m.end()
    if utf8 is not None:
        utf8 = memoryview(utf8)[len(head[:end].encode("utf-8")):]
    return (None if text is None else text[end:]), utf8, {"\\t": "\t"}.get(m.group(1), m.group(1)), head[end:]


# Excel's first line 'sep=;' (also quoted, with a tab or '\t', trailing delimiters from a sheet cell).
_DELIMITER_HINT = re.compile(r'[\ufeff ]*"?sep=(\\t|[;,\t|])"?[;,\t|]*[ \t]*\r?\n', re.IGNORECASE)
