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
at least 1, and the sums then bound the suppressed cells (a suppressed district of two suppressed
quarters of 1 or more is at least 2, which in the nation's sum may leave its neighbour exactly 1).
The public tables (public_outputs → protected_cells): the secondary cells are chosen by
figures/protection.py at the least loss, so that each small count's interval, as an attacker computes it
by linear programming from everything published, reaches the protection level each way (the rule in
numbers); then no suppressed cell may be left pinned to one whole number by the attacker who knows that a
person counted in two teams or quarters counts once (recoverable; unpinned adds the cheapest neighbour of
each). The transmissions' confidential cells (confidential): the heuristic of figures/suppression.py (the
smallest other cell of each sum that pins one, found by interval propagation), then none left pinned.
Everything is suppressed in one pass over the union of both tables' cells and relations, so that no
combination of published values recomputes a suppressed cell; tests/unit/figures/test_disclosure.py
plays the attacker over all the files written, with linear-programming bounds and intervals, on its own
scenario and on the demo's.
Not modelled: an attacker who knows how the secondary cells were chosen, or outside information.
Pure: no database, no files."""
from __future__ import annotations

import logging
from collections import Counter, defaultdict

from thb_reporting.core.config import PROTECTION_LEVEL, SUPPRESSION_THRESHOLD
from thb_reporting.core.quarters import is_year
from thb_reporting.figures import indicator_catalogue, protection
from thb_reporting.figures.attacker import REACH, Attacker, Relation, moved_enough  # Relation: (parts, totals)
from thb_reporting.figures.indicators import NATION
from thb_reporting.figures.suppression import partnered, pinned, sums_of_cells, suppress  # noqa: F401  (pinned: the tests')

DEFAULT_THRESHOLD = SUPPRESSION_THRESHOLD  # (the setting thb_suppression_threshold; its default lives with the others)
SUPPRESSED_UNITS = {"persons", "cases"}  # counts of people and cases; money and activities are not sensitive
CRIM_THB_DIMENSIONS = ("leg_stat", "sex", "citizen", "expl")
log = logging.getLogger(__name__)


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
    attacker = Attacker(values, set(suppressed), groups, REACH * DEFAULT_THRESHOLD, counted_once=True)
    cells = [c for c in sorted(suppressed) if c not in movable]
    wanted = [(c, sense, 1) for c in cells for sense in (1, -1) if sense == 1 or values[c] > 1]
    need = {(c, sense): needed for c, sense, needed in wanted}
    proven = attacker.certify(wanted)
    fixed = set()
    for c in cells:
        for sense in (1, -1) if values[c] > 1 else (1,):
            if (c, 1) in proven or (c, -1) in proven:
                break
            if not attacker.pinned_nearby(c, sense):  # pinned by its neighbours: no need of the rest
                _, moved = attacker.moves(c, sense, 1)
                proven |= moved_enough(moved, need)  # every cell it moves a whole person is free
        if (c, 1) not in proven and (c, -1) not in proven:
            fixed.add(c)
    return fixed


def confidential(values, groups: list[Relation], threshold: int = DEFAULT_THRESHOLD, also=()) -> set[int]:
    """Positions of the counts the rule keeps from the transmissions' public cells: primary (1 to the
    threshold, and `also`: cells whose figure another output already hides) and secondary (suppress) over
    the sums `groups`, and then none left pinned (unpinned). A transmission sends the cells exact, flagged
    confidential."""
    hidden = suppress(values, sorted(set(primary_cells(values, threshold)) | set(also)), groups)
    return unpinned(values, groups, hidden, widen=lambda cells: suppress(values, cells, groups))


def unpinned(values, groups: list[Relation], hidden: set[int], cost=None, widen=None) -> set[int]:
    """`hidden` and, while an attacker still recovers suppressed cells (recoverable), for each of them the
    nearest non-zero cell tied to it, the cheapest by `cost` (default: the smallest), one per sum that pins
    it (a cell chosen for an earlier one of the round that shares a sum with it frees it as well); `widen`
    (default: partnered) completes each round's pattern."""
    cost = cost or (lambda i: (values[i], i))
    widen = widen or (lambda cells: partnered(values, cells, groups))
    relations_of = sums_of_cells(groups)
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
                added.add(min(choices, key=cost))
        if not added:
            break  # every cell tied to them is zero or hidden already: nothing more to hide
        hidden = widen(hidden | added)
    return hidden


# The order in which protection chooses cells (a quarter's, a year's), per level: the nation's quarters first,
# as the quarter is the reporting period and the nation's quarterly split (victims by sex) the most asked-for
# figure; its year then protects what they leave, at a cost of its own cells rather than theirs
STAGE_OF_LEVEL = {"nation": (0, 1), "district": (2, 2), "team": (3, 3)}
WEIGHT_OF_LEVEL = {"nation": 3, "district": 1, "team": 1}  # the loss of hiding a person, by level
HEADLINE_WEIGHT = 3  # … times this for a cell of a headline indicator (the catalogue's `headline`)


def protected_cells(values, groups: list[Relation], threshold: int, level: int, levels: list[str],
                    names: list[str], periods: list[str]) -> set[int]:
    """The cells the public may not see: the primary ones (1 to the threshold) and the secondary ones that
    protection.protect chooses at the least loss under the rule in numbers (`level`), weighted by the
    cell's level (`levels`: nation, district or team) and whether its indicator (`names`) is a headline,
    chosen in the order of STAGE_OF_LEVEL (by level, and whether `periods` is a quarter or a year); then,
    as a last check with the attacker who knows that a person counted in two teams or quarters counts
    once, none left pinned (unpinned, cheapest first)."""
    headline = set(indicator_catalogue.headlines())
    weights = [WEIGHT_OF_LEVEL[lv] * (HEADLINE_WEIGHT if name in headline else 1) for lv, name in zip(levels, names)]
    hidden, fallbacks = protection.protect(values, primary_cells(values, threshold), groups, weights,
                                           [STAGE_OF_LEVEL[lv][is_year(p)] for lv, p in zip(levels, periods)],
                                           level)
    if fallbacks:  # counts of cells only: no figure of a file
        reasons = Counter(f["reason"] for f in fallbacks)
        log.warning("disclosure control: %d groups of linked cells (%d cells, %d primary) were not solved to the "
                    "end (%s); the pattern is then completed until it meets the rule", len(fallbacks),
                    sum(f["cells"] for f in fallbacks), sum(f["primary"] for f in fallbacks),
                    "; ".join(f"{n} × {reason}" for reason, n in sorted(reasons.items())))
    return unpinned(values, groups, hidden, cost=lambda i: ((values[i] + 1) * weights[i], i))


def public_outputs(indicator_rows, crim, catalogue: dict, district_of: dict[str, str], margins: dict,
                   threshold: int = DEFAULT_THRESHOLD, joint: bool = True, level: int = PROTECTION_LEVEL):
    """The public indicators and the crim_thb cube as they may be published, suppressed together:
    counts of persons and cases from 1 to `threshold` suppressed (value missing, suppressed true) with
    secondary suppression over the relations of both (protected_cells: the rule in numbers at `level`, no
    cell left pinned, checked by linear programming); shares computed from a suppressed count are
    suppressed too. `crim` has the cube's dimensions, time and value; `margins` as for crim_thb_relations.
    joint=False leaves out the relations between the two (for the attacker test)."""
    cells = indicator_rows.reset_index(drop=True)
    units = cells["indicator"].map(lambda name: catalogue[name]["unit"])
    counts = cells[units.isin(SUPPRESSED_UNITS)].reset_index()  # 'index' keeps the position in cells
    crim = crim.reset_index(drop=True)
    values = counts["value"].tolist() + crim["value"].tolist()
    groups = relations(counts, district_of)
    if joint:
        groups += crim_thb_relations(crim, counts, margins, offset=len(counts))
    hidden = protected_cells(values, groups, threshold, level, counts["level"].tolist() + ["nation"] * len(crim),
                             counts["indicator"].tolist() + [""] * len(crim),
                             counts["period"].tolist() + crim["time"].tolist())
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
