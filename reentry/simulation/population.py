"""Persons: programme, sex, age, nationality, names, latent risk, index release date."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import names as nm
from .dates import PERIOD_END, PERIOD_START, YEAR, choice, choice_rows, day

SEX_CODES = ("m", "f", "x")
NATIONALITIES = ("DE", "NL", "TR", "PL", "RO", "MA", "RU", "SY", "SR", "")
HOME_NATIONALITY = ("DE", "NL")

# Per programme: nationality shares, and per nationality the shares of name origins
# (second-generation citizens carry names of their parents' origin).
_NAT_PROBS = {
    0: {
        "DE": 0.72,
        "TR": 0.09,
        "PL": 0.05,
        "RO": 0.03,
        "MA": 0.02,
        "RU": 0.03,
        "SY": 0.02,
        "NL": 0.01,
        "": 0.03,
    },
    1: {
        "NL": 0.71,
        "MA": 0.09,
        "SR": 0.05,
        "TR": 0.05,
        "PL": 0.04,
        "RO": 0.02,
        "DE": 0.02,
        "": 0.02,
    },
}
_ORIGIN_PROBS = {
    #      de    nl    tr    pl    ma    ro
    "DE": (0.88, 0.00, 0.07, 0.03, 0.01, 0.01),
    "NL": (0.02, 0.86, 0.04, 0.01, 0.07, 0.00),
    "TR": (0.00, 0.00, 1.00, 0.00, 0.00, 0.00),
    "PL": (0.00, 0.00, 0.00, 1.00, 0.00, 0.00),
    "RO": (0.00, 0.00, 0.00, 0.00, 0.00, 1.00),
    "MA": (0.00, 0.00, 0.00, 0.00, 1.00, 0.00),
    "RU": (1.00, 0.00, 0.00, 0.00, 0.00, 0.00),  # late resettlers with German names
    "SY": (0.00, 0.00, 0.00, 0.00, 1.00, 0.00),
    "SR": (0.00, 1.00, 0.00, 0.00, 0.00, 0.00),
    "": (0.40, 0.30, 0.15, 0.00, 0.15, 0.00),
}


@dataclass
class Population:
    """Person-level arrays, all of length n (index = person id)."""

    n: int
    programme: np.ndarray  # 0 mabis, 1 exodus
    sex: np.ndarray  # index into SEX_CODES
    nationality: np.ndarray  # index into NATIONALITIES
    foreign: np.ndarray  # bool: not the programme country's nationality (deportable)
    origin: np.ndarray  # index into names.ORIGINS
    fam1: np.ndarray
    fam2: np.ndarray  # -1: single family name
    given: np.ndarray
    risk: np.ndarray  # latent propensity to offend, N(0, 1); never observed
    age: np.ndarray  # age in years at the index release
    birth: np.ndarray  # day number
    release: np.ndarray  # day number of the index release (or of a release after 2009)


def simulate_population(n: int, rng: np.random.Generator) -> Population:
    """Draw n persons. About 70 % MABiS.NeT, 30 % Exodus Connect."""
    programme = (rng.random(n) < 0.30).astype(np.int8)
    sex = choice(rng, (0.915, 0.083, 0.002), n).astype(np.int8)

    nat_probs = np.zeros((n, len(NATIONALITIES)))
    for p, probs in _NAT_PROBS.items():
        row = np.array([probs.get(c, 0.0) for c in NATIONALITIES])
        nat_probs[programme == p] = row
    nationality = choice_rows(rng, nat_probs).astype(np.int16)
    home = np.array([NATIONALITIES.index(h) for h in HOME_NATIONALITY])[programme]
    foreign = (nationality != home) & (nationality != NATIONALITIES.index(""))
    origin_table = np.array([_ORIGIN_PROBS[c] for c in NATIONALITIES])
    origin = choice_rows(rng, origin_table[nationality]).astype(np.int8)

    fam1 = (nm.FAMILY_OFFSET[origin] + np.floor(rng.random(n) * nm.FAMILY_COUNT[origin])).astype(
        np.int64
    )
    # Double family names, mostly German (Müller-Lüdenscheidt).
    double = (origin == 0) & (rng.random(n) < np.where(sex == 1, 0.15, 0.05))
    other = nm.FAMILY_OFFSET[0] + np.floor(rng.random(n) * nm.FAMILY_COUNT[0]).astype(np.int64)
    other = np.where(other == fam1, nm.FAMILY_OFFSET[0] + (other + 1) % nm.FAMILY_COUNT[0], other)
    fam2 = np.where(double, other, -1).astype(np.int64)
    female = sex == 1
    female_like = female | ((sex == 2) & (rng.random(n) < 0.5))
    male_idx = nm.MALE_OFFSET[origin] + np.floor(rng.random(n) * nm.MALE_COUNT[origin])
    fem_idx = (
        len(nm.MALE) + nm.FEMALE_OFFSET[origin] + np.floor(rng.random(n) * nm.FEMALE_COUNT[origin])
    )
    given = np.where(female_like, fem_idx, male_idx).astype(np.int64)

    # Ages at release 18-65, skewed young; higher latent risk among the young.
    age = np.clip(18 + rng.gamma(2.0, 6.0, n), 18, 65)
    risk = rng.standard_normal(n) - 0.015 * (age - 30)
    risk = (risk - risk.mean()) / risk.std()

    release = np.floor(PERIOD_START + rng.random(n) * (PERIOD_END - PERIOD_START + 1))
    # About 2 % are long-term prisoners released only after the follow-up: always open.
    long_term = rng.random(n) < 0.02
    release = np.where(long_term, day("2010-03-01") + np.floor(rng.random(n) * 2000), release)
    birth = np.floor(release - age * YEAR)
    return Population(
        n,
        programme,
        sex,
        nationality,
        foreign,
        origin,
        fam1,
        fam2,
        given,
        risk,
        age,
        birth,
        release,
    )
