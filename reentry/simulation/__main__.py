"""Command line: python -m reentry.simulation --landing DIR --truth DIR
[--persons N] [--seed S] [--defect-rate R]."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from . import generate_demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reentry.simulation", description="Generate the demo landing folder."
    )
    parser.add_argument("--landing", type=Path, required=True, help="landing folder to write")
    parser.add_argument(
        "--truth",
        type=Path,
        required=True,
        help="folder for planted_truth.json and defects.csv (outside landing)",
    )
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--defect-rate", type=float, default=0.01)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    summary = generate_demo(
        args.landing, args.truth, persons=args.persons, seed=args.seed, defect_rate=args.defect_rate
    )
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
