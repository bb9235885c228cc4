"""Reoffending after the index release, and the criminal-register entries it produces.

Offence times come from a Weibull hazard that depends on latent risk, age, prior spells and
sex. Participants' hazard is multiplied by HAZARD_RATIO *after* selection. Both potential
offence sequences of every person are drawn with common random numbers (the same exponential
increments, with and without the hazard ratio), so the true effect on participants is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ingestion.contract import ENTITIES, OFFENCE_GROUPS

from .custody import OFFENCE_PROBS, Custody
from .dates import FOLLOW_UP_END, YEAR, choice, choice_rows, date_series, sigmoid, uniform_int
from .population import Population

HAZARD_RATIO = 0.7
DECISION_TYPES = ENTITIES["register_entries"].column("decision_type").codes
SANCTIONS = ENTITIES["register_entries"].column("sanction").codes
MAX_OFFENCES = 6
# Weibull baseline: decreasing hazard, ~30 % offend within a year at average covariates.
WEIBULL_SHAPE = 0.75
WEIBULL_SCALE = 1440.0
HAZARD_COEFFICIENTS = {
    "latent_risk": 0.6,
    "age_minus_30": -0.025,
    "prior_spells_capped_at_5": 0.15,
    "female": -0.4,
    "exodus": -0.1,
}
DECISION_PROBS = (0.80, 0.10, 0.04, 0.06)  # conviction, diversion, acquittal, dismissal
# Statutory maximum (years) per offence group: options and their shares.
_MAX_PENALTY = {
    "violent": ((5, 10, 15), (0.5, 0.35, 0.15)),
    "sexual": ((5, 10, 15), (0.3, 0.4, 0.3)),
    "property": ((5, 10), (0.7, 0.3)),
    "fraud": ((5, 10), (0.85, 0.15)),
    "drugs": ((5, 15), (0.6, 0.4)),
    "traffic": ((1, 2, 5), (0.4, 0.2, 0.4)),
    "public_order": ((1, 2, 3), (0.4, 0.3, 0.3)),
    "other": ((0.5, 2, 3), (0.3, 0.4, 0.3)),
}


@dataclass
class Offending:
    """Potential and observed outcomes after the index release."""

    first_conviction_untreated: np.ndarray  # day number of the offence, NaN if none
    first_conviction_treated: np.ndarray
    death: np.ndarray  # day number of death at liberty (NaN if none in follow-up)
    reincarceration: np.ndarray  # admission day of the first reincarceration, NaN if none
    register: pl.DataFrame  # pid, offence, decision, decision_type, sanction, ...
    reincarceration_episodes: pl.DataFrame


def max_penalty(rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
    """Statutory maximum in years for each offence group index."""
    vals = np.zeros((len(OFFENCE_GROUPS), 3))
    probs = np.zeros((len(OFFENCE_GROUPS), 3))
    for g, name in enumerate(OFFENCE_GROUPS):
        v, p = _MAX_PENALTY[name]
        vals[g, : len(v)] = v
        probs[g, : len(p)] = p
    j = choice_rows(rng, probs[group])
    return vals[group, j]


def registration_lag(rng: np.random.Generator, size) -> np.ndarray:
    """Days from offence to registered decision: median ~3.5 months, a tail beyond 6 months."""
    return np.floor(7 + rng.lognormal(np.log(100), 0.75, size))


def _sanction(rng, risk, priors, age_at_offence) -> np.ndarray:
    m = len(risk)
    custodial = rng.random(m) < sigmoid(-1.4 + 0.4 * risk + 0.25 * np.minimum(priors, 4))
    rest = choice(rng, (0.35, 0.50, 0.0, 0.15), m) + 1  # suspended, fine, (juvenile), other
    juvenile = (age_at_offence < 21) & (rng.random(m) < 0.5)
    return np.where(custodial, 0, np.where(juvenile, 3, rest))


def _entries(pid, offence, decision, dtype, sanction, group, penalty) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "pid": pid.astype(np.int64),
            "offence": date_series("offence", offence),
            "decision": date_series("decision", decision),
            "decision_type": np.asarray(DECISION_TYPES)[dtype],
            "sanction": pl.Series(
                np.where(sanction >= 0, np.asarray(SANCTIONS)[np.maximum(sanction, 0)], ""),
            ).replace("", None),
            "offence_group": np.asarray(OFFENCE_GROUPS)[group],
            "max_penalty_years": penalty.astype(np.float64),
        }
    )


def simulate_offending(
    pop: Population,
    cust: Custody,
    treated: np.ndarray,
    rng: np.random.Generator,
    hazard_ratio: float = HAZARD_RATIO,
) -> tuple[Offending, np.ndarray]:
    """New offences after the index release (both potential outcomes) and register entries.

    Returns the outcomes and the reincarceration admission types (for the episodes).
    """
    from .custody import reincarceration_episodes

    n = pop.n
    R = cust.release
    eligible = cust.released
    c = HAZARD_COEFFICIENTS
    eta = (
        c["latent_risk"] * pop.risk
        + c["age_minus_30"] * (pop.age - 30)
        + c["prior_spells_capped_at_5"] * np.minimum(cust.n_priors, 5)
        + c["female"] * (pop.sex == 1)
        + c["exodus"] * pop.programme
    )
    K = MAX_OFFENCES
    # Common random numbers: one set of cumulative unit-exponential increments per person,
    # inverted through the cumulative hazard with and without the hazard ratio.
    G = np.cumsum(rng.exponential(1.0, (n, K)), axis=1)
    base = np.exp(eta)[:, None]
    t0 = WEIBULL_SCALE * (G / base) ** (1 / WEIBULL_SHAPE)
    t1 = WEIBULL_SCALE * (G / (base * hazard_ratio)) ** (1 / WEIBULL_SHAPE)
    off0 = R[:, None] + np.ceil(t0)
    off1 = R[:, None] + np.ceil(t1)
    dtype = choice(rng, DECISION_PROBS, n * K).reshape(n, K)
    conv = dtype == 0

    # Mortality at liberty, the same in both worlds.
    death = R + np.ceil(rng.exponential(YEAR / (0.004 * np.exp(0.04 * (pop.age - 30)))))
    death = np.where(eligible, death, np.nan)

    def first_conviction(off):
        t = np.where(conv & (off < death[:, None]), off, np.inf).min(axis=1)
        return np.where(eligible & np.isfinite(t), t, np.nan)

    first0, first1 = first_conviction(off0), first_conviction(off1)
    off = np.where(treated[:, None], off1, off0)
    # Simulate a year past the last export so the last files see realistic open cases.
    valid = eligible[:, None] & (off < death[:, None]) & (off <= FOLLOW_UP_END + YEAR)

    rows, cols = np.nonzero(valid)
    m = len(rows)
    o = off[rows, cols]
    dt = dtype[rows, cols]
    age_at = pop.age[rows] + (o - R[rows]) / YEAR
    sanction = np.where(dt == 0, _sanction(rng, pop.risk[rows], cust.n_priors[rows], age_at), -1)
    group = choice(rng, OFFENCE_PROBS, m)
    decision = o + registration_lag(rng, m)

    # The first custodial conviction brings the person back to prison: on remand soon after
    # the offence, on recall of parole, or to serve the sentence after the decision.
    cust_flag = sanction == 0
    first_cust = np.full(n, -1)
    idx = np.flatnonzero(cust_flag)  # entries are ordered by person, then by time
    persons, first = np.unique(rows[idx], return_index=True)
    first_cust[persons] = idx[first]
    who = np.flatnonzero(first_cust >= 0)
    j = first_cust[who]
    kind = choice(rng, (0.6, 0.3, 0.1), len(who))  # sentence, remand, recall
    recall_ok = (cust.release_type[who] == 1) & (o[j] - R[who] < 3 * YEAR)
    kind = np.where((kind == 2) & ~recall_ok, 0, kind)
    adm = np.select(
        [kind == 1, kind == 2],
        [np.minimum(o[j] + uniform_int(rng, 1, 30), decision[j]), o[j] + uniform_int(rng, 14, 120)],
        decision[j] + uniform_int(rng, 7, 90),
    )
    adm = np.maximum(adm, o[j] + 1)
    adm_type = np.array([0, 1, 2])[kind]
    reinc = np.full(n, np.nan)
    reinc[who] = adm
    # Follow-up of offending ends at the reincarceration.
    keep = ~(o >= reinc[rows])
    register = _entries(
        rows[keep],
        o[keep],
        decision[keep],
        dt[keep],
        sanction[keep],
        group[keep],
        max_penalty(rng, group[keep]),
    )
    episodes = reincarceration_episodes(pop, cust, who, adm, adm_type, group[j], rng)
    prior = _prior_entries(pop, cust, rng)
    out = Offending(first0, first1, death, reinc, pl.concat([prior, register]), episodes)
    return out, adm_type


def _prior_entries(pop: Population, cust: Custody, rng: np.random.Generator) -> pl.DataFrame:
    """Register history before the index release: the custodial conviction behind every spell
    and some earlier non-custodial decisions."""
    spells = cust.episodes.filter(pl.col("admission_type") != "transfer_in").select(
        "pid", "admission", "admission_type", "release", "offence_group"
    )
    pid = spells["pid"].to_numpy()
    adm = spells["admission"].cast(pl.Int32).to_numpy().astype(np.float64)
    rel = spells["release"].cast(pl.Int32).to_numpy().astype(np.float64)
    group = (
        spells["offence_group"]
        .replace_strict({g: i for i, g in enumerate(OFFENCE_GROUPS)}, return_dtype=pl.Int64)
        .to_numpy()
    )
    remand = (spells["admission_type"] == "remand").to_numpy()
    m = len(pid)
    lag = registration_lag(rng, m)
    served = np.maximum(rel - adm, 2)
    dec = np.where(
        remand,
        adm + np.minimum(uniform_int(rng, 30, 200), served - 1),
        adm - uniform_int(rng, 7, 60),
    )
    off = np.where(remand, adm - uniform_int(rng, 1, 30), dec - lag)
    custodial = _entries(
        pid,
        off,
        dec,
        np.zeros(m, dtype=np.int64),
        np.zeros(m, dtype=np.int64),
        group,
        max_penalty(rng, group),
    )

    S = 3
    count = np.minimum(rng.poisson(0.3 + 0.3 * cust.n_priors), S)
    first_possible = pop.birth + 16 * YEAR
    last_possible = cust.admission - 60
    ok = last_possible > first_possible
    rows, _ = np.nonzero((np.arange(S)[None, :] < count[:, None]) & ok[:, None])
    k = len(rows)
    o = np.floor(
        first_possible[rows] + rng.random(k) * (last_possible[rows] - first_possible[rows])
    )
    d = np.minimum(o + registration_lag(rng, k), cust.admission[rows] - 1)
    dt = choice(rng, (0.85, 0.10, 0.0, 0.05), k)
    age_at = pop.age[rows] - (cust.release[rows] - o) / YEAR
    sanction = np.where(dt == 0, choice(rng, (0.0, 0.35, 0.5, 0.0, 0.15), k), -1)
    sanction = np.where((dt == 0) & (age_at < 21) & (rng.random(k) < 0.6), 3, sanction)
    g = choice(rng, OFFENCE_PROBS, k)
    other = _entries(rows, o, d, dt, sanction, g, max_penalty(rng, g))
    return pl.concat([custodial, other])
