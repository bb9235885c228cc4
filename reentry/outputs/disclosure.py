"""Disclosure control (privacy.md): the one module every published table passes through.

Primary suppression hides every count below the threshold (10), and every share whose numerator
or denominator is hidden. Secondary suppression then makes sure no hidden count can be worked
out from what is shown: the `all` rows of a table are sums of their parts, so the hidden cells
are unknowns of a system of linear equations, and counts are never negative. A hidden cell is
exactly recoverable when its smallest and largest possible values coincide (`recoverable`: one
linear program for the hidden zeros, then the null space of the sums, per group of hidden cells
that share sums). The complementary cells are chosen by a mixed-integer program (`suppress`):
the cheapest set, where a cell costs its size and ten times more per step of aggregation, so
small detail cells go first and a published total only where no detail cell will do. Hidden
values are None (shown as suppressed), never zero.

Recoding comes first and elsewhere: rare levels of sex and age band are counted with a
neighbour in the marts (`breakdown_levels`), and quarters are published without break-downs
(`tables.indicators`), so that fewer cells are small to begin with.

Two refinements keep the equations true to the table: a dimension may be a hierarchy (a quarter
adds up to its year, the years to `all`), and a dimension whose parts do not cover its total
(releases by partner: non-participants have no partner) gets an unpublished remainder cell per
sum, which the attacker does not see and which is therefore an unknown like a hidden cell; a
dimension whose parts may add up to more than their total (persons with several partners) gets
an unpublished overlap, subtracted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse.csgraph import connected_components

THRESHOLD = 10
TOTAL = "all"
SUPPRESSED_SUFFIX = "_suppressed"


@dataclass(frozen=True)
class Equation:
    """cells[total] = sum(cells[parts]) - sum(cells[minus]), by row position in a slice; `dim`
    is the dimension summed over. `minus` holds an unpublished overlap (persons in several
    parts) where the parts add up to more than their total."""

    total: int
    parts: tuple[int, ...]
    dim: str = ""
    minus: tuple[int, ...] = ()


def equations(
    frame: pl.DataFrame,
    dims: Sequence[str],
    total: str = TOTAL,
    parents: dict[str, dict[str, str]] | None = None,
) -> list[Equation]:
    """The sums a table shows: for each dimension, the rows of a parent value add up to the
    parent's row where every other dimension is equal. A value's parent is `total` unless
    `parents[dim]` names another (a quarter's year)."""
    parents = parents or {}
    rows = frame.select(dims).with_row_index("_pos")
    out: list[Equation] = []
    for dim in dims:
        others = [d for d in dims if d != dim]
        mapping = parents.get(dim, {})
        parent = pl.col(dim).replace_strict(mapping, default=total) if mapping else pl.lit(total)
        parts = rows.filter(pl.col(dim) != total).with_columns(parent.alias("_parent"))
        if parts.is_empty():
            continue
        grouped = parts.group_by([*others, "_parent"]).agg(pl.col("_pos").alias("_pos_parts"))
        joined = rows.join(
            grouped, left_on=[*others, dim], right_on=[*others, "_parent"], how="inner"
        )
        out += [
            Equation(int(t), tuple(int(p) for p in ps), dim)
            for t, ps in zip(joined["_pos"], joined["_pos_parts"], strict=True)
        ]
    return out


class _Structure:
    """The sums of one slice as a sparse matrix (equations x cells: -1 for the total, +1 for
    each part), with the equations each cell appears in."""

    def __init__(self, n_cells: int, eqs: list[Equation]):
        self.n_cells = n_cells
        self.eqs = eqs
        sizes = np.array([1 + len(eq.parts) + len(eq.minus) for eq in eqs], dtype=np.int64)
        self.rows = np.repeat(np.arange(len(eqs)), sizes)
        self.cols = np.fromiter(
            (c for eq in eqs for c in (eq.total, *eq.parts, *eq.minus)),
            np.int64,
            count=int(sizes.sum()),
        )
        self.signs = np.fromiter(
            (s for eq in eqs for s in (-1.0, *(1.0,) * len(eq.parts), *(-1.0,) * len(eq.minus))),
            float,
            count=int(sizes.sum()),
        )
        self.matrix = sparse.csr_matrix(
            (self.signs, (self.rows, self.cols)), shape=(len(eqs), n_cells)
        )

    def key(self) -> tuple:
        return (self.n_cells, tuple((eq.total, eq.parts, eq.minus) for eq in self.eqs))


def _pinned_by_sums(block: np.ndarray) -> np.ndarray:
    """Columns of `block` that every solution of block @ d = 0 leaves at zero: their unit
    vector lies in the row space (the null space's basis vanishes there)."""
    if block.shape[1] == 0:
        return np.zeros(0, dtype=bool)
    if block.shape[0] == 0:
        return np.zeros(block.shape[1], dtype=bool)
    _, s, vt = np.linalg.svd(block, full_matrices=True)
    rank = int((s > 1e-9 * max(block.shape) * (s[0] if s.size else 1)).sum())
    basis = vt[rank:]
    if basis.shape[0] == 0:
        return np.ones(block.shape[1], dtype=bool)
    return np.abs(basis).max(axis=0) <= 1e-9


def _stuck_zeros(matrix: np.ndarray, zeros: np.ndarray) -> np.ndarray:
    """Which hidden zeros cannot grow: the attacker's feasible moves from the true values are
    the directions d with matrix @ d = 0 that do not push a zero below zero (d_z >= 0). One
    linear program finds every zero some move can raise (moves add up, so one move raises them
    all: maximise the number of raised zeros, each capped at 1)."""
    n, k = matrix.shape[1], zeros.size
    # Variables: d (n, free), s (k, in [0, 1]); maximise sum(s) with d_z - s_z >= 0.
    cost = np.concatenate([np.zeros(n), -np.ones(k)])
    a_eq = np.hstack([matrix, np.zeros((matrix.shape[0], k))]) if matrix.size else None
    a_ub = np.zeros((k, n + k))
    a_ub[np.arange(k), zeros] = -1.0
    a_ub[np.arange(k), n + np.arange(k)] = 1.0
    bounds = [(None, None)] * n + [(0, 1)] * k
    result = linprog(
        cost,
        A_ub=a_ub,
        b_ub=np.zeros(k),
        A_eq=a_eq,
        b_eq=np.zeros(matrix.shape[0]) if a_eq is not None else None,
        bounds=bounds,
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"disclosure control: linear program failed ({result.message})")
    return zeros[result.x[n:] < 0.5]


def _components(structure: _Structure, hidden: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The hidden cells in groups that share no sum with each other, each with the sums that
    touch it: (cells, equations). A hidden cell's range depends only on its group's sums."""
    unknown = np.flatnonzero(hidden)
    if unknown.size == 0:
        return []
    restricted = structure.matrix[:, unknown]
    touching = np.flatnonzero(restricted.getnnz(axis=1))
    pattern = (abs(restricted[touching]) > 0).astype(np.int8)
    graph = (pattern.T @ pattern).tocsr()
    n, labels = connected_components(graph, directed=False)
    out = []
    eq_labels = labels[pattern.indices[pattern.indptr[:-1]]] if touching.size else labels[:0]
    for label in range(n):
        cells = unknown[labels == label]
        eqs = touching[eq_labels == label] if touching.size else touching
        out.append((cells, eqs))
    return out


def recoverable(
    values: np.ndarray, hidden: np.ndarray, eqs: list[Equation], structure: _Structure | None = None
) -> np.ndarray:
    """Positions of hidden cells an attacker can pin to one value from the shown cells, the
    sums and the rule that counts are never negative.

    From the true values, the attacker's uncertainty is the set of moves d along which all sums
    stay true (matrix @ d = 0) and no hidden zero turns negative. Zeros that no move can raise
    are pinned (to zero); fixing them, the moves span a linear space, and a cell is pinned
    exactly when that space never moves it. Hidden cells that share no sum are independent, so
    each connected group is solved on its own (small) system.

    Counts are whole numbers, so a cell whose every move is shorter than one is pinned too (a
    zero that can only rise by 0.5 is a zero): the moves that remain are bounded by the other
    hidden cells' values (`_narrow`)."""
    values = np.asarray(values, dtype=float)
    structure = structure or _Structure(values.size, eqs)
    pinned: list[np.ndarray] = []
    for cells, eq_rows in _components(structure, hidden):
        block = structure.matrix[eq_rows][:, cells].toarray()
        zeros = np.flatnonzero(values[cells] == 0)
        stuck = _stuck_zeros(block, zeros) if zeros.size else zeros
        fixed = np.zeros((stuck.size, cells.size))
        fixed[np.arange(stuck.size), stuck] = 1.0
        exact = _pinned_by_sums(np.vstack([block, fixed]))
        pinned.append(cells[exact])
        if not exact.all():
            pinned.append(cells[_narrow(block, values[cells], ~exact)])
    return np.sort(np.concatenate(pinned)) if pinned else np.zeros(0, dtype=np.int64)


def _narrow(block: np.ndarray, values: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Which candidate cells of a group of hidden cells an attacker can confine to a range
    narrower than one: moves d with block @ d = 0 and values + d >= 0. Two linear programs
    find the cells that can rise by one and those that can fall by one (each capped at one,
    maximising how many; repeated on the rest while any is found); the rest are measured one
    by one (largest rise plus largest fall)."""
    n = values.size
    todo = np.flatnonzero(candidates)

    generator = np.random.default_rng(0)

    def reach(sign: float, cells: np.ndarray) -> np.ndarray:
        # Variables d (n), s (k) in [0, 1] and u (k) >= 0: maximise sum(w s) - eps sum(u) with
        # s <= sign * d + u (u lets a cell move the other way at a small cost). The weights
        # differ a little, so that the optimum lifts whole cells rather than halves.
        k = cells.size
        cost = np.concatenate([np.zeros(n), -generator.uniform(0.5, 1.5, k), np.full(k, 1e-3)])
        a_ub = np.zeros((k, n + 2 * k))
        a_ub[np.arange(k), cells] = -sign
        a_ub[np.arange(k), n + np.arange(k)] = 1.0
        a_ub[np.arange(k), n + k + np.arange(k)] = -1.0
        a_eq = np.hstack([block, np.zeros((block.shape[0], 2 * k))])
        bounds = [(-v, None) for v in values] + [(0, 1)] * k + [(0, None)] * k
        result = linprog(
            cost,
            A_ub=a_ub,
            b_ub=np.zeros(k),
            A_eq=a_eq,
            b_eq=np.zeros(block.shape[0]),
            bounds=bounds,
            method="highs",
        )
        if result.status != 0:
            raise RuntimeError(f"disclosure control: linear program failed ({result.message})")
        x = result.x
        # A cell counts as lifted by the move itself, not by its slack.
        return np.minimum(x[n : n + k], sign * x[cells])

    for sign in (1.0, -1.0):
        # One move rarely lifts every cell at once: repeat on the cells not yet lifted.
        misses = 0
        while todo.size and misses < 2:
            lifted = reach(sign, todo) >= 1 - 1e-7
            misses = 0 if lifted.any() else misses + 1
            todo = todo[~lifted]
    narrow = []
    for cell in todo:
        width = 0.0
        for sign in (1.0, -1.0):
            cost = np.zeros(n)
            cost[cell] = -sign
            result = linprog(
                cost,
                A_eq=block,
                b_eq=np.zeros(block.shape[0]),
                bounds=[(-v, 1.0 if i == cell else None) for i, v in enumerate(values)],
                method="highs",
            )
            if result.status == 0:
                width += min(1.0, abs(result.x[cell]))
        if width < 1 - 1e-7:
            narrow.append(cell)
    return np.array(narrow, dtype=np.int64)


_STRUCTURAL: dict[tuple, frozenset[int]] = {}


def _structural(structure: _Structure) -> frozenset[int]:
    """Cells the sums pin even with nothing shown: zero by the table's own structure (two
    break-downs of one total that leave a category no room). No publication reveals them.
    Depends on the sums only, so it is computed once per shape of table."""
    key = structure.key()
    if key not in _STRUCTURAL:
        if len(_STRUCTURAL) > 256:
            _STRUCTURAL.clear()
        everything = np.ones(structure.n_cells, dtype=bool)
        pinned = [
            cells[_pinned_by_sums(structure.matrix[rows][:, cells].toarray())]
            for cells, rows in _components(structure, everything)
        ]
        _STRUCTURAL[key] = frozenset(int(c) for p in pinned for c in p)
    return _STRUCTURAL[key]


def cell_costs(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """What hiding a cell costs readers: its size (small cells are cheap: they are often
    hidden anyway, and say little), times ten per step of aggregation (a year above its
    quarters, a total above its parts), so that a total is hidden only where no detail cell
    will do."""
    return (1.0 + np.maximum(np.asarray(values, dtype=float), 0)) * np.power(10.0, levels / 2)


# Rounds of cuts before `suppress` hides whole protection paths instead, and rounds in all.
_CUTS_BEFORE_PATHS = 20
_ROUNDS = 200


def _protection_path(
    values: np.ndarray, structure: _Structure, cell: int, hidden: np.ndarray, costs: np.ndarray
) -> np.ndarray:
    """Cells which, hidden, let an attacker's estimate of `cell` rise by one: the support of
    the cheapest move d with every sum kept (matrix @ d = 0), d[cell] = 1 and no count below
    zero, where moving a shown cell costs its cost and moving a hidden one almost nothing
    (one linear program; d = up - down). With them hidden, the cell's range is at least one
    wide whatever else is hidden."""
    n = values.size
    matrix = structure.matrix
    weight = np.where(hidden, 1e-6, np.maximum(costs, 1e-6))
    pick = sparse.csr_matrix(([1.0, -1.0], ([0, 0], [cell, n + cell])), shape=(1, 2 * n))
    result = linprog(
        np.concatenate([weight, weight]),
        A_eq=sparse.vstack([sparse.hstack([matrix, -matrix]), pick]).tocsr(),
        b_eq=np.concatenate([np.zeros(matrix.shape[0]), [1.0]]),
        bounds=[(0, None)] * n + [(0, max(v, 0.0)) for v in values],
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError("disclosure control could not hide the table safely")
    move = result.x[:n] - result.x[n:]
    return np.flatnonzero(np.abs(move) > 1e-9)


def suppress(
    values: np.ndarray,
    eqs: list[Equation],
    threshold: int = THRESHOLD,
    unpublished: np.ndarray | None = None,
    levels: np.ndarray | None = None,
    costs: np.ndarray | None = None,
    structure: _Structure | None = None,
) -> np.ndarray:
    """Hidden mask: primary (below the threshold) plus the complementary cells of least total
    cost (`cell_costs`) such that no hidden cell can be recovered.

    A mixed-integer program (scipy's HiGHS) chooses the complementary cells: y_c = 1 hides
    cell c; primary cells and `unpublished` ones (remainders) are hidden; every sum holding a
    hidden cell holds at least one other hidden cell (else it gives the cell away); minimise
    the cost of what is hidden. Patterns that are still recoverable through several sums or
    through hidden zeros (checked exactly by `recoverable`) get one more constraint each: hide
    something next to that group of hidden cells (or give up one of its complementary cells),
    and the program is solved again."""
    values = np.asarray(values, dtype=float)
    n = values.size
    unpublished = np.zeros(n, dtype=bool) if unpublished is None else unpublished
    structure = structure or _Structure(n, eqs)
    if levels is None:
        totals = {eq.total for eq in eqs}
        levels = np.array([2.0 * (c in totals) for c in range(n)])
    costs = cell_costs(values, levels) if costs is None else np.asarray(costs, dtype=float)
    costs = np.where(unpublished, 0.0, costs)
    primary = (values < threshold) | unpublished
    if not eqs or not primary.any():
        return primary.copy()
    structural = _structural(structure)
    guarded = np.array([c not in structural and not unpublished[c] for c in range(n)])
    # Every sum with a hidden (guarded) cell i holds another hidden cell: sum_{j != i} y_j >= y_i.
    # A hidden zero that is a part can only grow if a non-zero part or the total of the sum
    # is hidden too (a hidden zero beside it cannot shrink): those count, not other zeros.
    entry_eq, entry_cell = structure.rows, structure.cols
    keep = guarded[entry_cell]
    entry_eq, entry_cell, entry_sign = entry_eq[keep], entry_cell[keep], structure.signs[keep]
    members = structure.matrix[entry_eq].tocoo()
    k = members.row
    counts = ~(
        (values[members.col] == 0)
        & (members.data > 0)
        & (values[entry_cell[k]] == 0)
        & (entry_sign[k] > 0)
    )
    counts &= members.col != entry_cell[k]
    singleton = sparse.csr_matrix(
        (
            np.concatenate([np.ones(int(counts.sum())), -np.ones(entry_cell.size)]),
            (
                np.concatenate([k[counts], np.arange(entry_cell.size)]),
                np.concatenate([members.col[counts], entry_cell]),
            ),
        ),
        shape=(entry_cell.size, n),
    )
    cuts: list[tuple[np.ndarray, np.ndarray]] = []
    pinned_anyway: set[int] | None = None
    lower = primary.astype(float)
    for iteration in range(_ROUNDS):
        blocks = [singleton]
        rhs_low = [np.zeros(entry_cell.size)]
        for plus, minus in cuts:
            row = np.zeros(n)
            row[plus] = 1.0
            row[minus] = -1.0
            blocks.append(sparse.csr_matrix(row))
            rhs_low.append(np.array([1.0 - minus.size]))
        result = milp(
            costs,
            integrality=np.ones(n),
            bounds=Bounds(lower, np.ones(n)),
            constraints=LinearConstraint(
                sparse.vstack(blocks).tocsr(), np.concatenate(rhs_low), np.inf
            ),
            options={"time_limit": 60},
        )
        if result.x is None:
            raise RuntimeError(f"disclosure control found no safe pattern ({result.message})")
        hidden = result.x > 0.5
        exposed = [c for c in recoverable(values, hidden, eqs, structure) if guarded[c]]
        if any(values[c] == 0 for c in exposed):
            # A zero may be pinned by the table's shape and its other zeros even with nothing
            # shown (a total over one part that is a zero elsewhere): no publication reveals
            # it, and no cut could hide it. Found once, with everything hidden.
            if pinned_anyway is None:
                pinned_anyway = set(
                    recoverable(values, np.ones(n, dtype=bool), eqs, structure).tolist()
                )
            exposed = [c for c in exposed if int(c) not in pinned_anyway]
        if not exposed:
            return hidden
        if iteration >= _CUTS_BEFORE_PATHS:
            # The cuts are slow to find a pattern that only a longer chain of cells protects
            # (a partner present in one year, tied through the years to partners whose sums
            # have no remainder): hide the cheapest such chain for each exposed cell instead.
            for cell in exposed:
                lower[_protection_path(values, structure, int(cell), hidden, costs)] = 1.0
            continue
        groups = {}
        for cells, eq_rows in _components(structure, hidden):
            for c in cells:
                groups[int(c)] = (cells, eq_rows)
        added = set()
        for cell in exposed:
            cells, eq_rows = groups[int(cell)]
            if int(cells[0]) in added:
                continue
            added.add(int(cells[0]))
            around = np.unique(structure.matrix[eq_rows].indices)
            plus = around[~hidden[around]]
            minus = cells[~primary[cells]]
            if plus.size == 0 and minus.size == 0:
                raise RuntimeError("disclosure control could not hide the table safely")
            cuts.append((plus, minus))
    raise RuntimeError("disclosure control did not converge")


def aggregation_levels(
    frame: pl.DataFrame,
    dims: Sequence[str],
    total: str = TOTAL,
    parents: dict[str, dict[str, str]] | None = None,
) -> np.ndarray:
    """How aggregated each row is: 2 per dimension at its total, 1 per dimension at an inner
    level of a hierarchy (a year above its quarters)."""
    parents = parents or {}
    level = np.zeros(frame.height)
    for dim in dims:
        inner = set(parents.get(dim, {}).values()) - {total}
        values = frame[dim]
        level += 2 * (values == total).to_numpy() + values.is_in(list(inner)).to_numpy()
    return level


def with_remainders(
    values: np.ndarray, eqs: list[Equation], dims: Sequence[str], overlap_dims: Sequence[str] = ()
) -> tuple[np.ndarray, list[Equation], np.ndarray]:
    """Sums over `dims` whose parts fall short of their total get one more, unpublished part:
    the remainder. Sums over `overlap_dims` whose parts exceed their total (a person in
    several parts) get an unpublished overlap, subtracted. Returns the extended values,
    equations and the unpublished mask."""
    extra: list[float] = []
    out: list[Equation] = []
    for eq in eqs:
        gap = (
            values[eq.total] - sum(values[p] for p in eq.parts)
            if eq.dim in dims or eq.dim in overlap_dims
            else 0
        )
        if gap > 1e-9 and eq.dim in dims:
            out.append(Equation(eq.total, (*eq.parts, values.size + len(extra)), eq.dim))
            extra.append(gap)
        elif gap < -1e-9 and eq.dim in overlap_dims:
            out.append(Equation(eq.total, eq.parts, eq.dim, (values.size + len(extra),)))
            extra.append(-gap)
        else:
            out.append(eq)
    unpublished = np.zeros(values.size + len(extra), dtype=bool)
    unpublished[values.size :] = True
    return np.concatenate([values, np.array(extra)]), out, unpublished


def _joint_equations(
    slices: Sequence[pl.DataFrame],
    dims: Sequence[str],
    total: str,
    parents: dict[str, dict[str, str]] | None,
) -> list[Equation]:
    """The sums of each slice, by row position in the slices laid end to end."""
    out: list[Equation] = []
    offset = 0
    for piece in slices:
        out += [
            Equation(
                eq.total + offset,
                tuple(p + offset for p in eq.parts),
                eq.dim,
                tuple(m + offset for m in eq.minus),
            )
            for eq in equations(piece, dims, total, parents)
        ]
        offset += piece.height
    return out


def _copies(frame: pl.DataFrame, dims: Sequence[str], shared_by: str, total: str) -> list[Equation]:
    """One cell shown in several slices (`protect`'s `shared_by`): each further copy equals the
    first, written as a sum of one part."""
    grouped = (
        frame.select(dims)
        .with_row_index("_pos")
        .filter(pl.col(shared_by) != total)
        .group_by(list(dims), maintain_order=True)
        .agg(pl.col("_pos"))
        .filter(pl.col("_pos").list.len() > 1)
    )
    return [
        Equation(int(first), (int(other),), "_copy")
        for first, *others in grouped["_pos"].to_list()
        for other in others
    ]


def protect(
    frame: pl.DataFrame,
    dims: Sequence[str],
    counts: Sequence[str],
    shares: dict[str, Sequence[str]] | None = None,
    slice_by: Sequence[str] = (),
    threshold: int = THRESHOLD,
    total: str = TOTAL,
    parents: dict[str, dict[str, str]] | None = None,
    partial_dims: Sequence[str] = (),
    overlap_dims: Sequence[str] = (),
    shared_by: str | None = None,
) -> pl.DataFrame:
    """The table as it may be published: hidden counts and shares set to None, with a boolean
    `<column>_suppressed` beside each. `dims` are the break-down columns whose `all` rows are
    totals (`parents` for hierarchies); `slice_by` columns separate independent tables
    (programme, measure…); `shares` maps a derived column (share, interval bound…) to the
    counts it is computed from: it is hidden when any of them is. `partial_dims` are dimensions
    whose parts need not add up to their total, `overlap_dims` those whose parts may add up to
    more (see `with_remainders`).

    `shared_by` names a dimension whose values may serve several slices (a register serving
    several programmes): rows of different slices that agree on every dimension, with
    `shared_by` not at its total, are one cell shown several times. Such slices are solved
    together, with the copies bound equal, so that no copy shows what another hides and no
    slice's sums give away a cell hidden in another."""
    shares = shares or {}
    frame = frame.with_row_index("_row")
    slices = frame.partition_by(list(slice_by), maintain_order=True) if slice_by else [frame]
    shared = bool(shared_by) and len(slices) > 1 and bool(_copies(frame, dims, shared_by, total))
    groups = [slices] if shared else [[s] for s in slices]
    masks: dict[str, list[pl.Series]] = {c: [] for c in counts}
    for group in groups:
        part = pl.concat(group)
        eqs = _joint_equations(group, dims, total, parents)
        if shared:
            eqs += _copies(part, dims, shared_by, total)
        levels = aggregation_levels(part, dims, total, parents)
        rows = part["_row"].to_numpy()
        columns = {c: part[c].fill_null(0).to_numpy().astype(float) for c in counts}
        # The column with the most small cells first: a row it hides has lost its share
        # already, so hiding the row's other counts there costs readers little.
        order = sorted(counts, key=lambda c: -int((columns[c] < threshold).sum()))
        gone = np.zeros(part.height, dtype=bool)
        size = np.max(np.vstack(list(columns.values())), axis=0) if counts else None
        for column in order:
            values = columns[column]
            extended, column_eqs, unpublished = with_remainders(
                values, eqs, partial_dims, overlap_dims
            )
            extra = extended.size - values.size
            extended_levels = np.concatenate([levels, np.zeros(extra)])
            costs = cell_costs(np.concatenate([size, extended[values.size :]]), extended_levels)
            costs[: values.size] = np.where(gone, costs[: values.size] / 10, costs[: values.size])
            hidden = suppress(
                extended, column_eqs, threshold, unpublished, extended_levels, costs=costs
            )[: values.size]
            gone |= hidden
            masks[column].append(pl.Series("_row", rows[hidden]))
    out = frame
    for column in counts:
        rows = pl.concat(masks[column]) if masks[column] else pl.Series("_row", [], pl.UInt32)
        flag = f"{column}{SUPPRESSED_SUFFIX}"
        out = out.with_columns(pl.col("_row").is_in(rows.implode()).alias(flag))
    for share, sources in shares.items():
        out = out.with_columns(
            pl.any_horizontal([pl.col(f"{c}{SUPPRESSED_SUFFIX}") for c in sources]).alias(
                f"{share}{SUPPRESSED_SUFFIX}"
            )
        )
    for column in [*counts, *shares]:
        flag = f"{column}{SUPPRESSED_SUFFIX}"
        out = out.with_columns(
            pl.when(pl.col(flag)).then(None).otherwise(pl.col(column)).alias(column)
        )
    return out.drop("_row")
