"""Disclosure control for everything that leaves the ministries: counts from 1 to the threshold are
suppressed, and further cells are suppressed until no suppressed cell can be recomputed from what is
published.

The model. Every public output is made of two tables: the public indicators (national.public_indicators;
the indicator files, the SDG 16.2.2 file and the national summary show its cells and nothing else) and the
crim_thb cube (national.export_crim_thb and its file). Their counts of persons and cases are tied by sums
that anyone can write down:
  - the categories of a breakdown that partitions its total (sex, age group, citizenship, migration status;
    beneficiaries and people reached by type, persons by counterpart country) add up to it, men and women
    of an article and stage to its persons, the teams of a district to the district, the districts (and
    the units in no district: the Centre) to the nation, the quarters to the year, and identified plus presumed victims to all victims (the catalogue's
    `sums_to`, indicators.yaml);
  - the crim_thb cells of a year with one legal status, sex, citizenship or group of forms of exploitation
    add up to the nation's count of that status, sex, citizenship (Serbian; foreign = EU + non-EU) or of
    the forms in that group (not stated = no form) in the public indicators of the same year.
The second kind is exact when every person has forms in one Eurostat group only; a person with forms in
two groups counts in each, so the cube then sums to more and an attacker knows less than these sums.
Likewise a person reported by two teams or in two quarters counts once in the district, nation and year,
and a programme once in the year: treated as sums here, they tell an attacker less.
A relation is a pair (parts, totals) of cell positions with sum(parts) = sum(totals); a cell that is
not published is zero and left out. Zeros are shown, so an attacker knows that every suppressed cell is
at least 1; each sum then bounds its suppressed cells by the bounds of the others, and bounds narrow
bounds (a suppressed district of two suppressed quarters of 1 or more is at least 2, which in the
nation's sum may leave its neighbour exactly 1). A suppressed cell whose bounds meet is given away
(pinned): the only one suppressed in a sum, two suppressed cells of 1 whose sum is known to be 2, and
longer chains. While any is, the smallest non-zero part not yet suppressed of the sum that pins it (or
the smallest other non-zero cell) is suppressed too. Everything is suppressed in one pass
over the union of both tables' cells and relations (public_outputs), so that no combination of published
values recomputes a suppressed cell; tests/test_disclosure.py plays the attacker over all the files
written, with linear-programming bounds.
Not modelled: an attacker who knows how the secondary cells were chosen, or outside information.
Pure: no database, no files."""
from __future__ import annotations

import math
from collections import defaultdict, deque

from thb_reporting import indicator_catalogue
from thb_reporting.indicators import NATION

DEFAULT_THRESHOLD = 4
SUPPRESSED_UNITS = {"persons", "cases"}  # counts of people and cases; money and activities are not sensitive
CRIM_THB_DIMENSIONS = ("leg_stat", "sex", "citizen", "expl")
# Bounds narrow sum by sum; through a cycle of large counts they creep towards each other one step a visit
# without meeting. Each sum is looked at this many times (on average): on the attacker test's scenario every
# bound that meets had met after three (as many pins as after 100), and that test checks the result with
# exact LP bounds.
PROPAGATION_VISITS = 5

Relation = tuple[list[int], list[int]]  # (parts, totals): sum of parts = sum of totals


def _index(cells) -> dict[tuple, int]:
    return {key: i for i, key in enumerate(zip(cells["indicator"], cells["level"], cells["area_code"],
                                                cells["period"], cells["breakdown"], cells["category"]))}


def relations(cells, district_of: dict[str, str]) -> list[Relation]:
    """The sums that tie the public indicator cells (indicator, level, area_code, period, breakdown,
    category), as row positions in `cells`. Which breakdowns add up to which total: the catalogue's sums_to."""
    index = _index(cells)
    additive = indicator_catalogue.additive_breakdowns()
    coarser = {(name, b): to for name, b, to in indicator_catalogue.sums_into_coarser_breakdowns()}
    groups: list[Relation] = []
    categories = defaultdict(list)
    areas = defaultdict(list)
    quarters = defaultdict(list)
    finer = defaultdict(list)
    for key, i in index.items():
        indicator, level, area, period, breakdown, category = key
        if (indicator, breakdown) in additive:
            categories[(indicator, level, area, period, breakdown)].append(i)
        if (indicator, breakdown) in coarser:  # e.g. 388/indictment/male + …/female = 388/indictment
            parent = indicator_catalogue.category_key(*indicator_catalogue.category_parts(category)[:-1])
            finer[(indicator, level, area, period, coarser[(indicator, breakdown)], parent)].append(i)
        if level == "team" and district_of.get(area):
            areas[(indicator, "district", district_of.get(area), period, breakdown, category)].append(i)
        elif level in ("district", "team"):  # a unit in no district (the Centre) sums into the nation
            areas[(indicator, "nation", NATION, period, breakdown, category)].append(i)
        if len(period) == 6:  # 2026Q1
            quarters[(indicator, level, area, period[:4], breakdown, category)].append(i)
    for (indicator, level, area, period, _), members in categories.items():
        total = index.get((indicator, level, area, period, "total", "total"))
        if total is not None:
            groups.append((members, [total]))
    for margins in (areas, quarters, finer):
        for key, members in margins.items():
            total = index.get(key)
            if total is not None:
                groups.append((members, [total]))
    for part_indicator, breakdown, part_categories, total_indicator in indicator_catalogue.sums_into_other_totals():
        # e.g. possible + identified persons = victims
        # sorted: the order of the sums decides which secondary cells are chosen; a set's order would
        # depend on the process's hash seed, and two runs would publish different tables
        for level, area, period in sorted({(k[1], k[2], k[3]) for k in index if k[0] == total_indicator}):
            total = index.get((total_indicator, level, area, period, "total", "total"))
            parts = [index.get((part_indicator, level, area, period, breakdown, c)) for c in part_categories]
            if total is not None:
                groups.append(([p for p in parts if p is not None], [total]))
    return groups


def crim_thb_relations(crim, cells, margins: dict, offset: int) -> list[Relation]:
    """The sums that tie the crim_thb cube (time, leg_stat, sex, citizen, expl; its rows at positions
    offset + row) to the public indicator cells (`cells`, as for relations). `margins`: for each cube
    dimension, code → (indicator, breakdown, categories) of the nation's public count its cells add up to."""
    index = _index(cells)
    parts = defaultdict(list)
    for i, row in enumerate(zip(crim["time"], *(crim[d] for d in CRIM_THB_DIMENSIONS))):
        year, codes = row[0], row[1:]
        for dimension, code in zip(CRIM_THB_DIMENSIONS, codes):
            indicator, breakdown, categories = margins[dimension][code]
            parts[(year, indicator, breakdown, tuple(categories))].append(offset + i)
    return [(members, [index[k] for c in categories
                       if (k := (indicator, "nation", NATION, year, breakdown, c)) in index])
            for (year, indicator, breakdown, categories), members in parts.items()]


def _bounds_sum(cells, bound) -> tuple[float, int]:
    """The finite part of the sum of the bounds, and how many are infinite."""
    finite = [bound[i] for i in cells if bound[i] != math.inf]
    return sum(finite), len(cells) - len(finite)


def pinned(values, suppressed: set[int], groups: list[Relation]) -> dict[int, int]:
    """The suppressed cells that the published cells and the sums leave one value, each with the relation
    that pins it: the attacker's bounds, every suppressed cell at least 1 and at most what the sums allow
    given the bounds of the others, tightened sum by sum until nothing changes (interval propagation; the
    bounds only narrow and always hold the true values)."""
    low = dict.fromkeys(suppressed, 1)  # zeros are shown
    high = dict.fromkeys(suppressed, math.inf)
    live = {}  # sum(hidden parts) - sum(hidden totals) = constant
    relations_of = defaultdict(list)
    for g, (parts, totals) in enumerate(groups):
        hidden_parts = [i for i in parts if i in suppressed]
        hidden_totals = [i for i in totals if i in suppressed]
        if hidden_parts or hidden_totals:
            constant = (sum(values[i] for i in totals if i not in suppressed)
                        - sum(values[i] for i in parts if i not in suppressed))
            live[g] = (hidden_parts, hidden_totals, constant)
            for i in hidden_parts + hidden_totals:
                relations_of[i].append(g)
    by = {}
    queue, queued = deque(live), set(live)
    for _ in range(PROPAGATION_VISITS * len(live)):
        if not queue:
            break
        g = queue.popleft()
        queued.discard(g)
        hidden_parts, hidden_totals, constant = live[g]
        sums = {1: (sum(low[i] for i in hidden_parts), _bounds_sum(hidden_parts, high)),
                -1: (sum(low[i] for i in hidden_totals), _bounds_sum(hidden_totals, high))}
        for cell, sign in [(i, 1) for i in hidden_parts] + [(i, -1) for i in hidden_totals]:
            # sign * cell = sign * constant - (the others on its side) + (the other side)
            same_low, (same_high, same_infinite) = sums[sign]
            other_low, (other_high, other_infinite) = sums[-sign]
            if high[cell] == math.inf:
                same_infinite -= 1
            else:
                same_high -= high[cell]
            least = sign * constant - (math.inf if same_infinite else same_high) + other_low
            most = sign * constant - (same_low - low[cell]) + (math.inf if other_infinite else other_high)
            if least > low[cell] or most < high[cell]:
                low[cell], high[cell] = max(low[cell], least), min(high[cell], most)
                if low[cell] == high[cell]:
                    by.setdefault(cell, g)
                for h in relations_of[cell]:
                    if h not in queued:
                        queue.append(h)
                        queued.add(h)
    return by


def _smallest_other(values, suppressed: set[int], relation: Relation) -> int | None:
    """The cell to suppress next in a relation: its smallest non-zero part not yet suppressed, else its
    smallest other non-zero cell."""
    parts, totals = relation
    candidates = ([i for i in parts if i not in suppressed and values[i] > 0]
                  or [i for i in parts + totals if i not in suppressed and values[i] > 0])
    return min(candidates, key=lambda i: (values[i], i)) if candidates else None


def suppress(values, primary, groups: list[Relation]) -> set[int]:
    """Secondary suppression: returns the set of positions to suppress, primary ones included. First, fast,
    while a relation has exactly one suppressed cell, its smallest other cell (_smallest_other) is
    suppressed too; then, while suppressed cells are pinned, the smallest other cell of each relation that
    pinned one first (or of another relation of that cell)."""
    suppressed = set(primary)
    relations_of = defaultdict(list)
    for g, (parts, totals) in enumerate(groups):
        for i in parts + totals:
            relations_of[i].append(g)
    while True:
        changed = True
        while changed:
            changed = False
            for relation in groups:
                if sum(i in suppressed for i in relation[0] + relation[1]) == 1:
                    choice = _smallest_other(values, suppressed, relation)
                    if choice is not None:
                        suppressed.add(choice)
                        changed = True
        added, fixed = set(), set()
        for cell, g in pinned(values, suppressed, groups).items():
            if g in fixed:
                continue
            choice = next((c for h in [g, *relations_of[cell]]
                           if (c := _smallest_other(values, suppressed, groups[h])) is not None), None)
            if choice is not None:
                added.add(choice)
                fixed.add(g)
        if not added:
            return suppressed
        suppressed |= added


def public_outputs(indicator_rows, crim, catalogue: dict, district_of: dict[str, str], margins: dict,
                   threshold: int = DEFAULT_THRESHOLD, joint: bool = True):
    """The public indicators and the crim_thb cube as they may be published, suppressed together:
    counts of persons and cases from 1 to `threshold` suppressed (value missing, suppressed true) with
    secondary suppression over the relations of both; shares computed from a suppressed count are
    suppressed too. `crim` has the cube's dimensions, time and value; `margins` as for
    crim_thb_relations. joint=False leaves out the relations between the two (for the attacker test)."""
    cells = indicator_rows.reset_index(drop=True)
    units = cells["indicator"].map(lambda name: catalogue[name]["unit"])
    counts = cells[units.isin(SUPPRESSED_UNITS)].reset_index()  # 'index' keeps the position in cells
    crim = crim.reset_index(drop=True)
    values = counts["value"].tolist() + crim["value"].tolist()
    primary = [i for i, v in enumerate(values) if 0 < v <= threshold]
    groups = relations(counts, district_of)
    if joint:
        groups += crim_thb_relations(crim, counts, margins, offset=len(counts))
    hidden = suppress(values, primary, groups)
    suppressed = set(counts.loc[sorted(i for i in hidden if i < len(counts)), "index"])
    mask = cells.index.isin(suppressed)
    # a share is a count over a count (the catalogue's share parts): hide it when either is hidden
    hidden_keys = {(r.level, r.area_code, r.period, r.indicator, r.breakdown, r.category) for r in cells[mask].itertuples()}
    parts_of = {name: [p for p in parts.values() if "indicator" in p] for name in indicator_catalogue.catalogue()
                if (parts := indicator_catalogue.share_parts(name)) is not None}
    for pos, r in enumerate(cells.itertuples()):
        if r.indicator in parts_of:
            keys = [(r.level, r.area_code, r.period, p["indicator"], p["breakdown"] or r.breakdown, p["category"] or r.category)
                    for p in parts_of[r.indicator]]
            if any(k in hidden_keys for k in keys):
                mask[pos] = True
    public = cells.copy()
    public["suppressed"] = mask
    public.loc[mask, "value"] = None
    crim_mask = crim.index.isin([i - len(counts) for i in hidden if i >= len(counts)])
    cube = crim.assign(suppressed=crim_mask, value=crim["value"].astype("Int64").mask(crim_mask))
    return public, cube
