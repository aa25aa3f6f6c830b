"""The protection rule in numbers (figures.protection) and what disclosure control hides as a figure
(figures.information_loss): an attacker's interval of each hidden small count, checked by an independent
linear programme written here, and the secondary cells chosen by the mixed-integer programme."""
from __future__ import annotations

import math
import random

import pandas as pd

from thb_reporting.figures import disclosure, protection
from thb_reporting.figures.information_loss import information_loss, loss_lines


def _intervals(values, hidden, groups) -> dict[int, tuple[float, float]]:
    """The attacker of tests/unit/figures/test_disclosure.py on a bare table: every sum holds, each hidden
    count is at least 1, nothing else bounds it; the smallest and largest value of each hidden cell."""
    import numpy as np
    from scipy.optimize import linprog

    cells = sorted(hidden)
    column = {c: j for j, c in enumerate(cells)}
    rows, rhs = [], []
    for parts, totals in groups:
        row, constant = np.zeros(len(cells)), 0.0
        for sign, members in ((1, parts), (-1, totals)):
            for i in members:
                if i in column:
                    row[column[i]] += sign
                else:
                    constant += sign * values[i]
        if row.any():
            rows.append(row), rhs.append(-constant)
    out = {}
    for c, j in column.items():
        bounds = []
        for sense in (1, -1):
            objective = np.zeros(len(cells))
            objective[j] = sense
            result = linprog(objective, A_eq=np.array(rows), b_eq=np.array(rhs), bounds=(1, None), method="highs")
            bounds.append(math.inf if result.status == 3 else sense * result.fun)
        out[c] = tuple(bounds)
    return out


def _unprotected(values, hidden, groups, primary, level) -> set[int]:
    """The primary cells whose interval does not reach `level` above and min(level, value - 1) below."""
    return {c for c, (low, high) in _intervals(values, hidden, groups).items()
            if c in primary and (high < values[c] + level or low > values[c] - min(level, values[c] - 1))}


def _table(rows: list[list[int]]) -> tuple[list[int], list]:
    """A two-way table with its margins, as cells and sums: the cells row by row, then the row totals,
    the column totals and the grand total."""
    n, m = len(rows), len(rows[0])
    values = [v for r in rows for v in r] + [sum(r) for r in rows] + [sum(c) for c in zip(*rows)]
    values.append(sum(values[n * m:n * m + n]))
    row_total, column_total, grand = n * m, n * m + n, n * m + n + m
    groups = [([i * m + j for j in range(m)], [row_total + i]) for i in range(n)]
    groups += [([i * m + j for i in range(n)], [column_total + j]) for j in range(m)]
    groups += [(list(range(row_total, row_total + n)), [grand]), (list(range(column_total, column_total + m)), [grand])]
    return values, groups


def test_the_rule_in_numbers_asks_more_than_not_pinned():
    # 1 + 2 + 30 = 33: hiding the 1 and the 2 leaves each of them in [1, 2]: not pinned, so the
    # heuristic stops there; the rule (4 above) wants the 30 hidden as well
    values, groups = [1, 2, 30, 33], [([0, 1, 2], [3])]
    assert disclosure.suppress(values, [0, 1], groups) == {0, 1}
    assert _unprotected(values, {0, 1}, groups, {0, 1}, 4) == {0, 1}
    assert protection.shortfalls(values, {0, 1}, groups, {0, 1}, 4)
    assert not protection.shortfalls(values, {0, 1}, groups, {0, 1}, 0)  # a spoiled rule sees nothing wrong
    hidden, fallbacks = protection.optimal(values, [0, 1], groups, [1] * 4, level=4)
    assert (hidden, fallbacks) == ({0, 1, 2}, [])
    assert _unprotected(values, hidden, groups, {0, 1}, 4) == set()


def test_a_fractional_pattern_is_audited_with_each_cell_moving_its_share_of_its_range():
    # 1 + 2 + 30 = 33 with the 33 shown: the 1 goes up by 4 only if the 30 goes down by 3 (the 2 gives 1 at
    # most); a pattern that suppresses a tenth of the 30 lets it go down by 2.9, the whole of it by 29
    values, groups = [1, 2, 30, 33], [([0, 1, 2], [3])]
    assert protection.shortfalls(values, {0, 1, 2}, groups, {0, 1}, 4, share={0: 1.0, 1: 1.0, 2: 1.0}) == []
    share = {0: 1.0, 1: 1.0, 2: 0.1}
    short = {cell: (needed, cut) for cell, needed, cut, _ in
             protection.shortfalls(values, {0, 1, 2}, groups, {0, 1}, 4, share=share)}
    assert 0 in short
    needed, cut = short[0]
    assert sum(cut.get(i, 0.0) * x for i, x in share.items()) < needed  # the fractional pattern breaks its cut
    assert sum(cut.get(i, 0.0) for i in (1, 2)) >= needed  # the whole pattern meets it


def test_a_total_an_earlier_stage_showed_is_suppressed_when_its_parts_cannot_protect_under_it():
    # the nation's 5 is decided first (stage 0) and shown, as nothing there is small; its parts are a
    # district's 3 and two 1s (stage 1): the 3 goes up only if the 5 does, as the 1s cannot go down (zeros
    # are shown), so the later stage backtracks and suppresses the 5 rather than leave the 3 to a heuristic
    values, groups = [5, 3, 1, 1], [([1, 2, 3], [0])]
    hidden, fallbacks = protection.optimal(values, [1], groups, [1] * 4, level=1, stages=[0, 1, 1, 1])
    assert fallbacks == []
    assert 0 in hidden
    assert _unprotected(values, hidden, groups, {1}, 1) == set()
    assert protection.protected(values, hidden, groups, {1}, 1)


def test_the_secondary_cells_cost_the_least_and_protect_each_small_count():
    values, groups = _table([[3, 40, 25, 12], [2, 31, 1, 18], [9, 27, 14, 6]])
    primary = set(disclosure.primary_cells(values, 4))
    assert primary == {0, 4, 6}
    heuristic = disclosure.suppress(values, sorted(primary), groups)
    hidden, fallbacks = protection.optimal(values, sorted(primary), groups, [1] * len(values), level=4)
    assert fallbacks == []
    assert _unprotected(values, hidden, groups, primary, 4) == set()
    assert protection.protected(values, hidden, groups, primary, 4)
    assert _unprotected(values, heuristic, groups, primary, 4)  # what the heuristic leaves today
    # no cheaper pattern meets the rule: every pattern with a smaller cost falls short somewhere
    cost = sum(values[i] + 1 for i in hidden)
    others = [i for i in range(len(values)) if i not in primary]
    rng = random.Random(26)
    for _ in range(200):
        pattern = primary | {i for i in others if rng.random() < 0.3}
        if sum(values[i] + 1 for i in pattern) < cost:
            assert _unprotected(values, pattern, groups, primary, 4) or not protection.protected(
                values, pattern, groups, primary, 4)


def test_weights_steer_the_choice_and_the_order_of_the_sums_does_not():
    values, groups = _table([[3, 40, 25, 12], [2, 31, 1, 18], [9, 27, 14, 6]])
    primary = disclosure.primary_cells(values, 4)
    plain, _ = protection.optimal(values, primary, groups, [1] * len(values), level=4)
    shuffled = groups[:]
    random.Random(3).shuffle(shuffled)
    assert protection.optimal(values, primary, shuffled, [1] * len(values), level=4)[0] == plain
    dear = [1] * len(values)
    for i in plain - set(primary):
        dear[i] = 50  # make the chosen secondary cells dear: others are chosen instead
    steered, _ = protection.optimal(values, primary, groups, dear, level=4)
    assert steered - set(primary) != plain - set(primary)
    assert _unprotected(values, steered, groups, set(primary), 4) == set()


def test_the_loss_counts_cells_persons_and_headline_cells_per_output_and_level():
    catalogue = {"victims": {"unit": "persons"}, "prosecution_cases": {"unit": "cases"}, "share_x": {"unit": "share"}}
    exact = pd.DataFrame({"indicator": ["victims", "victims", "victims", "prosecution_cases", "share_x"],
                          "level": ["nation", "nation", "team", "district", "nation"],
                          "value": [3, 41, 2, 7, 0.5]})
    public = exact.assign(suppressed=[True, True, False, True, True])
    cube = pd.DataFrame({"value": [2, 9]})
    loss = {(r["output"], r["level"]): r for r in
            information_loss(exact, public, cube, cube.assign(suppressed=[True, False]), catalogue, 4)}
    assert {k: (r["primary"], r["secondary"], r["persons"], r["cases"], r["headline"]) for k, r in loss.items()} == {
        ("indicators", "nation"): (1, 1, 44, 0, 2), ("indicators", "district"): (0, 1, 0, 7, 0),
        ("indicators", "team"): (0, 0, 0, 0, 0), ("crim_thb", "nation"): (1, 0, 2, 0, 0)}
    assert loss_lines([loss[("indicators", "nation")]]) == [
        "indicators nation: 2 cells suppressed (1 primary, 1 secondary) holding 44 persons and 0 cases; "
        "2 headline cells hidden"]


def test_the_attackers_solver_agrees_with_scipy_and_writes_nothing():
    """attacker.linear_programme (HiGHS through highspy) against scipy's linprog on the same programmes: the
    same optimum, a feasible solution, and on a programme with one optimum the same duals of its equations
    (the cuts are made of them). HiGHS writes a banner to the process's standard output when made: a
    process that solves one writes nothing but its own output."""
    import subprocess
    import sys

    import numpy as np
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix

    from thb_reporting.figures.attacker import linear_programme

    rng = np.random.default_rng(26)
    for _ in range(20):
        n, m_eq, m_ub = 12, 4, 3
        a_eq, a_ub = (csr_matrix(rng.integers(-1, 2, size=(m, n)).astype(float)) for m in (m_eq, m_ub))
        b_ub = rng.uniform(0, 2, size=m_ub)
        bounds = [(-float(rng.integers(0, 3)), float(rng.integers(1, 4))) for _ in range(n)]
        cost = rng.normal(size=n)
        ours = linear_programme(cost, a_eq, np.zeros(m_eq), a_ub, b_ub, bounds)
        theirs = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.zeros(m_eq), bounds=bounds, method="highs")
        assert ours.optimal and theirs.status == 0
        assert math.isclose(ours.fun, theirs.fun, abs_tol=1e-7)
        assert np.allclose(a_eq @ ours.x, 0, atol=1e-7) and (a_ub @ ours.x <= b_ub + 1e-7).all()
    # max x0 + 2 x1 with x0 + x1 = 1, 0 ≤ x ≤ 1: the one optimum x = (0, 1), the equation's dual -2 as scipy's
    one = linear_programme(np.array([-1.0, -2.0]), csr_matrix([[1.0, 1.0]]), np.array([1.0]), None, None, [(0, 1)] * 2)
    scipy_one = linprog([-1.0, -2.0], A_eq=[[1.0, 1.0]], b_eq=[1.0], bounds=[(0, 1)] * 2, method="highs")
    assert np.allclose(one.x, [0, 1]) and np.allclose(one.eq_duals, scipy_one.eqlin.marginals)
    script = ("import numpy as np; from scipy.sparse import csr_matrix; from thb_reporting.figures.attacker import "
              "linear_programme as lp; s = lp(np.array([1.0]), csr_matrix([[1.0]]), np.array([0.0]), None, None, "
              "[(-1, 1)]); print('solved', s.optimal)")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert run.stdout == "solved True\n", run.stdout


def test_a_programme_solved_warm_gives_each_solve_what_a_fresh_solve_gives():
    """attacker.WarmProgramme keeps one programme in its solver and changes the objective and a few bounds
    from one solve to the next: each solve has the optimum a fresh solve of that programme has, and its
    changes do not stay behind for the next one (a bound left changed would shrink later optima)."""
    import numpy as np
    from scipy.sparse import csr_matrix

    from thb_reporting.figures.attacker import WarmProgramme, linear_programme

    rng = np.random.default_rng(24)
    n, m = 40, 15
    a_eq = csr_matrix(rng.integers(-1, 2, size=(m, n)).astype(float))
    bounds = [(-float(rng.integers(0, 3)), 2.0) for _ in range(n)]
    warm = WarmProgramme(a_eq, np.zeros(m), None, None, bounds)
    for _ in range(60):
        columns = sorted(rng.choice(n, size=int(rng.integers(1, 6)), replace=False).tolist())
        costs = rng.normal(size=len(columns))
        bounded = {int(j): (bounds[j][0], float(rng.integers(0, 3))) for j in rng.choice(n, size=2, replace=False)}
        cost = np.zeros(n)
        cost[columns] = costs
        fresh = linear_programme(cost, a_eq, np.zeros(m), None, None,
                                 [bounded.get(j, b) for j, b in enumerate(bounds)])
        solved = warm.solve(columns, costs, bounded)
        assert solved.optimal and fresh.optimal
        assert math.isclose(solved.fun, fresh.fun, abs_tol=1e-7)
        assert np.allclose(a_eq @ solved.x, 0, atol=1e-7)
        assert all(bounded.get(j, b)[0] - 1e-7 <= x <= bounded.get(j, b)[1] + 1e-7
                   for j, (b, x) in enumerate(zip(bounds, solved.x)))


def test_a_programme_that_grows_gives_each_solve_what_a_fresh_solve_gives():
    """attacker.GrowingProgramme (the relaxation of a backtracked component) keeps its rows and its basis
    between solves and takes new rows (covering cuts, sum ≥ bound): each solve has the optimum of a fresh
    solve with all the rows so far, and meets every one of them."""
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_matrix

    from thb_reporting.figures.attacker import GrowingProgramme

    rng = np.random.default_rng(26)
    n = 30
    cost = rng.integers(1, 20, size=n).astype(float)
    lower, upper = np.zeros(n), np.ones(n)
    lower[:3] = 1.0  # primary cells: always suppressed
    growing = GrowingProgramme(cost, np.column_stack([lower, upper]))
    matrix = np.zeros((0, n))
    bound: list[float] = []
    for _ in range(12):
        new = np.where(rng.random((4, n)) < 0.2, rng.integers(1, 4, size=(4, n)), 0).astype(float)
        new[new.sum(axis=1) == 0, 5] = 1.0
        needed = np.minimum(new.sum(axis=1), rng.integers(1, 4, size=4)).astype(float)
        rows = [np.nonzero(r)[0] for r in new]
        starts = np.cumsum([0] + [len(r) for r in rows[:-1]])
        growing.add(needed, starts, np.concatenate(rows), np.concatenate([new[k, r] for k, r in enumerate(rows)]))
        matrix, bound = np.vstack([matrix, new]), bound + needed.tolist()
        solved = growing.solve()
        x = solved.x
        fresh = milp(cost, integrality=np.zeros(n), bounds=Bounds(lower, upper),
                     constraints=[LinearConstraint(csr_matrix(matrix), np.array(bound), np.inf)])
        assert solved.optimal and fresh.status == 0
        assert math.isclose(float(cost @ x), fresh.fun, rel_tol=1e-9, abs_tol=1e-7)
        assert np.all(matrix @ x >= np.array(bound) - 1e-7)
        assert np.all((x >= lower - 1e-9) & (x <= upper + 1e-9))


def test_components_audited_side_by_side_give_what_one_after_another_gives(monkeypatch):
    """Shortfalls audits the components of a pattern in threads (attacker.side_by_side): each thread gets
    the items of one component, in their order, and the cuts come back in the order of the cells, the same
    as with one thread."""
    from thb_reporting.figures import attacker

    tables = [_table([[1, 2, 7, 3], [4, 1, 9, 2], [6, 5, 1, 8]]) for _ in range(3)]
    values, groups = [], []
    for table_values, table_groups in tables:  # three tables side by side: three components
        offset = len(values)
        values += table_values
        groups += [([i + offset for i in parts], [i + offset for i in totals]) for parts, totals in table_groups]
    primary = set(disclosure.primary_cells(values, 2))
    hidden = set(primary)
    runs = {}
    for solvers in (1, 4):
        monkeypatch.setattr(attacker, "SOLVERS", solvers)
        runs[solvers] = protection.shortfalls(values, hidden, groups, primary, 2)
    assert runs[4] == runs[1]
    assert len({cell // len(tables[0][0]) for cell, *_ in runs[4]}) == 3  # short cells in every table

    seen = []
    spy = attacker.Attacker(values, hidden, groups, 4)
    items = [(cell, k) for k, cell in enumerate(sorted(hidden))]
    out = spy.side_by_side(items, lambda mine: seen.append(mine) or [k for _, k in mine])
    assert out == list(range(len(items)))
    component = {cell: spy._reached(cell)[0][0] for cell in hidden}  # its first cell
    assert len(seen) == len(set(component.values())) > 3  # a lone 1 in a table is a component of its own
    assert all(len({component[cell] for cell, _ in mine}) == 1 for mine in seen)
    assert all(mine == sorted(mine) for mine in seen)
