"""E-values (VanderWeele and Ding 2017): how strongly an unmeasured confounder would have to
be tied to both participation and the outcome, as a risk ratio, to explain an effect away."""

from __future__ import annotations

import math


def e_value(risk_ratio: float) -> float:
    """The E-value of a risk ratio (ratios below 1 are inverted first); 1 means none needed."""
    if not math.isfinite(risk_ratio) or risk_ratio <= 0:
        return math.nan
    rr = risk_ratio if risk_ratio >= 1 else 1 / risk_ratio
    return rr + math.sqrt(rr * (rr - 1))


def e_value_of_interval(low: float, high: float) -> float:
    """The E-value of the interval limit nearest to no effect; 1 if the interval holds 1."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return math.nan
    if low <= 1 <= high:
        return 1.0
    return e_value(high if high < 1 else low)
