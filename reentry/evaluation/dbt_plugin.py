"""A dbt-duckdb plugin (profiles.yml `plugins`) that only imports the evaluation's libraries.

dbt runs the Python models in threads of one process. Two threads importing numpy, scikit-learn
or lifelines for the first time at once can meet each other's half-imported modules (their
packages import circularly), which fails at random ("partially initialized module"). The
adapter loads its plugins once, before any model runs: importing the libraries here makes
every later import a lookup."""

from __future__ import annotations

import lifelines  # noqa: F401
import numpy  # noqa: F401
import pandas  # noqa: F401
import polars  # noqa: F401
import scipy.optimize  # noqa: F401
import scipy.sparse  # noqa: F401
import sklearn.linear_model  # noqa: F401
from dbt.adapters.duckdb.plugins import BasePlugin

import reentry.evaluation.effects  # noqa: F401
import reentry.evaluation.scores  # noqa: F401
import reentry.evaluation.survival  # noqa: F401


class Plugin(BasePlugin):
    """Nothing to configure: importing this module is the point."""
