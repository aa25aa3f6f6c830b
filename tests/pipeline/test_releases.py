"""Official releases (#22): a candidate is frozen from its basis, approved or rejected by a person; a late
file changes the working tables only and becomes a revision, with its reason, in the next release; a year
combines its quarters' latest releases; the ministries' views show released figures only."""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from test_pipeline import run_cycle
from thb_reporting.publishing import release_files, releases
from thb_reporting.publishing.release_report import prompt_markdown
from thb_reporting.store.locks import set_lock
from thb_reporting.store.release_tables import frozen_name
from thb_reporting.store.warehouse import reader_engine, table

TEAMS = ["nis", "vranje", "kraljevo", "subotica"]


def _public(db_url: str, working: bool, release_id: int | None = None) -> dict:
    """(indicator, level, area, period, breakdown, category) → (value, suppressed): the working public table,
    or one release's frozen copy."""
    t = table("public_indicators") if working else table(frozen_name("public_indicators"))
    query = select(t) if working else select(t).where(t.c.release_id == release_id)
    with reader_engine(db_url).connect() as conn:
        return {(r.indicator, r.level, r.area_code, r.period, r.breakdown, r.category): (r.value, bool(r.suppressed))
                for r in conn.execute(query)}


def _release(db_url: str, release_id: int):
    with reader_engine(db_url).connect() as conn:
        return releases.release(conn, release_id)


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k][1] == b[k][1] and (a[k][0] == b[k][0] or (a[k][0] is not None and b[k][0] is not None
                                                       and math.isclose(a[k][0], b[k][0]))) for k in a)


def test_a_release_is_frozen_and_a_late_file_is_a_revision_with_its_reason(config, generator):
    generator.scenario(TEAMS, ["2026Q2"])
    run_cycle(config)
    candidate = releases.prepare(config, "2026Q2", "provisional", "test")
    first = candidate["release_id"]
    assert _release(config.reporting_db_url, first).state == "candidate"
    # what the approver is shown is what is frozen: the working figures of the quarter as they are now
    working = {k: v for k, v in _public(config.reporting_db_url, True).items() if k[3] == "2026Q2"}
    frozen = _public(config.reporting_db_url, False, first)
    assert _same(working, frozen) and len(frozen) > 100
    assert candidate["previous_release_id"] is None and candidate["revisions"] == []
    done = releases.decide(config, first, True, "coordinator", "first release of Q2")
    assert done["state"] == "released"
    with pytest.raises(releases.ReleaseRefused, match="released already"):
        releases.decide(config, first, True, "coordinator", "again")

    # a corrected file from nis after the release: the working tables change, the release does not
    with reader_engine(config.reporting_db_url).connect() as conn:
        before_basis = releases.basis_of(conn, first)
    generator.victims_file("nis", "2026Q2", people=30)
    run_cycle(config)
    assert not _same({k: v for k, v in _public(config.reporting_db_url, True).items() if k[3] == "2026Q2"}, frozen)
    assert _same(_public(config.reporting_db_url, False, first), frozen)

    second = releases.prepare(config, "2026Q2", "provisional", "test")
    assert second["previous_release_id"] == first
    [change] = second["changes"]
    assert (change["team_code"], change["dataset"], change["change"]) == ("nis", "victims", "replaced")
    assert change["previous_submission"] == before_basis[("victims", "nis", "2026Q2")]
    revised = {(r["indicator"], r["level"], r["area_code"], r["breakdown"], r["category"]): r for r in second["revisions"]}
    nis_total = revised[("victims", "team", "nis", "total", "total")]
    was = frozen[("victims", "team", "nis", "2026Q2", "total", "total")]
    now = _public(config.reporting_db_url, True)[("victims", "team", "nis", "2026Q2", "total", "total")]
    assert (nis_total["previous_value"], nis_total["previous_suppressed"]) == (None if was[1] else was[0], was[1])
    assert (nis_total["value"], nis_total["suppressed"]) == (now[0], False)
    # a suppressed count is never written into a revision
    assert all(r["value"] is None for r in second["revisions"] if r["suppressed"])
    assert all(r["previous_value"] is None for r in second["revisions"] if r["previous_suppressed"])
    assert f"submission {change['previous_submission']} replaced by {change['submission']}" in nis_total["reason"]
    # each revision holds both public values: the earlier release's and this one's
    for r in second["revisions"]:
        old, new = frozen.get((r["indicator"], r["level"], r["area_code"], r["period"], r["breakdown"], r["category"]),
                              (None, None)), _public(config.reporting_db_url, False, second["release_id"]).get(
            (r["indicator"], r["level"], r["area_code"], r["period"], r["breakdown"], r["category"]), (None, None))
        assert r["previous_value"] == (None if old[1] else old[0]) and r["value"] == (None if new[1] else new[0])
    assert "What changes against the last release" in prompt_markdown(second)
    assert "1 submission added, replaced or withdrawn" in prompt_markdown(second)
    rates = [r for r in second["revisions"] if r["indicator"] in ("reporting_rate", "on_time_rate")]
    assert all(r["reason"].startswith("the reporting calendar") for r in rates)
    assert "nis victims 2026Q2: replaced" in prompt_markdown(second)
    releases.decide(config, second["release_id"], True, "coordinator", "nis corrected its file")

    # the release's files name it and its status; the revisions file holds public values only
    written = release_files.write_release_files(config, second["release_id"])
    folder = written[0].parent
    manifest = json.loads((folder / "release.json").read_text())
    assert (manifest["release_id"], manifest["status"], manifest["revises_release"]) == (second["release_id"], "provisional", first)
    rows = list(csv.DictReader(io.StringIO((folder / "national_indicators_2026Q2.csv").read_bytes().decode("utf-8-sig"))))
    assert {(r["release_id"], r["release_status"]) for r in rows} == {(str(second["release_id"]), "provisional")}
    assert all(r["value"] == "" for r in rows if r["suppressed"] == "True")
    revisions_file = (folder / "revisions_2026Q2.csv").read_bytes().decode("utf-8-sig")
    assert "replaced by" in revisions_file
    summary = (folder / "national_summary_2026Q2.html").read_text(encoding="utf-8")
    assert f'data-release="{second["release_id"]}" data-status="provisional"' in summary
    assert "Release no." in summary and "provisional figures" in summary
    working = (Path(config.data_root.removeprefix("file://")) / "exports" / "2026" / "national_summary_2026Q2.html")
    assert 'data-status="working"' in working.read_text(encoding="utf-8")  # the working copy says it is one


def test_a_rejection_needs_a_reason_and_releases_nothing(config, generator):
    generator.scenario(TEAMS[:2], ["2026Q2"])
    run_cycle(config)
    candidate = releases.prepare(config, "2026Q2", "provisional", "test")
    for reason in ("", "  ", "x"):
        with pytest.raises(releases.ReleaseRefused, match="needs a reason"):
            releases.decide(config, candidate["release_id"], False, "coordinator", reason)
    assert _release(config.reporting_db_url, candidate["release_id"]).state == "candidate"
    releases.decide(config, candidate["release_id"], False, "coordinator", "Vranje's figures look doubled")
    row = _release(config.reporting_db_url, candidate["release_id"])
    assert (row.state, row.decided_by, row.note) == ("rejected", "coordinator", "Vranje's figures look doubled")
    with reader_engine(config.reporting_db_url).connect() as conn:
        assert releases.latest_released(conn, "2026Q2") is None
    # a newer candidate of the period makes an undecided one lapse; a lapsed one can never be approved
    third = releases.prepare(config, "2026Q2", "provisional", "test")
    fourth = releases.prepare(config, "2026Q2", "provisional", "test")
    assert _release(config.reporting_db_url, third["release_id"]).state == "lapsed"
    with pytest.raises(releases.ReleaseRefused, match="lapsed already"):
        releases.decide(config, third["release_id"], True, "coordinator", "too late")
    assert releases.lapse(config, fourth["release_id"], "no decision before the timeout")
    assert _release(config.reporting_db_url, fourth["release_id"]).state == "lapsed"


def test_the_schedule_prepares_the_quarter_whose_deadline_passed_once(config, generator):
    import datetime as dt

    today = dt.date(2026, 12, 5)  # 2026Q3's deadline (15 October) has passed; 2026Q4 has not ended
    assert releases.due_period(config, today) == "2026Q3"
    assert releases.due_period(config, dt.date(2026, 10, 10)) == "2026Q2"  # before 2026Q3's deadline
    generator.scenario(TEAMS[:1], ["2026Q3"])
    run_cycle(config)
    releases.prepare(config, "2026Q3", "provisional", "schedule")
    assert releases.due_period(config, today) is None  # the coordinator prepares any other by hand


def test_final_needs_the_quarter_locked_and_a_year_its_quarters_final(config, generator):
    generator.scenario(TEAMS[:2], ["2026Q1", "2026Q2"])
    run_cycle(config)
    with pytest.raises(releases.ReleaseRefused, match="2026Q1 is not locked"):
        releases.prepare(config, "2026Q1", "final", "test")
    with pytest.raises(releases.ReleaseRefused, match="release its quarters first"):
        releases.prepare(config, "2026", "provisional", "test")
    set_lock(config.reporting_db_url, "2026Q1", True, "coordinator", "final figures")
    q1 = releases.prepare(config, "2026Q1", "final", "test")
    set_lock(config.reporting_db_url, "2026Q1", False, "coordinator", "a correction")
    with pytest.raises(releases.ReleaseRefused, match="not locked"):  # unlocked since: it cannot be final now
        releases.decide(config, q1["release_id"], True, "coordinator", "final")
    set_lock(config.reporting_db_url, "2026Q1", True, "coordinator", "final again")
    releases.decide(config, q1["release_id"], True, "coordinator", "final")
    with pytest.raises(releases.ReleaseRefused, match="not yet: 2026Q2, 2026Q3, 2026Q4"):
        releases.prepare(config, "2026", "final", "test")
    with pytest.raises(releases.ReleaseRefused, match="not a period"):
        releases.prepare(config, "2026Q5", "provisional", "test")


def test_a_year_combines_the_latest_releases_of_its_quarters(config, generator):
    generator.scenario(TEAMS, ["2026Q2", "2026Q3"])
    run_cycle(config)
    ids = {}
    for q in ("2026Q2", "2026Q3"):
        ids[q] = releases.prepare(config, q, "provisional", "test")["release_id"]
        releases.decide(config, ids[q], True, "coordinator", q)
    generator.victims_file("vranje", "2026Q3", people=40)  # a late file, not released yet
    run_cycle(config)
    year = releases.prepare(config, "2026", "provisional", "test")
    with reader_engine(config.reporting_db_url).connect() as conn:
        basis = releases.basis_of(conn, year["release_id"])
        quarters = releases.basis_of(conn, ids["2026Q2"], ["2026Q2"]) | releases.basis_of(conn, ids["2026Q3"], ["2026Q3"])
        working_q3 = {k: r.submission_id for k, r in __import__("thb_reporting.store.ledger", fromlist=["x"])
                      .current_submissions(conn).items() if k[2] == "2026Q3"}
    assert basis == quarters  # the released submissions, not the late file
    assert basis[("victims", "vranje", "2026Q3")] != working_q3[("victims", "vranje", "2026Q3")]
    # the year's totals are the sums of its released quarters (victims are counted once per quarter here)
    frozen = _public(config.reporting_db_url, False, year["release_id"])
    assert {k[3] for k in frozen} == {"2026"}
    releases.decide(config, year["release_id"], True, "coordinator", "the year so far")
    written = release_files.write_release_files(config, year["release_id"])
    names = {p.name for p in written}
    assert {"crim_thb_victims_citizenship_2026.csv", "sdg_16_2_2_2026.csv", "release.json"} <= names
    eurostat = next(p for p in written if p.parent.name == "transmissions" and p.name == "crim_thb_victims_citizenship_2026.csv")
    rows = list(csv.DictReader(io.StringIO(eurostat.read_text(encoding="utf-8"))))
    valued = [r for r in rows if r["OBS_VALUE"] != ""]
    assert valued and {r["OBS_STATUS"] for r in valued} == {"P"}  # provisional (SDMX CL_OBS_STATUS; P outranks D)


def test_a_revised_year_is_marked_revised_in_the_eurostat_file(config, generator):
    generator.scenario(TEAMS, ["2026Q2"])
    run_cycle(config)
    q2 = releases.prepare(config, "2026Q2", "provisional", "test")["release_id"]
    releases.decide(config, q2, True, "c", "q2")
    y1 = releases.prepare(config, "2026", "provisional", "test")["release_id"]
    releases.decide(config, y1, True, "c", "y1")
    generator.victims_file("nis", "2026Q2", people=30)
    run_cycle(config)
    q2b = releases.prepare(config, "2026Q2", "provisional", "test")["release_id"]
    releases.decide(config, q2b, True, "c", "q2 corrected")
    y2 = releases.prepare(config, "2026", "provisional", "test")
    assert y2["previous_release_id"] == y1 and y2["revisions"]
    releases.decide(config, y2["release_id"], True, "c", "y2")
    written = release_files.write_release_files(config, y2["release_id"])
    eurostat = next(p for p in written if p.parent.name == "transmissions" and p.name == "crim_thb_victims_citizenship_2026.csv")
    rows = list(csv.DictReader(io.StringIO(eurostat.read_text(encoding="utf-8"))))
    revised = [r for r in rows if f"revised since release {y1}" in r["COMMENT_OBS"]]
    total = next(r for r in rows if (r["CITIZEN"], r["SEX"]) == ("TOTAL", "T"))  # every victim: nis sent 30 more
    assert total in revised
    assert len(revised) < len(rows)  # only what changed
    sidecar = json.loads((eurostat.parent / "crim_thb_victims_citizenship_2026.csv.metadata.json").read_text())
    assert any(f"Release {y2['release_id']}" in n and "provisional" in n for n in sidecar["notes"])
    sdg = list(csv.DictReader(io.StringIO((eurostat.parent / "sdg_16_2_2_2026.csv").read_text(encoding="utf-8"))))
    counts = [r for r in sdg if r["UNIT_MEASURE"] == "NUMBER"]
    # SDMX CL_OBS_STATUS: P provisional value, outranking D (a sum of teams, not the whole country: still said in
    # COMMENT_OBS); Q withheld (confidential), whatever else
    valued = [r for r in counts if r["OBS_VALUE"]]
    assert valued and {r["OBS_STATUS"] for r in valued} == {"P"}
    assert all("not the whole country" in r["COMMENT_OBS"] for r in counts)
    assert {r["OBS_STATUS"] for r in counts if not r["OBS_VALUE"]} <= {"Q"}
    total = next(r for r in counts if (r["SERIES"], r["SEX"], r["AGE"]) == ("VC_HTF_DETV", "_T", "_T"))
    assert f"revised since release {y1}" in total["COMMENT_OBS"]  # nis sent 30 more
    for name in ("crim_thb_victims_citizenship_2026.csv", "sdg_16_2_2_2026.csv", "greta_2026.xlsx"):  # every receiver's file names it
        meta = json.loads((eurostat.parent / f"{name}.metadata.json").read_text())
        assert meta["release"] == {"release_id": y2["release_id"], "status": "provisional"}, name
    research = json.loads((eurostat.parent.parent / "research" / "victims_ctdc_2026.csv.metadata.json").read_text())
    assert research["release"] == {"release_id": y2["release_id"], "status": "provisional"}


@pytest.mark.parametrize("reporting_db_url", ["postgres"], indirect=True)
def test_no_ministry_view_can_show_a_figure_that_is_not_released(config, generator):
    """Every reporting_public view reads only frozen release tables (filtered on released state) or
    dimensions; a candidate, a rejected one and the working tables never reach the reader."""
    generator.scenario(TEAMS[:2], ["2026Q2"])
    run_cycle(config)
    engine = create_engine(config.reporting_db_url)
    allowed = {f"national.{frozen_name(t)}" for t in ("public_indicators", "export_crim_thb", "sdg_16_2_2", "coverage")} | {
        "national.releases", "national.release_revisions", "national.indicator_catalogue", "national.teams",
        "national.districts", "national.code_lists", "national.quarters"}
    with engine.connect() as conn:
        used = conn.execute(text(
            "SELECT view_name, table_schema || '.' || table_name FROM information_schema.view_table_usage "
            "WHERE view_schema = 'reporting_public' AND table_schema <> 'reporting_public'")).all()
        definitions = dict(conn.execute(text(
            "SELECT viewname, definition FROM pg_views WHERE schemaname = 'reporting_public'")).all())
    assert used and {t for _, t in used} <= allowed, sorted({(v, t) for v, t in used if t not in allowed})
    for view, sql in definitions.items():
        if any(t in sql for t in ("release_public_indicators", "release_export_crim_thb", "release_sdg_16_2_2",
                                  "release_coverage", "release_revisions")):
            assert "'released'" in sql, f"{view} reads a release table without keeping to released ones"

    def shown():
        with engine.connect() as conn:
            return {v: conn.execute(text(f"SELECT count(*) FROM reporting_public.{v}")).scalar_one()
                    for v in ("indicators", "indicators_all_releases", "coverage", "indicators_labelled", "revisions")}

    assert set(shown().values()) == {0}  # published, not released: nothing for the ministries
    candidate = releases.prepare(config, "2026Q2", "provisional", "test")
    assert set(shown().values()) == {0}
    releases.decide(config, candidate["release_id"], False, "coordinator", "not yet")
    assert set(shown().values()) == {0}
    approved = releases.prepare(config, "2026Q2", "provisional", "test")
    releases.decide(config, approved["release_id"], True, "coordinator", "now")
    with engine.connect() as conn:
        ids = set(conn.execute(text("SELECT DISTINCT release_id FROM reporting_public.indicators")).scalars())
        statuses = set(conn.execute(text("SELECT DISTINCT release_status FROM reporting_public.indicators_labelled")).scalars())
    assert ids == {approved["release_id"]} and statuses == {"provisional"}
    engine.dispose()


def test_the_release_notice_tells_the_ministries_without_a_suppressed_count(config, generator, monkeypatch):
    """Approved through the path the DAG's last task takes (decide, files, notice): the notice goes to the
    coordinator and the ministries' contacts, Serbian first, with the headline figures as released."""
    from email import message_from_bytes, policy

    from thb_reporting.core import reference
    from thb_reporting.figures import indicator_catalogue
    from thb_reporting.reports.charts import format_value
    from thb_reporting.tools.release_cli import decide_and_publish

    generator.victims_file("nis", "2026Q2", people=3)  # three persons: the nation's victims is a small count
    run_cycle(config)
    candidate = releases.prepare(config, "2026Q2", "provisional", "test")
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)  # no SMTP: the notice is an .eml file
    outcome = decide_and_publish(config, candidate["release_id"], True, "coordinator", "Q2")
    assert outcome["notices"] == [f"release:{candidate['release_id']}"]
    [eml] = Path(config.data_root.removeprefix("file://"), "outbox").glob(f"release-{candidate['release_id']}*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    contacts = reference.national_contacts()
    assert set(a.strip() for a in message["To"].split(",")) == {
        c["email"] for role, c in contacts.items() if role == "national_coordinator" or role.startswith("ministry_")}
    assert "2026Q2" in message["Subject"] and "privremeni" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert text.index("objavljeni") < text.index("ENGLISH") < text.index("were released")
    frozen = _public(config.reporting_db_url, False, candidate["release_id"])
    catalogue = indicator_catalogue.catalogue()
    quoted = [n for n in indicator_catalogue.headlines() if (n, "nation", "RS", "2026Q2", "total", "total") in frozen]
    assert "victims" in quoted
    assert frozen[("victims", "nation", "RS", "2026Q2", "total", "total")] == (None, True)
    assert "x\n" in text
    for name in quoted:
        value, suppressed = frozen[(name, "nation", "RS", "2026Q2", "total", "total")]
        shown = "x" if suppressed else format_value(value, catalogue[name]["unit"])
        assert f"{catalogue[name]['en']}: {shown}\n" in text
