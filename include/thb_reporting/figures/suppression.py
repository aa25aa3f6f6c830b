"""The heuristic of secondary suppression: interval propagation (pinned) finds the suppressed cells that
the published cells and the sums leave one value, and the smallest other cell of the sum that pins one is
suppressed too (suppress); a sum with exactly one suppressed cell takes its smallest other at once
(partnered). Fast, and short of linear programming: disclosure.recoverable checks what it leaves, and
protection.optimal chooses at less loss. Its own module so that disclosure and protection both use it
without importing each other. Pure: no database, no files."""
from __future__ import annotations

import math
from collections import defaultdict, deque

from thb_reporting.figures.attacker import Relation

# Bounds narrow sum by sum; through a cycle of large counts they creep towards each other one step a visit
# without meeting. Each sum is looked at this many times (on average): on the attacker test's scenario every
# bound that meets had met after three (as many pins as after 100). Propagation only finds pins early and
# cheaply: linear programming (recoverable) has the last word on every pattern. Five visits instead of
# three cost 9 s more of publish at 145 teams, all of it in creeping bounds.
PROPAGATION_VISITS = 3


def sums_of_cells(groups: list[Relation]) -> dict[int, list[int]]:
    """Cell → the positions in `groups` of the sums that hold it."""
    relations_of = defaultdict(list)
    for g, (parts, totals) in enumerate(groups):
        for i in parts + totals:
            relations_of[i].append(g)
    return relations_of


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
    by: dict[int, int] = {}
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


def partnered(values, suppressed, groups: list[Relation], shown: frozenset[int] = frozenset()) -> set[int]:
    """`suppressed` and, while a sum holds exactly one suppressed cell, its smallest other (_smallest_other):
    a cell alone in a sum is given away by it."""
    suppressed = set(suppressed)
    changed = True
    while changed:
        changed = False
        for relation in groups:
            if sum(i in suppressed for i in relation[0] + relation[1]) == 1:
                choice = _smallest_other(values, suppressed, relation, shown)
                if choice is not None:
                    suppressed.add(choice)
                    changed = True
    return suppressed


def suppress(values, primary, groups: list[Relation], shown: frozenset[int] = frozenset()) -> set[int]:
    """Secondary suppression: returns the set of positions to suppress, primary ones included. First, fast,
    while a relation has exactly one suppressed cell, its smallest other cell (_smallest_other) is
    suppressed too; then, while suppressed cells are pinned, the smallest other cell of each relation that
    pinned one first (or of another relation of that cell). `shown`: cells already published elsewhere
    (a transmission's margins that are public cells), never chosen."""
    suppressed = set(primary)
    relations_of = sums_of_cells(groups)
    while True:
        suppressed = partnered(values, suppressed, groups, shown)
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
