"""The team's XLSX template as LibreOffice Calc opens, saves and prints it (soffice headless): a drop-down
on every coded column offering 'Label (code)' from the code-list sheet, both languages' labels, print
set-up; and a file filled in by picking labels is accepted with the codes stored."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fixtures import IN_CI, TEST_KEY
from thb_reporting.core import contracts, reference
from thb_reporting.intake import ingest
from thb_reporting.core.config import PipelineConfig
from thb_reporting.core.templates import CODE_SHEET, CODED_TYPES, README_SHEET, code_list_of, header, workbook, write_templates


@pytest.fixture(scope="module")
def soffice(tmp_path_factory):
    """A function converting files with LibreOffice (headless, its own profile); fails under CI=true when
    LibreOffice is missing (.ci/run installs it), skips elsewhere."""
    program = shutil.which("soffice")
    if program is None:
        message = "LibreOffice is missing: apt-get install -y libreoffice-calc"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    profile = tmp_path_factory.mktemp("libreoffice-profile")

    def convert(paths: list[Path], target: str, outdir: Path) -> list[Path]:
        outdir.mkdir(parents=True, exist_ok=True)
        subprocess.run([program, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
                        "--convert-to", target, "--outdir", str(outdir), *map(str, paths)],
                       check=True, capture_output=True, timeout=300)
        out = [outdir / f"{p.stem}.{target.split(':')[0]}" for p in paths]
        assert all(p.exists() for p in out), out
        return out

    return convert


def _code_of(choice: str) -> str:
    return re.fullmatch(r".* \(([^()]+)\)", choice).group(1)


@pytest.fixture(scope="module")
def resaved(tmp_path_factory, soffice):
    """Every dataset's template as LibreOffice saves it again (dataset → openpyxl workbook)."""
    from openpyxl import load_workbook

    folder = tmp_path_factory.mktemp("templates")
    written = [p for p in write_templates(folder) if p.suffix == ".xlsx"]
    converted = soffice(written, "xlsx:Calc MS Excel 2007 XML", folder / "libreoffice")
    return {p.name.split("_template_v")[0]: load_workbook(p) for p in converted}


@pytest.mark.parametrize("dataset", contracts.datasets())
def test_every_coded_column_offers_its_labelled_codes_after_libreoffice(resaved, dataset):
    from openpyxl.utils import get_column_letter

    contract = contracts.load(dataset)
    book = resaved[dataset]
    assert book.sheetnames == [dataset, README_SHEET, CODE_SHEET]
    data, codes = book[dataset], book[CODE_SHEET]
    assert [c.value for c in data[1]] == [header(c) for c in contract.columns]
    validations = {}
    for rule in data.data_validations.dataValidation:
        for cells in str(rule.sqref).split():
            validations[re.match(r"[A-Z]+", cells).group(0)] = (rule, cells)
    coded = [(i, c) for i, c in enumerate(contract.columns, start=1) if c.type in CODED_TYPES]
    assert coded and {c.type for _, c in coded} >= {"code"}
    for i, col in coded:
        letter = get_column_letter(i)
        assert letter in validations, f"no drop-down on column {letter} ({col.name})"
        rule, cells = validations[letter]
        assert rule.type == "list" and cells.startswith(f"{letter}2:")
        m = re.fullmatch(rf"{CODE_SHEET}!\$B\$(\d+):\$B\$(\d+)", rule.formula1)
        assert m, rule.formula1
        rows = list(codes.iter_rows(min_row=int(m.group(1)), max_row=int(m.group(2)), min_col=2, max_col=5, values_only=True))
        expected = reference.code_lists()[code_list_of(col)]
        # each choice is 'Serbian / English (code)' beside the code and both labels, and reads back as its code
        assert [tuple(r) for r in rows] == [(reference.code_choice(c), c.code, c.label_sr, c.label_en) for c in expected]
        assert all(_code_of(r[0]) == r[1] for r in rows)
        assert all(r[2] in r[0] and r[3] in r[0] for r in rows)
        assert rule.showErrorMessage == (col.type != "codes")  # several codes in a cell are no entry of the list
        if col.type == "codes":
            example = ";".join(col.allowed_codes[:2])  # e.g. sexual;labour
            assert example in rule.prompt and example in data.cell(1, i).comment.text
            readme = " ".join(str(v) for row in book[README_SHEET].iter_rows(values_only=True) for v in row if v)
            assert example in readme and col.name in readme


@pytest.mark.parametrize("dataset", contracts.datasets())
def test_print_setup_survives_libreoffice(resaved, dataset):
    book = resaved[dataset]
    for sheet in book.worksheets:
        setup = sheet.page_setup
        assert setup.orientation == "landscape", sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage and setup.fitToWidth == 1 and not setup.fitToHeight
        assert sheet.print_title_rows, sheet.title  # the header row on every page
        assert sheet.oddHeader.center.text  # the dataset's title on every page
    assert book[dataset].print_title_rows == "$1:$1" and book[CODE_SHEET].print_title_rows == "$1:$1"
    # the header row wraps its words in a row tall enough for them, not cut at the column's edge
    assert all(cell.alignment.wrap_text for cell in book[dataset][1]) and book[dataset].row_dimensions[1].height >= 40


def _pdf_pages(path: Path) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/Type\s*/Page\b(?!s).*?/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", path.read_bytes(), re.S)
    return [(float(b[2]), float(b[3])) for b in boxes]


def test_printed_template_is_landscape_and_fits_the_page_width(tmp_path, soffice):
    """Printed (to PDF by LibreOffice), the victims template fills a few landscape pages: its 15 columns on
    one page width, the code lists (249 countries among them) below each other; it used to take 20."""
    written = [p for p in write_templates(tmp_path) if p.name.startswith("victims_template_v") and p.suffix == ".xlsx"]
    pages = _pdf_pages(soffice(written, "pdf", tmp_path / "pdf")[0])
    assert pages and all(width > height for width, height in pages)
    assert len(pages) <= 10, len(pages)


def _labelled(rows: list[dict], contract) -> list[dict]:
    """The rows as a team fills them in by picking from the drop-downs: every code cell holds the choice
    'Serbian / English (code)'; a cell of several codes keeps its codes (e.g. sexual;labour)."""
    choices = {name: {c.code: reference.code_choice(c) for c in codes} for name, codes in reference.code_lists().items()}
    out = []
    for row in rows:
        row = dict(row)
        for col in contract.columns:
            value = row.get(col.name)
            if col.type in CODED_TYPES and value is not None and ";" not in str(value):
                row[col.name] = choices[code_list_of(col)][str(value)]
        out.append(row)
    return out


@pytest.mark.parametrize("quarter", ["2026Q1", "2026Q3"])  # under victims v1 and v2 (the case standard's code lists)
def test_a_file_filled_in_by_picking_labels_is_accepted_with_the_codes(tmp_path, soffice, quarter):
    """The same generated rows twice: written in codes by one team, picked by label (and saved by
    LibreOffice) by another. Both are accepted and their snapshots hold the same codes."""
    import pyarrow.parquet as pq
    from openpyxl import load_workbook

    from thb_reporting.tools.generator import SubmissionGenerator
    from thb_reporting.store.storage import storage_path
    from thb_reporting.store.warehouse import reporting_engine, table

    config = PipelineConfig.local(tmp_path / "data", TEST_KEY)
    inbox = Path(config.inbox.removeprefix("file://"))
    generator = SubmissionGenerator(inbox, seed=11)
    in_codes, in_labels = "nis", "vranje"
    picked = []
    for dataset in contracts.datasets():
        contract = contracts.for_quarter(dataset, quarter)  # the template of the quarter's version
        generated = generator.dataset_file(dataset, in_codes, quarter, file_format="xlsx", rows=40)
        filled = tmp_path / "filled" / generated.file_name
        filled.parent.mkdir(exist_ok=True)
        book = workbook(contract, _labelled(generated.rows, contract))
        book.save(filled)
        saved = soffice([filled], "xlsx:Calc MS Excel 2007 XML", tmp_path / "libreoffice")[0]
        (inbox / in_labels).mkdir(exist_ok=True)
        shutil.copy(saved, inbox / in_labels / generated.file_name)
        cells = [c for row in load_workbook(saved)[dataset].iter_rows(min_row=2, values_only=True) for c in row]
        picked += [c for c in cells if isinstance(c, str) and re.fullmatch(r".+ / .+ \([^()]+\)", c)]
    assert any("Ženski / Female (female)" == c for c in picked) and any(c.endswith("(RS)") for c in picked)

    outcome = ingest.process_submissions(config, ingest.collect_new_submissions(config))
    assert outcome["rejected"] == [] and outcome["failed"] == [] and len(outcome["accepted"]) == 2 * len(contracts.datasets())
    subs = table("submissions", "ledger")
    with reporting_engine(config.reporting_db_url).connect() as conn:
        stored = {(r.team_code, r.dataset): pq.read_table(io.BytesIO(storage_path(r.snapshot_path).read_bytes()))
                  for r in conn.execute(subs.select())}
    for dataset in contracts.datasets():
        assert stored[(in_labels, dataset)].equals(stored[(in_codes, dataset)]), dataset
    victims = stored[(in_labels, "victims")].to_pydict()
    assert set(victims["sex"]) <= {"female", "male", "other_unknown"} and "RS" in victims["citizenship"]
