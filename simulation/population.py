"""Persons: programme, sex, age, nationality, names, latent risk, index release date."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reentry.contract import CODE_LISTS

from . import names as nm
from .dates import YEAR, choice, choice_rows
from .sources import Catalogue

# The sexes drawn: every code of the contract's list but u (not recorded).
SEX_CODES = tuple(code for code in CODE_LISTS["sex"] if code != "u")
LONG_TERM_SHARE = 0.02


@dataclass
class Population:
    """Person-level arrays, all of length n (index = person id)."""

    n: int
    programme: np.ndarray  # index into Catalogue.programmes
    sex: np.ndarray  # index into SEX_CODES
    nationality: np.ndarray  # index into Catalogue.nationalities
    foreign: np.ndarray  # bool: not the programme country's nationality (deportable)
    origin: np.ndarray  # index into names.ORIGINS
    fam1: np.ndarray
    fam2: np.ndarray  # -1: single family name
    given: np.ndarray
    risk: np.ndarray  # latent propensity to offend, N(0, 1); never observed
    age: np.ndarray  # age in years at the index release
    birth: np.ndarray  # day number
    release: np.ndarray  # day number of the index release (or of a long-term prisoner's)
    long_term: np.ndarray  # bool: released only after the programme's last prison export
    period_start: np.ndarray  # day number of the person's programme start
    period_end: np.ndarray


def simulate_population(n: int, rng: np.random.Generator, cat: Catalogue) -> Population:
    """Draw n persons, split over the programmes by their shares."""
    programme = choice(rng, cat.share, n).astype(np.int16)
    sex = choice(rng, (0.915, 0.083, 0.002), n).astype(np.int8)

    nationality = choice_rows(rng, cat.nationality_probs[programme]).astype(np.int16)
    home = cat.home_nationality[programme]
    unknown = cat.nationalities.index("") if "" in cat.nationalities else -1
    foreign = (nationality != home) & (nationality != unknown)
    origin = choice_rows(rng, cat.origin_probs[nationality]).astype(np.int8)

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

    start, end = cat.period_start[programme], cat.period_end[programme]
    release = np.floor(start + rng.random(n) * (end - start + 1))
    # About 2 % are long-term prisoners released only after their programme's last prison
    # export: always open in its exports.
    long_term = rng.random(n) < LONG_TERM_SHARE
    later = cat.last_prison_export[programme] + 30 + np.floor(rng.random(n) * 2000)
    release = np.where(long_term, later, release)
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
        long_term,
        start,
        end,
    )
