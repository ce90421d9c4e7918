"""Compare the in-context regression campaigns at equal CPU time: v1, v2, and v1 reading the
encoder's z-score columns on a prior with skewed inputs (``--preset in-context-regression-spacing``).

Run from the repository root: ``python campaigns/compare_regression_v2.py``. It reads the
campaigns' committed ``curve.json`` (held-out R² on ``roles.REGRESSOR_VALIDATION``, 5 seeds, 32
and 128 training rows: the same tables, seeds and measure for both) and writes
``docs/results/in_context_regression_v2.json`` and the table between the markers of
``docs/in_context.md`` (``tests/meta/test_curves.py`` recomputes both from the curves).
"""

from __future__ import annotations

import json
from pathlib import Path

from autometa.meta._curves import compare_campaigns, differences, markdown_table

CAMPAIGNS = {
    "v1 (row tokens, AdamW; the shipped recipe, constant-rate run)": "campaigns/in-context-regression-audited",
    "v2 (per-cell, Muon, EMA)": "campaigns/in-context-regression-v2",
    "v1 + z-score columns, skewed inputs": "campaigns/in-context-regression-spacing",
}
BUDGETS = (0.1, 0.25, 0.5, 1.0, 2.0)
KEYS = ("r2@32", "r2@128")
RESULTS = Path("docs/results/in_context_regression_v2.json")
DOC = Path("docs/in_context.md")
BEGIN = "<!-- regression-v2-comparison: written by campaigns/compare_regression_v2.py -->"
END = "<!-- /regression-v2-comparison -->"


def compare(until: dict[str, int] | None = None) -> dict:
    """The comparison (what the JSON holds), each curve read up to ``until``'s step."""
    result = compare_campaigns(CAMPAIGNS, BUDGETS, keys=KEYS, until=until)
    result["differences"] = differences(result, keys=KEYS)
    result["command"] = "python campaigns/compare_regression_v2.py"
    return result


if __name__ == "__main__":
    result = compare()
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    text = DOC.read_text()
    head, rest = text.split(BEGIN)
    table = markdown_table(result, keys=KEYS, source=str(RESULTS))
    DOC.write_text(head + BEGIN + "\n" + table + "\n" + END + rest.split(END, 1)[1])
    print(table)
