"""The benchmark's smoke size (`make bench` runs 10^4-10^6 persons; CI runs this one): every
step runs in its own process and is measured, the whole Dagster job runs twice (the second
time after one new partner file, rebuilding only what depends on it), the two baselines run
on the same files, and the report says the same rates as the pipeline."""

from __future__ import annotations

import json
import math

from bench.run import main

PERSONS = 500


def test_bench_smoke_size_measures_every_step(tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["--sizes", str(PERSONS), "--work", str(tmp_path / "work"), "--out", str(out)]) == 0
    (result,) = json.loads((out / "results.json").read_text())
    assert result["persons"] == PERSONS
    assert set(result["steps"]) == {
        "generate",
        "ingest",
        "dbt",
        "evaluation",
        "validate",
        "publish",
        "dashboards",
    }
    measured = [
        *result["steps"].values(),
        result["job"],
        result["incremental"],
        result["duckdb_read"],
        result["duckdb_script"],
        result["pandas"],
    ]
    assert all(m["seconds"] > 0 and m["peak_mb"] > 50 for m in measured)
    assert result["files"] > 20 and result["landing_mb"] > 0
    assert result["work_db_mb"] > result["published_mb"] > 0
    # one new partner file rebuilds only part of what the first run built (times are the
    # benchmark's business, not a test's)
    assert 0 < result["models_built"]["incremental"] < result["models_built"]["job"]
    assert result["dbt_tests_seconds"] > 0  # the build step's data tests were found and summed
    # the same headline figures three ways: pipeline, DuckDB script, pandas
    pipeline = result["rates"]["pipeline"]
    assert set(pipeline) == {
        "mabis/participant",
        "mabis/comparison",
        "exodus/participant",
        "exodus/comparison",
    }
    for key, figure in pipeline.items():
        assert 0 <= figure["rate"] <= 1 and figure["n"] > 0
        for baseline in ("duckdb_script", "pandas"):
            other = result["rates"][baseline][key]
            # the baselines skip spell stitching and quarantine: close, not identical
            tolerance = 3 / math.sqrt(figure["n"])
            assert abs(other["rate"] - figure["rate"]) <= tolerance, (key, baseline)
    table = (out / "results.md").read_text(encoding="utf-8")
    assert f"| {PERSONS} |" in table and "ingest / DuckDB read" in table
    assert "plotly" in (out / "results.html").read_text(encoding="utf-8")[:5000].lower()
