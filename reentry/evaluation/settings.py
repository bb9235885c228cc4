"""The settings of the programme evaluation (indicators.md, Programme effect)."""

from __future__ import annotations

from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Settings:
    """Matching, weighting, minimum n and bootstrap; dbt vars can override each."""

    caliper_sd: float = 0.2  # caliper in standard deviations of the logit (Justice Data Lab)
    neighbours: int = 3  # nearest comparison releases per participant (with replacement)
    trim_quantile: float = 0.99  # comparison weights are capped at this quantile
    min_participants: int = 60  # below this an effect is not estimated (Justice Data Lab)
    smd_threshold: float = 0.1  # |SMD| above this flags a covariate as imbalanced
    replicates: int = 200  # bootstrap replicates of the whole estimation ...
    min_replicates: int = 20  # ... never fewer ...
    replicate_budget: int = 8_000_000  # ... and at most this many person-fits per programme
    newton_steps: int = 1  # Newton steps of a replicate's score from the full-sample fit
    seed: int = 20020816

    def replicates_for(self, n: int) -> int:
        """Replicates for a population of n persons: all of them up to the budget, fewer
        (down to min_replicates) for very large populations (README: Performance)."""
        if n <= 0:
            return 0
        return int(max(self.min_replicates, min(self.replicates, self.replicate_budget // n)))

    @classmethod
    def from_config(cls, get) -> Settings:
        """Settings from a dbt Python model's `dbt.config.get` (missing keys keep defaults)."""
        values = {}
        for name, field in cls.__dataclass_fields__.items():
            value = get(name, None)
            if value not in (None, ""):
                values[name] = type(field.default)(value)
        return cls(**values)
