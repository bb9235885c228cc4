"""Disclosure control (privacy.md): the one module every published table passes through.

Primary suppression hides every count below the threshold (10), and every share whose numerator
or denominator is hidden. Secondary suppression then makes sure no hidden count can be worked
out from what is shown: the `all` rows of a table are sums of their parts, so the hidden cells
are unknowns of a system of linear equations, and counts are never negative. A hidden cell is
exactly recoverable when its smallest and largest possible values coincide (`recoverable`: one
linear program for the hidden zeros, then the null space of the sums). While any is, one more
cell is hidden beside it, the smallest shown cell that shares an equation with it, and the
system is solved again. Hidden values are None (shown as suppressed), never zero.

Two refinements keep the equations true to the table: a dimension may be a hierarchy (a quarter
adds up to its year, the years to `all`), and a dimension whose parts do not cover its total
(releases by partner: non-participants have no partner) gets an unpublished remainder cell per
sum, which the attacker does not see and which is therefore an unknown like a hidden cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

THRESHOLD = 10
TOTAL = "all"
SUPPRESSED_SUFFIX = "_suppressed"


@dataclass(frozen=True)
class Equation:
    """cells[total] = sum(cells[parts]), by row position in a slice; `dim` is the dimension
    summed over."""

    total: int
    parts: tuple[int, ...]
    dim: str = ""


def equations(frame: pl.DataFrame, dims: Sequence[str], total: str = TOTAL,
              parents: dict[str, dict[str, str]] | None = None) -> list[Equation]:
    """The sums a table shows: for each dimension, the rows of a parent value add up to the
    parent's row where every other dimension is equal. A value's parent is `total` unless
    `parents[dim]` names another (a quarter's year)."""
    parents = parents or {}
    rows = frame.select(dims).with_row_index("_pos")
    out: list[Equation] = []
    for dim in dims:
        others = [d for d in dims if d != dim]
        mapping = parents.get(dim, {})
        parent = (pl.col(dim).replace_strict(mapping, default=total) if mapping
                  else pl.lit(total))
        parts = rows.filter(pl.col(dim) != total).with_columns(parent.alias("_parent"))
        if parts.is_empty():
            continue
        grouped = parts.group_by([*others, "_parent"]).agg(pl.col("_pos").alias("_pos_parts"))
        joined = rows.join(grouped, left_on=[*others, dim], right_on=[*others, "_parent"],
                           how="inner")
        out += [Equation(int(t), tuple(int(p) for p in ps), dim)
                for t, ps in zip(joined["_pos"], joined["_pos_parts"], strict=True)]
    return out


def _null_space(matrix: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the null space of `matrix`."""
    if matrix.shape[1] == 0:
        return np.zeros((0, 0))
    if matrix.shape[0] == 0:
        return np.eye(matrix.shape[1])
    _, s, vt = np.linalg.svd(matrix)
    rank = int((s > 1e-9 * max(matrix.shape) * (s[0] if s.size else 1)).sum())
    return vt[rank:].T


def _system(values: np.ndarray, hidden: np.ndarray, eqs: list[Equation]
            ) -> tuple[np.ndarray, np.ndarray]:
    """The sums restricted to the hidden cells: matrix over the hidden cells (in order)."""
    unknown = np.flatnonzero(hidden)
    index = np.full(values.size, -1)
    index[unknown] = np.arange(unknown.size)
    rows = []
    for eq in eqs:
        row = np.zeros(unknown.size)
        for cell, sign in [(eq.total, -1.0), *((p, 1.0) for p in eq.parts)]:
            if hidden[cell]:
                row[index[cell]] += sign
        if row.any():
            rows.append(row)
    return unknown, np.array(rows).reshape(len(rows), unknown.size)


def _stuck_zeros(matrix: np.ndarray, zeros: np.ndarray) -> np.ndarray:
    """Which hidden zeros cannot grow: the attacker's feasible moves from the true values are
    the directions d with matrix @ d = 0 that do not push a zero below zero (d_z >= 0). One
    linear program finds every zero some move can raise (moves add up, so one move raises them
    all: maximise the number of raised zeros, each capped at 1)."""
    from scipy.optimize import linprog

    n, k = matrix.shape[1], zeros.size
    # Variables: d (n, free), s (k, in [0, 1]); maximise sum(s) with d_z - s_z >= 0.
    cost = np.concatenate([np.zeros(n), -np.ones(k)])
    a_eq = np.hstack([matrix, np.zeros((matrix.shape[0], k))]) if matrix.size else None
    a_ub = np.zeros((k, n + k))
    a_ub[np.arange(k), zeros] = -1.0
    a_ub[np.arange(k), n + np.arange(k)] = 1.0
    bounds = [(None, None)] * n + [(0, 1)] * k
    result = linprog(cost, A_ub=a_ub, b_ub=np.zeros(k), A_eq=a_eq,
                     b_eq=np.zeros(matrix.shape[0]) if a_eq is not None else None,
                     bounds=bounds, method="highs")
    if result.status != 0:
        raise RuntimeError(f"disclosure control: linear program failed ({result.message})")
    return zeros[result.x[n:] < 0.5]


def recoverable(values: np.ndarray, hidden: np.ndarray, eqs: list[Equation]) -> np.ndarray:
    """Positions of hidden cells an attacker can pin to one value from the shown cells, the
    sums and the rule that counts are never negative.

    From the true values, the attacker's uncertainty is the set of moves d along which all sums
    stay true (matrix @ d = 0) and no hidden zero turns negative. Zeros that no move can raise
    are pinned (to zero); fixing them, the moves span a linear space, and a cell is pinned
    exactly when that space never moves it (its coordinate vanishes on the null space)."""
    unknown, matrix = _system(values, hidden, eqs)
    if unknown.size == 0:
        return unknown
    zeros = np.flatnonzero(values[unknown] == 0)
    stuck = _stuck_zeros(matrix, zeros) if zeros.size else zeros
    fixed = np.zeros((stuck.size, unknown.size))
    fixed[np.arange(stuck.size), stuck] = 1.0
    basis = _null_space(np.vstack([matrix, fixed]))
    movable = np.abs(basis).max(axis=1, initial=0.0) > 1e-9 if basis.size \
        else np.zeros(unknown.size, dtype=bool)
    return unknown[~movable]


def suppress(values: np.ndarray, eqs: list[Equation], threshold: int = THRESHOLD,
             unpublished: np.ndarray | None = None, levels: np.ndarray | None = None
             ) -> np.ndarray:
    """Hidden mask: primary (below the threshold) plus secondary cells until none of the
    hidden cells can be recovered. `unpublished` cells are never shown whatever their value;
    `levels` rank how aggregated a cell is (totals are what readers need most, so the most
    detailed cells are hidden first)."""
    values = np.asarray(values, dtype=float)
    unpublished = np.zeros(values.size, dtype=bool) if unpublished is None else unpublished
    hidden = (values < threshold) | unpublished
    neighbours: dict[int, set[int]] = {}
    for eq in eqs:
        cells = {eq.total, *eq.parts}
        for c in cells:
            neighbours.setdefault(c, set()).update(cells - {c})
    totals = {eq.total for eq in eqs}
    if levels is None:
        levels = np.array([c in totals for c in range(values.size)], dtype=float)

    def cost(c: int) -> tuple:
        # Prefer hiding a detailed cell over an aggregate, a non-zero cell, the smallest value.
        return (levels[c], values[c] == 0, values[c])

    # Cells the sums pin even with nothing shown are zero by the table's own structure (two
    # break-downs of one total that leave a category no room): no publication reveals them.
    structural = set(recoverable(values, np.ones(values.size, dtype=bool), eqs).tolist()) \
        if eqs else set()
    while True:
        # A remainder is no published cell: knowing it gives nothing away.
        exposed = [c for c in recoverable(values, hidden, eqs)
                   if not unpublished[c] and int(c) not in structural]
        if not exposed:
            return hidden
        # One more cell beside each exposed one per round (several rounds may be needed).
        added: set[int] = set()
        for cell in exposed:
            near = neighbours.get(int(cell), set())
            if near & added:
                continue
            choice = _companion(int(cell), hidden, neighbours, levels, cost)
            if choice is not None:
                hidden[choice] = True
                added.add(choice)
        if not added:
            # Every sum around it is hidden already, yet it is pinned down through sums
            # further away: hide one more of any shown cell next to a hidden one.
            candidates = [c for c in neighbours if not hidden[c]
                          and any(hidden[n] for n in neighbours[c])]
            if not candidates:
                raise RuntimeError("disclosure control could not hide the table safely")
            hidden[min(candidates, key=cost)] = True


def _companion(cell: int, hidden: np.ndarray, neighbours: dict[int, set[int]],
               levels: np.ndarray, cost) -> int | None:
    """The cell to hide beside an exposed one: a shown cell of one of its sums, no more
    aggregated than itself; else one of the sums of its hidden neighbours (the sums that pin
    it); else the least aggregated shown cell of its own sums."""
    near = neighbours.get(cell, set())
    own = [c for c in near if not hidden[c] and levels[c] <= levels[cell]]
    if own:
        return min(own, key=cost)
    second = {c for n in near if hidden[n] for c in neighbours.get(n, ())
              if not hidden[c] and c != cell and levels[c] <= levels[cell]}
    if second:
        return min(second, key=cost)
    rest = [c for c in near if not hidden[c]]
    return min(rest, key=cost) if rest else None


def aggregation_levels(frame: pl.DataFrame, dims: Sequence[str], total: str = TOTAL,
                       parents: dict[str, dict[str, str]] | None = None) -> np.ndarray:
    """How aggregated each row is: 2 per dimension at its total, 1 per dimension at an inner
    level of a hierarchy (a year above its quarters)."""
    parents = parents or {}
    level = np.zeros(frame.height)
    for dim in dims:
        inner = set(parents.get(dim, {}).values()) - {total}
        values = frame[dim]
        level += 2 * (values == total).to_numpy() + values.is_in(list(inner)).to_numpy()
    return level


def with_remainders(values: np.ndarray, eqs: list[Equation], dims: Sequence[str]
                    ) -> tuple[np.ndarray, list[Equation], np.ndarray]:
    """Sums over `dims` whose parts fall short of their total get one more, unpublished part:
    the remainder. Returns the extended values, equations and the unpublished mask."""
    extra: list[float] = []
    out: list[Equation] = []
    for eq in eqs:
        gap = values[eq.total] - sum(values[p] for p in eq.parts) if eq.dim in dims else 0
        if gap > 1e-9:
            out.append(Equation(eq.total, (*eq.parts, values.size + len(extra)), eq.dim))
            extra.append(gap)
        else:
            out.append(eq)
    unpublished = np.zeros(values.size + len(extra), dtype=bool)
    unpublished[values.size:] = True
    return np.concatenate([values, np.array(extra)]), out, unpublished


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
) -> pl.DataFrame:
    """The table as it may be published: hidden counts and shares set to None, with a boolean
    `<column>_suppressed` beside each. `dims` are the break-down columns whose `all` rows are
    totals (`parents` for hierarchies); `slice_by` columns separate independent tables
    (programme, measure…); `shares` maps a derived column (share, interval bound…) to the
    counts it is computed from: it is hidden when any of them is. `partial_dims` are dimensions
    whose parts need not add up to their total (see `with_remainders`)."""
    shares = shares or {}
    frame = frame.with_row_index("_row")
    parts = frame.partition_by(list(slice_by), maintain_order=True) if slice_by else [frame]
    masks: dict[str, list[pl.Series]] = {c: [] for c in counts}
    for part in parts:
        eqs = equations(part, dims, total, parents)
        levels = aggregation_levels(part, dims, total, parents)
        for column in counts:
            values = part[column].fill_null(0).to_numpy().astype(float)
            extended, column_eqs, unpublished = with_remainders(values, eqs, partial_dims)
            extended_levels = np.concatenate([levels, np.zeros(extended.size - values.size)])
            hidden = suppress(extended, column_eqs, threshold, unpublished,
                              extended_levels)[:values.size]
            masks[column].append(pl.Series("_row", part["_row"].to_numpy()[hidden]))
    out = frame
    for column in counts:
        rows = pl.concat(masks[column]) if masks[column] else pl.Series("_row", [], pl.UInt32)
        flag = f"{column}{SUPPRESSED_SUFFIX}"
        out = out.with_columns(pl.col("_row").is_in(rows.implode()).alias(flag))
    for share, sources in shares.items():
        out = out.with_columns(pl.any_horizontal(
            [pl.col(f"{c}{SUPPRESSED_SUFFIX}") for c in sources]
        ).alias(f"{share}{SUPPRESSED_SUFFIX}"))
    for column in [*counts, *shares]:
        flag = f"{column}{SUPPRESSED_SUFFIX}"
        out = out.with_columns(
            pl.when(pl.col(flag)).then(None).otherwise(pl.col(column)).alias(column))
    return out.drop("_row")
