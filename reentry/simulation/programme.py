"""Referral, pre-selection, participation, placements and aftercare contacts.

Selection depends on covariates that also drive reoffending (latent risk, prior spells,
completed training, age), so participants are better risks than non-participants and a naive
comparison overstates the programme's effect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ingestion.contract import ENTITIES

from .custody import Custody
from .dates import FOLLOW_UP_END, YEAR, choice, choice_rows, date_series, sigmoid, uniform_int
from .offending import Offending
from .population import Population
from .sources import EXODUS_BRANCH_OF_PRISON, PARTNERS, PARTNERS_OF, PRISONS, PRISONS_OF

SELECTIONS = ENTITIES["participants"].column("selection").codes  # accepted, rejected, withdrawn
CONSENTS = ENTITIES["participants"].column("consent").codes  # yes, no, withdrawn
EXIT_REASONS = ENTITIES["participants"].column("exit_reason").codes
PLACEMENT_TYPES = ENTITIES["placements"].column("placement_type").codes
END_REASONS = ENTITIES["placements"].column("end_reason").codes
CONTACT_WITH = ENTITIES["aftercare_contacts"].column("contact_with").codes
CHANNELS = ENTITIES["aftercare_contacts"].column("channel").codes

REFERRAL_MODEL = "P(referral) = logistic(-0.6 + 0.8*completed_training - 0.2*latent_risk)"
SELECTION_COEFFICIENTS = {
    "intercept": 0.5,
    "latent_risk": -0.7,
    "prior_spells_capped_at_4": -0.25,
    "completed_training": 0.7,
    "age_minus_30": 0.02,
    "exodus": -0.2,
}
PARTNER_TYPE_WEIGHTS = {
    "aftercare": 0.45,
    "training_provider": 0.15,
    "temp_agency": 0.15,
    "job_centre": 0.15,
    "employer_network": 0.10,
    "sports_club": 0.0,
}
# Placement type shares per partner type (order of PLACEMENT_TYPES: employment, temp_work,
# apprenticeship, vocational_training, qualification, work_experience).
_TYPE_BY_PARTNER = {
    "aftercare": (0.35, 0.30, 0.05, 0.15, 0.10, 0.05),
    "training_provider": (0.0, 0.0, 0.25, 0.45, 0.30, 0.0),
    "temp_agency": (0.10, 0.90, 0.0, 0.0, 0.0, 0.0),
    "job_centre": (0.30, 0.25, 0.05, 0.20, 0.20, 0.0),
    "employer_network": (0.70, 0.10, 0.15, 0.0, 0.0, 0.05),
    "sports_club": (0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
}
# planned duration (low, high days) and share open-ended, per placement type
_PLANNED = (
    (365, 365, 0.5),
    (60, 240, 0.0),
    (730, 1095, 0.0),
    (180, 720, 0.0),
    (30, 180, 0.0),
    (90, 180, 0.0),
)
_HOURS = (
    (40, 38.5, 35, 30, 20),
    (40, 38.5, 35, 30),
    (40, 39, 38.5),
    (30, 35, 38.5, 40),
    (20, 25, 30, 19.5),
    (16, 20, 24, 12.5),
)
_SECTORS = ("CFGHINQ", "CFGHN", "CFGI", "P", "P", "R")
_PAID = (True, True, True, False, False, False)


@dataclass
class Selection:
    """Main participant record per person (partner < 0: none)."""

    partner: np.ndarray  # index into PARTNERS
    referring: np.ndarray  # index into PRISONS, -1 = self-referral
    intake: np.ndarray
    selection: np.ndarray
    consent: np.ndarray
    treated: np.ndarray  # accepted and consent yes: the programme takes effect


def select_participants(pop: Population, cust: Custody, rng: np.random.Generator) -> Selection:
    """Referral by the releasing prison, intake, pre-selection and consent."""
    n = pop.n
    R, A = cust.release, cust.admission
    elig = cust.released
    referred = elig & (rng.random(n) < sigmoid(-0.6 + 0.8 * cust.trained - 0.2 * pop.risk))
    self_ref = elig & ~referred & (rng.random(n) < 0.04)
    has = referred | self_ref

    partner = np.full(n, -1)
    for p, ids in PARTNERS_OF.items():
        m = has & (pop.programme == p)
        types = [PARTNERS[i].partner_type for i in ids]
        if p == 0:
            w = np.array([PARTNER_TYPE_WEIGHTS[t] / types.count(t) for t in types])
            partner[m] = ids[choice(rng, w, int(m.sum()))]
        else:
            branches = ids[[t == "aftercare" for t in types]]
            local = cust.home[m] - PRISONS_OF[1][0]
            usual = branches[np.asarray(EXODUS_BRANCH_OF_PRISON)[local]]
            other = branches[rng.integers(0, len(branches), int(m.sum()))]
            partner[m] = np.where(rng.random(int(m.sum())) < 0.8, usual, other)

    during = rng.random(n) < 0.8
    intake = np.where(
        referred & during,
        R - np.floor(rng.random(n) * np.minimum(R - A, 180)),
        R + uniform_int(rng, 1 * self_ref, 90),
    )
    intake = np.where(has, intake, np.nan)
    c = SELECTION_COEFFICIENTS
    logit = (
        c["intercept"]
        + c["latent_risk"] * pop.risk
        + c["prior_spells_capped_at_4"] * np.minimum(cust.n_priors, 4)
        + c["completed_training"] * cust.trained
        + c["age_minus_30"] * (pop.age - 30)
        + c["exodus"] * pop.programme
    )
    accepted = rng.random(n) < sigmoid(logit)
    selection = np.where(accepted, 0, np.where(rng.random(n) < 0.75, 1, 2))
    consent = np.where(accepted, choice(rng, (0.92, 0.04, 0.04), n), choice(rng, (0.5, 0.5), n))
    treated = has & accepted & (consent == 0)
    referring = np.where(referred, cust.home, -1)
    return Selection(partner, referring, intake, selection, consent, treated)


def _stop(off: Offending) -> np.ndarray:
    """Reincarceration or death: whichever ends liberty first (NaN: neither)."""
    return np.fmin(off.reincarceration, off.death)


def _slot(rng, pop, off, pid, partner, ptype, arranged, earliest_start, p_never, mean_dur):
    """Start, planned end, end and end reason of one placement per row (vectorised)."""
    m = len(pid)
    start = np.maximum(arranged, earliest_start) + np.floor(rng.exponential(12, m))
    lo = np.array([p[0] for p in _PLANNED])[ptype]
    hi = np.array([p[1] for p in _PLANNED])[ptype]
    open_ended = rng.random(m) < np.array([p[2] for p in _PLANNED])[ptype]
    planned_dur = np.where(open_ended, np.nan, uniform_int(rng, lo, hi))
    D = 1 + np.floor(rng.exponential(mean_dur * np.exp(-0.4 * pop.risk[pid])))
    to_plan = ~open_ended & (planned_dur <= D)
    end = np.where(to_plan, start + planned_dur, start + D)
    reason = np.where(to_plan, 0, choice(rng, (0, 0, 0.55, 0.30, 0, 0.05, 0.05, 0.05), m))
    stop = _stop(off)[pid]
    never = (rng.random(m) < p_never) | (stop <= start)
    cut = (stop > start) & (stop < end)
    end = np.where(cut, stop, end)
    reason = np.where(cut, np.where(stop == off.reincarceration[pid], 4, 7), reason)
    running = end > FOLLOW_UP_END + YEAR
    end = np.where(never | running, np.nan, end)
    reason = np.where(never | running, -1, reason)
    planned = start + planned_dur
    start = np.where(never, np.nan, start)
    hours = np.array([list(h) + [h[0]] * (5 - len(h)) for h in _HOURS])[
        ptype, rng.integers(0, 5, m)
    ]
    sector_idx = np.floor(rng.random(m) * np.array([len(s) for s in _SECTORS])[ptype]).astype(int)
    sector_table = np.array([list(s) + [s[0]] * (7 - len(s)) for s in _SECTORS])
    return {
        "partner": partner.astype(np.int64),
        "pid": pid.astype(np.int64),
        "ptype": ptype,
        "arranged": arranged,
        "start": start,
        "planned_end": planned,
        "end": end,
        "reason": reason,
        "hours": hours.astype(np.float64),
        "sector": sector_table[ptype, sector_idx],
        "paid": np.asarray(_PAID)[ptype],
        "employer": rng.integers(1, 400, m),
    }


def _keep(slot: dict, mask: np.ndarray) -> dict:
    return {k: v[mask] for k, v in slot.items()}


def programme_records(pop, cust, sel, off, rng):
    """Participant records, placements and aftercare contacts of all partners."""
    n = pop.n
    R = cust.release
    stop = _stop(off)
    # A post-release intake cannot follow reincarceration or death.
    sel.intake = np.where(sel.intake > R, np.fmin(sel.intake, stop - 1), sel.intake)
    partner_type = np.array([p.partner_type for p in PARTNERS])
    treated = sel.treated
    slots = []
    extra = []  # participant records at sports clubs and employer networks (Exodus route)

    # MABiS.NeT: placements by the partner itself, preferably arranged during detention.
    t = np.flatnonzero(treated & (pop.programme == 0) & (rng.random(n) < 0.8))
    before = (sel.intake[t] < R[t]) & (rng.random(len(t)) < 0.6)
    arranged = np.where(
        before,
        sel.intake[t] + np.floor(rng.random(len(t)) * (R[t] - sel.intake[t] + 1)),
        np.maximum(sel.intake[t], R[t]) + np.floor(rng.exponential(40, len(t))),
    )
    ok = ~(arranged >= stop[t])
    t, arranged = t[ok], arranged[ok]
    probs = np.array([_TYPE_BY_PARTNER[x] for x in partner_type[sel.partner[t]]])
    s1 = _slot(rng, pop, off, t, sel.partner[t], choice_rows(rng, probs), arranged, R[t], 0.12, 300)
    # A second placement after the first ended, for some.
    nxt = np.isfinite(s1["end"]) & np.isin(s1["reason"], (0, 2, 3)) & (rng.random(len(t)) < 0.35)
    p2 = t[nxt]
    end1 = s1["end"][nxt]
    arr2 = np.maximum(end1 - uniform_int(rng, 0, 14), s1["start"][nxt])
    ok2 = ~(arr2 >= stop[p2])
    s2 = _slot(
        rng,
        pop,
        off,
        p2[ok2],
        sel.partner[p2[ok2]],
        choice(rng, (0.6, 0.4), int(ok2.sum())),
        arr2[ok2],
        end1[ok2] + 1,
        0.08,
        360,
    )
    idx1 = np.flatnonzero(nxt)[ok2]
    seamless = (
        np.isfinite(s2["start"]) & (s2["start"] <= end1[ok2] + 14) & (s1["reason"][idx1] == 0)
    )
    s1["reason"][idx1[seamless]] = 1  # transition
    slots += [s1, s2]

    # Exodus Connect: work experience at a sports club, then for many a paid job.
    clubs = np.array([i for i in PARTNERS_OF[1] if PARTNERS[i].partner_type == "sports_club"])
    network = [i for i in PARTNERS_OF[1] if PARTNERS[i].partner_type == "employer_network"][0]
    ex = treated & (pop.programme == 1)
    we_route = ex & (rng.random(n) < 0.65)
    w = np.flatnonzero(we_route)
    arr_we = np.maximum(sel.intake[w], R[w] - 30) + uniform_int(rng, 0, 30)
    okw = ~(arr_we >= stop[w])
    w, arr_we = w[okw], arr_we[okw]
    club = clubs[rng.integers(0, len(clubs), len(w))]
    we = _slot(rng, pop, off, w, club, np.full(len(w), 5), arr_we, R[w], 0.08, 200)
    slots.append(we)
    extra.append((w, club, arr_we, we))
    up = (we["reason"] == 0) & (rng.random(len(w)) < 0.65)
    u = w[up]
    we_end = we["end"][up]
    gap = np.where(rng.random(len(u)) < 0.75, uniform_int(rng, 0, 170), uniform_int(rng, 181, 400))
    arr_up = np.maximum(we_end - uniform_int(rng, 0, 30), we["start"][up])
    okup = ~(arr_up >= stop[u])
    u, gap, we_end, arr_up = u[okup], gap[okup], we_end[okup], arr_up[okup]
    by_network = rng.random(len(u)) < 0.4
    rec = np.where(by_network, network, sel.partner[u])
    step = _slot(
        rng, pop, off, u, rec, choice(rng, (0.7, 0.3), len(u)), arr_up, we_end + gap, 0.05, 400
    )
    slots.append(step)
    extra.append((u[by_network], rec[by_network], arr_up[by_network], _keep(step, by_network)))
    idx_up = np.flatnonzero(up)[okup]
    seamless = np.isfinite(step["start"]) & (step["start"] <= we_end + 14)
    we["reason"][idx_up[seamless]] = 1
    # Exodus participants without the sports route: a job via the branch for some.
    d = np.flatnonzero(ex & ~we_route & (rng.random(n) < 0.4))
    arr_d = np.maximum(sel.intake[d], R[d]) + np.floor(rng.exponential(45, len(d)))
    okd = ~(arr_d >= stop[d])
    d, arr_d = d[okd], arr_d[okd]
    slots.append(
        _slot(
            rng, pop, off, d, sel.partner[d], choice(rng, (0.6, 0.4), len(d)), arr_d, R[d], 0.1, 300
        )
    )

    placements = {k: np.concatenate([s[k] for s in slots]) for k in slots[0]}
    participants = _participants(rng, pop, cust, sel, off, placements, extra)
    contacts = _contacts(rng, pop, cust, sel, participants, partner_type)
    return participants, _placement_frame(placements), contacts


def _participants(rng, pop, cust, sel, off, placements, extra) -> pl.DataFrame:
    n = pop.n
    R = cust.release
    has = sel.partner >= 0
    stop = _stop(off)
    base = np.maximum(sel.intake, R)
    exit_ = base + np.floor(rng.lognormal(np.log(330), 0.6, n))
    reason = choice(rng, (0.55, 0.30, 0.0, 0.07, 0.0, 0.08), n)
    # The record stays open at least until the last placement the partner arranged.
    last = np.full(n, -np.inf)
    own = placements["partner"] == sel.partner[placements["pid"]]
    np.maximum.at(last, placements["pid"][own], placements["arranged"][own])
    exit_ = np.maximum(exit_, last + 1)
    cut = stop < exit_
    exit_ = np.where(cut, stop + uniform_int(rng, 0, 14), exit_)
    reason = np.where(cut, np.where(stop == off.reincarceration, 2, 4), reason)
    exit_ = np.where(exit_ > FOLLOW_UP_END + YEAR, np.nan, exit_)
    # Records of people not taken on close within a month.
    closed = sel.intake + uniform_int(rng, 0, 30)
    exit_ = np.where(sel.treated, exit_, closed)
    reason = np.where(sel.treated, reason, np.where(sel.selection == 2, 1, 5))
    reason = np.where(np.isfinite(exit_), reason, -1)
    p = np.flatnonzero(has)
    frames = [
        _participant_frame(
            p,
            sel.partner[p],
            sel.referring[p],
            sel.intake[p],
            sel.selection[p],
            sel.consent[p],
            exit_[p],
            reason[p],
        )
    ]
    # Records at sports clubs / employer networks, opened when the placement was arranged.
    map_reason = np.array([0, 0, 1, 1, 2, 3, 5, 5, -1])  # by placement end reason (-1 -> -1)
    for pid, partner, arranged, slot in extra:
        k = len(pid)
        consent = choice(rng, (0.95, 0.05), k)
        end = slot["end"] + uniform_int(rng, 0, 14)
        frames.append(
            _participant_frame(
                pid,
                partner,
                np.full(k, -1),
                arranged,
                np.zeros(k, int),
                consent,
                end,
                map_reason[slot["reason"]],
            )
        )
    return pl.concat(frames)


def _participant_frame(pid, partner, referring, intake, selection, consent, exit_, reason):
    prison_ids = np.array([p.id for p in PRISONS] + [""])
    return pl.DataFrame(
        {
            "partner": partner.astype(np.int64),
            "pid": pid.astype(np.int64),
            "referring_prison": pl.Series(prison_ids[referring]).replace("", None),
            "intake": date_series("intake", intake),
            "selection": np.asarray(SELECTIONS)[selection],
            "consent": np.asarray(CONSENTS)[consent],
            "exit": date_series("exit", exit_),
            "exit_reason": pl.Series(np.array(list(EXIT_REASONS) + [""])[reason]).replace("", None),
        }
    )


def _placement_frame(p: dict) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "partner": p["partner"],
            "pid": p["pid"],
            "placement_type": np.asarray(PLACEMENT_TYPES)[p["ptype"]],
            "employer": p["employer"].astype(np.int64),
            "sector": p["sector"],
            "arranged": date_series("arranged", p["arranged"]),
            "start": date_series("start", p["start"]),
            "planned_end": date_series("planned_end", p["planned_end"]),
            "end": date_series("end", p["end"]),
            "end_reason": pl.Series(np.array(list(END_REASONS) + [""])[p["reason"]]).replace(
                "", None
            ),
            "hours_per_week": p["hours"],
            "paid": np.where(p["paid"], "yes", "no"),
        }
    )


def _contacts(rng, pop, cust, sel, participants, partner_type) -> pl.DataFrame:
    """Aftercare contacts of participants of aftercare partners after release."""
    main = participants.filter(pl.col("selection") == "accepted", pl.col("consent") == "yes")
    pid = main["pid"].to_numpy()
    partner = main["partner"].to_numpy()
    aftercare = (
        (partner_type[partner] == "aftercare") & sel.treated[pid] & (sel.partner[pid] == partner)
    )
    pid, partner = pid[aftercare], partner[aftercare]
    intake = main["intake"].cast(pl.Int32).to_numpy().astype(float)[aftercare]
    exit_ = main["exit"].cast(pl.Int32).to_numpy(allow_copy=True).astype(float)[aftercare]
    start = np.maximum(cust.release[pid], intake)
    end = np.fmin(np.where(np.isnan(exit_), FOLLOW_UP_END + YEAR, exit_), FOLLOW_UP_END + YEAR)
    span = np.maximum(end - start, 0)
    months = np.minimum(span / 30.44, 24)
    count = np.minimum(rng.poisson(1.1 * months), 40)
    rows = np.repeat(np.arange(len(pid)), count)
    dates = start[rows] + np.floor(rng.random(len(rows)) * (span[rows] + 1))
    # Most get a first contact within days of release.
    first = rng.random(len(pid)) < 0.8
    fdate = start + np.floor(rng.exponential(6, len(pid)))
    fok = first & (fdate <= end)
    rows = np.concatenate([rows, np.flatnonzero(fok)])
    dates = np.concatenate([dates, fdate[fok]])
    k = len(rows)
    crisis = rng.random(k) < 0.03 + 0.04 * (pop.risk[pid[rows]] > 1)
    return pl.DataFrame(
        {
            "partner": partner[rows].astype(np.int64),
            "pid": pid[rows].astype(np.int64),
            "contact_date": date_series("contact_date", dates),
            "contact_with": np.asarray(CONTACT_WITH)[choice(rng, (0.75, 0.15, 0.10), k)],
            "channel": np.asarray(CHANNELS)[choice(rng, (0.55, 0.37, 0.06, 0.02), k)],
            "crisis": np.where(crisis, "yes", "no"),
        }
    )
