"""Files made from an earlier template of a dataset (#27 point 1): victims version 2 (from 2026Q3) added seven
optional columns, and a team that fills in last quarter's template must not bounce. Each test runs on SQLite
and on PostgreSQL (the `config` fixture) where it touches the database; the receipt is read from a real SMTP
server on loopback, the template with openpyxl as a team's Excel would keep it."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from helpers import findings, ledger
from test_contract_versions import contract_change  # noqa: F401 (a fixture)
from thb_reporting.core import contracts, templates
from thb_reporting.intake import ingest
from thb_reporting.publishing import publish
from thb_reporting.validation.checks import prepare
from thb_reporting.messaging.notifications import queue_submission_notices
from thb_reporting.messaging.outbox import SmtpSender, deliver_outbox
from thb_reporting.reading.submission_files import parse_file_name, read_submission
from thb_reporting.store.warehouse import reader_engine, table

QUARTER = "2026Q3"  # victims version 2 is in force
V2_COLUMNS = [c.name for c in contracts.for_quarter("victims", QUARTER).later_columns(1)]


def _receipt(mailbox, team: str) -> tuple[str, list]:
    """(plain text, attachments) of the e-mail the team's contact received."""
    from thb_reporting.core import reference

    contact = reference.teams()[team].contact_emails[0]
    message = next(m for rcpt, m in mailbox.received if contact in rcpt)
    return message.get_body(("plain",)).get_content(), list(message.iter_attachments())


def _run(config):
    ingest.process_submissions(config, ingest.collect_new_submissions(config))


def test_the_contract_knows_which_version_added_each_column():
    v1, v2 = contracts.versions("victims")[:2]
    assert len(V2_COLUMNS) == 7 and all(not contracts.load("victims").column(c).required for c in V2_COLUMNS)
    assert v2.template_followed(v1.column_names) == 1
    assert v2.template_followed(v2.column_names) == 2
    # a file of the current template whose team deleted one optional column is no earlier template
    assert v2.template_followed([c for c in v2.column_names if c != V2_COLUMNS[0]]) == 2
    assert v2.template_followed(v1.column_names, declared=2) == 2  # the workbook says which it is
    assert v1.template_followed(v1.column_names) == 1


@pytest.mark.parametrize("file_format", ["xlsx", "csv_utf8", "csv_cp1250"])
def test_a_version_1_file_for_a_version_2_quarter_is_accepted_and_told(config, generator, smtp_server, file_format):
    port, mailbox = smtp_server
    made = generator.victims_file("nis", QUARTER, template_version=1, file_format=file_format, people=9)
    _run(config)
    [sub] = ledger(config.reporting_db_url)
    assert sub.status == "accepted", sub.summary
    assert (sub.contract_version, sub.template_version) == (2, 1)
    assert sub.columns_not_in_file.split(",") == V2_COLUMNS
    assert sub.rows_accepted == len(made.rows)
    [warning] = findings(config.reporting_db_url)
    assert (warning.rule, warning.severity) == ("columns_of_later_template", "warning")

    # stored as not stated: the columns are in the snapshot and the warehouse, empty
    publish.publish(config)
    victims = table("victims")
    with reader_engine(config.reporting_db_url).connect() as conn:
        stored = conn.execute(select(*(victims.c[c] for c in ("methods_of_control", "compensation", "free_legal_aid")))
                              .where(victims.c.team_code == "nis")).all()
    assert len(stored) == 9 and all(v is None for row in stored for v in row)

    queue_submission_notices(config)
    deliver_outbox(config, SmtpSender())
    text, attachments = _receipt(mailbox, "nis")
    assert text.index("PRIHVAĆEN") < text.index("ACCEPTED")
    assert "šablonu verzije 1" in text and "template version 1" in text
    # named in the receipt's heading too, and told as a note (nothing is wrong), not as a warning with rows
    assert "Šablon: fajl je napravljen po verziji 1; za ovo tromesečje važi verzija 2" in text
    assert "Template: the file was made from version 1; version 2 is in force for this quarter" in text
    assert "Note: The file was made from template version 1." in text and "Napomena: Fajl je" in text
    assert "Warning" not in text and "row —" not in text
    [report] = [a for a in attachments if a.get_filename().startswith("validacija_validation_")]
    assert '<tr data-rule="columns_of_later_template"><td>note</td>' in report.get_content()
    assert "Nothing is wrong with the figures you sent" in text and "nije ništa pogrešno" in text
    for column in V2_COLUMNS:  # named in the team's words, both languages
        label = contracts.load("victims").column(column).label
        assert label["sr"] in text and label["en"] in text
    [template] = [a for a in attachments if a.get_filename().startswith("victims_template_v")]
    assert template.get_filename() == "victims_template_v2.xlsx"
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(template.get_content()))
    assert contracts.declared_version(book.properties.keywords, "victims") == 2


def test_a_file_of_the_template_in_force_gets_no_template_notice(config, generator, smtp_server):
    port, mailbox = smtp_server
    generator.victims_file("nis", QUARTER, file_format="xlsx", people=5)
    _run(config)
    [sub] = ledger(config.reporting_db_url)
    assert (sub.status, sub.template_version, sub.columns_not_in_file) == ("accepted", 2, None)
    queue_submission_notices(config)
    deliver_outbox(config, SmtpSender())
    text, attachments = _receipt(mailbox, "nis")
    assert "template version" not in text
    assert not any((a.get_filename() or "").startswith("victims_template") for a in attachments)


def test_national_figures_count_the_columns_a_file_lacks_as_not_stated(config, generator):
    old = generator.victims_file("nis", QUARTER, template_version=1, file_format="csv_utf8", people=12)
    generator.victims_file("vranje", QUARTER, file_format="csv_utf8", people=8)
    _run(config)
    publish.publish(config)
    indicators = table("indicators")
    with reader_engine(config.reporting_db_url).connect() as conn:
        nis = dict(conn.execute(select(indicators.c.category, indicators.c.value).where(
            indicators.c.indicator == "victims", indicators.c.breakdown == "compensation",
            indicators.c.level == "team", indicators.c.area_code == "nis", indicators.c.period == QUARTER)).all())
        [covered] = conn.execute(select(table("coverage")).where(table("coverage").c.dataset == "victims",
                                                                 table("coverage").c.period == QUARTER)).all()
    victims_of_nis = sum(1 for r in old.rows if r["status"] in ("possible_victim", "identified_victim"))
    assert nis == {"not_stated": victims_of_nis}  # every one of its persons, whatever its other columns say
    assert covered.not_in_file == "; ".join(f"{c}: {len(old.rows)}" for c in sorted(V2_COLUMNS))
    assert "file of an earlier template lacks the column" in covered.description_en
    assert "ranijeg šablona" in covered.description_sr
    for column in V2_COLUMNS:  # the columns in the words of the national summary's reader
        label = contracts.load("victims").column(column).label
        assert f"{label['en']} ({len(old.rows)} persons/rows)" in covered.description_en
        assert f"{label['sr']} ({len(old.rows)} osoba/redova)" in covered.description_sr


def test_small_counts_of_not_stated_persons_are_shown_as_a_range(config, generator):
    generator.victims_file("nis", QUARTER, template_version=1, file_format="csv_utf8", people=2)
    _run(config)
    publish.publish(config)
    with reader_engine(config.reporting_db_url).connect() as conn:
        [covered] = conn.execute(select(table("coverage").c.not_in_file).where(
            table("coverage").c.dataset == "victims", table("coverage").c.period == QUARTER)).all()
    assert covered.not_in_file == "; ".join(f"{c}: 1–{config.suppression_threshold}" for c in sorted(V2_COLUMNS))


def test_a_file_lacking_a_required_column_is_still_rejected(config, generator):
    generator.victims_file("nis", QUARTER, template_version=1, file_format="csv_utf8", plant="missing_column")
    _run(config)
    [sub] = ledger(config.reporting_db_url)
    assert sub.status == "rejected"
    rules = {f.rule for f in findings(config.reporting_db_url)}
    assert "missing_column" in rules


@pytest.fixture
def later_required(tmp_path, monkeypatch):
    """The victims contract on a copy whose version 2 makes its first added column (methods_of_control) required."""
    import shutil

    import yaml

    from test_contract_versions import _forget_cached_contracts

    folder = tmp_path / "contracts"
    shutil.copytree(contracts.PACKAGE_CONTRACTS, folder)
    doc = yaml.safe_load((folder / "victims.yaml").read_text(encoding="utf-8"))
    doc["versions"][0]["added_columns"][0]["required"] = True
    (folder / "victims.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("THB_CONTRACTS_DIR", str(folder))
    _forget_cached_contracts()
    yield doc["versions"][0]["added_columns"][0]["name"]
    _forget_cached_contracts()


def test_a_file_lacking_a_column_a_later_version_made_required_is_rejected_and_told(config, generator, smtp_server,
                                                                                    later_required):
    """Through a run: rejected, the ledger says which template the file followed, and the receipt names the
    column, the version that made it required and the template to send the quarter again in (attached)."""
    port, mailbox = smtp_server
    generator.victims_file("nis", QUARTER, template_version=1, file_format="csv_cp1250", people=5)
    _run(config)
    [sub] = ledger(config.reporting_db_url)
    assert (sub.status, sub.contract_version, sub.template_version) == ("rejected", 2, 1)
    # the note on the optional columns says the file is accepted: a rejected file's findings leave it out
    assert {f.rule for f in findings(config.reporting_db_url)} == {"missing_column_of_later_template"}
    queue_submission_notices(config)
    deliver_outbox(config, SmtpSender())
    text, attachments = _receipt(mailbox, "nis")
    assert text.index("ODBIJEN") < text.index("REJECTED")
    label = contracts.load("victims").column(later_required).label
    assert f"Nedostaje kolona {label['sr']}" in text and "obavezna od verzije 2 šablona" in text
    assert f"Column {label['sr']} / {label['en']} is missing; it is required from template version 2" in text
    assert "Copy your rows into the current template (victims_template_v2.xlsx, attached)" in text
    assert "Template: the file was made from version 1" in text and "is accepted" not in text
    assert [a.get_filename() for a in attachments if a.get_filename().startswith("victims_template")] == [
        "victims_template_v2.xlsx"]


def test_a_column_a_later_version_made_required_names_the_new_template(tmp_path, monkeypatch):
    """A contract whose version 2 adds a required column: a version-1 file lacks it and is rejected, with a
    message that names the template that has it."""
    import shutil

    import yaml

    from test_contract_versions import _forget_cached_contracts

    folder = tmp_path / "contracts"
    shutil.copytree(contracts.PACKAGE_CONTRACTS, folder)
    doc = yaml.safe_load((folder / "victims.yaml").read_text(encoding="utf-8"))
    doc["versions"][0]["added_columns"][0]["required"] = True  # methods_of_control, required from v2
    (folder / "victims.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("THB_CONTRACTS_DIR", str(folder))
    _forget_cached_contracts()
    try:
        v1, v2 = contracts.versions("victims")[:2]
        header = ",".join(v1.column_names)
        row = "SU-1,,2026-08-01,identified_victim,female,1990,RS,sexual,police,,yes,no,,,no\r\n"
        frame = read_submission(f"{header}\r\n{row}".encode(), parse_file_name(f"victims_{QUARTER}.csv"))
        prepared = prepare(frame, v2)
        rules = {f.rule: f for f in prepared.findings}
        assert prepared.typed is None and "missing_column_of_later_template" in rules
        from thb_reporting.core.findings import explain

        what, fix = explain(rules["missing_column_of_later_template"], "en", v2)
        assert "required from template version 2" in what and "victims_template_v2.xlsx" in fix
        assert "columns_of_later_template" in rules  # the other six, optional, are still not stated
    finally:
        _forget_cached_contracts()


def test_the_current_template_for_an_earlier_quarter_with_empty_new_columns_is_accepted(config, generator):
    """A team that already has the version-2 template resends 2026Q2 (version 1) in it, leaving the new
    columns empty: accepted, with a warning; values in them reject the file (2026Q2 cannot record them)."""
    generator.victims_file("nis", "2026Q2", file_format="xlsx", people=6)
    _run(config)
    frame = read_submission(templates.xlsx_template(contracts.load("victims"), [
        {**{c: None for c in V2_COLUMNS}, "case_ref": "SU-9", "referral_date": "2026-05-04", "status": "identified_victim",
         "sex": "female", "birth_year": 1990, "citizenship": "RS", "exploitation": "sexual", "referral_source": "police",
         "cross_border": "no", "accommodation": "no"}]), parse_file_name("victims_2026Q2.xlsx"))
    v1 = contracts.for_quarter("victims", "2026Q2")
    empty = prepare(frame, v1)
    assert {f.rule for f in empty.findings} == {"empty_column_of_later_template"}, empty.findings
    assert empty.typed is not None and empty.template_version == 1
    filled = frame.copy()
    filled["compensation"] = "received"
    rules = {(f.rule, f.severity, f.column) for f in prepare(filled, v1).findings}
    assert ("column_of_later_template", "error", "compensation") in rules


def test_a_code_a_later_version_added_is_accepted_only_from_its_quarter(contract_change):  # noqa: F811 (the fixture)
    """Victims version 3 (a test's, from 2026Q4) adds a column and a referral source code. A file made from
    the version-2 template may lack the column in 2026Q4 and use the code; in 2026Q3 the code stays refused."""
    from test_contract_versions import NEW_CODE, NEW_COLUMN

    contract_change()
    v2 = contracts.versions("victims")[1]
    row = {c: None for c in v2.column_names} | {
        "case_ref": "SU-1", "status": "identified_victim", "sex": "female", "birth_year": 1990, "citizenship": "RS",
        "exploitation": "sexual", "referral_source": NEW_CODE, "cross_border": "no", "accommodation": "no"}
    for quarter, day, refused in (("2026Q4", "2026-11-02", False), ("2026Q3", "2026-08-03", True)):
        data = templates.xlsx_template(v2, [row | {"referral_date": day}])
        frame = read_submission(data, parse_file_name(f"victims_{quarter}.xlsx"))
        contract = contracts.for_quarter("victims", quarter)
        prepared = prepare(frame, contract)
        assert prepared.template_version == 2
        assert prepared.not_in_file == ((NEW_COLUMN,) if quarter == "2026Q4" else ())
        allowed = NEW_CODE in contract.column("referral_source").allowed_codes
        assert allowed is not refused


def test_the_template_says_which_version_it_is(tmp_path):
    from openpyxl import load_workbook

    written = templates.write_templates(tmp_path)
    names = {p.name for p in written}
    for dataset in contracts.datasets():
        version = contracts.load(dataset).version
        assert {f"{dataset}_template_v{version}.csv", f"{dataset}_template_v{version}.xlsx"} <= names
    book = load_workbook(tmp_path / "victims_template_v2.xlsx")
    assert contracts.declared_version(book.properties.keywords, "victims") == 2
    assert contracts.declared_version(book.properties.keywords, "programmes") is None
    readme = " ".join(str(c.value) for row in book[templates.README_SHEET].iter_rows() for c in row if c.value)
    assert "Template version 2, od / from 2026Q3" in readme


def test_a_workbook_s_declared_version_is_read_with_the_file():
    """The file properties of a workbook made from the version-1 template survive into the frame read, and
    decide the version where the header alone could not."""
    from thb_reporting.reading.submission_files import DECLARED_TEMPLATE

    v1, v2 = contracts.versions("victims")[:2]
    data = templates.xlsx_template(v1, [])
    frame = read_submission(data, parse_file_name(f"victims_{QUARTER}.xlsx"))
    assert frame.attrs.get(DECLARED_TEMPLATE) == 1
    frame2 = read_submission(templates.xlsx_template(v2, []), parse_file_name(f"victims_{QUARTER}.xlsx"))
    assert frame2.attrs.get(DECLARED_TEMPLATE) == 2
