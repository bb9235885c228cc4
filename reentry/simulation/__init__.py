"""Demo data for the reentry warehouse: a vectorised simulation of people moving through
prison, the MABiS.NeT / Exodus Connect programmes and the criminal register, written as the
export files of 15 prisons, 32 partners and 2 registers (see shared/spec/exports.md).

    generate_demo(landing, truth_dir, persons=10_000, seed=42, defect_rate=0.01) -> summary

`write_export` (module export) writes any reference-layout string frame in a layout's format.
"""

from .export import write_export
from .generate import generate_demo
from .offending import HAZARD_RATIO

__all__ = ["generate_demo", "write_export", "HAZARD_RATIO"]
