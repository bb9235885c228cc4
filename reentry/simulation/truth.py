"""The planted truth: what the warehouse's estimates should be compared with (aggregates only)."""

from __future__ import annotations

import numpy as np
import polars as pl

from .custody import Custody
from .dates import date_series
from .offending import (
    DECISION_PROBS,
    HAZARD_COEFFICIENTS,
    WEIBULL_SCALE,
    WEIBULL_SHAPE,
    Offending,
)
from .population import Population
from .programme import REFERRAL_MODEL, SELECTION_COEFFICIENTS, Selection
from .sources import PROGRAMMES

WINDOWS = (12, 24, 36)


def _window_end(release: np.ndarray, months: int) -> np.ndarray:
    """Release day plus `months` calendar months (clamped to month end), as day numbers."""
    s = date_series("r", release).dt.offset_by(f"{months}mo")
    return s.cast(pl.Int32).to_numpy().astype(np.float64)


def _rate(flags: np.ndarray) -> float | None:
    return round(float(flags.mean()), 6) if flags.size else None


def planted_truth(
    pop: Population, cust: Custody, sel: Selection, off: Offending, hazard_ratio: float, seed: int
) -> dict:
    """Effects on participants' reconviction from both potential outcomes, per programme and
    window, with the naive observed comparison and a check that selection is not random."""
    out: dict = {
        "seed": seed,
        "persons": pop.n,
        "hazard_ratio": hazard_ratio,
        "effect_definition": (
            "Over participants' participating (index) releases: mean(reconvicted within w "
            "months | treated) - mean(reconvicted within w months | untreated), both potential "
            "outcomes drawn with common random numbers. Reconvicted within w = a register entry "
            "with decision_type conviction whose offence date lies on or after the release date "
            "and on or before the release date plus w calendar months, regardless of "
            "registration lag."
        ),
        "participation": (
            "selection = accepted and consent = yes at a partner of the "
            "programme, intake between spell start and release + 90 days"
        ),
        "selection_model": {
            "referral": REFERRAL_MODEL,
            "acceptance": "P(accepted | record) = logistic(linear predictor)",
            "acceptance_coefficients": SELECTION_COEFFICIENTS,
            "consent": "accepted: yes 92 %, no 4 %, withdrawn 4 %",
            "note": (
                "lower latent risk, fewer prior spells, completed training and higher "
                "age raise acceptance and also lower reoffending, so the naive "
                "comparison overstates the effect"
            ),
        },
        "reoffending_model": {
            "hazard": "Weibull, cumulative hazard (t / scale)^shape * exp(linear predictor)",
            "shape": WEIBULL_SHAPE,
            "scale_days": WEIBULL_SCALE,
            "coefficients": HAZARD_COEFFICIENTS,
            "decision_type_shares": dict(
                zip(
                    ("conviction", "diversion", "acquittal", "dismissal"),
                    DECISION_PROBS,
                    strict=False,
                )
            ),
            "programme_effect": f"participants' hazard multiplied by {hazard_ratio} from release",
        },
        "programmes": {},
    }
    for p, name in enumerate(PROGRAMMES):
        released = cust.released & (pop.programme == p)
        part = released & sel.treated
        comp = released & ~sel.treated
        windows = {}
        for w in WINDOWS:
            end = _window_end(cust.release, w)
            y0 = off.first_conviction_untreated <= end  # NaN compares False: no conviction
            y1 = off.first_conviction_treated <= end
            observed = np.where(sel.treated, y1, y0)
            r1, r0 = _rate(y1[part]), _rate(y0[part])
            windows[str(w)] = {
                "effect_on_participants": round(r1 - r0, 6) if part.any() else None,
                "rate_participants_treated": r1,
                "rate_participants_untreated": r0,
                "naive_rate_participants": _rate(observed[part]),
                "naive_rate_non_participants": _rate(observed[comp]),
                "naive_difference": (
                    round(_rate(observed[part]) - _rate(observed[comp]), 6)
                    if part.any() and comp.any()
                    else None
                ),
            }
        out["programmes"][name] = {
            "releases": int(released.sum()),
            "participating_releases": int(part.sum()),
            "non_participating_releases": int(comp.sum()),
            "windows_months": windows,
            "selection_check": {
                "mean_latent_risk_participants": _mean(pop.risk[part]),
                "mean_latent_risk_non_participants": _mean(pop.risk[comp]),
                "mean_prior_spells_participants": _mean(cust.n_priors[part]),
                "mean_prior_spells_non_participants": _mean(cust.n_priors[comp]),
                "share_completed_training_participants": _mean(cust.trained[part]),
                "share_completed_training_non_participants": _mean(cust.trained[comp]),
                "mean_age_participants": _mean(pop.age[part]),
                "mean_age_non_participants": _mean(pop.age[comp]),
            },
        }
    return out


def _mean(x: np.ndarray) -> float | None:
    return round(float(np.mean(x)), 6) if x.size else None
