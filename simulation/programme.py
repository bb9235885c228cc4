"""Participant records, placements and aftercare contacts.

Who is treated is drawn once (selection.py); this module only writes what the partners record
about it: every treated person gets an accepted, consented record whose intake lies between
the index spell's start and 90 days after the release, and some others get a record that is
not participation (rejected, withdrawn, or no consent). Referral, intake date and partner do
not change who is treated. Placements follow the programme's placement route.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from reentry.contract import ENTITIES

from .custody import Custody
from .dates import YEAR, choice, choice_rows, date_series, uniform_int
from .offending import Offending
from .population import Population
from .sources import ROUTES, Catalogue

SELECTIONS = ENTITIES["participants"].column("selection").codes
CONSENTS = ENTITIES["participants"].column("consent").codes
EXIT_REASONS = ENTITIES["participants"].column("exit_reason").codes
PLACEMENT_TYPES = ENTITIES["placements"].column("placement_type").codes
END_REASONS = ENTITIES["placements"].column("end_reason").codes
CONTACT_WITH = ENTITIES["aftercare_contacts"].column("contact_with").codes
CHANNELS = ENTITIES["aftercare_contacts"].column("channel").codes

# Eligible non-participants who still leave a record at a partner (not taken on).
NON_PARTICIPANT_RECORD_SHARE = 0.22
# ... of which: rejected, withdrawn, accepted without consent (no / withdrawn).
NON_PARTICIPANT_OUTCOMES = (0.55, 0.25, 0.20)
REFERRED_SHARE = 0.85  # records opened on referral by the releasing prison (else self-referral)
INTAKE_DURING_DETENTION = 0.8  # of referrals
# Placement type shares per partner type, in the order of PLACEMENT_TYPES (the contract's list
# placement_type).
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

    partner: np.ndarray  # index into Catalogue.partners
    referring: np.ndarray  # index into Catalogue.prisons, -1 = self-referral
    intake: np.ndarray
    selection: np.ndarray
    consent: np.ndarray
    treated: np.ndarray  # accepted and consent yes: the programme takes effect


def _main_partners(cat: Catalogue, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Partners of programme p that may hold a main record, and their weights."""
    ids = np.array(
        [i for i in cat.partners_of[p] if "participants" in cat.partners[i].entities],
        dtype=np.int64,
    )
    types = [cat.partners[i].partner_type for i in ids]
    given = cat.programmes[p].partner_type_weights
    weights = {t: 1.0 for t in types} if given is None else dict(given)
    w = np.array([weights.get(t, 0.0) / types.count(t) for t in types])
    if len(ids) and w.sum() <= 0:  # no partner of a weighted type: all alike
        w = np.ones(len(ids))
    return ids, w


def participant_records(
    pop: Population, cust: Custody, cat: Catalogue, treated: np.ndarray, rng: np.random.Generator
) -> Selection:
    """The main participant record of the treated and of some eligible non-participants."""
    n = pop.n
    R, A = cust.release, cust.admission
    elig = cust.released
    others = elig & ~treated & (rng.random(n) < NON_PARTICIPANT_RECORD_SHARE)
    outcome = choice(rng, NON_PARTICIPANT_OUTCOMES, n)
    has = treated | others

    partner = np.full(n, -1)
    u_usual = rng.random(n)
    u_partner = rng.random(n)
    usual_of_prison = np.array([s.usual_partner for s in cat.prisons], dtype=np.int64)
    for p in range(len(cat.programmes)):
        ids, w = _main_partners(cat, p)
        m = has & (pop.programme == p)
        if not len(ids):
            has &= ~m
            continue
        cum = np.cumsum(w / w.sum())
        pick = ids[np.minimum(np.searchsorted(cum, u_partner[m], side="right"), len(ids) - 1)]
        # A prison's usual partner takes most of its referrals.
        usual = usual_of_prison[cust.home[m]]
        share = cat.programmes[p].usual_partner_share
        partner[m] = np.where((usual >= 0) & (u_usual[m] < share), usual, pick)
    treated = treated & has

    referred = has & (rng.random(n) < REFERRED_SHARE)
    during = referred & (rng.random(n) < INTAKE_DURING_DETENTION)
    intake = np.where(
        during,
        R - np.floor(rng.random(n) * np.minimum(R - A, 180)),
        R + uniform_int(rng, 1 * ~referred, 90),
    )
    intake = np.where(has, intake, np.nan)
    # 0 accepted, 1 rejected, 2 withdrawn; non-participants: rejected, withdrawn, or
    # accepted without consent.
    selection = np.where(treated, 0, np.select([outcome == 0, outcome == 1], [1, 2], 0))
    consent = np.where(
        treated,
        0,
        np.where(selection == 0, 1 + choice(rng, (0.5, 0.5), n), choice(rng, (0.5, 0.5), n)),
    )
    referring = np.where(referred, cust.home, -1)
    return Selection(partner, referring, intake, selection, consent, treated)


def _stop(off: Offending) -> np.ndarray:
    """Reincarceration or death: whichever ends liberty first (NaN: neither)."""
    return np.fmin(off.reincarceration, off.death)


def _slot(rng, pop, off, horizon, pid, partner, ptype, arranged, earliest_start, p_never, mean_dur):
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
    running = end > horizon
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


def programme_records(
    pop: Population,
    cust: Custody,
    cat: Catalogue,
    sel: Selection,
    off: Offending,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Participant records, placements and aftercare contacts of all partners."""
    n = pop.n
    R = cust.release
    stop = _stop(off)
    horizon = cat.follow_up_end + YEAR
    # A post-release intake cannot follow reincarceration or death.
    sel.intake = np.where(sel.intake > R, np.fmin(sel.intake, stop - 1), sel.intake)
    partner_type = np.array([p.partner_type for p in cat.partners] or ["aftercare"])
    treated = sel.treated
    route = cat.route[pop.programme]
    slots = []
    extra = []  # participant records at sports clubs and employer networks (sports route)

    # Route `detention`: placements by the partner itself, preferably arranged during
    # detention.
    detention = treated & (route == ROUTES.index("detention"))
    t = np.flatnonzero(detention & (rng.random(n) < 0.8))
    before = (sel.intake[t] < R[t]) & (rng.random(len(t)) < 0.6)
    arranged = np.where(
        before,
        sel.intake[t] + np.floor(rng.random(len(t)) * (R[t] - sel.intake[t] + 1)),
        np.maximum(sel.intake[t], R[t]) + np.floor(rng.exponential(40, len(t))),
    )
    ok = ~(arranged >= stop[t])
    t, arranged = t[ok], arranged[ok]
    type_probs = np.array([_TYPE_BY_PARTNER[x] for x in partner_type])
    probs = type_probs[sel.partner[t]]
    s1 = _slot(
        rng,
        pop,
        off,
        horizon,
        t,
        sel.partner[t],
        choice_rows(rng, probs),
        arranged,
        R[t],
        0.12,
        300,
    )
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
        horizon,
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

    # Route `sports_club`: work experience at a sports club, then for many a paid job (via
    # the programme's employer network, if it has one, or the main partner).
    P = len(cat.programmes)
    clubs_of = [
        [i for i in cat.partners_of[p] if cat.partners[i].partner_type == "sports_club"]
        for p in range(P)
    ]
    n_clubs = np.array([len(c) for c in clubs_of])
    club_table = np.array([c + [-1] * (max(n_clubs.max(), 1) - len(c)) for c in clubs_of])
    network_of = np.array(
        [
            next(
                (
                    i
                    for i in cat.partners_of[p]
                    if cat.partners[i].partner_type == "employer_network"
                ),
                -1,
            )
            for p in range(P)
        ]
    )
    ex = treated & (route == ROUTES.index("sports_club"))
    we_route = ex & (rng.random(n) < 0.65)
    w = np.flatnonzero(we_route)
    arr_we = np.maximum(sel.intake[w], R[w] - 30) + uniform_int(rng, 0, 30)
    okw = ~(arr_we >= stop[w])
    w, arr_we = w[okw], arr_we[okw]
    prog_w = pop.programme[w]
    club = club_table[prog_w, np.floor(rng.random(len(w)) * n_clubs[prog_w]).astype(np.int64)]
    we = _slot(rng, pop, off, horizon, w, club, np.full(len(w), 5), arr_we, R[w], 0.08, 200)
    slots.append(we)
    extra.append((w, club, arr_we, we))
    up = (we["reason"] == 0) & (rng.random(len(w)) < 0.65)
    u = w[up]
    we_end = we["end"][up]
    gap = np.where(rng.random(len(u)) < 0.75, uniform_int(rng, 0, 170), uniform_int(rng, 181, 400))
    arr_up = np.maximum(we_end - uniform_int(rng, 0, 30), we["start"][up])
    okup = ~(arr_up >= stop[u])
    u, gap, we_end, arr_up = u[okup], gap[okup], we_end[okup], arr_up[okup]
    network = network_of[pop.programme[u]]
    by_network = (rng.random(len(u)) < 0.4) & (network >= 0)
    rec = np.where(by_network, network, sel.partner[u])
    step = _slot(
        rng,
        pop,
        off,
        horizon,
        u,
        rec,
        choice(rng, (0.7, 0.3), len(u)),
        arr_up,
        we_end + gap,
        0.05,
        400,
    )
    slots.append(step)
    extra.append((u[by_network], rec[by_network], arr_up[by_network], _keep(step, by_network)))
    idx_up = np.flatnonzero(up)[okup]
    seamless = np.isfinite(step["start"]) & (step["start"] <= we_end + 14)
    we["reason"][idx_up[seamless]] = 1
    # Participants of the sports route without work experience: a job via the main partner
    # for some.
    d = np.flatnonzero(ex & ~we_route & (rng.random(n) < 0.4))
    arr_d = np.maximum(sel.intake[d], R[d]) + np.floor(rng.exponential(45, len(d)))
    okd = ~(arr_d >= stop[d])
    d, arr_d = d[okd], arr_d[okd]
    slots.append(
        _slot(
            rng,
            pop,
            off,
            horizon,
            d,
            sel.partner[d],
            choice(rng, (0.6, 0.4), len(d)),
            arr_d,
            R[d],
            0.1,
            300,
        )
    )

    placements = {k: np.concatenate([s[k] for s in slots]) for k in slots[0]}
    participants = _participants(rng, pop, cust, cat, sel, off, placements, extra)
    contacts = _contacts(rng, pop, cust, sel, participants, partner_type, horizon)
    return participants, _placement_frame(placements), contacts


def _participants(rng, pop, cust, cat, sel, off, placements, extra) -> pl.DataFrame:
    n = pop.n
    horizon = cat.follow_up_end + YEAR
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
    exit_ = np.where(exit_ > horizon, np.nan, exit_)
    # Records of people not taken on close within a month.
    closed = sel.intake + uniform_int(rng, 0, 30)
    exit_ = np.where(sel.treated, exit_, closed)
    reason = np.where(sel.treated, reason, np.where(sel.selection == 2, 1, 5))
    reason = np.where(np.isfinite(exit_), reason, -1)
    p = np.flatnonzero(has)
    frames = [
        _participant_frame(
            cat,
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
                cat,
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


def _participant_frame(cat, pid, partner, referring, intake, selection, consent, exit_, reason):
    prison_ids = np.array([p.id for p in cat.prisons] + [""])
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


def _contacts(rng, pop, cust, sel, participants, partner_type, horizon) -> pl.DataFrame:
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
    end = np.fmin(np.where(np.isnan(exit_), horizon, exit_), horizon)
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
