"""The programme evaluation (indicators.md, Programme effect): propensity score, matching and
weighting, bootstrap intervals, balance, hazard ratios and E-values. The dbt Python models of
the `intermediate` folder call it; it reads frames and returns frames."""
