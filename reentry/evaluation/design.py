"""The covariates of one programme's evaluation population as model inputs.

The population model (dbt `int_effect_population`) decides what a covariate is: every column
after the key columns, text columns categorical (every value a level, missing values a level
of their own), numeric columns continuous. Nothing here names a covariate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

# The columns of int_effect_population that are not covariates.
KEY_COLUMNS = ("programme", "release_id", "person_key", "cohort", "is_participant")
MISSING = "missing"


@dataclass
class Categorical:
    """One categorical covariate: a level index per person and the level names."""

    name: str
    codes: np.ndarray  # int64, index into levels
    levels: list[str]


@dataclass
class Continuous:
    """One continuous covariate (missing values replaced by the mean, flagged)."""

    name: str
    values: np.ndarray  # float64
    missing: np.ndarray  # bool


@dataclass
class Design:
    """The covariates of one programme and the propensity model's matrix."""

    categorical: list[Categorical]
    continuous: list[Continuous]
    matrix: np.ndarray  # n x k: one column per non-reference level, continuous standardised

    @property
    def n_characteristics(self) -> int:
        """How many characteristics (covariates) were measured."""
        return len(self.categorical) + len(self.continuous)


def covariate_columns(frame: pl.DataFrame) -> list[str]:
    """The covariate columns of a population frame, in its order."""
    return [c for c in frame.columns if c not in KEY_COLUMNS]


def build_design(frame: pl.DataFrame) -> Design:
    """The design of one programme's population: levels, values and the model matrix.

    The reference level of a categorical covariate (left out of the matrix) is its most
    frequent level; a level nobody has in this programme does not exist here. Continuous
    covariates are standardised so that the solver meets columns of one scale.
    """
    categorical: list[Categorical] = []
    continuous: list[Continuous] = []
    blocks: list[np.ndarray] = []
    for name in covariate_columns(frame):
        column = frame.get_column(name)
        if column.dtype in (pl.String, pl.Categorical, pl.Boolean):
            text = column.cast(pl.String).fill_null(MISSING)
            levels = sorted(text.unique().to_list())
            codes = text.replace_strict(
                {v: i for i, v in enumerate(levels)}, return_dtype=pl.Int64
            ).to_numpy()
            categorical.append(Categorical(name, codes, levels))
            counts = np.bincount(codes, minlength=len(levels))
            reference = int(np.argmax(counts))
            kept = [i for i in range(len(levels)) if i != reference]
            if kept:
                blocks.append((codes[:, None] == np.asarray(kept)[None, :]).astype(np.float64))
        else:
            raw = column.cast(pl.Float64).to_numpy()
            missing = np.isnan(raw)
            mean = float(np.nanmean(raw)) if (~missing).any() else 0.0
            values = np.where(missing, mean, raw)
            continuous.append(Continuous(name, values, missing))
            sd = float(values.std())
            blocks.append(((values - mean) / (sd if sd > 0 else 1.0))[:, None])
            if missing.any() and not missing.all():
                blocks.append(missing.astype(np.float64)[:, None])
    n = frame.height
    matrix = np.hstack(blocks) if blocks else np.zeros((n, 0))
    # A column constant in this programme carries no information (and no variance), and a
    # column equal to an earlier one (no prior conviction = no years since the first) none
    # beyond it: both would make the score model's Hessian singular.
    if matrix.shape[1]:
        matrix = matrix[:, matrix.std(axis=0) > 0]
        fingerprint = np.random.default_rng(0).standard_normal(n) @ matrix
        _, first = np.unique(np.round(fingerprint, 6), return_index=True)
        matrix = matrix[:, np.sort(first)]
    return Design(categorical, continuous, np.ascontiguousarray(matrix))
