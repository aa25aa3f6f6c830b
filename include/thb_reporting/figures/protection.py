"""The protection rule in numbers, and the secondary cells that meet it at the least loss of information:
every publish chooses the public tables' suppressed cells with `protect` (disclosure.protected_cells).

The rule. An attacker knows every published cell, every sum that ties the cells (disclosure's relations)
and that each suppressed count is at least 1 (zeros are shown). For a suppressed cell c of value a its
feasible interval is the smallest and largest value c takes over every solution (linear programming). A
primary cell is protected when its interval reaches at least `level` above its value and at least
min(level, a - 1) below it (down to 1: "at least 1" stays known, as every suppressed count is), or, where
no pattern can give that much, as far as suppressing every non-zero cell would (`attainable`: a count of 3
made of three teams' 1s can never be shown to go down, as the teams' zeros are shown). The level is the
setting thb_protection_level (PROTECTION_LEVEL, 1 by default; docs/disclosure.md says why). A secondary
cell must not be pinned to one value (its interval is not a point).

The method (Fischetti and Salazar's, as τ-ARGUS's "optimal" method): a mixed-integer programme chooses the
cells to suppress (x = 1) at the least cost, the sum of (value + 1) × weight over the suppressed cells
(weights: `weights`, heavier on headline indicators and the nation level); it starts from one constraint
per primary cell, sum and direction (the other cells of that sum must be able to absorb the protection
level: a part going down by at most its value - 1, a total going up), then each chosen pattern is audited
with the attacker's linear programmes, and every cell found short adds the constraint its dual solution
gives (a "cut": for any multipliers u of the sums, the attacker's largest deviation is at most
sum over cells of max(r·M, -r·(a - 1))·x, r = e_c - Aᵀu), and the programme is solved again, until no
cell is short. The attacker of the cuts may move a cell up by at most M = 2·level and takes every sum as
exact (knows more than the real one), so a pattern that passes protects against the real one too.
Solved in stages (τ-ARGUS's modular method), in the order the caller gives (disclosure.STAGE_OF_LEVEL: the
nation's quarters, its year, the districts', the teams'), each with the cells before it fixed; per
connected component of the sums over the non-zero cells, in the order of their cells. Each solve of a
component may explore NODES_PER_SOLVE nodes of HiGHS's search (a budget of work, not of time: the same
pattern however busy the machine). Where an earlier stage showed a cell that the component cannot meet the
rule without (a total that the cells under it cannot protect), the component backtracks: the earlier
stages' shown cells of its sums become free at REOPEN times their cost, its cuts are first found on the
linear relaxation (cheap linear solves instead of integer ones), and its integer rounds are limited to
BACKTRACKED_ROUNDS, after which its pattern is taken as it is. Where a component finds no pattern within
its budgets, it falls back to the heuristic (suppression.suppress). `fallbacks` lists both kinds (the caller
logs them as a warning). The stages do not see each other's sums, so `close` then audits the whole pattern
and suppresses, for each cell still short, the cheapest cells of its cut, until none is.
Pure: no database, no files."""
from __future__ import annotations

from collections import defaultdict

from thb_reporting.core.config import PROTECTION_LEVEL
from thb_reporting.figures import suppression
from thb_reporting.figures.attacker import REACH, SOLVERS, Attacker, GrowingProgramme, Relation, moved_enough

NODES_PER_SOLVE = 500  # branch-and-bound nodes of one solve of a component (not seconds: the result must not
# depend on the machine's load); the best pattern found within them is taken
ROUNDS = 60  # audits (and re-solves) of one component at most
REOPEN = 10  # an earlier stage's shown cell costs this many times its own cost, suppressed after all
RELAXED_ROUNDS = 100  # audits of a backtracked component's linear relaxation at most
BACKTRACKED_ROUNDS = 3  # integer rounds of a backtracked component at most; its pattern then goes to close, which
# completes it (measured: docs/performance.md; a few rounds more cost seconds each and gain next to nothing)
NEAR = 4  # a cell is first audited over the sums within this many steps of it (figures/attacker.py)



def requirement(value: int, level: int) -> tuple[int, int]:
    """How far below and above its value a primary cell's interval must reach."""
    return min(level, max(value - 1, 0)), level


def components(values, groups: list[Relation], among=None) -> list[list[int]]:
    """The cells (non-zero; of `among` if given) tied together by sums, each component sorted, in the order
    of its first cell."""
    parent: dict[int, int] = {}

    def root(i):
        while parent.setdefault(i, i) != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for parts, totals in groups:
        cells = [i for i in parts + totals if values[i] > 0 and (among is None or i in among)]
        for i in cells:
            root(i)
        for i in cells[1:]:
            parent[root(i)] = root(cells[0])
    members = defaultdict(list)
    for i in sorted(parent):
        members[root(i)].append(i)
    return sorted(members.values())


def shortfalls(values, hidden: set[int], groups: list[Relation], primary: set[int], level: int, reachable=None,
               settled=frozenset(), share=None):
    """The suppressed cells the rule leaves unprotected: (cell, needed, cut, applies) with the constraint
    sum(cut·x) ≥ needed·(x_cell if applies else 1). Most cells are proven protected together (certify);
    each of the others takes its own linear programme, whose dual gives its cut. `reachable`: (cell,
    sense) → the most that any pattern can give (attainable), where less than the level. `settled`: cells
    found protected under fewer suppressed cells, which stay so (suppressing more never narrows an
    interval), not looked at again. `share`: a fractional pattern (Attacker), whose primary cells alone are
    audited (a secondary cell's "not pinned" is a matter of whole cells)."""
    attacker = Attacker(values, hidden, groups, REACH * level, share=share)
    wanted = []  # (cell, sense, needed)
    for cell in sorted(hidden - set(settled)):
        if cell in primary:
            down, up = requirement(values[cell], level)
            wanted += [(cell, sense, need) for sense, needed in ((1, up), (-1, down))
                       if (need := min(needed, (reachable or {}).get((cell, sense), needed))) > 0]
        elif share is None:  # a secondary cell: not pinned (it may move up, or else down)
            wanted += [(cell, 1, 1), (cell, -1, 1)]
    proven = attacker.certify(wanted)
    need = {(cell, sense): needed for cell, sense, needed in wanted}

    def audit(items):  # the wanted moves of one component, in order: a solution proves others of its component
        found, mine = [], set()
        for cell, sense, needed in items:
            ways = ((cell, sense),) if cell in primary else ((cell, sense), (cell, -sense))
            if any(way in proven or way in mine for way in ways):
                found.append(None)
                continue
            if cell not in primary and sense == -1:
                found.append(None)
                continue  # a secondary cell that moves neither way: one cut, for the way up
            best, cut, _ = attacker.deviation(cell, sense, needed, depth=NEAR)  # short here is short (its cut holds)
            if best >= needed - 1e-6:
                best, cut, moved = attacker.deviation(cell, sense, needed)
                mine |= moved_enough(moved, need)  # the others it moves
            short = best < needed - 1e-6 and (cell in primary or attacker.deviation(cell, -1, 1)[0] < 1 - 1e-6)
            found.append((cell, needed, cut, cell not in primary) if short else None)
        return found

    return [f for f in attacker.side_by_side(wanted, audit) if f is not None]


def attainable(values, groups: list[Relation], primary, level: int) -> dict[tuple[int, int], float]:
    """(cell, sense) → the most any pattern gives that primary cell that way, where less than the rule
    asks: its deviation with every non-zero cell suppressed (suppressing more never narrows an interval).
    A count of 3 made of three teams' 1s can never be shown to go down: zeros are shown. Most needs are
    proven attainable at once (certify); each of the others takes a programme, whose solution proves
    every other need it meets."""
    attacker = Attacker(values, {i for i, v in enumerate(values) if v > 0}, groups, REACH * level)
    wanted: list[tuple[int, int, float]] = [(cell, sense, needed) for cell in sorted(primary) for sense, needed
                                            in zip((-1, 1), requirement(values[cell], level)) if needed > 0]
    need = {(cell, sense): needed for cell, sense, needed in wanted}
    proven = attacker.certify(wanted)
    out = {}
    for cell, sense, needed in wanted:
        if (cell, sense) in proven:
            continue
        # its neighbours alone hold it: no need of the rest (two steps: with every cell suppressed, four reach
        # most of a table)
        if attacker.most_nearby(cell, sense, needed, depth=2) < 1e-6:
            out[(cell, sense)] = 0.0
            continue
        best, moved = attacker.moves(cell, sense, needed)
        proven |= moved_enough(moved, need)  # it meets other needs too
        if best < needed - 1e-6:
            out[(cell, sense)] = max(best, 0.0)
    return out


def close(values, hidden: set[int], groups: list[Relation], primary, level: int, weights,
          needs: dict | None = None, rounds: int = 100) -> set[int]:
    """`hidden` and the cells that make it meet the rule: while cells are short (shortfalls, with the
    attainable `needs`), each short cell's cut is met by its cells of least cost per unit of cover
    ((value + 1) × weight / coefficient), a sum left with one suppressed cell takes its smallest other
    (suppression.partnered). Where the stages of `optimal` did not see each other's sums, this mends it;
    it never narrows an interval (it only suppresses more)."""
    hidden = set(hidden)
    primary = set(primary)
    settled: set[int] = set()
    for _ in range(rounds):
        short = shortfalls(values, hidden, groups, primary, level, needs, settled)
        settled |= hidden - {cell for cell, *_ in short}
        added: set[int] = set()
        for _cell, needed, cut, _applies in short:
            covered = sum(v for i, v in cut.items() if i in hidden or i in added)
            for i in sorted((i for i in cut if i not in hidden and i not in added),
                            key=lambda i: ((values[i] + 1) * weights[i] / cut[i], i)):
                if covered >= needed - 1e-6:
                    break
                added.add(i)
                covered += cut[i]
        if not added:
            return hidden
        hidden = suppression.partnered(values, hidden | added, groups)
    return hidden


def protect(values, primary, groups: list[Relation], weights, stages, level: int = PROTECTION_LEVEL,
            nodes: int = NODES_PER_SOLVE) -> tuple[set[int], list[dict]]:
    """The cells to suppress under the rule, chosen at the least loss: optimal secondary suppression in
    stages (`stages`: disclosure.STAGE_OF_LEVEL), each primary cell's need capped at what any pattern can
    give it (attainable), and then the gaps between the stages closed (close).
    Returns the cells and the components not solved to the end (optimal)."""
    needs = attainable(values, groups, primary, level)
    hidden, fallbacks = optimal(values, primary, groups, weights, level, nodes, stages, needs=needs)
    return close(values, hidden, groups, primary, level, weights, needs), fallbacks


def protected(values, hidden: set[int], groups: list[Relation], primary, level: int) -> bool:
    return not shortfalls(values, hidden, groups, set(primary), level)


def _first_cuts(values, cells: set[int], primary: set[int], groups: list[Relation], level: int, needs=None):
    """One constraint per primary cell, sum and direction: the other cells of the sum absorb its move; and
    what each primary cell can reach at most ((cell, sense) → persons, where less than its need): a sum
    whose other cells cannot absorb the need even all suppressed (its parts are 1s and zeros, or its
    total counts a person once who is in two of its parts) caps it, as no pattern can do better."""
    moves: list = []
    others: list = []
    reachable: dict[tuple[int, int], float] = {}
    for parts, totals in groups:
        members = [(i, 1) for i in parts if i in cells] + [(i, -1) for i in totals if i in cells]
        for p, side in members:
            if p not in primary:
                continue
            for sense, needed in zip((-1, 1), requirement(values[p], level)):
                # moving p by sense: a cell on p's side moves the other way (down: by a - 1 at most),
                # a cell on the other side moves the same way
                coefficients = {}
                for i, s in members:
                    goes_down = (s == side) == (sense == 1)
                    if i != p and (v := min(needed, values[i] - 1) if goes_down else needed) > 0:
                        coefficients[i] = v
                reachable[(p, sense)] = min(needed, reachable.get((p, sense), (needs or {}).get((p, sense), needed)),
                                              sum(coefficients.values()))
                moves.append((p, sense, coefficients))
        for j, _ in members if len(members) > 1 else ():  # never the only suppressed cell of a sum
            others.append((j, 1, {i: 1 for i, _ in members if i != j}, True))
    cuts = [(p, reachable[(p, sense)], {i: min(v, reachable[(p, sense)]) for i, v in coefficients.items()}, False)
            for p, sense, coefficients in moves if reachable[(p, sense)] > 0]
    return cuts + others, reachable


def optimal(values, primary, groups: list[Relation], weights, level: int = PROTECTION_LEVEL,
            nodes: int = NODES_PER_SOLVE, stages=None, needs: dict | None = None) -> tuple[set[int], list[dict]]:
    """The cells to suppress (primary ones included) at the least cost that meet the rule, and the
    components not solved to the end ({stage, cells, primary, reason}: `_solve`). `weights[i]`: the cost of
    suppressing cell i per person (and per cell). `stages[i]`: cells of stage 0 are decided first, on
    the sums among them alone, then those of stage 1 with the sums that reach no later stage, the cells
    decided before fixed (shown or suppressed: a suppressed one is protected again in the sums of the
    stage), and so on (τ-ARGUS's modular method: the nation's table, then each district's, then each team's).
    `needs`: what any pattern can give a primary cell at most (attainable)."""
    from concurrent.futures import ThreadPoolExecutor

    stages = stages or [0] * len(values)
    primary = {i for i in primary if values[i] > 0}
    hidden: set[int] = set()
    fallbacks = []
    for stage in sorted(set(stages)):
        usable = [g for g in groups if all(stages[i] <= stage for i in g[0] + g[1])]
        free = {i for g in usable for i in g[0] + g[1] if stages[i] == stage and values[i] > 0}
        sums_of = defaultdict(list)
        for k, g in enumerate(usable):
            for i in g[0] + g[1]:
                if i in free:
                    sums_of[i].append(k)
        earlier = frozenset(hidden)  # the components of a stage share no cell: each sees the earlier stages only

        def component(cells):
            cell_set = set(cells)
            local = [usable[k] for k in sorted({k for i in cells for k in sums_of[i]})]
            fixed = sorted({i for g in local for i in g[0] + g[1] if i not in cell_set and values[i] > 0})
            guarded = (primary & cell_set) | (earlier.intersection(fixed))
            if not guarded:
                return set(), None
            chosen, reason = _solve(values, cells, fixed, earlier, primary, local, weights, level, nodes, needs)
            note = {"stage": stage, "cells": len(cells), "primary": len(primary & cell_set), "reason": reason}
            if chosen is not None:  # with the earlier stages' shown cells it suppressed after all
                return chosen - (set(fixed) & earlier), note if reason else None
            chosen = suppression.suppress(values, sorted(guarded), local, frozenset(i for i in fixed if i not in earlier))
            return chosen & cell_set, note

        # HiGHS lets go of the interpreter while it solves: the components of a stage are solved side by
        # side, and taken in their order (the same pattern as one after another)
        with ThreadPoolExecutor(max_workers=SOLVERS) as solvers:
            for chosen, fallback in solvers.map(component, components(values, usable, among=free)):
                hidden |= chosen
                if fallback:
                    fallbacks.append(fallback)
    return hidden | primary, fallbacks


def _solve(values, free: list[int], fixed: list[int], hidden: set[int], primary: set[int], groups, weights, level,
           nodes, needs=None):
    """The cheapest pattern of the cells `free` that meets the rule over `groups`, with the cells `fixed`
    as an earlier stage left them (suppressed if in `hidden`); and why not, if not (a reason with a pattern:
    the pattern after BACKTRACKED_ROUNDS, which `close` completes; with None: none at all).
    Where the earlier stages showed a cell that the rule cannot do without (a total that the component's
    cells cannot protect under), their shown cells become free at REOPEN times their cost (τ-ARGUS's
    modular method backtracks so), and the pattern may suppress them. Then, the constraints are first found
    on the linear relaxation (Fischetti and Salazar: an audit of its fractional pattern gives the same cuts,
    and a linear solve costs a hundredth of an integer one; each starts from the last one's basis), up to
    RELAXED_ROUNDS times, before the integer programme is solved again."""
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_matrix

    cells = free + fixed
    column = {c: j for j, c in enumerate(cells)}
    cost = np.array([(values[c] + 1) * weights[c] for c in free] + [0.0] * len(fixed))
    on = [c in primary or c in hidden for c in cells[len(free):]]
    lower = np.array([1.0 if c in primary else 0.0 for c in free] + [1.0 if h else 0.0 for h in on])
    upper = np.array([1.0] * len(free) + [1.0 if h else 0.0 for h in on])
    guarded = primary & set(cells)
    first, reachable = _first_cuts(values, set(cells), guarded, groups, level, needs)

    def meetable(new) -> bool:  # by the cells allowed, all suppressed (every coefficient is positive)
        return all(sum(v for i, v in coefficients.items() if upper[column[i]] > 0) >= needed - 1e-6
                   for _, needed, coefficients, _ in new)

    cuts: list = []  # every constraint so far, and the same as compressed rows:
    starts: list[int] = []  # where each one's terms start,
    columns: list[int] = []  # their columns,
    data: list[float] = []  # their coefficients,
    rhs: list[float] = []  # and its bound (sum ≥ it)

    def add(new) -> None:
        cuts.extend(new)
        for cell, needed, coefficients, applies in new:
            starts.append(len(data))
            columns.extend(column[i] for i in coefficients)
            data.extend(coefficients.values())
            if applies:  # only when the cell itself is suppressed: sum - needed·x_cell ≥ 0
                columns.append(column[cell])
                data.append(-needed)
            rhs.append(0.0 if applies else needed)

    def solved():
        matrix = csr_matrix((data, columns, starts + [len(data)]), shape=(len(rhs), len(cells)))
        constraints = [LinearConstraint(matrix, np.array(rhs), np.inf)] if rhs else []
        return milp(cost, integrality=np.ones(len(cells)), bounds=Bounds(lower, upper), constraints=constraints,
                    options={"node_limit": nodes, "presolve": True})

    def backtracked() -> bool:
        """The earlier stages' shown cells free at their cost times REOPEN, and the cuts of the linear
        relaxation found; False where no pattern meets the rule even so."""
        for j, c in enumerate(cells):
            if upper[j] == 0:
                upper[j], cost[j] = 1.0, (values[c] + 1) * weights[c] * REOPEN
        if not meetable(cuts):
            return False
        settled: set[int] = set()  # cells found protected in an earlier relaxation: enough to find cuts
        relaxation = GrowingProgramme(cost, np.column_stack([lower, upper]))  # each round warm from the last
        given = 0  # cuts in it
        for _ in range(RELAXED_ROUNDS):
            if len(rhs) > given:
                start = starts[given]
                relaxation.add(rhs[given:], [t - start for t in starts[given:]], columns[start:], data[start:])
                given = len(rhs)
            result = relaxation.solve()
            if not result.optimal:
                return False
            share = {c: float(v) for c, v in zip(cells, result.x) if v > 1e-6}
            found = shortfalls(values, set(share), groups, guarded, level, reachable, settled, share=share)
            if not found:
                break
            settled |= set(share) - {cell for cell, *_ in found}
            add(found)
            if not meetable(found):
                return False
        return True

    add(first)
    rounds_since = None  # integer rounds since backtracking
    if not meetable(cuts):
        rounds_since = 0
        if not backtracked():
            return None, "no pattern meets the rule"
    for _ in range(ROUNDS):
        result = solved()
        if result.status == 2:
            return None, "no pattern meets the rule"
        if result.x is None:  # none found within the nodes (status 1); with one, the best found is taken
            return None, f"no pattern found within {nodes} nodes"
        chosen = {c for c, x in zip(cells, result.x) if x > 0.5}
        found = shortfalls(values, chosen, groups, guarded, level, reachable)
        if not found:
            return chosen, ""
        add(found)
        if rounds_since is None and not meetable(found):
            rounds_since = 0
            if not backtracked():
                return None, "no pattern meets the rule"
        elif rounds_since is not None:
            rounds_since += 1
            if not meetable(found):
                return None, "no pattern meets the rule"
            if rounds_since >= BACKTRACKED_ROUNDS:
                return chosen, f"completed after {BACKTRACKED_ROUNDS} rounds"  # close completes it
    return None, f"not protected after {ROUNDS} rounds"
