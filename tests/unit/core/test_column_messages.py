"""Messages name a column as the team sees it in its own spreadsheet: the column's letter in the file as
sent (whatever the order of its columns) and the header's words; codes in Serbian sentences are given by
their Serbian labels."""
from __future__ import annotations

import csv
import io
from email import message_from_string, policy
from pathlib import Path

from sqlalchemy import select

from fixtures import TEST_KEY
from thb_reporting.core import contracts
from thb_reporting.intake import ingest
from thb_reporting.core.config import PipelineConfig
from thb_reporting.tools.generator import SubmissionGenerator
from thb_reporting.tools.synthetic_files import encode
from thb_reporting.messaging.notifications import queue_submission_notices
from thb_reporting.ui.status_page import submission_report_html
from thb_reporting.store.warehouse import reporting_engine, table


def _messages(config) -> dict[str, object]:
    """The queued e-mails by the dataset in their subject."""
    outbox = table("outbox", "ledger")
    with reporting_engine(config.reporting_db_url).connect() as conn:
        messages = [message_from_string(m, policy=policy.default) for m in conn.execute(select(outbox.c.message)).scalars()]
    return {next(d for d in contracts.datasets() if f" {d} " in m["Subject"]): m for m in messages}


def test_messages_give_the_column_letter_of_the_file_and_the_header_words(tmp_path):
    config = PipelineConfig.local(tmp_path / "data", TEST_KEY)
    generator = SubmissionGenerator(Path(config.inbox.removeprefix("file://")), seed=5)
    victims = generator.dataset_file("victims", "nis", "2026Q1", file_format="csv_utf8", rows=12)
    rows = [dict(r) for r in victims.rows]
    rows[2]["status"] = "nepoznato"  # spreadsheet row 4
    rows[5]["cross_border"], rows[5]["country_of_exploitation"] = "yes", None  # row 7
    # the team's own order of the columns: the country first, the status last (column O of 15)
    others = [c for c in contracts.for_quarter("victims", "2026Q1").column_names if c not in ("status", "country_of_exploitation")]
    columns = ["country_of_exploitation", *others, "status"]
    victims.path.write_bytes(encode("victims", rows, columns, "csv_utf8"))
    generator.dataset_file("criminal_justice", "vranje", "2026Q1", plant="conviction_above_indictment", file_format="xlsx")

    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    assert queue_submission_notices(config) == 2
    subs = table("submissions", "ledger")
    with reporting_engine(config.reporting_db_url).connect() as conn:
        ledger = {r.dataset: r for r in conn.execute(select(subs))}
    assert {r.status for r in ledger.values()} == {"rejected"}
    assert "column O (Status)" in ledger["victims"].summary  # composed when the file was processed

    message = _messages(config)["victims"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "red 4, kolona O (Status), vrednost nepoznato" in text
    assert "row 4, column O (Status), value nepoznato" in text
    assert ("Kolona A (Država eksploatacije / Country of exploitation) je obavezna u ovom redu "
            "(Prekogranični slučaj = Da), a polje je prazno.") in text
    assert ("Column A (Država eksploatacije / Country of exploitation) is required in this row "
            "(Cross-border case = Yes)") in text
    assert "<td>O (Status)</td>" in html and "<td>A (Država eksploatacije / Country of exploitation)</td>" in html
    for code_word in ("column status", "kolona status", "country_of_exploitation", "cross_border = yes"):
        assert code_word not in text and code_word not in html, code_word
    attached = next(a for a in message.iter_attachments() if a.get_filename().endswith(".csv"))
    report = list(csv.DictReader(io.StringIO(attached.get_payload(decode=True).decode("utf-8-sig"))))
    assert any("u koloni O (Status)" in r["message_sr"] and r["row"] == "4" for r in report)

    # the status page of the submission says the same
    page = submission_report_html(config.reporting_db_url, config.teams, ledger["victims"].submission_id)
    assert "O (Status)" in page and "A (Država eksploatacije / Country of exploitation)" in page

    # criminal justice: the article in Serbian words, not the code word 'article'
    text = _messages(config)["criminal_justice"].get_body(("plain",)).get_content()
    serbian, english = text.split("ENGLISH", 1)
    assert "Za Član KZ – " in serbian and "(čl. 3" in serbian and "article" not in serbian
    assert "For Criminal Code article – " in english and "(CC art. 3" in english


def test_spreadsheet_letters_are_those_excel_shows():
    """findings.spreadsheet_letter (which spares a CSV file's validation openpyxl's import) names every
    column as openpyxl, and so Excel, does: A … Z, AA …, XFD (the last column Excel has)."""
    from openpyxl.utils import get_column_letter

    from thb_reporting.core.findings import spreadsheet_letter

    assert [spreadsheet_letter(n) for n in range(1, 16385)] == [get_column_letter(n) for n in range(1, 16385)]
