"""The transmissions as a whole: one kind that cannot be built (a code without its mapping to the
receiver's list, a library's error) neither keeps the other files from being written nor goes unseen."""
from __future__ import annotations

from pathlib import Path

import pytest

from thb_reporting.intake import ingest
from thb_reporting.publishing import publish, transmissions
from thb_reporting.store.warehouse import reader_engine, table


def _broken(inputs, year):
    raise KeyError(("expl", "forced_criminality"))  # as a new national code without its Eurostat group would


def test_a_transmission_that_cannot_be_built_fails_the_run_after_the_others_are_written(config, generator, monkeypatch):
    from sqlalchemy import func, select

    from thb_reporting.publishing.transmissions import eurostat, greta, sdg

    generator.scenario(["subotica", "sombor", "czztlj"], ["2026Q3"], datasets=("victims",))
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    monkeypatch.setattr(transmissions, "_builders", lambda: [eurostat.build, _broken, sdg.build, greta.build])
    with pytest.raises(transmissions.TransmissionsFailed, match=r"transmissions of 2026 not written: test_transmissions"):
        publish.publish(config)

    root = Path(config.data_root.removeprefix("file://"))
    sent = sorted(p.name for p in (root / "transmissions" / "2026").iterdir())
    assert [n for n in sent if not n.startswith("crim_thb_")] == [
        "greta_2026.xlsx", "greta_2026.xlsx.metadata.json", "sdg_16_2_2_2026.csv", "sdg_16_2_2_2026.csv.metadata.json",
        "sdg_16_2_2_2026.csv.validation.json"]
    # Eurostat: one file per table with its sidecar and its check's report; a table of pending codes only is not sent
    assert "crim_thb_victims_citizenship_2026.csv.validation.json" in sent
    assert "crim_thb_victims_exploitation_2026.csv.pending.json" in sent
    assert (root / "research" / "2026" / "victims_ctdc_2026.csv").exists()
    assert (root / "exports" / "2026" / "national_summary_2026Q3.html").exists()  # the public's files too
    with reader_engine(config.reporting_db_url).connect() as conn:  # and the tables were committed before
        assert conn.execute(select(func.count()).select_from(table("victims"))).scalar() > 0

    monkeypatch.undo()  # mended: the next publish of the year writes every file
    generator.victims_file("subotica", "2026Q3", version=2)
    ingest.process_submissions(config, ingest.collect_new_submissions(config))
    publish.publish(config)
