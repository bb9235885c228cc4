"""Criminal-register entries: the history before the index release, and the building blocks
(statutory maximum, registration lag, sanctions) shared with the new offences after it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from reentry.contract import ENTITIES, OFFENCE_GROUPS

from .custody import Custody, offence_groups
from .dates import YEAR, choice, date_series, uniform_int
from .population import Population

DECISION_TYPES = ENTITIES["register_entries"].column("decision_type").codes
SANCTIONS = ENTITIES["register_entries"].column("sanction").codes
SERIOUS_MIN_PENALTY_YEARS = 4  # indicators.md: serious = statutory maximum of 4 years or more
# Statutory maximum (years) per offence group: options and their shares. Serious offences
# (>= 4 years) are a minority of reconvictions (about 30 %), mostly violent, sexual and drug
# offences; most theft, fraud and traffic offences carry lower maxima.
MAX_PENALTY = {
    "violent": ((3, 5, 10, 15), (0.45, 0.30, 0.15, 0.10)),
    "sexual": ((2, 5, 10, 15), (0.10, 0.40, 0.30, 0.20)),
    "property": ((2, 3, 5, 10), (0.35, 0.50, 0.10, 0.05)),
    "fraud": ((2, 3, 5, 10), (0.35, 0.50, 0.10, 0.05)),
    "drugs": ((1, 3, 5, 15), (0.25, 0.40, 0.25, 0.10)),
    "traffic": ((0.5, 1, 2, 5), (0.35, 0.35, 0.25, 0.05)),
    "public_order": ((0.5, 1, 2, 3), (0.30, 0.30, 0.25, 0.15)),
    "other": ((0.5, 1, 2, 5), (0.30, 0.35, 0.30, 0.05)),
}
# Earlier non-custodial decisions: expected count grows with latent risk and prior spells.
OTHER_PRIOR_DECISIONS = "min(Poisson(0.35 * exp(0.6 * latent_risk) + 0.25 * prior_spells), 6)"
_MAX_OTHER = 6

_PENALTY_VALUES = np.zeros((len(OFFENCE_GROUPS), 4))
_PENALTY_CUM = np.ones((len(OFFENCE_GROUPS), 4))
for _g, _name in enumerate(OFFENCE_GROUPS):
    _v, _p = MAX_PENALTY[_name]
    _PENALTY_VALUES[_g] = _v
    _PENALTY_CUM[_g] = np.cumsum(_p) / np.sum(_p)


def max_penalty(u: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Statutory maximum in years for offence group indices, from uniforms of the same shape."""
    cum = _PENALTY_CUM[group]
    j = np.minimum((u[..., None] >= cum).sum(axis=-1), 3)
    return np.take_along_axis(_PENALTY_VALUES[group], j[..., None], axis=-1)[..., 0]


def registration_lag(z: np.ndarray) -> np.ndarray:
    """Days from offence to registered decision from standard normals: median ~3.5 months,
    a tail beyond 6 months."""
    return np.floor(7 + np.exp(np.log(100) + 0.75 * z))


def entries(pid, offence, decision, dtype, sanction, group, penalty) -> pl.DataFrame:
    """Register rows (sanction < 0: none, for decisions other than convictions)."""
    return pl.DataFrame(
        {
            "pid": np.asarray(pid).astype(np.int64),
            "offence": date_series("offence", offence),
            "decision": date_series("decision", decision),
            "decision_type": np.asarray(DECISION_TYPES)[dtype],
            "sanction": pl.Series(
                np.where(sanction >= 0, np.asarray(SANCTIONS)[np.maximum(sanction, 0)], ""),
            ).replace("", None),
            "offence_group": np.asarray(OFFENCE_GROUPS)[group],
            "max_penalty_years": np.asarray(penalty).astype(np.float64),
        }
    )


@dataclass
class History:
    """The register before the index release, and what the warehouse can count of it."""

    register: pl.DataFrame
    convictions: np.ndarray  # convictions decided on or before the index release (its own too)
    first_conviction: np.ndarray  # decision day of the first of them (NaN: none)


def simulate_history(pop: Population, cust: Custody, rng: np.random.Generator) -> History:
    """The custodial conviction behind every spell (prior and index), and earlier decisions
    whose number rises with latent risk; all decided before the index release."""
    s = cust.spells
    pid, adm, rel, remand, group = s["pid"], s["admission"], s["release"], s["remand"], s["offence"]
    m = len(pid)
    lag = registration_lag(rng.standard_normal(m))
    served = np.maximum(rel - adm, 2)
    dec = np.where(
        remand,
        adm + np.minimum(uniform_int(rng, 30, 200), served - 1),
        adm - uniform_int(rng, 7, 60),
    )
    off = np.where(remand, adm - uniform_int(rng, 1, 30), dec - lag)
    custodial = entries(
        pid,
        off,
        dec,
        np.zeros(m, dtype=np.int64),
        np.zeros(m, dtype=np.int64),
        group,
        max_penalty(rng.random(m), group),
    )

    S = _MAX_OTHER
    lam = 0.35 * np.exp(0.6 * pop.risk) + 0.25 * cust.n_priors
    count = np.minimum(rng.poisson(lam), S)
    first_possible = pop.birth + 16 * YEAR
    last_possible = cust.admission - 60
    ok = last_possible > first_possible
    rows, _ = np.nonzero((np.arange(S)[None, :] < count[:, None]) & ok[:, None])
    k = len(rows)
    o = np.floor(
        first_possible[rows] + rng.random(k) * (last_possible[rows] - first_possible[rows])
    )
    d = np.minimum(o + registration_lag(rng.standard_normal(k)), cust.admission[rows] - 1)
    dt = choice(rng, (0.85, 0.10, 0.0, 0.05), k)
    age_at = pop.age[rows] - (cust.release[rows] - o) / YEAR
    sanction = np.where(dt == 0, choice(rng, (0.0, 0.35, 0.5, 0.0, 0.15), k), -1)
    sanction = np.where((dt == 0) & (age_at < 21) & (rng.random(k) < 0.6), 3, sanction)
    g = offence_groups(rng.random(k), pop.risk[rows])
    other = entries(rows, o, d, dt, sanction, g, max_penalty(rng.random(k), g))

    # Every decision above lies before the index release; count the convictions among them.
    n = pop.n
    conv_pid = np.concatenate([pid, rows[dt == 0]])
    conv_day = np.concatenate([dec, d[dt == 0]])
    convictions = np.bincount(conv_pid, minlength=n)
    first = np.full(n, np.inf)
    order = np.lexsort((conv_day, conv_pid))
    starts = np.flatnonzero(np.r_[True, np.diff(conv_pid[order]) != 0])
    first[conv_pid[order][starts]] = conv_day[order][starts]
    first[np.isinf(first)] = np.nan
    return History(pl.concat([custodial, other]), convictions, first)


def sanctions(
    custodial: np.ndarray, u_rest: np.ndarray, u_juvenile: np.ndarray, age_at_offence: np.ndarray
) -> np.ndarray:
    """Sanction index of a conviction from its uniforms: custodial if so drawn, else a
    juvenile measure for half the offenders under 21, else suspended / fine / other."""
    cum = np.cumsum((0.35, 0.50, 0.0, 0.15))
    rest = np.minimum((u_rest[..., None] >= cum).sum(axis=-1), 3) + 1
    juvenile = (age_at_offence < 21) & (u_juvenile < 0.5)
    return np.where(custodial, 0, np.where(juvenile, 3, rest)).astype(np.int8)
