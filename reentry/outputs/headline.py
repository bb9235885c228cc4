"""The run summary's evaluation lines: each programme's headline effect from the published
database, or why there is none."""

from __future__ import annotations

from pathlib import Path

import duckdb

from .site import EFFECT_HEADLINE

# The row of marts.programme_effects whose verdict the run summary prints: the headline effect
# of the overview page and the pack (reconviction within 24 months, matched comparison, all
# cohorts) as a rate.
SUMMARY_EFFECT_ROW = {**EFFECT_HEADLINE, "outcome": "rate"}


def evaluation_lines(published_db: Path) -> list[str]:
    """One line per programme: its headline verdict in its main language; or one line saying
    that no release lies in a programme period."""
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        (n_period,) = con.execute(
            "select coalesce(sum(n_period_releases), 0) from marts.programmes"
        ).fetchone()
        if not n_period:
            return [
                "programme effect: no release lies in a programme period (see the periods "
                "in the source registry); only the descriptive marts carry numbers"
            ]
        where = " and ".join(f"e.{k} = ?" for k in SUMMARY_EFFECT_ROW)
        rows = con.execute(
            f"""
            select p.programme, p.programme_name, e.verdict_text
            from marts.programmes p
            left join marts.programme_effects e on e.programme = p.programme and {where}
            order by p.programme""",
            list(SUMMARY_EFFECT_ROW.values()),
        ).fetchall()
    finally:
        con.close()
    return [
        f"programme effect, {name} ({programme}): "
        + (text or "no release of this programme lies in its period")
        for programme, name, text in rows
    ]
