"""The planted truth: what the warehouse's estimates should be compared with (aggregates only).

The population is exactly the one the warehouse evaluates: per programme, each eligible
person's index release (a release to liberty inside the programme period; prior spells all
end before the period, so it is the person's first release in it); participants are the
treated. Every measure is computed in both potential worlds with the warehouse's definitions
(indicators.md), so the effect on participants is exact, not estimated.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from reentry.contract import CODE_LISTS

from .custody import Custody
from .dates import date_series
from .offending import (
    CUSTODIAL_MODEL,
    DECISION_PROBS,
    HAZARD_COEFFICIENTS,
    WEIBULL_SCALE,
    WEIBULL_SHAPE,
    Offending,
    World,
)
from .population import Population
from .register import (
    DECISION_TYPES,
    MAX_PENALTY,
    OTHER_PRIOR_DECISIONS,
    SERIOUS_MIN_PENALTY_YEARS,
    History,
)
from .snapshots import as_date
from .sources import Catalogue

WINDOWS = tuple(int(months) for months in CODE_LISTS["follow_up_months"])
MEASURES = CODE_LISTS["measure"]
# The measures read off the register (every one but reincarceration).
REGISTER_MEASURES = tuple(m for m in MEASURES if m != "reincarceration")


def window_end(release: np.ndarray, months: int) -> np.ndarray:
    """Release day plus `months` calendar months (clamped to month end), as day numbers."""
    s = date_series("r", release).dt.offset_by(f"{months}mo")
    return s.cast(pl.Int32).to_numpy().astype(np.float64)


def _rate(flags: np.ndarray) -> float | None:
    return round(float(flags.mean()), 6) if flags.size else None


def _mean(x: np.ndarray) -> float | None:
    return round(float(np.mean(x)), 6) if x.size else None


def measure_flags(
    off: Offending, world: World, rows: np.ndarray, release: np.ndarray, w: int, as_of: float
) -> dict[str, np.ndarray]:
    """Per measure: did the event happen within w months of the release (rows: persons)?

    Register measures: a conviction whose offence date lies on or after the release and on or
    before release + w calendar months, decided on or before the as-of date. Reincarceration:
    the admission of the next spell within the window and on or before the as-of date.
    """
    end = window_end(release[rows], w)[:, None]
    t = world.offence[rows]
    inside = world.kept[rows] & (t >= release[rows][:, None]) & (t <= end)
    inside &= (t + off.lag[rows]) <= as_of
    conv = inside & off.conviction[rows]
    reinc = world.reincarceration[rows]
    return {
        "reconviction": conv.any(axis=1),
        "custodial_reconviction": (conv & off.custodial[rows]).any(axis=1),
        "serious_reconviction": (conv & off.serious[rows]).any(axis=1),
        "reincarceration": (reinc >= release[rows]) & (reinc <= end[:, 0]) & (reinc <= as_of),
    }


def _window(y1, y0, treated) -> dict:
    """Truth and naive comparison of one measure and window (all arrays over eligible)."""
    part = treated
    comp = ~treated
    observed = np.where(treated, y1, y0)
    r1, r0 = _rate(y1[part]), _rate(y0[part])
    naive_p, naive_c = _rate(observed[part]), _rate(observed[comp])
    return {
        "effect_on_participants": round(r1 - r0, 6) if part.any() else None,
        "rate_participants_treated": r1,
        "rate_participants_untreated": r0,
        "naive_rate_participants": naive_p,
        "naive_rate_non_participants": naive_c,
        "naive_difference": (
            round(naive_p - naive_c, 6) if naive_p is not None and naive_c is not None else None
        ),
        "n_participants": int(part.sum()),
    }


def serious_share(off: Offending, cust: Custody, as_of: float, rows: np.ndarray) -> dict:
    """Observed reconvictions after the index release (decided by the as-of date) and the
    share of them that are serious, over persons `rows`."""
    r = off.register
    decided = r["decision"].cast(pl.Int32).to_numpy() <= as_of
    pid = r["pid"].to_numpy()
    after = r["offence"].cast(pl.Int32).to_numpy() >= cust.release[pid]
    mine = np.zeros(len(cust.release), dtype=bool)
    mine[rows] = True
    conv = (r["decision_type"] == "conviction").to_numpy() & decided & after & mine[pid]
    serious = conv & (r["max_penalty_years"].to_numpy() >= SERIOUS_MIN_PENALTY_YEARS)
    n = int(conv.sum())
    return {"reconvictions": n, "serious_share": round(serious.sum() / n, 6) if n else None}


def planted_truth(
    pop: Population,
    cust: Custody,
    hist: History,
    cat: Catalogue,
    treated: np.ndarray,
    selection_model: dict,
    off: Offending,
    hazard_ratio: float,
    seed: int,
    as_of: float,
) -> dict:
    """Effects on participants of every measure and window from both potential outcomes, per
    programme, with the naive observed comparison and a check that selection is not random."""
    eligible_all = np.flatnonzero(cust.released)
    out: dict = {
        "seed": seed,
        "persons": pop.n,
        "hazard_ratio": hazard_ratio,
        "hidden_confounding": selection_model["hidden_confounding"],
        "random_participation": selection_model["random_participation"],
        "as_of_date": as_of_iso(as_of),
        "effect_definition": (
            "Over each programme's eligible index releases (a person's first release to "
            "liberty - end_of_sentence, parole or early_release - inside the programme period "
            "from one of its prisons), participants = treated: mean(event within w months | "
            "treated) - mean(event within w months | untreated) over participants, both "
            "potential outcomes drawn with common random numbers. Register measures "
            f"({', '.join(REGISTER_MEASURES)} = statutory maximum "
            ">= 4 years): a conviction whose offence date lies on or after the release date and "
            "on or before the release date plus w calendar months (clamped to month end), "
            "decided on or before the as-of date. reincarceration: the admission of the next "
            "custody spell (not a transfer) in that window, on or before the as-of date."
        ),
        "participation": (
            "selection = accepted and consent = yes at a partner of the programme, intake "
            "between spell start and release + 90 days; drawn once per eligible person"
        ),
        "selection_model": selection_model,
        "reoffending_model": {
            "hazard": "Weibull, cumulative hazard (t / scale)^shape * exp(linear predictor)",
            "shape": WEIBULL_SHAPE,
            "scale_days": WEIBULL_SCALE,
            "coefficients": HAZARD_COEFFICIENTS,
            "programme_hazard_shift": {
                p.id: float(cat.hazard_shift[i]) for i, p in enumerate(cat.programmes)
            },
            "decision_type_shares": dict(zip(DECISION_TYPES, DECISION_PROBS, strict=True)),
            "statutory_maximum_years": {
                g: {"values": v, "shares": s} for g, (v, s) in MAX_PENALTY.items()
            },
            "custodial_sanction": CUSTODIAL_MODEL,
            "prior_decisions": OTHER_PRIOR_DECISIONS,
            "programme_effect": f"participants' hazard multiplied by {hazard_ratio} from release",
        },
        "serious_reconvictions": serious_share(off, cust, as_of, eligible_all),
        "programmes": {},
    }
    R = cust.release
    for p, prog in enumerate(cat.programmes):
        rows = np.flatnonzero(cust.released & (pop.programme == p))
        tr = treated[rows]
        measures: dict = {m: {"windows_months": {}} for m in MEASURES}
        for w in WINDOWS:
            y0 = measure_flags(off, off.untreated, rows, R, w, as_of)
            y1 = measure_flags(off, off.treated, rows, R, w, as_of)
            for m in MEASURES:
                measures[m]["windows_months"][str(w)] = _window(y1[m], y0[m], tr)
        part, comp = rows[tr], rows[~tr]
        # Whether the warehouse's full follow-up rule (window + 6 months of registration lag
        # before the as-of date) keeps every index release in the 36-month rates.
        last = window_end(np.array([cat.period_end[p]]), max(WINDOWS) + 6)[0]
        out["programmes"][prog.id] = {
            "name": prog.name,
            "period": {"start": prog.start.isoformat(), "end": prog.end.isoformat()},
            "full_follow_up_all_windows": bool(last <= as_of),
            "releases": int(len(rows)),
            "participating_releases": int(tr.sum()),
            "non_participating_releases": int((~tr).sum()),
            # The legacy key path: reconviction, the same numbers as under measures.
            "windows_months": measures["reconviction"]["windows_months"],
            "measures": measures,
            "serious_reconvictions": serious_share(off, cust, as_of, rows),
            "selection_check": {
                "mean_latent_risk_participants": _mean(pop.risk[part]),
                "mean_latent_risk_non_participants": _mean(pop.risk[comp]),
                "mean_prior_spells_participants": _mean(cust.n_priors[part]),
                "mean_prior_spells_non_participants": _mean(cust.n_priors[comp]),
                "mean_prior_convictions_participants": _mean(hist.convictions[part]),
                "mean_prior_convictions_non_participants": _mean(hist.convictions[comp]),
                "share_completed_training_participants": _mean(cust.trained[part]),
                "share_completed_training_non_participants": _mean(cust.trained[comp]),
                "mean_age_participants": _mean(pop.age[part]),
                "mean_age_non_participants": _mean(pop.age[comp]),
            },
        }
    return out


def as_of_iso(as_of: float) -> str:
    """The as-of day number as an ISO date."""
    return as_date(as_of).isoformat()
