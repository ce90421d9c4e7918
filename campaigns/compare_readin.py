"""Compare each ridge read-in branch with the campaign it was grown from, at equal CPU time.

Run from the repository root: ``python campaigns/compare_readin.py``. A grown branch
(``--grow-from``) continues its origin's run (same weights, moments, task stream and CPU-hours)
with the read-in added at zero; the origin goes on at constant rate beside it. Both curves are
read at CPU-hour budgets after the branch point, each budget's score the mean of the
evaluations in its last ``SPAN`` share (so that the shared history before the branch does not
enter). Writes ``docs/results/readin.json`` and the tables between the markers of
``docs/in_context.md`` (``tests/meta/test_curves.py`` recomputes both from the curves).
"""

from __future__ import annotations

import json
from pathlib import Path

from autometa.meta._curves import compare_campaigns, differences, markdown_table

#: (title, keys, {row name: campaign directory}, budgets): the origin first
PAIRS = {
    "regression": (
        ("r2@32", "r2@128"),
        {
            "v2 regression, constant rate (origin)": "campaigns/in-context-regression-v2",
            "v2 regression + ridge read-in (grown at step 5,800)": "campaigns/in-context-regression-v2-ridge",
        },
        (3.25, 3.5, 3.75, 4.0),
    ),
    "classification": (
        ("auc@32", "auc@128", "auc@512"),
        {
            "v2, constant rate (origin)": "campaigns/in-context-v2",
            "v2 + ridge read-in (grown at step 10,800)": "campaigns/in-context-v2-ridge",
        },
        (7.25, 7.5, 7.75, 8.0),
    ),
}
SPAN = 0.04
RESULTS = Path("docs/results/readin.json")
DOC = Path("docs/in_context.md")
BEGIN = "<!-- readin-comparison: written by campaigns/compare_readin.py -->"
END = "<!-- /readin-comparison -->"


def compare(until: dict[str, dict[str, int]] | None = None) -> dict:
    """The comparisons (what the JSON holds), each curve read up to ``until``'s step."""
    out: dict = {"span": SPAN, "command": "python campaigns/compare_readin.py", "pairs": {}}
    for task, (keys, campaigns, budgets) in PAIRS.items():
        result = compare_campaigns(
            campaigns, budgets, keys=keys, span=SPAN, until=(until or {}).get(task)
        )
        result["differences"] = differences(result, keys=keys)
        out["pairs"][task] = result
    return out


def tables(result: dict) -> str:
    """The markdown of every pair."""
    parts = []
    for task, (keys, _, _) in PAIRS.items():
        parts.append(f"**{task.capitalize()}**\n\n" + markdown_table(result["pairs"][task], keys=keys, source=str(RESULTS)))
    return "\n\n".join(parts)


if __name__ == "__main__":
    result = compare()
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    text = DOC.read_text()
    if BEGIN in text:
        head, rest = text.split(BEGIN)
        DOC.write_text(head + BEGIN + "\n" + tables(result) + "\n" + END + rest.split(END, 1)[1])
    print(tables(result))
