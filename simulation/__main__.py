"""Command line: python -m simulation --landing DIR --truth DIR [--persons N]
[--seed S] [--defect-rate R] [--hidden-confounding H] [--random-participation]
[--scenario FILE]."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from . import DEFAULT_HIDDEN_CONFOUNDING, generate_demo
from .selection import parse_hidden_confounding


def main(argv: list[str] | None = None) -> int:
    """Generate the demo landing folder and print a summary as JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m simulation", description="Generate the demo landing folder."
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
    parser.add_argument(
        "--hidden-confounding",
        type=parse_hidden_confounding,
        default=DEFAULT_HIDDEN_CONFOUNDING,
        help="weight of the latent risk in who participates, in [0, 1] (0: observables only)",
    )
    parser.add_argument(
        "--random-participation",
        action="store_true",
        help="participation by coin flip, independent of everything (randomisation test)",
    )
    parser.add_argument("--scenario", type=Path, help="scenario file (default: the package's)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    summary = generate_demo(
        args.landing,
        args.truth,
        persons=args.persons,
        seed=args.seed,
        defect_rate=args.defect_rate,
        hidden_confounding=args.hidden_confounding,
        random_participation=args.random_participation,
        scenario=args.scenario,
    )
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
