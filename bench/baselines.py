"""Run one baseline in its own process (`python -m bench.baselines duckdb|pandas LANDING
SOURCES_CSV OUT_JSON`): the rates go to OUT_JSON as {"programme/group": {n, events, rate}}."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def duckdb_script(landing: Path, sources: Path) -> list[tuple]:
    """Execute baseline.sql statement by statement; the last one's rows."""
    import duckdb

    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    con.execute(f"set variable landing = '{landing.resolve()}'")
    con.execute(f"set variable sources = '{sources.resolve()}'")
    result = None
    for statement in (HERE / "baseline.sql").read_text(encoding="utf-8").split(";\n"):
        if statement.strip() and not all(
            line.strip().startswith("--") or not line.strip() for line in statement.splitlines()
        ):
            result = con.execute(statement)
    return result.fetchall()


def pandas_baseline(landing: Path, sources: Path) -> list[tuple]:
    from .baseline_pandas import rates

    return list(rates(landing, sources).itertuples(index=False, name=None))


def main(kind: str, landing: Path, sources: Path, out: Path) -> None:
    rows = (duckdb_script if kind == "duckdb" else pandas_baseline)(landing, sources)
    out.write_text(
        json.dumps(
            {
                f"{p}/{g}": {"n": int(n), "events": int(e), "rate": float(r)}
                for p, g, n, e, r in rows
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
