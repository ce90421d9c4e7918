"""Compare the in-context campaigns at equal CPU time; write docs/results/in_context_v2.json.

Run from the repository root: ``python campaigns/compare_v2.py``. It reads each campaign's
committed ``curve.json`` and writes the markdown tables that ``docs/in_context.md`` carries, each
pinned by a results marker to the JSON, which holds the scores and their differences
(``tests/meta/test_curves.py`` recomputes the JSON from the curves and checks the doc's tables
against it; ``tests/test_claims.py`` checks every number of the tables is in it).
"""

from __future__ import annotations

import json
from pathlib import Path

from autometa.meta._curves import compare_campaigns, differences, markdown_table

CAMPAIGNS = {
    "v1 (row tokens, AdamW; shipped recipe)": "campaigns/in-context",
    "v2 (per-cell, Muon, EMA)": "campaigns/in-context-v2",
    "v2 + prior v2": "campaigns/in-context-v2-prior2",
    "v2, AdamW instead of Muon": "campaigns/in-context-v2-adamw",
    "v2, no feature grouping": "campaigns/in-context-v2-no-grouping",
    "v2, no thinking rows": "campaigns/in-context-v2-no-thinking",
    "v2, no weight averaging": "campaigns/in-context-v2-no-averaging",
}
BUDGETS = (0.1, 0.25, 0.5, 1.0, 2.0)
RESULTS = Path("docs/results/in_context_v2.json")
DOC = Path("docs/in_context.md")
BEGIN, END = "<!-- v2-comparison: written by campaigns/compare_v2.py -->", "<!-- /v2-comparison -->"


if __name__ == "__main__":
    present = {k: v for k, v in CAMPAIGNS.items() if (Path(v) / "curve.json").is_file()}
    result = compare_campaigns(present, BUDGETS)
    result["differences"] = differences(result)  # the numbers the difference tables show
    result["command"] = "python campaigns/compare_v2.py"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    text = DOC.read_text()
    head, rest = text.split(BEGIN)
    DOC.write_text(
        head
        + BEGIN
        + "\n"
        + markdown_table(result, source=str(RESULTS))
        + "\n"
        + END
        + rest.split(END, 1)[1]
    )
    print(markdown_table(result))
