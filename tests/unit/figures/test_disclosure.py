"""Disclosure control: every public output (the public tables, and the export files and national summaries
read back from disk) hides small counts, and an attacker who knows every published value and every sum
that ties them recovers none of the suppressed cells, not even with linear-programming bounds."""
from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from test_indicators import CALENDAR, THRESHOLD
from test_national_summary import _Figures
from test_pipeline import run_cycle
from oracle import Truth
from thb_reporting.core import contracts, reference
from thb_reporting.core.config import PROTECTION_LEVEL
from thb_reporting.figures import coverage, disclosure, indicators
from thb_reporting.publishing import exports
from thb_reporting.figures.indicators import NATION
from thb_reporting.tools.synthetic_files import encode
from thb_reporting.store.warehouse import reporting_engine, table

TEAMS = ["kraljevo", "novi_pazar", "nis", "vranje", "subotica"]  # Kraljevo and Novi Pazar share a district
QUARTERS = ["2026Q1", "2026Q2"]
NATION_LEVEL = "nation"
CRIM = "crim_thb"  # first element of the key of a crim_thb cell: (CRIM, time, leg_stat, sex, citizen, expl)
UNITS = {name: item["unit"] for name, item in indicators.catalogue().items()}


def test_one_small_cell_in_a_sum_takes_a_second_with_it():
    # a + b + c = total; a is small: b, the smallest other non-zero cell, goes too
    assert disclosure.suppress([2, 7, 30, 39], [0], [([0, 1, 2], [3])]) == {0, 1}
    # all other members zero: only the total could give it away
    assert disclosure.suppress([3, 0, 0, 3], [0], [([0, 1, 2], [3])]) == {0, 3}
    # a cell hidden in one sum and alone in another is protected in both
    assert disclosure.suppress([2, 9, 11, 2, 5, 7], [0], [([0, 1], [2]), ([0, 4], [5])]) == {0, 1, 4}
    # two hidden ones on one side: their sum 2 says each is 1 (zeros are shown), so a third goes
    assert disclosure.suppress([1, 1, 5, 9, 16], [0, 1], [([0, 1, 2, 3], [4])]) == {0, 1, 2}
    # a total of several cells (a cube's slice against the public forms of its group)
    assert disclosure.suppress([3, 8, 6, 5], [0], [([0, 1], [2, 3])]) == {0, 1}


def _one_form_each(truth) -> None:
    """Each person keeps one form of exploitation, sexual, labour or begging (one per Eurostat group, none
    rare), and the files are written again: then the crim_thb cube partitions the persons, and the
    attacker can prove it from the public figures (the forms add up to the victims), which gives it exact
    sums between the cube and the indicators."""
    columns = list(contracts.for_quarter("victims", QUARTERS[-1]).column_names)
    for f in truth.files:
        if f.dataset == "victims":
            for person in f.rows:
                if person["exploitation"]:
                    first = person["exploitation"].split(";")[0]
                    person["exploitation"] = first if first in ("sexual", "labour", "begging") else "labour"
            f.path.write_bytes(encode("victims", f.rows, columns, f.file_format))


def _published_outputs(config) -> dict[tuple, float | None]:
    """Every count (and share) the public can read, from the public tables and from every file under
    exports/: key → the value, or None where every output hides it. A cell shown by one output and hidden
    by another counts as shown; two outputs showing different values fail the test."""
    shown = defaultdict(set)

    def see(key, value, hidden=None):
        if key[0] in CALENDAR or (key[0] != CRIM and UNITS[key[0]] not in ("persons", "cases", "share")):
            return
        hidden = value in (None, "") if hidden is None else hidden
        if key[2] == coverage.PARTIAL_AREA:  # the files' label of the nation-level cell that is a partial sum
            key = (*key[:2], NATION, *key[3:])
        shown[key].add(None if hidden else (0.0 if value == "" else round(float(value), 6)))

    public, crim = table("public_indicators"), table("export_crim_thb")
    with reporting_engine(config.reporting_db_url).connect() as conn:
        for r in conn.execute(select(public)):
            see((r.indicator, r.level, r.area_code, r.period, r.breakdown, r.category), r.value, r.suppressed)
        for r in conn.execute(select(crim)):
            see((CRIM, r.time, r.leg_stat, r.sex, r.citizen, r.expl), r.value, r.suppressed)
    folders = sorted((Path(config.data_root.removeprefix("file://")) / "exports").iterdir())
    assert folders
    for folder in folders:
        year = folder.name
        with open(folder / f"national_indicators_{year}.csv", encoding="utf-8-sig") as f:
            for r in csv.DictReader(f):
                see((r["indicator"], r["level"], r["area_code"], r["period"], r["breakdown"], r["category"]), r["value"])
        from openpyxl import load_workbook

        book = load_workbook(folder / f"national_indicators_{year}.xlsx", read_only=True)
        for sheet in ("nacija_nation", "okruzi_districts", "timovi_teams"):
            rows = book[sheet].iter_rows(values_only=True)
            header = next(rows)
            for r in rows:
                cell = dict(zip(header, r))
                see(tuple(cell[c] for c in ("indicator", "level", "area_code", "period", "breakdown", "category")), cell["value"])
        with open(folder / f"crim_thb_{year}.csv", encoding="utf-8-sig") as f:
            for r in csv.DictReader(f):
                see((CRIM, r["time"], r["leg_stat"], r["sex"], r["citizen"], r["expl"]), r["value"])
        with open(folder / f"sdg_16_2_2_{year}.csv", encoding="utf-8-sig") as f:
            for r in csv.DictReader(f):  # the rate gives the count back, with the published population
                key = ("victims", r["level"], r["area_code"], r["year"], r["breakdown"], r["category"])
                see(key, r["victims"])
                see(key, r["rate_per_100000"] and round(float(r["rate_per_100000"]) * int(r["population"]) / 100_000))
        summaries = sorted(folder.glob("national_summary_*.html"))
        assert summaries
        for page in summaries:
            quarter = page.stem.removeprefix("national_summary_")
            parser = _Figures()
            parser.feed(page.read_text(encoding="utf-8"))
            for (name, breakdown, category, column), (value, hidden, _) in parser.figures.items():
                if name == "rate":
                    continue
                period = quarter if column == 2 else year
                key = ((name, "district", category, period, "total", "total") if breakdown == "district"
                       else (name, "nation", "RS", period, breakdown, category))
                see(key, value, hidden)
    out = {}
    for key, values in shown.items():
        numbers = {v for v in values if v is not None}
        assert len(numbers) <= 1, (key, values)
        out[key] = numbers.pop() if numbers else None
    return out


def _relations(published: dict, district_of: dict) -> list[tuple[list, list, str]]:
    """Every sum the attacker knows, as (parts, totals, '=' or '>='): the indicators' breakdowns, areas,
    quarters and statuses, and the crim_thb cube against the nation's indicators of its year. The cube's
    sums are exact when the public figures prove that each person has one form of exploitation; else a
    person with forms in two groups counts in each and the cube sums to at least the persons."""
    by_total = defaultdict(list)
    for k in published:
        if k[0] == CRIM or UNITS[k[0]] == "share":
            continue
        indicator, level, area, period, breakdown, category = k
        # a person reported by two teams, or in two quarters, counts once in the district, nation and
        # year: their sums are at least those; a programme counts once in the year, as last reported
        dataset = indicators.catalogue()[indicator]["dataset"]
        once = ">=" if dataset == "victims" else "="
        if breakdown in ("sex", "age_group", "citizenship", "migration_status") or (
                (indicator, breakdown) in {("programme_beneficiaries", "type"), ("people_reached", "type"),
                                           ("cross_border_persons", "counterpart_country")}):
            # one code per person (programme, activity, event): the categories add up to the total
            by_total[(indicator, level, area, period, "total", "total"), "=", breakdown].append(k)
        if breakdown == "article_stage_sex":  # men and women of an article and stage add up to its persons
            article, stage, _ = category.split("/")
            by_total[(indicator, level, area, period, "article_stage", f"{article}/{stage}"), "=", breakdown].append(k)
        if level == "team" and district_of[area]:
            by_total[(indicator, "district", district_of[area], period, breakdown, category), once, "area"].append(k)
        if level == "district" or (level == "team" and not district_of[area]):  # the Centre: in no district
            by_total[(indicator, "nation", "RS", period, breakdown, category), once, "area"].append(k)
        if len(period) == 6 and dataset != "programmes":
            by_total[(indicator, level, area, period[:4], breakdown, category), once, "year"].append(k)
        if indicator == "persons_by_status" and category in ("possible_victim", "identified_victim"):
            by_total[("victims", level, area, period, "total", "total"), "=", "status"].append(k)
    sums = [(parts, [total], kind) for (total, kind, _), parts in by_total.items() if total in published]
    status = {eurostat: code for (dimension, code), eurostat in reference.eurostat_codes().items() if dimension == "leg_stat"}
    sex = {eurostat: code for (dimension, code), eurostat in reference.eurostat_codes().items() if dimension == "sex"}
    forms = defaultdict(list, UNK=["not_stated"])
    for (dimension, code), eurostat in reference.eurostat_codes().items():
        if dimension == "expl":
            forms[eurostat].append(code)
    cube = defaultdict(list)
    for k in published:
        if k[0] == CRIM:
            _, year, leg_stat, sex_code, citizen, expl = k
            nation = ("nation", "RS", year)
            cube[("persons_by_status", *nation, "status", status[leg_stat])].append(k)
            cube[("victims", *nation, "sex", sex[sex_code])].append(k)
            cube[("victims", *nation, "citizenship", "serbian" if citizen == "NAT" else "foreign")].append(k)
            cube[tuple(("victims", *nation, "exploitation", f) for f in forms[expl])].append(k)
    for margin, parts in cube.items():
        year = parts[0][1]
        victims = published.get(("victims", "nation", "RS", year, "total", "total"))
        by_form = [v for k, v in published.items() if k[:5] == ("victims", "nation", "RS", year, "exploitation")]
        one_form_each = None not in by_form and victims is not None and sum(by_form) == victims
        totals = list(margin) if isinstance(margin[0], tuple) else [margin]
        if one_form_each:
            sums.append((parts, totals, "="))
        elif not isinstance(margin[0], tuple):
            sums.append((parts, totals, ">="))
    return sums


def _bounds(published: dict, district_of: dict, targets=lambda key: True, truth: dict | None = None
            ) -> dict[tuple, tuple[float, float]]:
    """The attacker's interval of each suppressed cell (of those `targets` accepts): its smallest and largest
    value over every solution (linear programming) of the sums, each suppressed cell at least 1 (zeros are
    shown); math.inf where nothing bounds it above. `truth` (the exact values): an attacker who knows by
    how much each sum that counts a person once falls short of its parts (every sum then exact)."""
    import numpy as np
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    known = {k: v for k, v in published.items() if v is not None}
    numerator = {"share_receiving_service": "victims_receiving_service", "share_in_reintegration": "victims_in_reintegration"}
    for k, share in list(known.items()):  # a share shown over a shown number of victims gives its count
        victims = known.get(("victims", *k[1:4], "total", "total"))
        if k[0] in numerator and victims is not None:
            known.setdefault((numerator[k[0]], *k[1:]), round(share * victims))
    unknown = sorted(k for k, v in published.items() if v is None and k not in known)
    column = {k: i for i, k in enumerate(unknown)}
    rows, cols, data, rhs, kinds = [], [], [], [], []
    for parts, totals, kind in _relations(published, district_of):
        coefficients, constant = defaultdict(float), 0.0
        for sign, keys in ((1, parts), (-1, totals)):
            for k in keys:
                if k in column:
                    coefficients[column[k]] += sign
                else:
                    constant += sign * known.get(k, 0.0)  # a cell published nowhere is zero
        if coefficients:
            for c, a in coefficients.items():
                rows.append(len(rhs)), cols.append(c), data.append(a)
            if truth is None:
                rhs.append(-constant)
                kinds.append(kind)
            else:
                rhs.append(sum(a * truth.get(unknown[c], 0.0) for c, a in coefficients.items()))
                kinds.append("=")
    n = len(unknown)
    if not n:
        return {}
    matrix = coo_matrix((data, (rows, cols)), shape=(len(rhs), n)).tocsr()
    rhs, kinds = np.array(rhs), np.array(kinds)
    linked = (matrix.T @ matrix).astype(bool)
    _, component = connected_components(linked, directed=False)
    out = {}
    for c in set(component):
        members = np.flatnonzero(component == c)
        sub = matrix[:, members]
        used = np.flatnonzero(abs(sub).sum(axis=1).A1)
        sub, b, kind = sub[used], rhs[used], kinds[used]
        eq, ge = kind == "=", kind == ">="
        for j, cell in enumerate(members):
            if not targets(unknown[cell]):
                continue
            bounds = []
            for sense in (1, -1):
                objective = np.zeros(len(members))
                objective[j] = sense
                result = linprog(objective, A_eq=sub[eq] if eq.any() else None, b_eq=b[eq] if eq.any() else None,
                                 A_ub=-sub[ge] if ge.any() else None, b_ub=-b[ge] if ge.any() else None,
                                 bounds=(1, None), method="highs")
                assert result.status in (0, 3), result.message  # solved, or unbounded
                bounds.append(math.inf if result.status == 3 else sense * result.fun)
            out[unknown[cell]] = (bounds[0], bounds[1])
    return out


def _attack(published: dict, district_of: dict, targets=lambda key: True) -> set:
    """The suppressed cells (of those `targets` accepts) the attacker pins to one whole number."""
    return {k for k, (low, high) in _bounds(published, district_of, targets).items()
            if math.isfinite(high) and math.floor(high + 1e-6) == math.ceil(low - 1e-6)}


def _short_of_the_rule(published: dict, exact: dict, district_of: dict, level: int) -> dict:
    """The suppressed small counts (1 to the threshold) whose interval does not reach `level` above and
    min(level, value - 1) below the true value, each as far as the sums allow at best: the interval of the
    same cell with every non-zero count suppressed, to an attacker who takes every sum as exact (no pattern
    gives more; figures/protection.py `attainable`). {key: (value, interval)}"""
    small = {k for k, v in published.items() if v is None and 1 <= exact.get(k, 0) <= THRESHOLD}
    found = {}
    for k, (low, high) in _bounds(published, district_of, lambda key: key in small).items():
        value = exact[k]
        if high < value + level - 1e-6 or low > value - min(level, value - 1) + 1e-6:
            found[k] = (value, (low, high))
    if not found:
        return {}
    everything = {k: None if (k[0] == CRIM or UNITS.get(k[0]) in ("persons", "cases")) and exact.get(k, 0) > 0 else v
                  for k, v in published.items()}
    best = _bounds(everything, district_of, lambda key: key in found, truth=exact)
    return {k: (value, interval) for k, (value, interval) in found.items()
            if interval[1] < min(value + level, best[k][1]) - 1e-6
            or interval[0] > max(value - min(level, value - 1), best[k][0]) + 1e-6}


def _exact(config, truth) -> dict[tuple, float]:
    exact = table("indicators")
    with reporting_engine(config.reporting_db_url).connect() as conn:
        values = {tuple(r[:6]): r[6] for r in conn.execute(select(*exact.columns)) if r[0] not in CALENDAR}
    return values | {(CRIM, *k): v for k, v in truth.crim_thb().items()}


@pytest.mark.parametrize("reporting_db_url", ["sqlite"], indirect=True)  # the backend plays no part here
def test_an_attacker_recovers_no_suppressed_count_from_all_public_outputs(config, generator, monkeypatch):
    import pandas as pd

    generator.shared_persons = 1
    truth = Truth(generator.scenario(TEAMS, QUARTERS, datasets=contracts.datasets()))
    _one_form_each(truth)
    run_cycle(config)
    published = _published_outputs(config)
    exact = _exact(config, truth)
    counts = {k for k in exact if k[0] == CRIM or UNITS[k[0]] in ("persons", "cases")}
    assert counts <= published.keys()
    small = {k for k in counts if 1 <= exact[k] <= THRESHOLD}
    assert {k for k in small if k[0] == CRIM} and {k for k in small if k[0] != CRIM}, "the scenario must have small cells"
    assert all(published[k] is None for k in small)  # primary suppression, in every output
    hidden = {k for k, v in published.items() if v is None}
    assert len(hidden) > len(small)  # secondary suppression happened
    assert all(v == pytest.approx(exact.get(k, 0.0)) for k, v in published.items() if v is not None and k in counts)
    forms = [v for k, v in published.items() if k[:5] == ("victims", "nation", "RS", "2026", "exploitation")]
    assert None not in forms and sum(forms) == published[("victims", "nation", "RS", "2026", "total", "total")]
    district_of = {code: t.district_code for code, t in reference.teams().items()}
    for parts, totals, kind in _relations(published, district_of):  # what the attacker knows is true
        difference = sum(exact.get(k, 0.0) for k in parts) - sum(exact.get(k, 0.0) for k in totals)
        assert difference == 0 or (kind == ">=" and difference > 0), ([(k, exact.get(k)) for k in parts + totals], kind)
    assert _attack(published, district_of) == set()
    assert _short_of_the_rule(published, exact, district_of, PROTECTION_LEVEL) == {}

    # The rule spoiled (protection level 0: only "not pinned"): the same interval test finds small counts
    # whose interval is narrower than the rule asks.
    rows = {k: v for k, v in exact.items() if k[0] != CRIM}
    frame = pd.DataFrame([(*k, v) for k, v in rows.items()], columns=indicators.OUTPUT_COLUMNS)
    cube = pd.DataFrame([(*k[1:], v) for k, v in exact.items() if k[0] == CRIM],
                        columns=["time", "leg_stat", "sex", "citizen", "expl", "value"])
    spoiled = _shown(*disclosure.public_outputs(frame, cube, indicators.catalogue(), district_of,
                                                exports.crim_thb_margins(), THRESHOLD, level=0))
    assert _attack(spoiled, district_of) == set()
    assert _short_of_the_rule(spoiled, exact, district_of, PROTECTION_LEVEL)

    # The same figures with no secondary suppression over the joint sums (small cells hidden where they
    # stand, as crim_thb was before): the same attacker recovers cells of the cube.
    monkeypatch.setattr(disclosure, "crim_thb_relations", lambda *args, **kw: [])
    monkeypatch.setattr(disclosure, "relations", lambda *args, **kw: [])
    shown = _shown(*disclosure.public_outputs(frame, cube, indicators.catalogue(), district_of,
                                              exports.crim_thb_margins(), THRESHOLD))
    assert _attack(shown, district_of, targets=lambda key: key[0] == CRIM)


def _shown(public, crim) -> dict:
    """public_outputs' two tables as the attacker reads them: key → value, None where suppressed."""
    shown = {tuple(r[:6]): None if r[-1] else r[6] for r in public.itertuples(index=False)}
    return shown | {(CRIM, *r[:5]): None if r[-1] else r[5] for r in crim.itertuples(index=False)}



_SEEDED_RUN = """
import hashlib, sys
import pandas as pd
from sqlalchemy import create_engine
from thb_reporting.core import contracts, reference
from thb_reporting.core.config import PROTECTION_LEVEL
from thb_reporting.figures import coverage, disclosure, indicators
from thb_reporting.publishing import exports
engine = create_engine(sys.argv[1])
facts = {d: pd.read_sql_table(d, engine).convert_dtypes() for d in contracts.datasets()}
district_of = {code: t.district_code for code, t in reference.teams().items()}
rows = indicators.national_indicators(facts, district_of)
covered = coverage.of_submissions({(d, t, q) for d, f in facts.items() for t, q in zip(f["team_code"], f["quarter"])},
                                  reference.teams(), {"2026"})
public, crim = disclosure.public_outputs(rows, exports.crim_thb(facts["victims"], {"2026"}, covered), indicators.catalogue(),
                                         district_of, exports.crim_thb_margins(), 4)
print(hashlib.sha256((public.to_csv(index=False) + crim.to_csv(index=False)).encode()).hexdigest())
"""


@pytest.mark.parametrize("reporting_db_url", ["sqlite"], indirect=True)
def test_the_demos_outputs_give_nothing_away_and_the_same_in_every_process(config):
    """The demo's own figures (all teams, two quarters, the crossed prosecution tables by article, stage
    and sex): the attacker pins none of the suppressed cells of any output (interval propagation alone,
    suppress, left 22 cells of prosecution_persons pinned here, the nation's 4 women indicted under
    article 388 among them). And which secondary cells are suppressed must not depend on the process
    (Python's hash seed orders sets of strings): a re-run publishes the same tables. Suppression computed
    from the published facts in six processes with different hash seeds."""
    import os
    import subprocess
    import sys

    from thb_reporting.tools.cli import DEMO_PLANTS, DEMO_QUARTERS
    from thb_reporting.tools.generator import SubmissionGenerator

    demo = SubmissionGenerator(Path(config.inbox.removeprefix("file://")), seed=2026, shared_persons=1)
    demo.scenario(list(reference.teams()), DEMO_QUARTERS, DEMO_PLANTS, datasets=contracts.datasets())  # as `make demo`
    run_cycle(config)
    published = _published_outputs(config)
    assert sum(v is None for v in published.values()) > 1000  # the demo's outputs, suppressed
    district_of = {code: t.district_code for code, t in reference.teams().items()}
    assert _attack(published, district_of) == set()
    # the most asked-for national figure: the heuristic hid the nation's women in both quarters (protecting
    # 3 and 5 victims of other or unknown sex). The quarters are protected first: 2026Q2's whole split is
    # shown; 2026Q3's 3 of other or unknown sex are a primary cell, so a second cell of its sum goes (men),
    # and the year's men and others go with them; the women are shown in every period
    sex = {(period, s): published[("victims", NATION_LEVEL, NATION, period, "sex", s)]
           for period in [*DEMO_QUARTERS, "2026"] for s in ("female", "male", "other_unknown")}
    assert [key for key, value in sex.items() if value is None] == [
        ("2026Q3", "male"), ("2026Q3", "other_unknown"), ("2026", "male"), ("2026", "other_unknown")], sex

    url = config.reporting_db_url
    digests = {subprocess.run([sys.executable, "-c", _SEEDED_RUN, url], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(1, 7)}
    assert len(digests) == 1, digests
