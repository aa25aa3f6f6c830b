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
    the units in no district: the Centre) to the nation, the quarters to the year, and identified plus
    presumed victims to all victims (the catalogue's
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
the smallest other non-zero cell) is suppressed too. Interval propagation misses what several sums of a
crossed table pin together (article × stage × sex with all its margins), so the pattern is then checked
with linear programming (recoverable) and each cell still pinned takes its nearest non-zero neighbour with
it, until none is (confidential). Everything is suppressed in one pass over the union of both tables'
cells and relations (public_outputs), so that no combination of published values recomputes a suppressed
cell; tests/unit/figures/test_disclosure.py plays the attacker over all the files written, with
linear-programming bounds, on its own scenario and on the demo's.
Not modelled: an attacker who knows how the secondary cells were chosen, or outside information.
Pure: no database, no files."""
from __future__ import annotations

import math
from collections import defaultdict, deque

from thb_reporting.core.config import SUPPRESSION_THRESHOLD
from thb_reporting.figures import indicator_catalogue
from thb_reporting.figures.indicators import NATION

DEFAULT_THRESHOLD = SUPPRESSION_THRESHOLD  # (the setting thb_suppression_threshold; its default lives with the others)
SUPPRESSED_UNITS = {"persons", "cases"}  # counts of people and cases; money and activities are not sensitive
CRIM_THB_DIMENSIONS = ("leg_stat", "sex", "citizen", "expl")
# Bounds narrow sum by sum; through a cycle of large counts they creep towards each other one step a visit
# without meeting. Each sum is looked at this many times (on average): on the attacker test's scenario every
# bound that meets had met after three (as many pins as after 100). Propagation only finds pins early and
# cheaply: linear programming (recoverable) has the last word on every pattern. Five visits instead of
# three cost 9 s more of publish at 145 teams, all of it in creeping bounds.
PROPAGATION_VISITS = 3

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


def primary_cells(values, threshold: int = DEFAULT_THRESHOLD) -> list[int]:
    """Positions of the counts suppressed in the first place: 1 to the threshold (zeros are shown)."""
    return [i for i, v in enumerate(values) if 0 < v <= threshold]


def margin_relations(keys: list[tuple], values, totals: tuple) -> list[Relation]:
    """The sums of a cube of counts whose cells are `keys` (one code per dimension) with `values`: along
    each dimension d with a total code totals[d] (None: no total), the cells that differ from a total cell
    only in d add up to it. Only the sums that hold are returned: where a person counts under several
    codes of a dimension (forms of exploitation) its parts add up to more than the total, and that
    inequality tells an attacker less than a sum."""
    index = {key: i for i, key in enumerate(keys)}
    groups: list[Relation] = []
    for d, total in enumerate(totals):
        if total is None:
            continue
        parts = defaultdict(list)
        for key, i in index.items():
            if key[d] != total:
                parts[key[:d] + (total,) + key[d + 1:]].append(i)
        for total_key, members in parts.items():
            t = index.get(total_key)
            if t is not None and sum(values[i] for i in members) == values[t]:
                groups.append((members, [t]))
    return groups


def recoverable(values, suppressed: set[int], groups: list[Relation], movable=frozenset()) -> set[int]:
    """The suppressed cells an attacker pins to one whole number from the published cells, the sums and
    the knowledge that each suppressed count is at least 1: those that no solution of the sums moves by a
    whole person either way (linear programming; a sum the true values do not meet, as where a person
    counts once in a total and twice in its parts, only bounds). Exact where interval propagation (pinned)
    is not: several sums of a crossed table combine (three-way tables with all their margins). A few
    programmes prove most cells movable at once (figures/attacker.py, whose attacker moves a cell up by at
    most REACH × the level: it finds no fewer pinned cells than an unbounded one); each of the others is
    first tried on the sums near it (a cell they pin is pinned), and then takes its own programme over the
    suppressed cells tied to it, whose solution proves every cell it moves. `movable`: cells proven movable under fewer
    suppressed cells, which stay so (suppressing more only frees the attacker's solutions), not looked at
    again."""
    from thb_reporting.figures.attacker import REACH, Attacker

    attacker = Attacker(values, set(suppressed), groups, REACH * DEFAULT_THRESHOLD, counted_once=True)
    cells = [c for c in sorted(suppressed) if c not in movable]
    wanted = [(c, sense, 1) for c in cells for sense in (1, -1) if sense == 1 or values[c] > 1]
    proven = attacker.certify(wanted)
    fixed = set()
    for c in cells:
        for sense in (1, -1) if values[c] > 1 else (1,):
            if (c, 1) in proven or (c, -1) in proven:
                break
            if not attacker.pinned_nearby(c, sense):  # pinned by its neighbours: no need of the rest
                _, moved = attacker.moves(c, sense, 1)
                # the solution is one the attacker cannot rule out: every cell it moves a whole person is free
                proven |= {(i, 1 if d > 0 else -1) for i, d in moved.items() if abs(d) >= 1 - 1e-6}
        if (c, 1) not in proven and (c, -1) not in proven:
            fixed.add(c)
    return fixed


def confidential(values, groups: list[Relation], threshold: int = DEFAULT_THRESHOLD, also=()) -> set[int]:
    """Positions of the counts the rule keeps from the public: primary (1 to the threshold, and `also`:
    cells whose figure another output already hides) and secondary (suppress) over the sums `groups`,
    and then, while an attacker still recovers suppressed cells (recoverable), for each of them the nearest
    non-zero cell tied to it too (one per sum that pins it: a cell chosen for an earlier one of the round
    that shares a sum with it frees it as well). The public tables and the transmissions are suppressed
    with it; a transmission sends the cells exact, flagged confidential."""
    hidden = suppress(values, sorted(set(primary_cells(values, threshold)) | set(also)), groups)
    relations_of = defaultdict(list)
    for g, (parts, totals) in enumerate(groups):
        for i in parts + totals:
            relations_of[i].append(g)
    movable: set[int] = set()
    while fixed := recoverable(values, hidden, groups, movable):
        movable |= hidden - fixed
        added: set[int] = set()
        for cell in sorted(fixed):
            if any(i in added for g in relations_of[cell] for i in groups[g][0] + groups[g][1]):
                continue  # a cell chosen for another one of this round shares a sum with it
            # the nearest non-zero cells not hidden yet: in the sums of the fixed cell, else in the sums of
            # the cells of those sums, and so on
            reached, frontier, choices = set(), {cell}, []
            while frontier and not choices:
                reached |= frontier
                around = {i for c in frontier for g in relations_of[c] for i in groups[g][0] + groups[g][1]}
                choices = [i for i in around if i not in hidden and i not in added and values[i] > 0]
                frontier = around - reached
            if choices:
                added.add(min(choices, key=lambda i: (values[i], i)))
        if not added:
            break  # every cell tied to them is zero or hidden already: nothing more to hide
        hidden = suppress(values, hidden | added, groups)
    return hidden


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


def _smallest_other(values, suppressed: set[int], relation: Relation, shown: frozenset[int] = frozenset()) -> int | None:
    """The cell to suppress next in a relation: its smallest non-zero part not yet suppressed, else its
    smallest other non-zero cell; never one of `shown`."""
    parts, totals = relation
    candidates = ([i for i in parts if i not in suppressed and i not in shown and values[i] > 0]
                  or [i for i in parts + totals if i not in suppressed and i not in shown and values[i] > 0])
    return min(candidates, key=lambda i: (values[i], i)) if candidates else None


def suppress(values, primary, groups: list[Relation], shown: frozenset[int] = frozenset()) -> set[int]:
    """Secondary suppression: returns the set of positions to suppress, primary ones included. First, fast,
    while a relation has exactly one suppressed cell, its smallest other cell (_smallest_other) is
    suppressed too; then, while suppressed cells are pinned, the smallest other cell of each relation that
    pinned one first (or of another relation of that cell). `shown`: cells already published elsewhere
    (a transmission's margins that are public cells), never chosen."""
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
                    choice = _smallest_other(values, suppressed, relation, shown)
                    if choice is not None:
                        suppressed.add(choice)
                        changed = True
        added, fixed = set(), set()
        for cell, g in pinned(values, suppressed, groups).items():
            if g in fixed:
                continue
            choice = next((c for h in [g, *relations_of[cell]]
                           if (c := _smallest_other(values, suppressed, groups[h], shown)) is not None), None)
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
    secondary suppression over the relations of both (confidential: no cell left pinned, checked by linear
    programming); shares computed from a suppressed count are suppressed too. `crim` has the cube's
    dimensions, time and value; `margins` as for crim_thb_relations. joint=False leaves out the relations between the two (for the attacker test)."""
    cells = indicator_rows.reset_index(drop=True)
    units = cells["indicator"].map(lambda name: catalogue[name]["unit"])
    counts = cells[units.isin(SUPPRESSED_UNITS)].reset_index()  # 'index' keeps the position in cells
    crim = crim.reset_index(drop=True)
    values = counts["value"].tolist() + crim["value"].tolist()
    groups = relations(counts, district_of)
    if joint:
        groups += crim_thb_relations(crim, counts, margins, offset=len(counts))
    hidden = confidential(values, groups, threshold)
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
