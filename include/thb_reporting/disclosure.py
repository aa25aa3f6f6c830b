"""Disclosure control for everything that leaves the ministries: counts from 1 to the threshold are
suppressed, and further cells are suppressed until no suppressed cell can be recomputed from the
published totals.

The published counts are tied by sums: the categories of a breakdown add up to its total, the teams of a
district to the district and the districts to the nation, the quarters to the year, and identified plus
presumed victims to all victims. Within every such relation, one suppressed cell alone could be
recomputed by subtraction; so while any relation has exactly one suppressed cell, the smallest other
non-zero cell of that relation (or, where all others are zero, its total) is suppressed too. Zeros are
shown. The result is checked by a test that plays the attacker."""
from __future__ import annotations

from collections import defaultdict

DEFAULT_THRESHOLD = 4
SUPPRESSED_UNITS = {"persons", "cases"}  # counts of people and cases; money and activities are not sensitive
ADDITIVE_BREAKDOWNS = {"sex", "age_group", "citizenship", "migration_status"}  # partition the total


def relations(cells, district_of: dict[str, str]) -> list[list[int]]:
    """Groups of row positions in `cells` (indicator, level, area_code, period, breakdown, category) that
    are tied by a sum: [members..., total]. A member that is not published is zero and left out."""
    index = {key: i for i, key in enumerate(zip(cells["indicator"], cells["level"], cells["area_code"],
                                                 cells["period"], cells["breakdown"], cells["category"]))}
    groups: list[list[int]] = []
    categories = defaultdict(list)
    areas = defaultdict(list)
    quarters = defaultdict(list)
    for key, i in index.items():
        indicator, level, area, period, breakdown, category = key
        if breakdown in ADDITIVE_BREAKDOWNS:
            categories[(indicator, level, area, period, breakdown)].append(i)
        if level == "team":
            areas[(indicator, "district", district_of.get(area), period, breakdown, category)].append(i)
        elif level == "district":
            areas[(indicator, "nation", "RS", period, breakdown, category)].append(i)
        if len(period) == 6:  # 2026Q1
            quarters[(indicator, level, area, period[:4], breakdown, category)].append(i)
    for (indicator, level, area, period, _), members in categories.items():
        total = index.get((indicator, level, area, period, "total", "total"))
        if total is not None:
            groups.append(members + [total])
    for margins in (areas, quarters):
        for key, members in margins.items():
            total = index.get(key)
            if total is not None:
                groups.append(members + [total])
    for level, area, period in {(k[1], k[2], k[3]) for k in index if k[0] == "victims"}:
        total = index.get(("victims", level, area, period, "total", "total"))
        parts = [index.get(("persons_by_status", level, area, period, "status", s)) for s in ("possible_victim", "identified_victim")]
        if total is not None:
            groups.append([p for p in parts if p is not None] + [total])
    return groups


def suppress(values, primary, groups: list[list[int]]):
    """Secondary suppression: returns the set of positions to suppress, primary ones included."""
    suppressed = set(primary)
    changed = True
    while changed:
        changed = False
        for group in groups:
            hidden = [i for i in group if i in suppressed]
            if len(hidden) != 1:
                continue
            members, total = group[:-1], group[-1]
            candidates = [i for i in members if i not in suppressed and values[i] > 0]
            if not candidates:
                candidates = [i for i in group if i not in suppressed and values[i] > 0] or [total]
            choice = min(candidates, key=lambda i: (values[i], i))
            if choice not in suppressed:
                suppressed.add(choice)
                changed = True
    return suppressed


def public_indicators(indicator_rows, catalogue: dict, district_of: dict[str, str], threshold: int = DEFAULT_THRESHOLD):
    """The indicators as they may be published: counts of persons and cases from 1 to `threshold`
    suppressed (value missing, suppressed true) with secondary suppression; shares computed from a
    suppressed count are suppressed too."""
    cells = indicator_rows.reset_index(drop=True)
    units = cells["indicator"].map(lambda name: catalogue[name]["unit"])
    counts = cells[units.isin(SUPPRESSED_UNITS)].reset_index()  # 'index' keeps the position in cells
    values = counts["value"].tolist()
    primary = [i for i, v in enumerate(values) if 0 < v <= threshold]
    hidden = suppress(values, primary, relations(counts, district_of))
    suppressed = set(counts.loc[sorted(hidden), "index"])
    mask = cells.index.isin(suppressed)
    # a share is a count over victims: hide it when either is hidden
    hidden_keys = {(r.level, r.area_code, r.period, r.indicator, r.breakdown, r.category) for r in cells[mask].itertuples()}
    numerator = {"share_receiving_service": "victims_receiving_service", "share_in_reintegration": "victims_in_reintegration"}
    for pos, r in enumerate(cells.itertuples()):
        if r.indicator in numerator:
            keys = [(r.level, r.area_code, r.period, numerator[r.indicator], r.breakdown, r.category),
                    (r.level, r.area_code, r.period, "victims", "total", "total")]
            if any(k in hidden_keys for k in keys):
                mask[pos] = True
    out = cells.copy()
    out["suppressed"] = mask
    out.loc[mask, "value"] = None
    return out
