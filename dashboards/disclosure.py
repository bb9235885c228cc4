"""Disclosure control (privacy.md): the one module every published table passes through.

Primary suppression hides every count below the threshold (10), and every share whose numerator
or denominator is hidden. Secondary suppression then makes sure no hidden count can be worked
out from what is shown: the `all` rows of a table are sums of their parts, so the hidden cells
are unknowns of a system of linear equations. A hidden cell is exactly recoverable when every
solution of that system gives it the same value (its coordinate vanishes on the null space), or
when, counts never being negative, its smallest and largest possible values coincide (checked
by linear programming, as an attacker would). While any is,
one more cell is hidden, the smallest shown cell that shares an equation with it, and the system
is solved again. Hidden values are None (shown as suppressed), never zero.
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
    """cells[total] = sum(cells[parts]), by row position in a slice."""

    total: int
    parts: tuple[int, ...]


def equations(frame: pl.DataFrame, dims: Sequence[str], total: str = TOTAL) -> list[Equation]:
    """The sums a table shows: for each dimension, its parts add up to its `all` row, where
    every other dimension is equal."""
    rows = frame.select(dims).with_row_index("_pos")
    out: list[Equation] = []
    for dim in dims:
        others = [d for d in dims if d != dim]
        totals = rows.filter(pl.col(dim) == total)
        parts = rows.filter(pl.col(dim) != total)
        if totals.is_empty() or parts.is_empty():
            continue
        key = others if others else None
        grouped = (parts.group_by(key).agg(pl.col("_pos")) if key
                   else pl.DataFrame({"_pos": [parts["_pos"].to_list()]}))
        joined = (totals.join(grouped, on=key, how="inner", suffix="_parts") if key
                  else totals.with_columns(grouped["_pos"].alias("_pos_parts")))
        out += [Equation(int(t), tuple(int(p) for p in ps))
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


def recoverable(values: np.ndarray, hidden: np.ndarray, eqs: list[Equation]) -> np.ndarray:
    """Positions of hidden cells that can be worked out exactly from the shown ones."""
    unknown = np.flatnonzero(hidden)
    if unknown.size == 0:
        return unknown
    index = {int(c): i for i, c in enumerate(unknown)}
    rows = []
    exact: set[int] = set()
    for eq in eqs:
        members = [(eq.total, -1.0), *((p, 1.0) for p in eq.parts)]
        row = np.zeros(unknown.size)
        for cell, sign in members:
            if hidden[cell]:
                row[index[cell]] += sign
        if not row.any():
            continue
        rows.append(row)
        # Counts are never negative: hidden parts whose sum must be zero are all zero.
        hidden_parts = [p for p in eq.parts if hidden[p]]
        if not hidden[eq.total] and hidden_parts:
            shown = sum(values[p] for p in eq.parts if not hidden[p])
            if values[eq.total] - shown == 0:
                exact.update(hidden_parts)
    basis = _null_space(np.array(rows))
    determined = np.flatnonzero(np.abs(basis).max(axis=1, initial=0.0) < 1e-9) \
        if basis.size else np.arange(unknown.size)
    exact.update(int(unknown[i]) for i in determined)
    if not exact:
        exact.update(_pinned_by_bounds(values, hidden, eqs, unknown, index))
    return np.array(sorted(exact), dtype=int)


def _pinned_by_bounds(values: np.ndarray, hidden: np.ndarray, eqs: list[Equation],
                      unknown: np.ndarray, index: dict[int, int]) -> list[int]:
    """Hidden cells whose range collapses to a point once counts may not be negative: the
    attacker minimises and maximises each one subject to every shown sum (linear programs)."""
    from scipy.optimize import linprog

    a_eq, b_eq = [], []
    for eq in eqs:
        row, rhs = np.zeros(unknown.size), 0.0
        for cell, sign in [(eq.total, -1.0), *((p, 1.0) for p in eq.parts)]:
            if hidden[cell]:
                row[index[cell]] += sign
            else:
                rhs -= sign * values[cell]
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    pinned = []
    for cell, i in index.items():
        c = np.zeros(unknown.size)
        c[i] = 1.0
        low = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        high = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        if low.status == 0 and high.status == 0 and -high.fun - low.fun < 0.5:
            pinned.append(cell)
    return pinned


def suppress(values: np.ndarray, eqs: list[Equation], threshold: int = THRESHOLD) -> np.ndarray:
    """Hidden mask: primary (below the threshold) plus secondary cells until none of the
    hidden cells can be recovered."""
    values = np.asarray(values, dtype=float)
    hidden = values < threshold
    neighbours: dict[int, set[int]] = {}
    for eq in eqs:
        cells = {eq.total, *eq.parts}
        for c in cells:
            neighbours.setdefault(c, set()).update(cells - {c})
    totals = {eq.total for eq in eqs}
    while True:
        exposed = recoverable(values, hidden, eqs)
        if exposed.size == 0:
            return hidden
        cell = int(exposed[0])
        candidates = [c for c in neighbours.get(cell, ()) if not hidden[c]]
        if not candidates:
            # Its own sums are hidden already, yet it is pinned down through sums further
            # away: hide one more of any shown cell of the table.
            candidates = [c for c in neighbours if not hidden[c]]
        if not candidates:
            raise RuntimeError("disclosure control could not hide the table safely")
        # Prefer hiding a part over a total, a non-zero cell, and the smallest value.
        hidden[min(candidates, key=lambda c: (c in totals, values[c] == 0, values[c]))] = True


def protect(
    frame: pl.DataFrame,
    dims: Sequence[str],
    counts: Sequence[str],
    shares: dict[str, tuple[str, str]] | None = None,
    slice_by: Sequence[str] = (),
    threshold: int = THRESHOLD,
    total: str = TOTAL,
) -> pl.DataFrame:
    """The table as it may be published: hidden counts and shares set to None, with a boolean
    `<column>_suppressed` beside each. `dims` are the break-down columns whose `all` rows are
    totals; `slice_by` columns separate independent tables (programme, measure…); `shares` maps
    a share column to its (numerator, denominator) counts."""
    shares = shares or {}
    frame = frame.with_row_index("_row")
    parts = frame.partition_by(list(slice_by), maintain_order=True) if slice_by else [frame]
    masks: dict[str, list[pl.Series]] = {c: [] for c in counts}
    for part in parts:
        eqs = equations(part, dims, total)
        for column in counts:
            values = part[column].fill_null(0).to_numpy()
            masks[column].append(pl.Series("_row", part["_row"].to_numpy()[
                suppress(values, eqs, threshold)]))
    out = frame
    for column in counts:
        rows = pl.concat(masks[column]) if masks[column] else pl.Series("_row", [], pl.UInt32)
        flag = f"{column}{SUPPRESSED_SUFFIX}"
        out = out.with_columns(pl.col("_row").is_in(rows.implode()).alias(flag))
    for share, (numerator, denominator) in shares.items():
        out = out.with_columns(
            (pl.col(f"{numerator}{SUPPRESSED_SUFFIX}")
             | pl.col(f"{denominator}{SUPPRESSED_SUFFIX}")).alias(f"{share}{SUPPRESSED_SUFFIX}"))
    for column in [*counts, *shares]:
        flag = f"{column}{SUPPRESSED_SUFFIX}"
        out = out.with_columns(
            pl.when(pl.col(flag)).then(None).otherwise(pl.col(column)).alias(column))
    return out.drop("_row")
