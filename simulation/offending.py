"""Reoffending after the index release, in both potential worlds, and the register entries and
reincarcerations it produces.

Offence times come from a Weibull hazard that depends on latent risk, age, prior spells, sex
and the programme. Participants' hazard is multiplied by HAZARD_RATIO. Both potential worlds
of every eligible person are drawn with common random numbers: the k-th potential offence has
the same cumulative unit-exponential increment, decision type, sanction uniforms, offence
group, statutory maximum, registration lag and reincarceration draws in both worlds; only its
time differs (the hazard ratio rescales it). Each world then applies the same rules (death ends
offending, offences after a reincarceration admission are dropped), so the true effect of
every measure on participants is exact. The observed data are the treated world for
participants and the untreated world for everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .custody import PAROLE, Custody, offence_groups, reincarceration_episodes
from .dates import YEAR, sigmoid
from .population import Population
from .register import (
    DECISION_TYPES,
    SERIOUS_MIN_PENALTY_YEARS,
    History,
    entries,
    max_penalty,
    registration_lag,
    sanctions,
)
from .sources import Catalogue

HAZARD_RATIO = 0.7
MAX_OFFENCES = 6
# Weibull baseline: decreasing hazard, ~30 % offend within a year at average covariates.
WEIBULL_SHAPE = 0.75
WEIBULL_SCALE = 1440.0
HAZARD_COEFFICIENTS = {
    "latent_risk": 0.6,
    "age_minus_30": -0.025,
    "prior_spells_capped_at_5": 0.15,
    "female": -0.4,
}
# Share of each decision type (the contract's list decision_type).
DECISION_SHARES = {"conviction": 0.80, "diversion": 0.10, "acquittal": 0.04, "dismissal": 0.06}
DECISION_PROBS = tuple(DECISION_SHARES[t] for t in DECISION_TYPES)
CUSTODIAL_MODEL = (
    "P(custodial | conviction) = logistic(-1.4 + 0.4*latent_risk + 0.25*min(priors, 4))"
)
# First custodial conviction -> back to prison, by the first three admission types (to serve
# the sentence, on remand, on recall; recall only after parole and within 3 years of release).
REINCARCERATION_KIND = (0.6, 0.3, 0.1)


@dataclass
class World:
    """One potential world: offence times and what survives of them (n x MAX_OFFENCES)."""

    offence: np.ndarray  # offence day of the k-th potential offence
    kept: np.ndarray  # bool: committed at liberty, alive, before a reincarceration admission
    sanction: np.ndarray  # sanction index (meaningful for convictions)
    reincarceration: np.ndarray  # admission day of the reincarceration (NaN: none)
    reincarceration_kind: np.ndarray  # 0 sentence, 1 remand, 2 recall (-1: none)
    trigger: np.ndarray  # k of the custodial conviction behind it (-1: none)


@dataclass
class Offending:
    """Potential and observed outcomes after the index release."""

    death: np.ndarray  # day number of death at liberty (NaN if none in follow-up)
    reincarceration: np.ndarray  # observed admission day of the reincarceration, NaN if none
    register: pl.DataFrame  # pid, offence, decision, decision_type, sanction, ... (observed)
    reincarceration_episodes: pl.DataFrame
    untreated: World
    treated: World
    conviction: np.ndarray  # n x K bool: the k-th potential decision is a conviction
    custodial: np.ndarray  # n x K bool: ... with a custodial sanction
    serious: np.ndarray  # n x K bool: ... of an offence with a statutory maximum >= 4 years
    lag: np.ndarray  # n x K registration lag in days (decision = offence + lag)


def _world(
    pop: Population,
    cust: Custody,
    eligible: np.ndarray,
    death: np.ndarray,
    horizon: float,
    scaled: np.ndarray,
    d: dict[str, np.ndarray],
) -> World:
    """Apply the rules of the observed world to one set of offence times."""
    n = scaled.shape[0]
    R = cust.release
    off = R[:, None] + np.ceil(scaled)
    valid = eligible[:, None] & (off < death[:, None]) & (off <= horizon)
    age_at = pop.age[:, None] + (off - R[:, None]) / YEAR
    sanction = sanctions(d["custodial"], d["u_rest"], d["u_juvenile"], age_at)

    # The first custodial conviction brings the person back to prison: on remand soon after
    # the offence, on recall of parole, or to serve the sentence after the decision.
    trig = valid & d["conviction"] & d["custodial"]
    has = trig.any(axis=1)
    j = np.argmax(trig, axis=1)
    rows = np.arange(n)
    o = off[rows, j]
    decision = o + d["lag"][rows, j]
    kind = d["kind"][rows, j]
    recall_ok = (cust.release_type == PAROLE) & (o - R < 3 * YEAR)
    kind = np.where((kind == 2) & ~recall_ok, 0, kind)
    adm = np.select(
        [kind == 1, kind == 2],
        [np.minimum(o + d["delay_remand"][rows, j], decision), o + d["delay_recall"][rows, j]],
        decision + d["delay_sentence"][rows, j],
    )
    adm = np.where(has, np.maximum(adm, o + 1), np.nan)
    # Follow-up of offending ends at the reincarceration.
    kept = valid & ~(off >= adm[:, None])
    return World(off, kept, sanction, adm, np.where(has, kind, -1), np.where(has, j, -1))


def simulate_offending(
    pop: Population,
    cust: Custody,
    hist: History,
    cat: Catalogue,
    treated: np.ndarray,
    rng: np.random.Generator,
    hazard_ratio: float = HAZARD_RATIO,
) -> Offending:
    """New offences after the index release in both potential worlds, the observed register
    entries (history included) and the observed reincarceration episodes."""
    n = pop.n
    K = MAX_OFFENCES
    R = cust.release
    eligible = cust.released
    c = HAZARD_COEFFICIENTS
    eta = (
        c["latent_risk"] * pop.risk
        + c["age_minus_30"] * (pop.age - 30)
        + c["prior_spells_capped_at_5"] * np.minimum(cust.n_priors, 5)
        + c["female"] * (pop.sex == 1)
        + cat.hazard_shift[pop.programme]
    )
    # Common random numbers: every draw of the k-th potential offence is shared by the worlds.
    G = np.cumsum(rng.exponential(1.0, (n, K)), axis=1)
    dtype = np.searchsorted(np.cumsum(DECISION_PROBS)[:-1], rng.random((n, K)), side="right")
    conviction = dtype == 0
    p_custodial = sigmoid(-1.4 + 0.4 * pop.risk + 0.25 * np.minimum(cust.n_priors, 4))
    group = offence_groups(rng.random((n, K)), pop.risk[:, None])
    penalty = max_penalty(rng.random((n, K)), group)
    d = {
        "conviction": conviction,
        "custodial": conviction & (rng.random((n, K)) < p_custodial[:, None]),
        "u_rest": rng.random((n, K)),
        "u_juvenile": rng.random((n, K)),
        "lag": registration_lag(rng.standard_normal((n, K))),
        "kind": np.searchsorted(
            np.cumsum(REINCARCERATION_KIND)[:-1], rng.random((n, K)), side="right"
        ),
        "delay_remand": np.floor(1 + rng.random((n, K)) * 30),
        "delay_recall": np.floor(14 + rng.random((n, K)) * 107),
        "delay_sentence": np.floor(7 + rng.random((n, K)) * 84),
    }
    # Mortality at liberty, the same in both worlds.
    death = R + np.ceil(rng.exponential(YEAR / (0.004 * np.exp(0.04 * (pop.age - 30)))))
    death = np.where(eligible, death, np.nan)
    # Simulate a year past the last export so the last files see realistic open cases.
    horizon = cat.follow_up_end + YEAR

    base = np.exp(eta)[:, None]
    t0 = WEIBULL_SCALE * (G / base) ** (1 / WEIBULL_SHAPE)
    w0 = _world(pop, cust, eligible, death, horizon, t0, d)
    t1 = WEIBULL_SCALE * (G / (base * hazard_ratio)) ** (1 / WEIBULL_SHAPE)
    w1 = _world(pop, cust, eligible, death, horizon, t1, d)
    del t0, t1, G

    # The observed world.
    tr = treated[:, None]
    off = np.where(tr, w1.offence, w0.offence)
    kept = np.where(tr, w1.kept, w0.kept)
    sanction = np.where(tr, w1.sanction, w0.sanction)
    rows, cols = np.nonzero(kept)
    register = entries(
        rows,
        off[rows, cols],
        off[rows, cols] + d["lag"][rows, cols],
        dtype[rows, cols],
        np.where(conviction[rows, cols], sanction[rows, cols], -1),
        group[rows, cols],
        penalty[rows, cols],
    )
    reinc = np.where(treated, w1.reincarceration, w0.reincarceration)
    kind = np.where(treated, w1.reincarceration_kind, w0.reincarceration_kind)
    trigger = np.where(treated, w1.trigger, w0.trigger)
    who = np.flatnonzero(np.isfinite(reinc))
    episodes = reincarceration_episodes(
        pop,
        cust,
        cat,
        who,
        reinc[who],
        np.array([0, 1, 2])[kind[who]],
        group[who, trigger[who]],
        rng,
    )
    return Offending(
        death,
        reinc,
        pl.concat([hist.register, register]),
        episodes,
        w0,
        w1,
        conviction,
        d["custodial"],
        conviction & (penalty >= SERIOUS_MIN_PENALTY_YEARS),
        d["lag"],
    )
