"""The descriptive standardisation already moves towards the planted effect.

The simulation plants a reconviction effect on participants and a selection that favours
low-risk prisoners (simulation/truth.py), so the raw participant / comparison
difference overstates the effect. The directly standardised difference of
`marts.recidivism_effects` (sex x age band x prior spells) must lie closer to the truth, though
it is no effect estimate: tests/test_programme_effect.py holds the evaluation itself to the
truth.
"""

from __future__ import annotations

import json

import pytest

from .conftest import query

PROGRAMMES = ("mabis", "exodus")
WINDOWS = (12, 24, 36)


@pytest.fixture(scope="module")
def comparison(built_demo) -> list[tuple]:
    truth = json.loads((built_demo["truth"] / "planted_truth.json").read_text(encoding="utf-8"))
    rows = {
        (programme, window): (difference, adjusted)
        for programme, window, difference, adjusted in query(
            built_demo["db"],
            """
            select programme, window_months, difference, standardised_difference
            from marts.recidivism_effects
            where cohort = 'all' and measure = 'reconviction'""",
        )
    }
    out = []
    for programme in PROGRAMMES:
        for window in WINDOWS:
            effect = truth["programmes"][programme]["windows_months"][str(window)][
                "effect_on_participants"
            ]
            raw, adjusted = rows.get((programme, window), (None, None))
            out.append((programme, window, effect, raw, adjusted))
    return out


def _table(rows: list[tuple]) -> str:
    lines = [f"{'programme':<9} {'window':>6} {'truth':>9} {'raw':>9} {'adjusted':>9}"]
    for programme, window, truth, raw, adjusted in rows:
        cells = [f"{v:>9.4f}" if v is not None else f"{'null':>9}" for v in (truth, raw, adjusted)]
        lines.append(f"{programme:<9} {window:>6} {' '.join(cells)}")
    return "\n".join(lines)


def test_raw_and_standardised_differences_are_reported(comparison) -> None:
    missing = [
        (p, w)
        for p, w, truth, raw, adjusted in comparison
        if truth is None or raw is None or adjusted is None
    ]
    assert not missing, f"missing for {missing}\n{_table(comparison)}"


def test_standardised_difference_is_closer_to_the_planted_effect(comparison) -> None:
    worse = [
        (p, w)
        for p, w, truth, raw, adjusted in comparison
        if None in (truth, raw, adjusted) or abs(adjusted - truth) >= abs(raw - truth)
    ]
    assert not worse, f"adjustment does not help for {worse}\n{_table(comparison)}"
    print("\n" + _table(comparison))
