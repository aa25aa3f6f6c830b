"""The attacker of disclosure control, in deviations from the true values: what an attacker who knows every
published cell and every sum can make of the suppressed ones. Used by disclosure (is any suppressed cell
pinned?) and by protection (is each primary cell's interval wide enough, and the cuts of its programme).
Its own module so that neither of the two imports the other for it. Pure: no database, no files."""
from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from collections import defaultdict
from typing import Any, NamedTuple

REACH = 2  # the attacker moves a cell up by at most REACH × level (knows more than the real one)
SOLVERS = min(4, os.cpu_count() or 1)  # programmes solved at once: threads, as HiGHS lets go of the interpreter lock

Relation = tuple[list[int], list[int]]


class Solution(NamedTuple):
    optimal: bool
    fun: float  # the objective's value (minimised)
    x: Any  # numpy array: the value of each column
    eq_duals: Any  # numpy array: the dual value of each equation (as scipy's linprog gives eqlin.marginals)


_solver = threading.local()
_output = threading.Lock()  # file descriptor 1 is the process's: one thread at a time turns it away and back


@contextlib.contextmanager
def _without_output():
    """File descriptor 1 to /dev/null for a moment: what a library writes there from C++ (not sys.stdout)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no standard output at all: nothing to keep clean
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _new_highs():
    from highspy import Highs

    with _output, _without_output():  # HiGHS writes its banner to the process's standard output as it is made
        highs = Highs()
    highs.silent()
    return highs


def _model(cost, a_eq, b_eq, a_ub, b_ub, bounds):
    """The programme as HiGHS takes it (a HighsLp), and the number of its rows that are inequalities."""
    import numpy as np
    from highspy import HighsLp, MatrixFormat
    from scipy.sparse import csc_matrix, vstack

    n = len(cost)
    parts = [m for m in (a_ub, a_eq) if m is not None]
    matrix = (vstack(parts) if len(parts) > 1 else parts[0]).tocsc() if parts else csc_matrix((0, n))
    n_ub = 0 if a_ub is None else a_ub.shape[0]
    equal = np.asarray(b_eq if a_eq is not None else [], dtype=float)
    limits = np.asarray(bounds, dtype=float).reshape(n, 2)
    lp = HighsLp()
    lp.num_col_, lp.num_row_ = n, matrix.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_, lp.col_upper_ = limits[:, 0].copy(), limits[:, 1].copy()
    lp.row_lower_ = np.concatenate([np.full(n_ub, -np.inf), equal])
    lp.row_upper_ = np.concatenate([np.asarray(b_ub if a_ub is not None else [], dtype=float), equal])
    lp.a_matrix_.format_ = MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, matrix.shape[0]
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = matrix.indptr, matrix.indices, matrix.data
    return lp, n_ub


def _run(highs, n_ub: int) -> Solution:
    import numpy as np
    from highspy import HighsModelStatus

    highs.run()
    if highs.getModelStatus() != HighsModelStatus.kOptimal:
        return Solution(False, math.nan, None, None)
    solution = highs.getSolution()
    return Solution(True, highs.getInfo().objective_function_value, np.array(solution.col_value),
                    np.array(solution.row_dual)[n_ub:])


def linear_programme(cost, a_eq, b_eq, a_ub, b_ub, bounds) -> Solution:
    """min cost·x subject to a_eq x = b_eq, a_ub x ≤ b_ub (sparse matrices, or None) and bounds [(low, high)]:
    HiGHS through highspy, one solver per thread kept between programmes. scipy's linprog, which also runs
    HiGHS, spent more time checking and converting its inputs than HiGHS took to solve the audits' small
    programmes (the demo's publish takes a quarter to a third less time through highspy)."""
    if getattr(_solver, "highs", None) is None:
        _solver.highs = _new_highs()
    lp, n_ub = _model(cost, a_eq, b_eq, a_ub, b_ub, bounds)
    _solver.highs.passModel(lp)
    return _run(_solver.highs, n_ub)


class WarmProgramme:
    """One programme kept in a solver of its own between solves that change only the objective and a few
    bounds: each solve starts from the basis the last one ended in (a warm start), which takes a few
    pivots where a programme over a whole component solved afresh takes tens of milliseconds. Any optimal
    solution serves (the attacker's best deviation is the same; its moves and cut are as valid), and the
    solves come in the same order in every run, so the result is the same in every run."""

    def __init__(self, a_eq, b_eq, a_ub, b_ub, bounds):
        import numpy as np

        self.width = len(bounds)
        self.bounds = np.asarray(bounds, dtype=float).reshape(self.width, 2)
        lp, self.n_ub = _model(np.zeros(self.width), a_eq, b_eq, a_ub, b_ub, bounds)
        self.highs = _new_highs()
        self.highs.passModel(lp)

    def solve(self, columns, costs, bounded: dict[int, tuple[float, float]] | None = None) -> Solution:
        """min Σ costs·x over `columns` (the others cost nothing), with the columns of `bounded` between
        their bounds instead of the programme's for this solve only."""
        import numpy as np

        columns = np.asarray(columns, dtype=np.int32)
        highs = self.highs
        highs.changeColsCost(len(columns), columns, np.asarray(costs, dtype=float))
        for j, (low, high) in (bounded or {}).items():
            highs.changeColBounds(j, low, high)
        try:
            return _run(highs, self.n_ub)
        finally:  # back to the programme as it was made, keeping the basis
            highs.changeColsCost(len(columns), columns, np.zeros(len(columns)))
            for j in bounded or {}:
                highs.changeColBounds(j, *self.bounds[j])


class GrowingProgramme:
    """min cost·x within bounds, subject to rows (each sum ≥ its bound) added between solves, kept in a
    solver of its own: each solve starts from the basis the last one ended in, which the new rows leave
    dual feasible (a few dual simplex pivots, where a programme solved afresh starts from nothing). Its
    solves come in the same order in every run: the same solutions."""

    def __init__(self, cost, bounds):
        lp, _ = _model(cost, None, None, None, None, bounds)
        self.highs = _new_highs()
        self.highs.passModel(lp)

    def add(self, lower, starts, columns, values) -> None:
        """Rows sum(values·x[columns]) ≥ lower, each row's terms from its start on (compressed rows)."""
        import numpy as np

        self.highs.addRows(len(lower), np.asarray(lower, dtype=float), np.full(len(lower), np.inf), len(values),
                           np.asarray(starts, dtype=np.int32), np.asarray(columns, dtype=np.int32),
                           np.asarray(values, dtype=float))

    def solve(self) -> Solution:
        return _run(self.highs, 0)


class Attacker:
    """The attacker's deviations d (the value minus the true value) of the suppressed cells: A d = 0 over the
    sums that hold a suppressed cell, -(a - 1) ≤ d ≤ M (the shown cells do not move).
    counted_once: a sum that the true values do not meet (a person reported by two teams counts once in
    their district, a programme once in the year: its parts add up to more than its total) tells the
    attacker only its direction, s·(A d) ≥ -|slack|, s the sign of the true slack; without it every sum
    binds as an equation (an attacker who knows more: the cuts of `optimal` need it so).
    share: a fractional pattern (cell → x between 0 and 1, the linear relaxation of protection's programme)
    whose cells move that share of their range (Fischetti and Salazar's separation: a cut found so holds for
    every pattern, and the fractional pattern breaks it)."""

    def __init__(self, values, hidden: set[int], groups: list[Relation], reach: float, counted_once: bool = False,
                 share: dict[int, float] | None = None):
        self.values, self.hidden, self.reach, self.share = values, hidden, reach, share or {}
        self.rows_of = defaultdict(list)
        self.rows: list[dict[int, int]] = []
        self.slack: list[float] = []  # the true values' sum(parts) - sum(totals) of each row (0 where it binds)
        self._component_of: dict[int, tuple[list[int], list[int]]] = {}
        self._programme_of: dict[int, tuple] = {}  # a component's first cell → its programme, built once
        self._warm_of: dict[int, WarmProgramme] = {}  # … and kept in a solver of its own
        self._terms_of: dict[int, tuple] = {}  # … and the terms of its sums (_component_terms)
        for parts, totals in groups:
            if any(i in hidden for i in parts + totals):
                coefficients: dict[int, int] = defaultdict(int)
                for i in parts:
                    coefficients[i] += 1
                for i in totals:
                    coefficients[i] -= 1
                row = {i: a for i, a in coefficients.items() if a}
                for i in row:
                    if i in hidden:
                        self.rows_of[i].append(len(self.rows))
                self.rows.append(row)
                self.slack.append(sum(a * values[i] for i, a in row.items()) if counted_once else 0)
        import numpy as np

        # the same terms as arrays, row after row (the matrices of programmes are sliced from them)
        self._start = np.concatenate([[0], np.cumsum([len(r) for r in self.rows], dtype=np.int64)]).astype(np.int64)
        self._cell = np.fromiter((i for r in self.rows for i in r), dtype=np.int64, count=int(self._start[-1]))
        self._coefficient = np.fromiter((a for r in self.rows for a in r.values()), dtype=float,
                                        count=int(self._start[-1]))

    def _row_terms(self, rows):
        """The terms of the sums `rows`: each term's position among them, its cell and its coefficient."""
        import numpy as np

        rows = np.asarray(rows, dtype=np.int64)
        starts = self._start[rows]
        lengths = self._start[rows + 1] - starts
        position = np.repeat(np.arange(len(rows)), lengths)
        index = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
        return position, self._cell[index], self._coefficient[index]

    def _programme(self, rows: list[int], column: dict[int, int], width: int):
        """The attacker's sums among `rows` over the columns `column` as (A_eq, b_eq, A_ub, b_ub)."""
        import numpy as np
        from scipy.sparse import csr_matrix

        column_of = np.full(len(self.values), -1, dtype=np.int64)
        column_of[np.fromiter(column.keys(), dtype=np.int64, count=len(column))] = np.fromiter(
            column.values(), dtype=np.int64, count=len(column))

        def matrix(selected, signs):
            position, cell, coefficient = self._row_terms(selected)
            columns = column_of[cell]
            kept = columns >= 0
            return csr_matrix((coefficient[kept] * signs[position[kept]], (position[kept], columns[kept])),
                              shape=(len(selected), width))

        binding = [r for r in rows if not self.slack[r]]
        loose = [r for r in rows if self.slack[r]]
        # s·(A d) ≥ -|slack|  ⇔  -s·(A d) ≤ |slack|
        return (matrix(binding, np.ones(len(binding))) if binding else None,
                np.zeros(len(binding)) if binding else None,
                matrix(loose, np.array([-1.0 if self.slack[r] > 0 else 1.0 for r in loose])) if loose else None,
                np.array([abs(self.slack[r]) for r in loose]) if loose else None)

    def _bounds(self, cells: list[int]) -> list[tuple[float, float]]:
        """Each cell's deviation: down to 1 (zeros are shown), up by the attacker's reach (times its share)."""
        share = self.share
        return [(-(self.values[c] - 1) * share.get(c, 1.0), self.reach * share.get(c, 1.0)) for c in cells]

    def _reached(self, cell: int) -> tuple[list[int], list[int]]:
        """The suppressed cells linked to `cell` through sums, and those sums (sorted): its component,
        found once for all of its cells."""
        if cell in self._component_of:
            return self._component_of[cell]
        cells, sums, frontier = {cell}, set(), [cell]
        while frontier:
            i = frontier.pop()
            for r in self.rows_of[i]:
                if r not in sums:
                    sums.add(r)
                    for j in self.rows[r]:
                        if j in self.hidden and j not in cells:
                            cells.add(j)
                            frontier.append(j)
        found = (sorted(cells), sorted(sums))
        for i in cells:
            self._component_of[i] = found
        return found

    def certify(self, wanted: list[tuple[int, int, float]], rounds: int = 12) -> set[tuple[int, int]]:
        """(cell, sense) of `wanted` (cell, sense, needed) proven to move `needed` that way. Each round one
        programme over every suppressed cell pushes the cells still unproven, each its own way with its own
        weight (random, from a fixed seed: a generic corner of the attacker's solutions, where most cells
        sit at a bound; the same in every run), and every wanted move that solution makes is proven. Rounds
        end when one proves nothing new; the caller tries the rest one by one."""
        import numpy as np
        from scipy.sparse import coo_matrix, hstack, vstack

        cells = sorted(self.hidden)
        column = {c: j for j, c in enumerate(cells)}
        a_eq, b_eq, a_ub, b_ub = self._programme(list(range(len(self.rows))), column, len(cells))
        bounds = self._bounds(cells)
        random = np.random.default_rng(2026)  # a fixed seed: the same proof, and the same pattern, every run
        proven: set[tuple[int, int]] = set()
        # first the cells of value 1 going up, the only way they can go (zeros are shown): their deviations
        # are never negative, so one programme can maximise their capped sum (t ≤ d, 0 ≤ t ≤ needed) and
        # prove every one of them that any solution moves enough, all at once
        upward = [w for w in wanted if w[1] == 1 and self.values[w[0]] == 1]
        if upward and self.rows:
            n = len(upward)
            link = coo_matrix(([-1.0] * n + [1.0] * n, (list(range(n)) * 2, [column[c] for c, _, _ in upward]
                                                          + [len(cells) + k for k in range(n)])),
                              shape=(n, len(cells) + n)).tocsr()  # t - d ≤ 0
            def widened(matrix):  # the sums, with a column of zeros for each t
                return None if matrix is None else hstack([matrix, coo_matrix((matrix.shape[0], n))]).tocsr()

            result = linear_programme(np.concatenate([np.zeros(len(cells)), -np.ones(n)]),
                                      widened(a_eq), b_eq,
                                      link if a_ub is None else vstack([link, widened(a_ub)]).tocsr(),
                                      np.zeros(n) if a_ub is None else np.concatenate([np.zeros(n), b_ub]),
                                      bounds + [(0, needed) for _, _, needed in upward])
            if result.optimal:
                proven |= {(c, 1) for (c, _, needed), t in zip(upward, result.x[len(cells):]) if t >= needed - 1e-6}
        left = [w for w in wanted if (w[0], w[1]) not in proven]
        warm = WarmProgramme(a_eq, b_eq, a_ub, b_ub, bounds) if left and self.rows else None
        for _ in range(rounds):
            if not left or warm is None:
                break
            senses: dict[int, list[int]] = defaultdict(list)
            for c, sense, _ in left:
                senses[c].append(sense)
            columns, objective = [], []
            for c, options in sorted(senses.items()):
                sense = options[int(random.integers(len(options)))] if len(options) > 1 else options[0]
                columns.append(column[c])
                objective.append(-sense * random.uniform(0.5, 1.5))  # the programme minimises
            result = warm.solve(columns, objective)
            if not result.optimal:
                break
            moved = [w for w in left if w[1] * result.x[column[w[0]]] >= w[2] - 1e-6]
            if not moved:
                break
            proven |= {(c, s) for c, s, _ in moved}
            left = [w for w in left if (w[0], w[1]) not in proven]
        return proven

    def side_by_side(self, items: list[tuple], work) -> list:
        """work(the items of one component) for each component that `items` (each a tuple, its cell first)
        touch, components side by side (SOLVERS threads); each item's result, in the order of `items`.
        `work` gets a component's items in their order and returns one result for each: a component's
        programmes (and their solvers) are used by one thread only, and the result is the same as one
        component after another."""
        from concurrent.futures import ThreadPoolExecutor

        positions: dict[int, list[int]] = defaultdict(list)
        for k, item in enumerate(items):
            positions[self._reached(item[0])[0][0]].append(k)
        out: list = [None] * len(items)
        with ThreadPoolExecutor(max_workers=SOLVERS) as solvers:
            for ks, results in zip(positions.values(),
                                   solvers.map(lambda ks: work([items[k] for k in ks]), positions.values())):
                for k, result in zip(ks, results, strict=True):
                    out[k] = result
        return out

    def _component_programme(self, cell: int):
        """The programme of `cell`'s component (its cells, their columns, its sums and the matrices), built
        once for all of its cells: only the objective and one bound differ from one cell to the next."""
        cells, sums = self._reached(cell)
        if cells[0] not in self._programme_of:
            column = {c: j for j, c in enumerate(cells)}
            self._programme_of[cells[0]] = (cells, sums, column, self._programme(sums, column, len(cells)))
        return self._programme_of[cells[0]]

    def _near(self, cell: int, depth: int):
        """The sums within `depth` steps of `cell` (a sum is a step from each suppressed cell it holds), its
        cells, their columns and the matrices: a part of the attacker's programme."""
        cells, frontier = {cell}, {cell}
        sums: set[int] = set()
        for _ in range(depth):
            reached = {r for i in frontier for r in self.rows_of[i]} - sums
            sums |= reached
            frontier = {j for r in reached for j in self.rows[r] if j in self.hidden} - cells
            cells |= frontier
        ordered, rows = sorted(cells), sorted(sums)
        column = {c: j for j, c in enumerate(ordered)}
        return ordered, rows, column, self._programme(rows, column, len(ordered))

    def most_nearby(self, cell: int, sense: int, needed: float, depth: int = 4) -> float:
        """The largest deviation of `cell` its way (at most `needed`) under the sums near it alone. Fewer
        sums give the attacker more freedom, never less: this bounds the deviation under all of them from
        above, and a small programme finds it (most cells found pinned are pinned by their neighbours)."""
        return -self._linprog(cell, sense, needed, self._near(cell, depth)).fun

    def pinned_nearby(self, cell: int, sense: int, depth: int = 4) -> bool:
        """Whether the sums near `cell` alone keep it from moving a whole person its way (then all do)."""
        return self.most_nearby(cell, sense, 1, depth) < 1 - 1e-6

    def _warm(self, programme) -> WarmProgramme:
        """The solver of a component's programme (_component_programme), made once for all of its cells."""
        cells, _, _, (a_eq, b_eq, a_ub, b_ub) = programme
        if cells[0] not in self._warm_of:
            self._warm_of[cells[0]] = WarmProgramme(a_eq, b_eq, a_ub, b_ub, self._bounds(cells))
        return self._warm_of[cells[0]]

    def _solve(self, cell: int, sense: int, needed: float):
        """The solution for moving `cell` as far as `needed` its way, over its component; None where no
        sum holds it."""
        programme = self._component_programme(cell)
        return self._linprog(cell, sense, needed, programme, self._warm(programme)) if programme[1] else None

    def _linprog(self, cell: int, sense: int, needed: float, programme, warm: WarmProgramme | None = None
                 ) -> Solution:
        """Moving `cell` as far as `needed` its way over `programme`: in `warm`, its solver, where the
        programme is a component's (solved for many cells), else afresh (the sums near one cell)."""
        import numpy as np

        cells, _, column, (a_eq, b_eq, a_ub, b_ub) = programme
        (low, high), = self._bounds([cell])
        bound = (low, needed) if sense == 1 else (max(low, -needed), high)  # enough is enough
        if warm is not None:
            result = warm.solve([column[cell]], [-sense], {column[cell]: bound})
        else:
            objective = np.zeros(len(cells))
            objective[column[cell]] = -sense
            bounds = self._bounds(cells)
            bounds[column[cell]] = bound
            result = linear_programme(objective, a_eq, b_eq, a_ub, b_ub, bounds)
        if not result.optimal:  # the true values are a solution and every cell is bounded: never, but never silently
            raise ArithmeticError(f"the attacker's programme for cell {cell} was not solved to optimality")
        return result

    def moves(self, cell: int, sense: int, needed: float) -> tuple[float, dict[int, float]]:
        """The largest deviation of `cell` its way (at most `needed`), and the deviation of every cell of its
        component in that solution: each is a move the attacker cannot rule out, so the one programme
        proves other cells movable too."""
        result = self._solve(cell, sense, needed)
        if result is None:
            return 0.0, {}
        cells = self._reached(cell)[0]
        return -result.fun, dict(zip(cells, result.x))

    def deviation(self, cell: int, sense: int, needed: float, depth: int | None = None
                  ) -> tuple[float, dict[int, float], dict[int, float]]:
        """The largest deviation of `cell` up (sense 1) or down (-1), at most `needed`; the cut's
        coefficients {cell: coefficient} (sum over cells of coefficient·x ≥ needed holds in every pattern
        that gives this deviation); and the deviation of every cell of its component in that solution (as
        `moves`: moves the attacker cannot rule out). `depth`: over the sums within that many steps of the
        cell only, which bounds the deviation from above (fewer sums, more freedom), and whose cut holds too
        (its multipliers are those of all the sums, zero for the others); its solution proves nothing of
        the others (no moves)."""
        programme = self._near(cell, depth) if depth else self._component_programme(cell)
        cells, sums, column, (_, _, a_ub, _) = programme
        if a_ub is not None:
            raise ValueError("the cuts are made for an attacker whose sums all bind (counted_once=False)")
        if not sums:
            return 0.0, {}, {}
        import numpy as np

        result = self._linprog(cell, sense, needed, programme, None if depth else self._warm(programme))
        best = -result.fun
        moved = {} if depth else dict(zip(cells, result.x))
        members, inverse, row, coefficient, values, hidden = (self._terms(sums) if depth
                                                               else self._component_terms(cells[0], sums))
        cut: dict[int, float] = {}
        best_covered = 0.0
        for candidate in (result.eq_duals, -result.eq_duals):  # either sign is a valid bound
            # r = e_c - Aᵀu over every cell of the sums (the cell's own term is left out below)
            reduced = -np.bincount(inverse, weights=coefficient * candidate[row], minlength=len(members))
            bound = np.minimum(needed, np.maximum(reduced * self.reach, -reduced * (values - 1)))
            keep = (np.abs(reduced) > 1e-9) & (members != cell)
            covered = float(bound[keep & hidden].sum())  # what the suppressed cells give already: less is tighter
            if not cut or covered < best_covered:
                cut, best_covered = dict(zip(members[keep].tolist(), bound[keep].tolist())), covered
        return best, {i: v for i, v in cut.items() if v > 1e-9 and self.values[i] > 0}, moved  # zeros stay shown

    def _component_terms(self, first: int, sums: list[int]):
        """_terms of the sums of the component whose first cell is `first`, built once for all its cells."""
        if first not in self._terms_of:
            self._terms_of[first] = self._terms(sums)
        return self._terms_of[first]

    def _terms(self, sums: list[int]):
        """The sums' terms over every cell they hold, suppressed or shown (a cut may ask for either): the
        cells, each term's cell (as an index into them), sum and coefficient, the cells' values and whether
        each is suppressed; numpy arrays."""
        import numpy as np

        row, cell, coefficient = self._row_terms(sums)
        members, inverse = np.unique(cell, return_inverse=True)
        return (members, inverse, row, coefficient,
                np.array([self.values[i] for i in members.tolist()], dtype=float),
                np.array([i in self.hidden for i in members.tolist()], dtype=bool))


def moved_enough(moved: dict[int, float], need: dict[tuple[int, int], float]) -> set[tuple[int, int]]:
    """(cell, way) of every wanted move (`need`: (cell, way) → how far) that a solution of the attacker's
    (`moved`: cell → deviation) makes: a move the attacker cannot rule out, proven for that cell too."""
    proven = set()
    for i, d in moved.items():
        way = 1 if d > 0 else -1
        if abs(d) >= need.get((i, way), math.inf) - 1e-6:
            proven.add((i, way))
    return proven
