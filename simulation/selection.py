"""Who participates: one draw per eligible person, from observables and hidden risk.

    treated ~ Bernoulli(sigmoid(alpha_p + kappa * (sqrt(1 - h) * z_obs - sqrt(h) * z_risk)))

z_obs is a standardised linear index of covariates the warehouse sees in the exports on the
release date, each coded so that it is nested in the warehouse's propensity model (a linear
age in years = release year - birth year, a training flag, categories of prior spells, prior
convictions, offence group and release type); z_risk is the standardised latent risk, which
no export shows. h (hidden confounding) in [0, 1] moves selection from observables only
(h = 0: the propensity model can remove all selection bias) to latent risk only (h = 1).
alpha_p is solved per programme so that its participation share is met exactly in
expectation. With `random_participation`, treated ~ Bernoulli(share) independently of
everything (a randomised trial).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reentry.contract import OFFENCE_GROUPS

from .custody import PAROLE, Custody
from .dates import sigmoid, year_of
from .population import Population
from .register import History
from .sources import Catalogue

DEFAULT_HIDDEN_CONFOUNDING = 0.3
# Strength of selection on the (standardised) selection index.
KAPPA = 1.0
# The observable index: coefficients on covariates as the warehouse codes them.
OBSERVABLE_INDEX = {
    "completed_training": 0.8,
    "prior_spells_capped_at_3": -0.45,
    # prior convictions decided by the release date: 0, 1, 2, 3-4, 5+ -> 0..4
    "prior_conviction_category": -0.35,
    "age_at_release_years": 0.03,
    "parole": 0.3,
    "offence_group": {
        "fraud": 0.4,
        "traffic": 0.3,
        "property": -0.3,
        "drugs": -0.3,
        "violent": -0.2,
    },
}


def conviction_category(convictions: np.ndarray) -> np.ndarray:
    """Prior convictions 0, 1, 2, 3-4, 5+ as 0..4 (the warehouse's categories)."""
    return np.select(
        [convictions <= 2, convictions <= 4], [convictions, np.full_like(convictions, 3)], 4
    )


def observable_index(pop: Population, cust: Custody, hist: History) -> np.ndarray:
    """The raw (unstandardised) observable selection index of every person."""
    c = OBSERVABLE_INDEX
    age_seen = year_of(cust.release) - year_of(pop.birth)
    group = np.zeros(len(OFFENCE_GROUPS))
    for name, value in c["offence_group"].items():
        group[OFFENCE_GROUPS.index(name)] = value
    return (
        c["completed_training"] * cust.trained
        + c["prior_spells_capped_at_3"] * np.minimum(cust.n_priors, 3)
        + c["prior_conviction_category"] * conviction_category(hist.convictions)
        + c["age_at_release_years"] * age_seen
        + c["parole"] * (cust.release_type == PAROLE)
        + group[cust.offence]
    )


def _standardise(x: np.ndarray) -> tuple[np.ndarray, float, float]:
    mean, sd = float(x.mean()), float(x.std())
    return (x - mean) / (sd if sd > 0 else 1.0), mean, sd


def _intercept(score: np.ndarray, share: float) -> float:
    """alpha with mean(sigmoid(alpha + score)) = share (bisection: monotone in alpha)."""
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if sigmoid(mid + score).mean() < share:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass
class Participation:
    """The draw and the selection model actually used."""

    treated: np.ndarray
    z_obs: np.ndarray  # standardised within programme among eligible persons (0 elsewhere)
    z_risk: np.ndarray
    model: dict


def draw_participation(
    pop: Population,
    cust: Custody,
    hist: History,
    cat: Catalogue,
    rng: np.random.Generator,
    hidden_confounding: float = DEFAULT_HIDDEN_CONFOUNDING,
    random_participation: bool = False,
) -> Participation:
    """Draw `treated` once per eligible person (see the module docstring)."""
    if not 0.0 <= hidden_confounding <= 1.0:
        raise ValueError(f"hidden_confounding must lie in [0, 1], not {hidden_confounding}")
    n = pop.n
    h = float(hidden_confounding)
    u = rng.random(n)
    raw = observable_index(pop, cust, hist)
    treated = np.zeros(n, dtype=bool)
    z_obs = np.zeros(n)
    z_risk = np.zeros(n)
    per_programme = {}
    for p, prog in enumerate(cat.programmes):
        elig = np.flatnonzero(cust.released & (pop.programme == p))
        # Without a partner that keeps participant records nobody can be seen to participate.
        can = any("participants" in cat.partners[i].entities for i in cat.partners_of[p])
        share = float(cat.participation_share[p]) if can else 0.0
        entry: dict = {"participation_share": share, "eligible": int(len(elig))}
        if len(elig) == 0 or share == 0.0:
            per_programme[prog.id] = {**entry, "alpha": None, "kappa": None}
            continue
        zo, mean_o, sd_o = _standardise(raw[elig])
        zr, mean_r, sd_r = _standardise(pop.risk[elig])
        z_obs[elig], z_risk[elig] = zo, zr
        if random_participation:
            treated[elig] = u[elig] < share
            per_programme[prog.id] = {**entry, "alpha": None, "kappa": 0.0}
            continue
        score = KAPPA * (np.sqrt(1 - h) * zo - np.sqrt(h) * zr)
        alpha = _intercept(score, share)
        treated[elig] = u[elig] < sigmoid(alpha + score)
        per_programme[prog.id] = {
            **entry,
            "alpha": round(alpha, 6),
            "kappa": KAPPA,
            "observable_index_mean": round(mean_o, 6),
            "observable_index_sd": round(sd_o, 6),
            "latent_risk_mean": round(mean_r, 6),
            "latent_risk_sd": round(sd_r, 6),
        }
    model = {
        "formula": (
            "random: treated ~ Bernoulli(participation_share)"
            if random_participation
            else "treated ~ Bernoulli(sigmoid(alpha_p + kappa * (sqrt(1 - h) * z_obs - "
            "sqrt(h) * z_risk))), drawn once per eligible person"
        ),
        "hidden_confounding": h,
        "random_participation": bool(random_participation),
        "kappa": KAPPA,
        "z_obs": (
            "the observable index below, standardised among the programme's eligible persons"
        ),
        "z_risk": "latent risk, standardised among the programme's eligible persons",
        "observable_index": OBSERVABLE_INDEX,
        "observable_coding": {
            "completed_training": "a prison_measure of type vocational_training, school, "
            "job_coaching or application_training, outcome completed, in the index spell",
            "prior_spells_capped_at_3": "custody spells before the index spell, min(n, 3)",
            "prior_conviction_category": "register convictions decided on or before the "
            "release date (the index spell's own included): 0, 1, 2, 3-4, 5+ -> 0..4",
            "age_at_release_years": "release year - birth year",
            "parole": "release type parole",
            "offence_group": "offence group of the index spell",
        },
        "programmes": per_programme,
    }
    return Participation(treated, z_obs, z_risk, model)


def parse_hidden_confounding(value: str) -> float:
    """A command line's --hidden-confounding: a number in [0, 1] (argparse type)."""
    import argparse

    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number in [0, 1]") from None
    if not 0.0 <= x <= 1.0:
        raise argparse.ArgumentTypeError(
            f"{value} is outside [0, 1] (0: participants are selected on observed "
            "characteristics only, 1: on the hidden risk only)"
        )
    return x
