"""A corpus of the files thirteen offices really produce, all in one inbox, through one real run of
ingest_submissions: nothing crashes, every file is archived byte for byte, every bad one is rejected
with its rule in the ledger and its team gets an e-mail, and the good ones go through."""
from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pytest

import submission_makers as make
from fixtures import TEST_KEY
from helpers import ledger
from thb_reporting.core import contracts, reference
from thb_reporting.tools.generator import SubmissionGenerator
from thb_reporting.tools.synthetic_files import encode
from thb_reporting.store.storage import storage_path
from thb_reporting.store.warehouse import reporting_engine, table
from test_templates import soffice  # noqa: F401 (a fixture: LibreOffice, headless)

pytestmark = pytest.mark.airflow
Q = "2026Q2"


def _rows(dataset: str, seed: int = 1):
    generator = SubmissionGenerator(Path("/nonexistent"), seed=seed)
    rng = generator._rng(dataset, "nis", Q, 1)
    return getattr(generator, f"{dataset}_rows")(rng, "nis", __import__("thb_reporting.core.quarters", fromlist=["Quarter"]).Quarter.parse(Q), 6)


def _csv(dataset="victims", rows=None, columns=None, fmt="csv_utf8") -> bytes:
    rows = rows if rows is not None else _rows(dataset)
    return encode(dataset, rows, columns or list(contracts.for_quarter(dataset, Q).column_names), fmt)


def _victims_sheet(book, title="victims", first=None):
    sheet = book.active if first is None else book.create_sheet(title)
    sheet.title = title
    columns = list(contracts.for_quarter("victims", Q).column_names)
    sheet.append(columns)
    for r in _rows("victims"):
        sheet.append([r[c] for c in columns])
    return sheet, columns


def _corpus() -> list[tuple[str, str, bytes, str, str | None]]:
    """(team folder, file name, bytes, expected status, expected rule)."""
    victims = list(contracts.for_quarter("victims", Q).column_names)
    good = _csv().decode()
    header, *lines = good.splitlines()
    cases = []

    def add(team, name, data, status, rule=None):
        cases.append((team, name, data if isinstance(data, bytes) else data.encode(), status, rule))

    add("subotica", f"victims_{Q}.csv", b"", "rejected", "empty_file")
    add("sombor", f"victims_{Q}.csv", header + "\r\n", "rejected", "empty_file")
    add("kikinda", f"victims_{Q}.csv", _csv(columns=[c for c in victims if c != "sex"]), "rejected", "missing_column")
    add("novi_sad", f"victims_{Q}.csv", _csv(columns=victims + ["napomena"]), "rejected", "unknown_column")
    add("zrenjanin", f"victims_{Q}.csv", "\r\n".join([header + ",sex"] + [line + ",female" for line in lines]), "rejected", "duplicate_column")
    add("pancevo", f"victims_{Q}.csv", _csv(columns=list(reversed(victims))), "accepted")
    # headers and codes in Cyrillic, and mixed with Latin: mapped to the code lists, accepted
    cyrillic = good.replace("status", "статус").replace("female", "Женски").replace("identified_victim", "Идентификована жртва")
    add("sabac", f"victims_{Q}.csv", cyrillic, "accepted")
    mixed = re.sub(r"(?<=,)female(?=,)", "Женски", re.sub(r"(?<=,)male(?=,)", "Muški", good))
    assert "Женски" in cyrillic and "статус" in cyrillic and "Muški" in mixed and "Женски" in mixed
    add("kragujevac", f"victims_{Q}.csv", mixed, "accepted")
    in_1251 = cyrillic.translate(str.maketrans("ŠŽČĆĐšžčćđ", "SZCCDszccd")).encode("cp1251")  # Excel, Cyrillic locale
    add("kragujevac", f"victims_{Q}_cirilica.csv", in_1251, "accepted")
    add("kraljevo", f"victims_{Q}.csv", good.encode("utf-16"), "accepted")
    add("novi_pazar", f"victims_{Q}.csv", _csv(fmt="csv_cp1250"), "accepted")
    add("nis", f"victims_{Q}.csv", _csv(fmt="csv_utf8_bom"), "accepted")
    programmes = _rows("programmes")
    text = _csv("programmes", programmes, fmt="csv_utf8_bom").decode("utf-8-sig")
    for p in programmes:  # ';' with decimal commas in the amounts, and a name over two lines
        text = text.replace(f";{p['amount_rsd']};", f";{p['amount_rsd']},00;")
    text = text.replace(programmes[0]["name"], f'"{programmes[0]["name"]}\nprvi deo"', 1)
    add("nis", f"programmes_{Q}.csv", text.encode("utf-8-sig"), "accepted")
    add("leskovac", f"victims_{Q}.csv", good + "X,Y,Z" + "," * len(victims) + "\r\n", "rejected", "unreadable_file")
    add("vranje", f"activities_{Q}.csv", _csv("activities") + b"\r\n" * 400_000, "rejected", "unreadable_file")  # over the limit

    def several(book):  # the data sheet is not the first; a hidden row; dates as serial numbers
        book.active.title = "napomene"
        book.active.append(["Napomene tima"])
        sheet, columns = _victims_sheet(book, first=False)
        sheet.row_dimensions[3].hidden = True
        col = columns.index("referral_date") + 1
        for row in range(2, sheet.max_row + 1):
            value = sheet.cell(row, col).value
            sheet.cell(row, col).value = (value - dt.date(1899, 12, 30)).days
    add("subotica", f"victims_{Q}_listovi.xlsx", make.workbook(several), "accepted")

    def merged(book):
        sheet, columns = _victims_sheet(book)
        col = columns.index("sex") + 1
        sheet.merge_cells(start_row=2, start_column=col, end_row=3, end_column=col)
    add("sombor", f"victims_{Q}_spojeno.xlsx", make.workbook(merged), "rejected", "required")

    def formulas(book):
        sheet = book.active
        sheet.title = "activities"
        columns = list(contracts.load("activities").column_names)
        sheet.append(columns)
        for r in _rows("activities"):
            sheet.append([r[c] if c != "participants" else "=10+5" for c in columns])
    add("kikinda", f"activities_{Q}.xlsx", make.workbook(formulas), "rejected", "required")  # no cached values
    add("novi_sad", f"activities_{Q}.xlsx", b"PK\x03\x04 not really a workbook", "rejected", "unreadable_file")
    add("zrenjanin", f"activities_{Q}.xlsx", make.compound_file(["EncryptionInfo", "EncryptedPackage"]), "rejected",
        "encrypted_workbook")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"\x00" * (150 * 2**20))
    add("pancevo", f"activities_{Q}.xlsx", bomb.getvalue(), "rejected", "unreadable_file")
    add("sabac", "victims 2026Q2 ispravka.csv", good, "accepted")  # spaces in the name
    add("sabac", f"žrtve_{Q}.csv", good, "rejected", "file_name")
    add("sabac", f"..%2F..%2Fvictims_{Q}.csv", good, "rejected", "file_name")
    add("kragujevac", f"zrtve_{Q}.csv", good, "rejected", "file_name")
    add("kragujevac", "victims_2026Q5.csv", good, "rejected", "file_name")
    add("kragujevac", "victims_2027Q3.csv", good, "rejected", "quarter_in_future")
    add("kraljevo", f"activities_{Q}_novi_pazar.csv", _csv("activities"), "rejected", "team_mismatch")
    add("czztlj", f"activities_{Q}.csv", _csv("activities"), "rejected", "dataset_not_reported")  # victims only
    injected = [dict(p) for p in programmes]
    injected[1]["name"] = '=HYPERLINK("http://example.org","klik")'
    add("leskovac", f"programmes_{Q}.csv", _csv("programmes", injected), "rejected", "formula_injection")
    cases += _reading_corpus(good)
    cases += _marks_corpus()
    add("vranje", f"victims_{Q}.csv", good, "accepted")
    add("vranje", f"victims_{Q}_v2.csv", _csv(rows=_rows("victims", seed=2)), "accepted")  # two versions, one run
    return cases


def _marks_corpus() -> list[tuple[str, str, bytes, str, str | None]]:
    """What a team meant, beside what its programs add or hide (#27): earlier templates of the dataset, Excel's
    delimiter hint line, invisible characters, dates whose day and month could swap. An accepted file's rule,
    where named, is the warning it must get."""
    import csv

    q3 = "2026Q3"  # victims version 2
    v1, v2 = contracts.versions("victims")[:2]
    rows = _rows("victims")
    v2_empty = [{**r, **dict.fromkeys(c.name for c in v2.later_columns(1))} for r in rows]

    def text(columns, cells=rows, delimiter=",", mark=None) -> str:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(columns)
        for i, r in enumerate(cells):
            values = ["" if r.get(c) is None else str(r[c]) for c in columns]
            if mark:
                values = mark(i, columns, values)
            writer.writerow(values)
        return out.getvalue()

    def q3_rows():
        return [{**r, "referral_date": dt.date(2026, 8, 3 + i)} for i, r in enumerate(rows)]

    def invisible(i, columns, values):  # pasted from the web: a different invisible character per row
        marks = ["\u200b", "\u00a0", "\u2060", "\u00ad", "\u200e", "\ufeff"]
        at = columns.index("sex")
        values[at] = values[at][:1] + marks[i % len(marks)] + values[at][1:]
        return values

    def slashed(order):
        def mark(i, columns, values):
            at = columns.index("referral_date")
            day = dt.date.fromisoformat(values[at])
            values[at] = f"{day.day}/{day.month}/{day.year}" if order == "day" else f"{day.month}/{day.day}/{day.year}"
            return values
        return mark

    from thb_reporting.core.templates import column_label, xlsx_template

    labelled = [f"{column_label(c)} ({c.name})" for c in v1.columns]  # as the v1 template's CSV export, Excel in Serbia
    header_marked = text(v1.column_names).replace("sex", "se\u200bx", 1).replace("status", "\u00a0status", 1)
    ambiguous = [{**r, "referral_date": dt.date(2026, 5, 4)} for r in rows]  # 4/5/2026 and nothing decides
    deciding = [{**r, "referral_date": dt.date(2026, 4, 5 + 4 * i)} for i, r in enumerate(rows)]  # 25/4 among them
    return [
        ("nis", f"victims_{q3}.csv", text(v1.column_names, q3_rows()).encode(), "accepted", "columns_of_later_template"),
        ("leskovac", f"victims_{q3}.xlsx", encode("victims", q3_rows(), list(v1.column_names), "xlsx"), "accepted",
         "columns_of_later_template"),
        ("vranje", f"victims_{q3}.csv", text([c for c in v1.column_names if c != "status"], q3_rows()).encode(),
         "rejected", "missing_column"),
        ("subotica", f"victims_{Q}_novi_sablon.xlsx", encode("victims", v2_empty, list(v2.column_names), "xlsx"),
         "accepted", "empty_column_of_later_template"),
        # last quarter's workbook kept and filled in: it declares version 1 in its file properties
        ("zrenjanin", f"victims_{q3}_stari_sablon.xlsx", xlsx_template(v1, q3_rows()), "accepted",
         "columns_of_later_template"),
        ("pancevo", f"victims_{q3}_excel.csv",
         (text(labelled, delimiter=";").split("\r\n", 1)[0] + "\r\n"
          + text(v1.column_names, q3_rows(), delimiter=";").split("\r\n", 1)[1]).encode("cp1250"),
         "accepted", "columns_of_later_template"),
        ("sabac", f"victims_{q3}_stari_sablon.csv", text([c for c in v1.column_names if c != "sex"], q3_rows()).encode(),
         "rejected", "missing_column"),
        ("sombor", f"victims_{Q}_excel.csv", ("sep=;\r\n" + text(v1.column_names, delimiter=";")).encode("utf-8-sig"),
         "accepted", None),
        ("kikinda", f"victims_{Q}_excel.csv", ('"sep=;"\r\n' + text(v1.column_names, delimiter=";")).encode("cp1250"),
         "accepted", None),
        ("novi_sad", f"victims_{Q}_unicode.txt.csv", ("sep=\t\r\n" + text(v1.column_names, delimiter="\t")).encode("utf-16"),
         "accepted", None),
        ("zrenjanin", f"victims_{Q}_web.csv", text(v1.column_names, mark=invisible).encode(), "accepted",
         "invisible_character_removed"),
        ("pancevo", f"victims_{Q}_zaglavlje.csv", header_marked.encode("utf-8-sig"), "accepted",
         "invisible_character_removed"),
        ("sabac", f"victims_{Q}_datumi.csv", text(v1.column_names, deciding, mark=slashed("day")).encode(), "accepted", None),
        ("kragujevac", f"victims_{Q}_us.csv", text(v1.column_names, deciding, mark=slashed("month")).encode(), "accepted", None),
        ("kraljevo", f"victims_{Q}_datumi.csv", text(v1.column_names, ambiguous, mark=slashed("day")).encode(), "rejected",
         "ambiguous_date"),
    ]


# LibreOffice's CSV export filter: delimiter, quote, character set (76 UTF-8, 33 Windows-1250, 65535 UTF-16), first row
LIBREOFFICE_CSV = {"utf8": "44,34,76,1", "cp1250": "59,34,33,1", "unicode": "9,34,65535,1"}


def _libreoffice_corpus(soffice, folder: Path) -> list[tuple[str, str, bytes, str, str | None]]:  # noqa: F811
    """The same classes (#27) as LibreOffice really writes them: the team's workbook (our template, filled in,
    with what a paste leaves in its cells and the date formats set on them) exported as CSV in three encodings."""
    from openpyxl import load_workbook

    from thb_reporting.core import templates

    victims = contracts.for_quarter("victims", Q)
    programmes_contract = contracts.for_quarter("programmes", Q)

    def rows(n=6):
        return [{c: r.get(c) for c in victims.column_names} for r in _rows("victims")[:n]]

    pasted = rows()  # a different invisible character in each kind of cell
    pasted[0]["sex"] = pasted[0]["sex"][:2] + "\u200b" + pasted[0]["sex"][2:]
    pasted[1]["status"] = f"\u00a0{pasted[1]['status']}\u00a0"
    pasted[2]["citizenship"] = f"\u200e{pasted[2]['citizenship']}"
    pasted[3]["exploitation"] = pasted[3]["exploitation"][:3] + "\u00ad" + pasted[3]["exploitation"][3:]
    in_1250 = rows()  # Windows-1250 has only the no-break space and the soft hyphen of them
    in_1250[0]["sex"] = in_1250[0]["sex"][:1] + "\u00ad" + in_1250[0]["sex"][1:]
    in_1250[4]["referral_source"] = f"{in_1250[4]['referral_source']}\u00a0"
    dated = rows()  # D/M/YYYY cells: 25/4/2026 decides 4/5/2026 and 11/6/2026
    for row, day in zip(dated, (dt.date(2026, 4, 25), dt.date(2026, 5, 4), dt.date(2026, 6, 11), dt.date(2026, 6, 20))):
        row["referral_date"] = day
    programmes = _rows("programmes")[:2]
    programmes[1]["partner"] = "Udruženje Atina, kontakt 0101100\u200b710006"
    made = {  # file → (contract, rows, the number format of each data row's date cells, export)
        "victims_libreoffice": (victims, pasted, None, "utf8"),
        "victims_libreoffice_1250": (victims, in_1250, None, "cp1250"),
        "victims_libreoffice_unicode": (victims, dated, ["D/M/YYYY"], "unicode"),
        "victims_libreoffice_mixed": (victims, dated, ["D/M/YYYY", "M/D/YYYY"], "utf8"),  # rows pasted from another sheet
        "programmes_libreoffice": (programmes_contract, programmes, None, "utf8"),
    }
    exported = {}
    for stem, (contract, cells, formats, export) in made.items():
        path = folder / "workbooks" / f"{stem}.xlsx"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(templates.xlsx_template(contract, cells))
        if formats:
            book = load_workbook(path)
            for i, row in enumerate(book[contract.dataset].iter_rows(min_row=2)):
                for cell in row:
                    if isinstance(cell.value, dt.datetime | dt.date):
                        cell.number_format = formats[i % len(formats)]
            book.save(path)
        [csv_path] = soffice([path], f"csv:Text - txt - csv (StarCalc):{LIBREOFFICE_CSV[export]}", folder / export / stem)
        exported[stem] = csv_path.read_bytes()
    assert "\u200b".encode() in exported["victims_libreoffice"] and b"\xad" in exported["victims_libreoffice_1250"]
    assert exported["victims_libreoffice_unicode"].startswith(b"\xff\xfe") and "4/5/2026".encode("utf-16-le") in \
        exported["victims_libreoffice_unicode"]
    assert b"25/4/2026" in exported["victims_libreoffice_mixed"] and b"6/20/2026" in exported["victims_libreoffice_mixed"]
    return [
        ("nis", f"victims_{Q}_libreoffice.csv", exported["victims_libreoffice"], "accepted", "invisible_character_removed"),
        ("leskovac", f"victims_{Q}_libreoffice.csv", exported["victims_libreoffice_1250"], "accepted",
         "invisible_character_removed"),
        ("novi_pazar", f"victims_{Q}_libreoffice.csv", exported["victims_libreoffice_unicode"], "accepted", None),
        ("sombor", f"victims_{Q}_libreoffice.csv", exported["victims_libreoffice_mixed"], "rejected", "date_order_mixed"),
        ("kikinda", f"programmes_{Q}_libreoffice.csv", exported["programmes_libreoffice"], "rejected", "personal_identifier"),
    ]

# What a team is told of a file made from an earlier template (#27 point 1): (team, file) → words its receipt
# must hold, and whether the current template is attached.
EARLIER_TEMPLATE_TOLD = {
    ("nis", "victims_2026Q3.csv"): (["Napomena: Fajl je napravljen po šablonu verzije 1.",
                                     "Note: The file was made from template version 1.",
                                     "Free legal aid", "Nothing is wrong with the figures you sent",
                                     "Template: the file was made from version 1; version 2 is in force"], True),
    ("zrenjanin", "victims_2026Q3_stari_sablon.xlsx"): (["Note: The file was made from template version 1.",
                                                         "Fajl je prihvaćen; te kolone su zabeležene kao „nije navedeno“"],
                                                        True),
    ("pancevo", "victims_2026Q3_excel.csv"): (["Note: The file was made from template version 1."], True),
    ("vranje", "victims_2026Q3.csv"): (["Column Status is missing.", "Use the current template; do not delete",
                                        "Template: the file was made from version 1"], True),
    ("sabac", "victims_2026Q3_stari_sablon.csv"): (["Column Pol / Sex is missing."], True),
    ("subotica", "victims_2026Q2_novi_sablon.xlsx"): (
        ["exists from quarter 2026Q3 (template version 2); it is not recorded for this quarter. It is empty"], False),
}

# Files no team made, beside the teams' files (storage.NOT_SUBMISSIONS): never in the ledger, never answered.
JUNK = [".DS_Store", f"._victims_{Q}.csv", f"__MACOSX/._victims_{Q}.csv", "Thumbs.db", "desktop.ini",
        f"~$victims_{Q}.xlsx", f".~lock.victims_{Q}.xlsx#", f"victims_{Q}.csv~", f"victims_{Q}.xlsx.crdownload",
        "winmail.dat", "Icon\r"]


def _reading_corpus(good: str) -> list[tuple[str, str, bytes, str, str | None]]:
    """Files whose bytes are not what their name says, or not what a team should send (submission_files)."""
    rows = _rows("victims")
    lines = good.split("\r\n")
    pasted = [line.replace("male", "muški").encode() for line in lines]
    pasted[3] = lines[3].replace("male", "muški").encode("cp1250")  # a row pasted from a Windows-1250 file
    nul = list(lines)
    nul[2] = nul[2].replace(",", ",\x00\x00", 1)

    def data_on_second_sheet(book):
        book.active.title = "prazno"
        make.fill_sheet(book.create_sheet("Podaci"), "victims", rows)

    def jmbg_on_hidden_sheet(book):
        make.fill_sheet(book.active, "victims", rows)
        hidden = book.create_sheet("skriveno")
        hidden.sheet_state = "hidden"
        hidden["C9"] = "0101100710006"

    x = "_citanje"  # a remark naming no team
    return [
        ("subotica", f"victims_{Q}{x}.csv", make.workbook(lambda b: make.fill_sheet(b.active, "victims", rows)), "accepted", None),
        ("sombor", f"victims_{Q}{x}.xlsx", good.encode(), "accepted", None),
        ("kikinda", f"victims_{Q}{x}.csv", good.encode("utf-16-le"), "accepted", None),
        ("novi_sad", f"victims_{Q}{x}.xlsx", make.workbook(data_on_second_sheet), "accepted", None),
        ("zrenjanin", f"victims_{Q}{x}.xlsx", make.compound_file(["Workbook"]), "rejected", "xls_format"),
        ("pancevo", f"victims_{Q}{x}.xlsx", make.ods(), "rejected", "ods_format"),
        ("sabac", f"victims_{Q}{x}.csv", make.pdf(), "rejected", "pdf_format"),
        ("kragujevac", f"victims_{Q}{x}.xlsx", make.png(), "rejected", "image_format"),
        ("kraljevo", f"victims_{Q}{x}.xlsx", make.zip_of(f"victims_{Q}.csv", good.encode()), "rejected", "zip_archive"),
        ("novi_pazar", f"victims_{Q}{x}.csv", good.encode().replace(b"female", b"fe\x98male", 1), "rejected",
         "undecodable_text"),
        ("nis", f"victims_{Q}{x}.csv", b"\r\n".join(pasted), "rejected", "mixed_encoding"),
        ("leskovac", f"victims_{Q}{x}.csv", "\r\n".join(nul).encode(), "rejected", "control_character"),
        ("vranje", f"victims_{Q}{x}.csv", "\r\n".join(lines[1:]).encode(), "rejected", "header_missing"),
        ("subotica", f"victims_{Q}_naslov.csv", f"Izveštaj tima\r\n{good}".encode(), "rejected", "title_row_above_header"),
        ("sombor", f"victims_{Q}_skriveno.xlsx", make.workbook(jmbg_on_hidden_sheet), "rejected", "personal_identifier"),
    ]


def test_bad_input_corpus_through_a_real_run(tmp_path, monkeypatch, airflow_db, smtp_server, soffice):  # noqa: F811
    from thb_reporting.tools.airflow_runs import run_dag
    from thb_reporting.core.config import sqlite_url

    data = tmp_path / "data"
    port, mailbox = smtp_server
    monkeypatch.setenv("AIRFLOW_VAR_THB_DATA_ROOT", data.as_uri())
    monkeypatch.setenv("AIRFLOW_VAR_THB_PSEUDONYMISATION_KEY", TEST_KEY.decode())
    monkeypatch.setenv("AIRFLOW_VAR_THB_MAX_FILE_BYTES", str(512 * 1024))
    cases = _corpus() + _libreoffice_corpus(soffice, tmp_path / "libreoffice")
    for i, (team, name, content, _, _) in enumerate(cases):
        path = data / "inbox" / team / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        stamp = dt.datetime(2026, 7, 5, tzinfo=dt.timezone.utc).timestamp() + i  # received in this order
        __import__("os").utime(path, (stamp, stamp))
    for team in ("nis", "sombor"):
        for junk in JUNK:
            path = data / "inbox" / team / junk
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\x00\x05\x16\x07 Mac OS X")
    run = run_dag("ingest_submissions")
    assert run.state == "success"
    assert run_dag("publish_national_tables").state == "success"

    db = sqlite_url(data / "warehouse" / "reporting.sqlite")
    rows = {(r.team_code, r.file_name): r for r in ledger(db)}
    found = table("findings", "ledger")
    with reporting_engine(db).connect() as conn:
        rules = {}
        for f in conn.execute(found.select()):
            rules.setdefault(f.submission_id, set()).add(f.rule)
    assert len(rows) == len(cases)
    for team, name, content, status, rule in cases:
        r = rows[(team, name)]
        assert storage_path(r.archive_path).read_bytes() == content, name  # archived byte for byte
        assert r.status == status, (team, name, r.summary)
        if status == "rejected":
            assert rule in rules[r.submission_id], (team, name, rules[r.submission_id])
            assert r.summary and r.quarantine_path, name
        elif rule:  # an accepted file with the warning it must get
            assert rule in rules.get(r.submission_id, set()), (team, name, rules.get(r.submission_id))
        assert r.notification == "sent", (team, name)  # the team was told
    told = {m["Message-ID"] for _, m in mailbox.received}
    assert len(told) == len(cases)
    assert not {name.rsplit("/", 1)[-1] for _, name in rows} & {j.rsplit("/", 1)[-1] for j in JUNK}  # no junk in the ledger
    # what a team is told of what it could not see: the character named, no valid-looking value called wrong
    def told(team: str, name: str) -> str:
        [text] = [m.get_body(("plain",)).get_content() for _, m in mailbox.received
                  if m["Message-ID"].startswith(f"<submission-{rows[(team, name)].submission_id}-")]
        return text

    for team, name, named in (("zrenjanin", f"victims_{Q}_web.csv", ("ZERO WIDTH SPACE (U+200B)", "SOFT HYPHEN (U+00AD)")),
                              ("nis", f"victims_{Q}_libreoffice.csv", ("ZERO WIDTH SPACE (U+200B)", "LEFT-TO-RIGHT MARK (U+200E)")),
                              ("leskovac", f"victims_{Q}_libreoffice.csv", ("SOFT HYPHEN (U+00AD)", "NO-BREAK SPACE (U+00A0)"))):
        text = told(team, name)
        assert "ACCEPTED" in text and all(n in text for n in named), (team, text)
        assert "not allowed" not in text and "nije dozvoljen" not in text
    mixed = told("sombor", f"victims_{Q}_libreoffice.csv")  # LibreOffice, rows in D/M/YYYY and in M/D/YYYY
    assert all(d in mixed for d in ("value 5/4/2026", "value 11/6/2026", "25/4/2026", "6/20/2026", "month first")), mixed
    hidden = told("kikinda", f"programmes_{Q}_libreoffice.csv")  # a JMBG with a zero-width space inside
    assert "personal identifier (jmbg)" in hidden and "0101100" not in hidden and "710006" not in hidden
    for (team, name), (words, attached) in EARLIER_TEMPLATE_TOLD.items():
        sub = rows[(team, name)]
        [told] = [m for _, m in mailbox.received if m["Message-ID"].startswith(f"<submission-{sub.submission_id}-")]
        body = told.get_body(("plain",)).get_content()
        assert all(w in body for w in words), (team, name, [w for w in words if w not in body], body)
        templates_sent = [a.get_filename() for a in told.iter_attachments()
                          if a.get_filename().startswith("victims_template")]
        assert templates_sent == (["victims_template_v2.xlsx"] if attached else []), (team, name)
    first, second = rows[("vranje", f"victims_{Q}.csv")], rows[("vranje", f"victims_{Q}_v2.csv")]
    assert first.superseded_by == second.submission_id
    assert reference.teams()  # the registry was read, not the files, for the recipients


def test_files_that_used_to_crash_the_ledger_write_are_rejected_on_both_databases(config):
    """A NUL in a cell (PostgreSQL refuses NUL in text), bytes of no encoding, rows pasted in another
    encoding, a deleted header: each rejected with its rule, nothing left `received` or `failed`."""
    from helpers import findings
    from thb_reporting.intake import ingest

    good = _csv().decode()
    lines = good.split("\r\n")
    nul = list(lines)
    nul[2] = nul[2].replace(",", ",\x00", 1)
    files = {f"victims_{Q}_a.csv": ("\r\n".join(nul).encode(), "control_character"),
             f"victims_{Q}_b.csv": (good.encode().replace(b"female", b"\x98", 1), "undecodable_text"),
             f"victims_{Q}_c.csv": ("\r\n".join(lines[1:]).encode(), "header_missing"),
             f"victims_{Q}_d.xlsx": (make.compound_file(["Workbook"]), "xls_format")}
    inbox = Path(config.inbox.removeprefix("file://")) / "nis"
    inbox.mkdir(parents=True)
    for name, (content, _) in files.items():
        (inbox / name).write_bytes(content)
    outcome = ingest.process_submissions(config, ingest.collect_new_submissions(config))
    assert len(outcome["rejected"]) == len(files) and not outcome["accepted"] and not outcome["failed"]
    by_id = {r.submission_id: r.file_name for r in ledger(config.reporting_db_url)}
    rules = {(by_id[f.submission_id], f.rule) for f in findings(config.reporting_db_url)}
    assert {(name, rule) for name, (_, rule) in files.items()} <= rules
