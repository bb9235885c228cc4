"""Demo data for the reentry warehouse: a vectorised simulation of people moving through
prison, the programmes of a scenario (scenario.yml: programmes, prisons, partners, registers,
export dates) and the criminal register, written as the export files of every source (see
shared/spec/exports.md), with the exact planted truth of the programme effect.

    generate_demo(landing, truth_dir, persons=10_000, seed=42, defect_rate=0.01,
                  hidden_confounding=0.3, random_participation=False, scenario=None) -> summary

`simulate` returns the simulated arrays without writing files; `write_export` (module export)
writes any reference-layout string frame in a layout's format.
"""

from .export import write_export
from .generate import generate_demo, simulate
from .offending import HAZARD_RATIO
from .scenario import DEFAULT_SCENARIO, load_scenario
from .selection import DEFAULT_HIDDEN_CONFOUNDING

__all__ = [
    "DEFAULT_HIDDEN_CONFOUNDING",
    "DEFAULT_SCENARIO",
    "HAZARD_RATIO",
    "generate_demo",
    "load_scenario",
    "simulate",
    "write_export",
]
