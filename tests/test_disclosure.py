"""Disclosure control: the public indicators hide small counts, and an attacker who knows every published
total and how the tables add up recovers none of them."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from test_indicators import CALENDAR, THRESHOLD, published_public
from test_pipeline import run_cycle
from thb_reporting import contracts, indicators, reference
from thb_reporting.disclosure import suppress
from thb_reporting.warehouse import reporting_engine, table

TEAMS = ["kraljevo", "novi_pazar", "nis", "vranje", "subotica"]  # Kraljevo and Novi Pazar share a district


def test_one_small_cell_in_a_sum_takes_a_second_with_it():
    # a + b + c = total; a is small: b, the smallest other non-zero cell, goes too
    values = [2, 7, 30, 39]
    assert suppress(values, [0], [[0, 1, 2, 3]]) == {0, 1}
    # all other members zero: only the total could give it away
    assert suppress([3, 0, 0, 3], [0], [[0, 1, 2, 3]]) == {0, 3}
    # a cell hidden in one sum and alone in another is protected in both
    assert suppress([2, 9, 11, 2, 5, 7], [0], [[0, 1, 2], [0, 4, 5]]) == {0, 1, 4}


def _attack(public: dict, district_of: dict) -> set:
    """Everything an attacker can recompute from the public table, knowing that breakdowns into sex, age
    group, citizenship and migration status add up to the total, teams to their district, districts to the
    nation, quarters to the year, and identified plus presumed victims to all victims."""
    known = {k: v for k, (v, hidden) in public.items() if not hidden}
    hidden = {k for k, (_, h) in public.items() if h}

    def value(k):
        return known.get(k, 0.0 if k not in hidden else None)  # absent cells are zeros

    sums = []
    keys = list(public)
    by_total = defaultdict(list)
    for k in keys:
        ind, level, area, period, breakdown, category = k
        if breakdown in ("sex", "age_group", "citizenship", "migration_status"):
            by_total[(ind, level, area, period, "total", "total")].append(k)
        if level == "team":
            by_total[(ind, "district", district_of[area], period, breakdown, category)].append(k)
        if level == "district":
            by_total[(ind, "nation", "RS", period, breakdown, category)].append(k)
        if len(period) == 6:
            by_total[(ind, level, area, period[:4], breakdown, category)].append(k)
        if ind == "persons_by_status" and category in ("possible_victim", "identified_victim"):
            by_total[("victims", level, area, period, "total", "total")].append(k)
    sums = [(total, parts) for total, parts in by_total.items() if total in public]
    recovered = set()
    progress = True
    while progress:
        progress = False
        for total, parts in sums:
            unknown = [k for k in [total, *parts] if value(k) is None]
            if len(unknown) == 1:
                k = unknown[0]
                rest = sum(value(p) for p in parts if p != k)
                known[k] = (value(total) - rest) if k != total else rest
                recovered.add(k)
                progress = True
    return recovered & hidden


def test_an_attacker_recovers_no_suppressed_count(config, generator):
    generator.shared_persons = 1
    generator.scenario(TEAMS, ["2026Q1", "2026Q2"], datasets=contracts.datasets())
    run_cycle(config)
    public = published_public(config.reporting_db_url)
    exact = table("indicators")
    with reporting_engine(config.reporting_db_url).connect() as conn:
        exact_values = {tuple(r[:6]): r[6] for r in conn.execute(select(*exact.columns))
                        if r[0] not in CALENDAR}
    units = {name: item["unit"] for name, item in indicators.catalogue().items()}
    assert public.keys() == exact_values.keys()
    small = [k for k, v in exact_values.items() if units[k[0]] in ("persons", "cases") and 1 <= v <= THRESHOLD]
    assert small, "the scenario must have small cells to protect"
    assert all(public[k] == (None, True) for k in small)  # primary suppression
    assert sum(h for _, h in public.values()) > len(small)  # secondary suppression happened
    for k, (v, hidden) in public.items():
        assert hidden or v == exact_values[k]  # what is shown is exact
        if units[k[0]] not in ("persons", "cases", "share"):
            assert not hidden  # money, activities and events are not suppressed
    district_of = {code: t.district_code for code, t in reference.teams().items()}
    assert _attack(public, district_of) == set()
