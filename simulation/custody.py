"""Custody histories: prior spells, the index spell (with transfers), in-prison measures and
reincarcerations after new custodial sentences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from reentry.contract import CODE_LISTS, ENTITIES, OFFENCE_GROUPS

from .dates import YEAR, choice, choice_rows, date_series, sigmoid, uniform_int
from .population import Population
from .sources import Catalogue

ADMISSION_TYPES = ENTITIES["custody_episodes"].column("admission_type").codes
RELEASE_TYPES = ENTITIES["custody_episodes"].column("release_type").codes
MEASURE_TYPES = ENTITIES["prison_measures"].column("measure_type").codes
OUTCOMES = ENTITIES["prison_measures"].column("outcome").codes
# Releases to liberty (the index release types), as indices into RELEASE_TYPES.
RELEASES_TO_LIBERTY = tuple(RELEASE_TYPES.index(t) for t in CODE_LISTS["index_release_type"])
PAROLE = RELEASE_TYPES.index("parole")
OFFENCE_PROBS = (0.22, 0.03, 0.30, 0.10, 0.17, 0.07, 0.07, 0.04)
# Log-odds change of each offence group per standard deviation of latent risk: high risk
# means more property, drugs and violent offences, low risk more fraud and traffic, so the
# offence group is an observable trace of the latent risk.
OFFENCE_RISK_LOADING = (0.35, 0.0, 0.4, -0.6, 0.35, -0.6, 0.1, -0.2)
# Sentences are longer for higher latent risk (log scale, per standard deviation).
SENTENCE_RISK_LOADING = 0.25
# Measures that count as training completed in prison, as indices into MEASURE_TYPES.
TRAINING_MEASURES = tuple(MEASURE_TYPES.index(t) for t in CODE_LISTS["training_measure_type"])
MAX_PRIORS = 5
MIN_AGE_IN_CUSTODY = 16


@dataclass
class Custody:
    """Per-person facts of the index spell plus the episode and measure tables."""

    admission: np.ndarray  # index spell start
    release: np.ndarray  # index spell end
    release_type: np.ndarray  # index into RELEASE_TYPES
    released: np.ndarray  # bool: a release to liberty inside the programme period (eligible)
    home: np.ndarray  # releasing prison (index into Catalogue.prisons)
    n_priors: np.ndarray  # prior custody spells (observable in the prison data)
    trained: np.ndarray  # bool: completed a training measure during the index spell
    offence: np.ndarray  # offence group of the index spell (index into OFFENCE_GROUPS)
    sentence: np.ndarray  # sentence days of the index spell
    episodes: pl.DataFrame  # pid, prison, admission, ..., kind
    measures: pl.DataFrame
    spells: dict[str, np.ndarray]  # one row per spell (prior and index): pid, admission, ...


def offence_groups(u: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """Offence group index for uniforms `u` and the latent risk of their persons (broadcast).

    P(group) is proportional to OFFENCE_PROBS * exp(OFFENCE_RISK_LOADING * risk); inverting
    the cumulative shares group by group keeps memory at the size of `u`.
    """
    weights = [
        p * np.exp(b * risk) for p, b in zip(OFFENCE_PROBS, OFFENCE_RISK_LOADING, strict=True)
    ]
    total = sum(weights)
    group = np.zeros(np.broadcast(u, risk).shape, dtype=np.int64)
    cum = np.zeros_like(total)
    for w in weights[:-1]:
        cum = cum + w / total
        group += u >= cum
    return group


def _prisons(rng: np.random.Generator, programme: np.ndarray, cat: Catalogue) -> np.ndarray:
    """A prison of each person's programme, by prison size."""
    out = np.empty(len(programme), dtype=np.int64)
    for p, ids in cat.prisons_of.items():
        m = programme == p
        weights = [cat.prisons[i].weight for i in ids]
        out[m] = ids[choice(rng, weights, int(m.sum()))]
    return out


def _other_prison(
    rng: np.random.Generator, programme: np.ndarray, prison: np.ndarray, cat: Catalogue
) -> np.ndarray:
    """A different prison of the same programme (for transfers; the same if it has one)."""
    out = prison.copy()
    for p, ids in cat.prisons_of.items():
        m = programme == p
        if len(ids) < 2:
            continue
        local = np.searchsorted(ids, prison[m])
        shift = rng.integers(1, len(ids), int(m.sum()))
        out[m] = ids[(local + shift) % len(ids)]
    return out


def _episode_frame(pid, prison, adm, adm_type, expected, rel, rel_type, sentence, offence, kind):
    return pl.DataFrame(
        {
            "pid": pid.astype(np.int64),
            "prison": prison.astype(np.int16),
            "admission": date_series("admission", adm),
            "admission_type": np.asarray(ADMISSION_TYPES)[adm_type],
            "expected_release": date_series("expected_release", expected),
            "release": date_series("release", rel),
            "release_type": pl.Series(np.asarray(RELEASE_TYPES)[rel_type]),
            "sentence_days": pl.Series(sentence, nan_to_null=True).cast(pl.Int32),
            "offence_group": np.asarray(OFFENCE_GROUPS)[offence],
        }
    ).with_columns(pl.lit(kind, dtype=pl.String).alias("kind"))


def simulate_custody(pop: Population, rng: np.random.Generator, cat: Catalogue) -> Custody:
    """Index spells (release types, transfers), prior spells and in-prison measures."""
    n = pop.n
    R = pop.release
    home = _prisons(rng, pop.programme, cat)

    # Release type of the index spell: deportation mostly of foreign nationals, rare
    # death / escape / other; the rest are releases to liberty.
    probs = np.tile([0.52, 0.28, 0.17, 0.0, 0.0, 0.003, 0.005, 0.01], (n, 1))
    probs[:, 4] = np.where(pop.foreign, 0.14, 0.002)
    rel_type = choice_rows(rng, probs)

    sentence = np.clip(
        np.round(rng.lognormal(np.log(420) + SENTENCE_RISK_LOADING * pop.risk, 0.8)), 30, 5400
    )
    frac = np.select(
        [rel_type == 0, rel_type == 1, rel_type == 2],
        [np.ones(n), rng.uniform(0.5, 0.8, n), rng.uniform(0.8, 0.95, n)],
        rng.uniform(0.3, 1.0, n),
    )
    served = np.maximum(14, np.round(sentence * frac))
    # Long-term prisoners must have been admitted inside the programme period.
    late = pop.period_end < R
    served = np.where(
        late, np.maximum(served, R - pop.period_end + uniform_int(rng, 30, 900)), served
    )
    sentence = np.maximum(sentence, served)
    A = R - served
    expected = A + sentence
    adm_type = choice(rng, (0.72, 0.22, 0.04, 0.0, 0.02), n)
    offence = offence_groups(rng.random(n), pop.risk)
    released = np.isin(rel_type, RELEASES_TO_LIBERTY) & ~late

    # Transfers: the first episode ends transfer_out on day t, the second starts transfer_in
    # on t or t + 1 at the releasing prison.
    transfer = (rng.random(n) < 0.12) & (served >= 60)
    t = A + np.floor(rng.uniform(0.2, 0.8, n) * served)
    gap = rng.integers(0, 2, n)
    first_prison = np.where(transfer, _other_prison(rng, pop.programme, home, cat), home)
    transfer &= first_prison != home  # a one-prison programme has nowhere to transfer to

    tr = np.flatnonzero(transfer)
    nt = np.flatnonzero(~transfer)
    ep_index = pl.concat(
        [
            _episode_frame(
                nt,
                home[nt],
                A[nt],
                adm_type[nt],
                expected[nt],
                R[nt],
                rel_type[nt],
                sentence[nt],
                offence[nt],
                "index",
            ),
            _episode_frame(
                tr,
                first_prison[tr],
                A[tr],
                adm_type[tr],
                expected[tr],
                t[tr],
                np.full(len(tr), 3),
                sentence[tr],
                offence[tr],
                "index",
            ),
            _episode_frame(
                tr,
                home[tr],
                t[tr] + gap[tr],
                np.full(len(tr), 3),
                expected[tr],
                R[tr],
                rel_type[tr],
                sentence[tr],
                offence[tr],
                "index",
            ),
        ]
    )

    # Prior spells, generated backwards. The most recent one ends before both the index
    # admission and the programme start, so the index release is each person's first release
    # in the programme period; a spell that would start before age 16 is dropped together
    # with all older ones.
    lam = np.exp(-0.15 + 0.7 * pop.risk + 0.02 * (pop.age - 30))
    want = np.minimum(rng.poisson(lam), MAX_PRIORS)
    K = MAX_PRIORS
    gaps = np.floor(60 + rng.exponential(500, (n, K)))
    durs = np.floor(
        np.clip(rng.lognormal(np.log(150) + 0.15 * pop.risk[:, None], 0.8, (n, K)), 14, 2000)
    )
    anchor = np.minimum(A - gaps[:, 0], pop.period_start - 1 - np.floor(rng.exponential(90, n)))
    gaps[:, 0] = 0
    p_adm = anchor[:, None] - np.cumsum(durs + gaps, axis=1)
    p_rel = p_adm + durs
    earliest = pop.birth + MIN_AGE_IN_CUSTODY * YEAR
    valid = (np.arange(K)[None, :] < want[:, None]) & (p_adm >= earliest[:, None])
    valid = np.cumprod(valid, axis=1).astype(bool)
    n_priors = valid.sum(axis=1)
    rows, cols = np.nonzero(valid)
    m = len(rows)
    p_prison = np.where(rng.random(m) < 0.6, home[rows], _prisons(rng, pop.programme[rows], cat))
    p_rel_type = choice(rng, (0.5, 0.3, 0.2), m)
    p_sentence = np.floor(
        durs[rows, cols]
        / np.select(
            [p_rel_type == 0, p_rel_type == 1],
            [np.ones(m), rng.uniform(0.5, 0.8, m)],
            rng.uniform(0.8, 0.95, m),
        )
    )
    p_adm_type = choice(rng, (0.8, 0.2), m)
    p_offence = offence_groups(rng.random(m), pop.risk[rows])
    ep_prior = _episode_frame(
        rows,
        p_prison,
        p_adm[rows, cols],
        p_adm_type,
        p_adm[rows, cols] + p_sentence,
        p_rel[rows, cols],
        p_rel_type,
        p_sentence,
        p_offence,
        "prior",
    )
    # One row per spell (transfers joined), for the register history behind every spell.
    idx = np.arange(n)
    spells = {
        "pid": np.concatenate([rows, idx]),
        "admission": np.concatenate([p_adm[rows, cols], A]),
        "release": np.concatenate([p_rel[rows, cols], R]),
        "remand": np.concatenate([p_adm_type == 1, adm_type == 1]),
        "offence": np.concatenate([p_offence, offence]),
    }

    measures, trained = _measures(rng, pop, A, R, served, transfer, t, first_prison, home)
    episodes = pl.concat([ep_prior, ep_index])
    return Custody(
        A,
        R,
        rel_type,
        released,
        home,
        n_priors,
        trained,
        offence,
        sentence,
        episodes,
        measures,
        spells,
    )


def _measures(rng, pop, A, R, served, transfer, t, first_prison, home):
    """Training and work during the index spell; outcome known at the end of the measure."""
    n = pop.n
    M = 3
    count = np.minimum(rng.poisson(0.25 + 0.7 * np.minimum(served, 900) / YEAR), M)
    rows, _ = np.nonzero(np.arange(M)[None, :] < count[:, None])
    m = len(rows)
    mtype = choice(rng, (0.25, 0.12, 0.15, 0.18, 0.25, 0.05), m)
    lo = np.array([180, 120, 30, 10, 30, 14])[mtype]
    hi = np.array([700, 300, 90, 30, 400, 120])[mtype]
    dur = uniform_int(rng, lo, hi)
    start = A[rows] + np.floor(rng.random(m) * (R[rows] - A[rows]))
    nominal_end = start + dur
    # Motivation to complete falls with latent risk.
    completes = rng.random(m) < sigmoid(1.2 - 0.6 * pop.risk[rows])
    in_first = transfer[rows] & (start <= t[rows])
    end = np.where(completes, nominal_end, start + np.floor(rng.random(m) * dur))
    outcome = np.where(completes, 0, 1)
    cut_by_transfer = in_first & (nominal_end >= t[rows])
    end = np.where(cut_by_transfer, t[rows], end)
    outcome = np.where(cut_by_transfer, 3, outcome)
    cut_by_release = ~in_first & (nominal_end >= R[rows])
    end = np.where(cut_by_release, R[rows], end)
    outcome = np.where(cut_by_release, 2, outcome)
    prison = np.where(in_first, first_prison[rows], home[rows])
    trained = np.zeros(n, dtype=bool)
    done = (outcome == 0) & np.isin(mtype, TRAINING_MEASURES)
    trained[rows[done]] = True
    frame = pl.DataFrame(
        {
            "pid": rows.astype(np.int64),
            "prison": prison.astype(np.int16),
            "measure_type": np.asarray(MEASURE_TYPES)[mtype],
            "start": date_series("start", start),
            "end": date_series("end", end),
            "outcome": np.asarray(OUTCOMES)[outcome],
        }
    )
    return frame, trained


def reincarceration_episodes(
    pop: Population,
    cust: Custody,
    cat: Catalogue,
    pid: np.ndarray,
    admission: np.ndarray,
    adm_type: np.ndarray,
    offence_group: np.ndarray,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """New custody episodes after a custodial decision (or remand / recall before it)."""
    m = len(pid)
    prison = np.where(rng.random(m) < 0.6, cust.home[pid], _prisons(rng, pop.programme[pid], cat))
    sentence = np.clip(np.round(rng.lognormal(np.log(300), 0.7, m)), 30, 3000)
    rel_type = choice(rng, (0.55, 0.28, 0.17), m)
    frac = np.select(
        [rel_type == 0, rel_type == 1],
        [np.ones(m), rng.uniform(0.5, 0.8, m)],
        rng.uniform(0.8, 0.95, m),
    )
    release = admission + np.maximum(14, np.round(sentence * frac))
    return _episode_frame(
        pid,
        prison,
        admission,
        adm_type,
        admission + sentence,
        release,
        rel_type,
        sentence,
        offence_group,
        "reincarceration",
    )
