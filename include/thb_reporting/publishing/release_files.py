"""The files of a release, written when it is approved, each naming its release and status:

  <data_root>/releases/<period>/release-<id>/
      release.json                         the release: period, provisional | final, when, basis, what it revises
      national_indicators_<period>.csv     its public figures (suppressed), each row with release_id and
      national_indicators_<period>.xlsx    release_status; a year's file adds its quarters' latest releases
      revisions_<period>.csv               the public figures it revised, with both values and why
      crim_thb_<year>.csv, sdg_16_2_2_<year>.csv                  (a year) the public exports, as frozen
      transmissions/…, research/…                                (a year) computed from the release's basis;
                                                                  provisional values flagged in the receiver's terms
The working files under exports/, transmissions/ and research/ stay the coordinator's working copies."""
from __future__ import annotations

import json

from sqlalchemy import select

from thb_reporting.core.config import PipelineConfig
from thb_reporting.publishing import exports
from thb_reporting.publishing.releases import Period, basis_of, latest_released, release, releases_in_force
from thb_reporting.store import ledger
from thb_reporting.store.release_tables import ReleaseStatus
from thb_reporting.store.storage import release_folder, write_atomically
from thb_reporting.store.warehouse import reader_engine, table

RELEASE_COLUMNS = ("release_id", "release_status", "released_at")


def _frozen(conn, name: str, release_ids: dict):
    """A frozen table's rows of the releases given (id → release row), with the release's columns first."""
    import pandas as pd

    from thb_reporting.reports.national_figures import released

    rows = released(name, release_ids)
    frame = pd.DataFrame([dict(r) for r in conn.execute(select(rows)).mappings()], columns=[c.name for c in rows.columns])
    frame.insert(1, "release_status", frame["release_id"].map(lambda i: release_ids[i].status))
    frame.insert(2, "released_at", frame["release_id"].map(
        lambda i: release_ids[i].decided_at.isoformat(timespec="seconds") if release_ids[i].decided_at else None))
    return frame


def _basis_rows(conn, release_id: int) -> dict:
    ids = basis_of(conn, release_id)
    rows = {r.submission_id: r for r in ledger.submissions(conn, ids=list(ids.values()))} if ids else {}
    return {k: rows[i] for k, i in ids.items()}


def _transmissions(config: PipelineConfig, conn, row, folder) -> list:
    """A year's transmissions and research export, from the release's basis (exact figures), flagged with
    its status and what it revises."""
    from thb_reporting.publishing import research_export, transmissions
    from thb_reporting.publishing.publish import national_outputs

    def inputs_of(release_id: int, previous=None):
        outputs = national_outputs(_basis_rows(conn, release_id), {row.period}, config.suppression_threshold,
                                   config.teams, config.protection_level)
        return outputs, transmissions.TransmissionInputs(
            outputs["facts"], outputs["exact"], outputs["coverage"], config.teams, config.suppression_threshold,
            public=outputs["indicators"], level=config.protection_level, release=transmissions.ReleaseMark(
                release_id, row.status == ReleaseStatus.PROVISIONAL.value, previous,
                tuple(q for q in Period.parse(row.period).quarters if latest_released(conn, q) is not None)))

    previous = None
    if row.previous_release_id is not None:
        previous = (row.previous_release_id, inputs_of(row.previous_release_id)[1])
    outputs, inputs = inputs_of(row.release_id, previous)
    written = transmissions.write_year(config.data_root, row.period, inputs, folder=folder / "transmissions")
    written += research_export.write_year(config.data_root, row.period, outputs["facts"]["victims"], config.research_k,
                                          outputs["coverage"].get(("victims", row.period)), folder=folder / "research",
                                          release={"release_id": row.release_id, "status": row.status})
    return written


def write_release_files(config: PipelineConfig, release_id: int) -> list:
    """Write the files of an approved release (again, if asked: each is written whole, then renamed)."""
    from thb_reporting.publishing.publish import catalogue_frame

    with reader_engine(config.reporting_db_url).connect() as conn:
        row = release(conn, release_id)
        period = Period.parse(row.period)
        folder = release_folder(config.data_root, row.period, release_id)
        shown = {release_id: row}
        if period.is_year:  # the year's file holds its quarters as released too
            shown |= {r.release_id: r for q in period.quarters if (r := latest_released(conn, q)) is not None}
        public = _frozen(conn, "public_indicators", shown)
        revised = conn.execute(select(table("release_revisions"))
                               .where(table("release_revisions").c.release_id == release_id)).mappings().all()
        manifest = {
            "release_id": release_id, "period": row.period, "status": row.status, "state": row.state,
            "released_at": row.decided_at.isoformat(timespec="seconds") if row.decided_at else None,
            "note": row.note, "revises_release": row.previous_release_id,
            "basis": [{"dataset": d, "team": t, "quarter": q, "submission_id": s}
                      for (d, t, q), s in sorted(basis_of(conn, release_id).items())],
            "quarters_included": {r.period: {"release_id": i, "status": r.status} for i, r in shown.items()},
        }
        written = []
        files = {
            "release.json": json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"),
            f"national_indicators_{row.period}.csv": exports.csv_bytes(public),
            f"national_indicators_{row.period}.xlsx": exports.xlsx_bytes({
                "nacija_nation": public[public["level"] == "nation"],
                "okruzi_districts": public[public["level"] == "district"],
                "timovi_teams": public[public["level"] == "team"],
                "pokazatelji_indicators": catalogue_frame()}),
            f"revisions_{row.period}.csv": exports.csv_bytes(_revisions_frame(revised)),
        }
        if not period.is_year:  # the public summary of the quarter, as released (the other periods' latest releases)
            from thb_reporting.publishing.national_summary import summary_html

            shown_ids = [release_id] + [r.release_id for r in releases_in_force(conn) if r.period != row.period]
            files[f"national_summary_{row.period}.html"] = summary_html(conn, row.period, config.suppression_threshold,
                                                                         release={
                "release_id": release_id, "status": row.status, "shown": shown_ids,
                "released_at": manifest["released_at"] and row.decided_at.strftime("%Y-%m-%d %H:%M UTC")}).encode("utf-8")
        if period.is_year:
            files[f"crim_thb_{row.period}.csv"] = exports.csv_bytes(_frozen(conn, "export_crim_thb", {release_id: row}))
            files[f"sdg_16_2_2_{row.period}.csv"] = exports.csv_bytes(_frozen(conn, "sdg_16_2_2", {release_id: row}))
        for name, content in files.items():
            write_atomically(folder / name, content)
            written.append(folder / name)
        if period.is_year:
            written += _transmissions(config, conn, row, folder)
    return written


def _revisions_frame(revised):
    import pandas as pd

    columns = [c.name for c in table("release_revisions").columns]
    return pd.DataFrame([dict(r) for r in revised], columns=columns)
