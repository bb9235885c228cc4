"""Day-number helpers of the simulation.

Internally every date is a float day number since 1970-01-01 (NaN = no date), so that whole
populations can be shifted and compared with numpy; polars turns them into dates at the end.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def day(iso: str) -> float:
    """Day number of an ISO date."""
    return float(np.datetime64(iso, "D").astype("int64"))


YEAR = 365.25


def year_of(days: np.ndarray) -> np.ndarray:
    """Calendar year of day numbers (what a source sees of a birth or release date)."""
    d = np.floor(np.asarray(days, dtype=np.float64)).astype("int64").astype("datetime64[D]")
    return d.astype("datetime64[Y]").astype(np.int64) + 1970


def date_series(name: str, days: np.ndarray) -> pl.Series:
    """Day numbers (NaN = missing) as a polars Date series."""
    return (
        pl.Series(name, np.floor(np.asarray(days, dtype=np.float64)), nan_to_null=True)
        .cast(pl.Int32)
        .cast(pl.Date)
    )


def choice(rng: np.random.Generator, probs, size: int) -> np.ndarray:
    """Indices drawn from one fixed probability vector (normalised here)."""
    p = np.asarray(probs, dtype=np.float64)
    cum = np.cumsum(p / p.sum())
    cum[-1] = 1.0
    return np.searchsorted(cum, rng.random(size), side="right").astype(np.int64)


def choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One index per row of a (rows x options) probability matrix (rows normalised here)."""
    p = np.asarray(probs, dtype=np.float64)
    cum = np.cumsum(p, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(p.shape[0])
    return np.minimum((u[:, None] > cum).sum(axis=1), p.shape[1] - 1).astype(np.int64)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def uniform_int(rng: np.random.Generator, low, high) -> np.ndarray:
    """Whole days uniformly in [low, high] (array bounds allowed, high >= low)."""
    low = np.asarray(low, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    return np.floor(low + rng.random(np.broadcast(low, high).shape) * (high - low + 1))
