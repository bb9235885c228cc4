"""Disclosure control: no cell below the threshold is shown, and no hidden cell can be worked
out exactly from what is shown (checked independently by linear programming)."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from dashboards.disclosure import THRESHOLD, protect

DIM_NAMES = ("prison", "sex", "cohort")


def table_with_totals(cells: dict[tuple[str, ...], int], levels: list[list[str]]) -> pl.DataFrame:
    """Every combination of levels plus 'all' per dimension, with the sums filled in."""
    rows = []
    for key in itertools.product(*[[*lv, "all"] for lv in levels]):
        value = sum(v for k, v in cells.items()
                    if all(kk == want or want == "all" for kk, want in zip(k, key, strict=True)))
        rows.append((*key, value))
    return pl.DataFrame(rows, schema=[*DIM_NAMES[:len(levels)], "n"], orient="row")


@st.composite
def tables(draw):
    n_dims = draw(st.integers(1, 3))
    levels = [[f"{DIM_NAMES[d][0]}{i}" for i in range(draw(st.integers(2, 4 - n_dims // 3)))]
              for d in range(n_dims)]
    small_first = draw(st.booleans())
    value = st.one_of(st.integers(0, 12), st.integers(0, 60)) if small_first \
        else st.integers(0, 40)
    cells = {key: draw(value) for key in itertools.product(*levels)}
    return table_with_totals(cells, levels), n_dims


def attack(frame: pl.DataFrame, dims: list[str]) -> dict[int, tuple[float, float]]:
    """The narrowest range an attacker can give each hidden cell: minimise and maximise it
    subject to every published sum and non-negativity."""
    values = frame["n"].to_list()
    hidden = [i for i, v in enumerate(values) if v is None]
    if not hidden:
        return {}
    index = {c: i for i, c in enumerate(hidden)}
    keys = frame.select(dims).rows()
    position = {k: i for i, k in enumerate(keys)}
    a_eq, b_eq = [], []
    for i, key in enumerate(keys):
        for d, value in enumerate(key):
            if value != "all":
                continue
            parts = [position[k] for k in keys
                     if all((k[j] == key[j]) if j != d else k[j] != "all"
                            for j in range(len(dims)))]
            row, rhs = np.zeros(len(hidden)), 0.0
            for cell, sign in [(i, -1.0), *((p, 1.0) for p in parts)]:
                if cell in index:
                    row[index[cell]] += sign
                else:
                    rhs -= sign * values[cell]
            if row.any():
                a_eq.append(row)
                b_eq.append(rhs)
    ranges = {}
    for cell, i in index.items():
        c = np.zeros(len(hidden))
        c[i] = 1.0
        low = linprog(c, A_eq=a_eq or None, b_eq=b_eq or None, bounds=(0, None), method="highs")
        high = linprog(-c, A_eq=a_eq or None, b_eq=b_eq or None, bounds=(0, None),
                       method="highs")
        ranges[cell] = (low.fun if low.status == 0 else 0.0,
                        -high.fun if high.status == 0 else float("inf"))
    return ranges


@settings(max_examples=150, deadline=None)
@given(tables())
def test_no_hidden_cell_can_be_recovered_exactly(case) -> None:
    frame, n_dims = case
    dims = list(DIM_NAMES[:n_dims])
    published = protect(frame, dims, ["n"])
    original = frame["n"].to_list()
    shown = published["n"].to_list()
    # Primary: nothing below the threshold is shown, and hidden is never shown as zero.
    assert all(v is None for v, o in zip(shown, original, strict=True) if o < THRESHOLD)
    assert all(v == o for v, o in zip(shown, original, strict=True) if v is not None)
    assert published["n_suppressed"].to_list() == [v is None for v in shown]
    # Secondary: the attacker's range of every hidden cell is wider than a point.
    for cell, (low, high) in attack(published, dims).items():
        assert high - low > 0.5, (cell, original[cell], low, high, frame, published)


def test_a_single_small_cell_takes_a_sibling_along() -> None:
    frame = table_with_totals({("p0",): 3, ("p1",): 40, ("p2",): 25}, [["p0", "p1", "p2"]])
    published = protect(frame, ["prison"], ["n"])
    assert published.rows() == [("p0", None, True), ("p1", 40, False), ("p2", None, True),
                                ("all", 68, False)]


def test_shares_follow_their_numerator_and_denominator() -> None:
    frame = pl.DataFrame({
        "programme": ["mabis"] * 3 + ["exodus"] * 3,
        "prison": ["a", "b", "all"] * 2,
        "n_events": [4, 30, 34, 12, 15, 27],
        "n": [20, 80, 100, 40, 45, 85],
    }).with_columns((pl.col("n_events") / pl.col("n")).alias("rate"))
    published = protect(frame, ["prison"], ["n_events", "n"], shares={"rate": ("n_events", "n")},
                        slice_by=["programme"])
    mabis = published.filter(pl.col("programme") == "mabis")
    assert mabis["n_events"].to_list() == [None, None, 34]
    assert mabis["rate"].to_list()[:2] == [None, None]
    assert mabis["n"].to_list() == [20, 80, 100]  # the denominators are large enough
    exodus = published.filter(pl.col("programme") == "exodus")
    assert exodus["rate_suppressed"].to_list() == [False, False, False]


def test_hidden_zeros_are_not_given_away_by_a_zero_remainder() -> None:
    # Parts 0 and 0 are hidden; if everything else were shown, total minus the shown parts
    # would be 0, so both hidden zeros would be known. Another (non-zero) cell must go too.
    frame = table_with_totals({("p0",): 0, ("p1",): 0, ("p2",): 30, ("p3",): 45},
                              [["p0", "p1", "p2", "p3"]])
    published = protect(frame, ["prison"], ["n"])
    assert published.filter(pl.col("n").is_null()).height == 3
    assert all(high - low > 0.5 for low, high in attack(published, ["prison"]).values())
