"""The programme evaluation (indicators.md, Programme effect): propensity score, matching and
weighting, bootstrap intervals, balance, hazard ratios and E-values. The dbt Python models of
the `intermediate` folder call it; it reads frames and returns frames."""

# dbt runs the Python models in threads of one process, and two of them importing scikit-learn
# at once can deadlock inside its dependencies' circular imports (narwhals). Every model imports
# this package first, so the heavy libraries are imported here, once, under its import lock.
import lifelines  # noqa: E402, F401
import sklearn.linear_model  # noqa: E402, F401
from scipy import sparse  # noqa: E402, F401
