"""Every national indicator equals the generator's truth exactly, on SQLite and on PostgreSQL."""
from __future__ import annotations

import math

from sqlalchemy import select

from thb_reporting import contracts, reference
from thb_reporting.warehouse import reporting_engine, table
from test_pipeline import run_cycle

TEAMS = ["subotica", "sombor", "novi_sad", "nis", "leskovac", "kraljevo", "novi_pazar"]  # two share a district


def published(db_url: str) -> dict[tuple, float]:
    t = table("indicators")
    with reporting_engine(db_url).connect() as conn:
        rows = conn.execute(select(t.c.indicator, t.c.level, t.c.area_code, t.c.period, t.c.breakdown,
                                   t.c.category, t.c.value)).all()
    return {tuple(r[:-1]): r[-1] for r in rows}


def _assert_equal(got: dict, want: dict) -> None:
    assert got.keys() == want.keys(), (sorted(got.keys() - want.keys())[:5], sorted(want.keys() - got.keys())[:5])
    wrong = [(k, got[k], want[k]) for k in want if not math.isclose(got[k], want[k], rel_tol=1e-9, abs_tol=1e-12)]
    assert not wrong, wrong[:5]


def test_indicators_equal_the_truth(config, tmp_path):
    from thb_reporting.generator import SubmissionGenerator

    generator = SubmissionGenerator(tmp_path / "data" / "inbox", seed=31, shared_persons=2)
    truth = generator.scenario(TEAMS, ["2026Q1", "2026Q2"], {("nis", "2026Q2"): "jmbg"}, datasets=contracts.datasets())
    run_cycle(config)
    district_of = {code: t.district_code for code, t in reference.teams().items()}
    want = truth.indicators(district_of)
    _assert_equal(published(config.reporting_db_url), want)
    # the shared persons are counted once nationally, and their teams say so
    def persons(level, area):
        return sum(v for k, v in want.items() if k[:5] == ("persons_by_status", level, area, "2026Q1", "status"))

    shared = [s for s in generator.shared if s[0] == "2026Q1"]
    assert len(shared) >= len(TEAMS) - 1
    assert persons("nation", "RS") == sum(persons("team", t) for t in TEAMS) - len(shared)
    # a re-submission moves the indicators with it, other quarters of the year included
    generator.dataset_file("programmes", "subotica", "2026Q1", version=2)
    generator.victims_file("nis", "2026Q2", version=2)
    run_cycle(config)
    _assert_equal(published(config.reporting_db_url), generator.truth.indicators(district_of))
