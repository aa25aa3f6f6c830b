"""Contracts that evolve: a new contract version adds a column and a code value from a quarter, on a database
that already holds published quarters. The schema follows by an Alembic revision generated from the
contracts (`thb db revision`) and applied by `thb db upgrade`; until then every stage stops with a clear
error. Old quarters stay as published and are validated under the version they were sent under."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from helpers import findings, ledger
from thb_reporting.tools import cli
from thb_reporting.core import contracts, reference
from thb_reporting.intake import ingest
from thb_reporting.store import migrations
from thb_reporting.publishing import publish
from thb_reporting.reading import header
from thb_reporting.validation import suite_runner
from thb_reporting.tools.generator import SubmissionGenerator
from thb_reporting.tools.synthetic_files import encode
from thb_reporting.core.quarters import Quarter
from thb_reporting.validation.suites import write_suites
from thb_reporting.store.warehouse import metadata, reader_engine, table

TEAMS = ["nis", "vranje"]
NEW_COLUMN, NEW_CODE = "accommodation_days", "mobile_team"  # victims v3, from 2026Q4
# the package's victims v2 (the case standard's fields, 2026Q3) and its revision are the starting point
PACKAGE_VERSION, PACKAGE_HEAD = 2, "0008_releases"
OLD_QUARTERS, NEW_QUARTER = ("2026Q2", "2026Q3"), "2026Q4"
NEW_VERSION = f"""
  - version: 3
    from_quarter: 2026Q4
    added_columns:
      - name: {NEW_COLUMN}
        type: integer
        min: 0
        max: 366
        label: {{sr: "Dani u smeštaju", en: "Days in accommodation"}}
        hint: {{sr: "Broj dana u smeštaju u tromesečju.", en: "Days in accommodation in the quarter."}}
    added_codes:
      referral_source: [{NEW_CODE}]
"""


def _with_version(contract_text: str, entry: str) -> str:
    """The contract with one more entry at the end of its versions: list."""
    doc = yaml.safe_load(contract_text)
    doc.setdefault("versions", []).extend(yaml.safe_load(entry))
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _forget_cached_contracts() -> None:
    """What a process caches from the contracts and code lists (a deployment restarts after a change)."""
    for cached in (reference.code_lists, reference.code_aliases, suite_runner._positions, suite_runner._columns_read,
                   suite_runner._code_columns, header._known_headers, header._known_codes):
        cached.cache_clear()


@pytest.fixture
def contract_change(tmp_path, monkeypatch):
    """Apply the change as a data steward would, on copies: victims.yaml gets version 3, code_lists.csv the
    code's row with its labels, the suites are regenerated; revisions go to a folder of their own."""
    folder = tmp_path / "steward"
    shutil.copytree(contracts.PACKAGE_CONTRACTS, folder / "contracts")
    shutil.copytree(reference.REFERENCE_DIR, folder / "reference")

    def apply():
        victims = folder / "contracts" / "victims.yaml"
        victims.write_text(_with_version(victims.read_text(encoding="utf-8"), NEW_VERSION), encoding="utf-8")
        with open(folder / "reference" / "code_lists.csv", "a", encoding="utf-8") as f:
            f.write(f"referral_source,{NEW_CODE},Mobilni tim,Mobile outreach team\n")
        monkeypatch.setenv("THB_CONTRACTS_DIR", str(folder / "contracts"))
        monkeypatch.setenv("THB_EXPECTATIONS_DIR", str(folder / "expectations"))
        monkeypatch.setenv("THB_MIGRATIONS_DIR", str(folder / "versions"))
        monkeypatch.setattr(reference, "REFERENCE_DIR", folder / "reference")
        _forget_cached_contracts()
        write_suites()
        (folder / "versions").mkdir()
        return folder / "versions"

    yield apply
    _forget_cached_contracts()


def _send(config, team: str, quarter: str, rows: list[dict], columns: list[str], name: str | None = None) -> None:
    inbox = Path(config.inbox.removeprefix("file://")) / team
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / (name or f"victims_{quarter}.csv")).write_bytes(encode("victims", rows, columns, "csv_utf8"))


def _rows(team: str, quarter: str, n: int = 6) -> list[dict]:
    generator = SubmissionGenerator(Path("/nonexistent"), seed=11)
    return generator.victims_rows(generator._rng("victims", team, quarter, 1), team, Quarter.parse(quarter), n)


def _victims(db_url: str, quarters: tuple[str, ...], columns: list[str]) -> list[tuple]:
    t = table("victims")
    with reader_engine(db_url).connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(*(t.c[c] for c in columns)).where(t.c.quarter.in_(quarters))))


def _cycle(config) -> dict:
    outcome = ingest.process_submissions(config, ingest.collect_new_submissions(config))
    publish.publish(config)
    return outcome


def test_a_new_version_adds_a_column_and_a_code_from_its_quarter(config, generator, contract_change, capsys):
    db = config.reporting_db_url
    generator.scenario(TEAMS, list(OLD_QUARTERS))
    assert len(_cycle(config)["accepted"]) == 4
    old_columns = [c.name for c in table("victims").columns]
    before = _victims(db, OLD_QUARTERS, old_columns)
    assert before and NEW_COLUMN not in old_columns

    previous = migrations.head()  # the package's head, that the new revision follows
    versions = contract_change()
    assert [(c.version, c.from_quarter) for c in contracts.versions("victims")] == [(1, None), (2, "2026Q3"), (3, NEW_QUARTER)]
    assert NEW_COLUMN in table("victims").c  # the model follows the contracts folder at once
    assert cli.main(["db", "revision", "-m", "victims v3: days in accommodation", "--db", db,
                     "--versions-dir", str(versions)]) == 0
    [revision] = versions.glob("*.py")
    source = revision.read_text(encoding="utf-8")
    assert f"'{NEW_COLUMN}'" in source and "schema='national'" in source and f"'{PACKAGE_HEAD}'" in source

    with pytest.raises(migrations.DatabaseBehind, match=r"thb db upgrade") as behind:
        publish.publish(config)
    assert PACKAGE_HEAD in str(behind.value) and migrations.head() in str(behind.value)

    capsys.readouterr()
    assert cli.main(["db", "upgrade", "--db", db]) == 0
    assert migrations.head() in capsys.readouterr().out
    assert cli.main(["db", "current", "--db", db]) == 0
    assert f"at revision {migrations.head()}" in capsys.readouterr().out

    newest = list(contracts.load("victims").column_names)
    previous = list(contracts.load(f"victims.v{PACKAGE_VERSION}").column_names)
    assert previous == [c for c in newest if c != NEW_COLUMN]
    late_quarter = OLD_QUARTERS[-1]  # sent under the package's version, before the new one's quarter
    new = {team: [{**r, NEW_COLUMN: i * 3, "referral_source": NEW_CODE if i % 2 else r["referral_source"]}
                  for i, r in enumerate(_rows(team, NEW_QUARTER))] for team in TEAMS}
    for team, rows in new.items():
        _send(config, team, NEW_QUARTER, rows, newest)
    late = [{**r, "referral_source": NEW_CODE} for r in _rows("nis", late_quarter, 3)]
    _send(config, "nis", late_quarter, late, previous, name=f"victims_{late_quarter}_ispravka.csv")
    outcome = _cycle(config)
    assert len(outcome["accepted"]) == 2 and len(outcome["rejected"]) == 1

    assert _victims(db, OLD_QUARTERS, old_columns) == before  # as published, the same values
    assert _victims(db, OLD_QUARTERS, [NEW_COLUMN]) == [(None,)] * len(before)
    published = _victims(db, (NEW_QUARTER,), ["team_code", "source_row", NEW_COLUMN, "referral_source"])
    sent = sorted((team, i + 2, r[NEW_COLUMN], r["referral_source"]) for team, rows in new.items() for i, r in enumerate(rows))
    assert published == sent and any(code == NEW_CODE for *_, code in published)

    by_file = {(r.team_code, r.file_name): r for r in ledger(db)}
    quarters = (*OLD_QUARTERS, NEW_QUARTER)
    assert {(t, q): by_file[(t, f"victims_{q}.csv")].contract_version for t in TEAMS for q in quarters} == {
        (t, q): contracts.for_quarter("victims", q).version for t in TEAMS for q in quarters}
    assert {contracts.for_quarter("victims", q).version for q in quarters} == {1, 2, 3}
    rejected = by_file[("nis", f"victims_{late_quarter}_ispravka.csv")]
    assert (rejected.status, rejected.contract_version) == ("rejected", PACKAGE_VERSION)  # the new code, before its quarter
    assert {(f.rule, f.column_name, f.value) for f in findings(db) if f.submission_id == rejected.submission_id} == {
        ("code_list", "referral_source", NEW_CODE)}
    from thb_reporting.ui.status_page import submission_report_html

    report = submission_report_html(db, reference.teams(), rejected.submission_id, standalone=True)  # explained under its version
    assert "Police (police)" in report and f"Mobile outreach team ({NEW_CODE})" not in report


def test_each_quarter_is_validated_under_the_version_in_force(contract_change):
    contract_change()
    assert contracts.for_quarter("victims", "2026Q2").version == 1
    assert contracts.for_quarter("victims", Quarter.parse("2026Q3")).version == 2
    assert contracts.for_quarter("victims", Quarter.parse(NEW_QUARTER)).version == 3
    assert contracts.for_quarter("victims", "2027Q1").suite_name == "victims"
    for earlier in ("victims.v1", "victims.v2"):
        before = contracts.load(earlier)
        assert NEW_COLUMN not in before.column_names and NEW_CODE not in before.column("referral_source").allowed_codes
    assert NEW_CODE in contracts.load("victims").column("referral_source").allowed_codes
    assert contracts.for_quarter("activities", "2026Q3").version == 1  # a contract without versions


def test_a_version_must_say_from_which_quarter_and_name_known_codes(tmp_path, monkeypatch):
    shutil.copytree(contracts.PACKAGE_CONTRACTS, tmp_path / "contracts")
    monkeypatch.setenv("THB_CONTRACTS_DIR", str(tmp_path / "contracts"))
    victims = tmp_path / "contracts" / "victims.yaml"
    original = victims.read_text(encoding="utf-8")
    for change, error in ((NEW_VERSION.replace(f"from_quarter: {NEW_QUARTER}", "from_quarter: soon"), "from_quarter"),
                          (NEW_VERSION.replace("from_quarter: 2026Q4", "from_quarter: 2026Q3"), "later than the one before"),
                          (NEW_VERSION.replace("version: 3", "version: 4"), "numbered"),
                          (NEW_VERSION, "code_lists.csv")):  # mobile_team is not in the package's code list
        victims.write_text(_with_version(original, change), encoding="utf-8")
        contracts._versions.cache_clear()
        with pytest.raises(ValueError, match=error):
            contracts.versions("victims")
    contracts._versions.cache_clear()


def test_the_baseline_and_its_revisions_give_the_schema_create_all_gives(reporting_db_url):
    """Upgraded from empty, the database has every table, column, comment, key and index of the model."""
    from thb_reporting.store.migrations import ensure_schema
    from thb_reporting.store.warehouse import reporting_engine

    engine = reporting_engine(reporting_db_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        assert migrations.current(conn) == migrations.head()
        assert migrations.differences(conn) == []


def test_a_database_made_by_create_all_before_revisions_is_stamped_then_told_to_upgrade(tmp_path):
    from sqlalchemy import text

    from thb_reporting.core.config import sqlite_url
    from thb_reporting.store.migrations import ensure_schema
    from thb_reporting.store.warehouse import reporting_engine

    engine = reporting_engine(sqlite_url(tmp_path / "old.sqlite"))
    with engine.begin() as conn:  # as ensure_schema made it before this change: no contract_version yet
        metadata().create_all(conn)
        conn.execute(text("ALTER TABLE submissions DROP COLUMN contract_version"))
        conn.execute(text("DROP TABLE mail_messages"))  # nor the e-mailed submissions (0003)
        for column in ("mail_message_id", "mail_sender", "mail_date"):
            conn.execute(text(f"ALTER TABLE submissions DROP COLUMN {column}"))
        v1 = contracts.load("victims.v1").column_names
        for column in contracts.load("victims.v2").columns:  # nor the case standard's fields (0004)
            if column.name not in v1:
                conn.execute(text(f"ALTER TABLE victims DROP COLUMN {column.stored_name}"))
        conn.execute(text("DROP TABLE coverage"))  # nor what the figures cover (0005)
        for name in ("indicators", "public_indicators", "export_crim_thb", "sdg_16_2_2"):
            for column in ("coverage", "coverage_units", "coverage_population"):
                conn.execute(text(f"ALTER TABLE {name} DROP COLUMN {column}"))
        for column in ("template_version", "columns_not_in_file"):  # nor the template a file followed (0006)
            conn.execute(text(f"ALTER TABLE submissions DROP COLUMN {column}"))
        conn.execute(text("ALTER TABLE findings DROP COLUMN column_letter"))  # nor the findings' letters (0007)
        from thb_reporting.store.release_tables import RELEASED_TABLES, frozen_name

        for name in ("releases", "release_basis", "release_revisions", "explanations",  # nor releases (0008)
                     *(frozen_name(t) for t in RELEASED_TABLES)):
            conn.execute(text(f"DROP TABLE {name}"))
    with pytest.raises(migrations.DatabaseBehind, match=r"at revision 0001_baseline.*thb db upgrade"):
        ensure_schema(engine)
    ensure_schema(engine, upgrade=True)
    with engine.connect() as conn:
        assert migrations.current(conn) == migrations.head() and migrations.differences(conn) == []
    ensure_schema(engine)  # and from then on, nothing to say
