"""Each code list is defined once, in contract/codes.yml: no code, SQL, JavaScript or YAML of
the product restates one (three or more of a list's codes written in a row, in its order). The
tests may: they recompute the warehouse independently.

Exempt, on purpose:
- bench/: the baselines (baseline.sql, baseline_pandas.py) are deliberately independent
  re-implementations of the warehouse, for the speed comparison; like the tests, they must not
  share the product's definitions, or they would compare the product with itself.

Not a restatement, and so not exempt: a mapping keyed by code (code: text, code: share), such as
the translations reentry/outputs/messages/*.yml or the simulation's shares per code; the text
between two codes breaks the run.
"""

from __future__ import annotations

import re
from pathlib import Path

from reentry.contract import CODE_LISTS, CONTRACT_DIR

REPO = Path(__file__).resolve().parents[1]
# The product's folders (bench/ is exempt, see above).
DBT_FOLDERS = ("models", "macros", "tests", "seeds")
FOLDERS = ("reentry", "simulation", *(f"dbt_project/{folder}" for folder in DBT_FOLDERS))
SUFFIXES = {".py", ".sql", ".js", ".yml", ".yaml", ".csv"}
# Between two codes of a restated list: a separator with quotes, commas, blanks, a YAML dash.
GAP = r"""['"]?\s*(?:,|\n\s*-)\s*['"]?"""


def _restatements(text: str) -> list[str]:
    found = []
    for name, codes in CODE_LISTS.items():
        if len(codes) < 3 or len(set(codes)) < 3:
            continue
        for i in range(len(codes) - 2):
            run = codes[i : i + 3]
            pattern = r"(?<![\w.])['\"]?" + GAP.join(re.escape(c) for c in run) + r"['\"]?(?![\w])"
            if re.search(pattern, text):
                found.append(f"{name} ({', '.join(run)})")
                break
    return found


def test_no_code_list_is_restated():
    offenders = {}
    for folder in FOLDERS:
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix not in SUFFIXES or "target" in path.parts:
                continue
            hits = _restatements(path.read_text(encoding="utf-8", errors="ignore"))
            if hits:
                offenders[str(path.relative_to(REPO))] = hits
    assert offenders == {}


def test_the_check_finds_a_restated_list():
    """The scan has teeth: a Python tuple and a YAML list of measures are both found."""
    measures = CODE_LISTS["measure"]
    python = "MEASURES = (" + ", ".join(f'"{m}"' for m in measures) + ")\n"
    yaml_list = "values:\n" + "".join(f"  - {m}\n" for m in measures)
    assert _restatements(python) and _restatements(yaml_list)
    assert (CONTRACT_DIR / "codes.yml").exists()


def test_outputs_select_indicators_from_the_contract():
    """Which indicators the site and the pack show is contract data (outputs.yml), each a
    programme indicator of codes.yml; a selection naming another code is refused by name."""
    import pytest
    import yaml

    from reentry.contract import INDICATOR_CODES, OUTPUT_INDICATORS, output_indicators
    from reentry.outputs.pack import PACK_INDICATORS
    from reentry.outputs.site import HEADLINE_INDICATORS

    assert list(OUTPUT_INDICATORS["headline"]) == HEADLINE_INDICATORS
    assert list(OUTPUT_INDICATORS["pack"]) == PACK_INDICATORS
    assert all(set(codes) <= set(INDICATOR_CODES) for codes in OUTPUT_INDICATORS.values())
    doc = yaml.safe_load((CONTRACT_DIR / "outputs.yml").read_text(encoding="utf-8"))
    doc["indicators"]["trend"].append("reconviction_36m_participants")
    with pytest.raises(RuntimeError, match="trend names reconviction_36m_participants"):
        output_indicators(doc)
