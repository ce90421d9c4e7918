"""Regenerate the README's regressor results table from the committed results JSON.

Run from the repository root: ``python docs/results/readme_regressor_table.py`` (rewrites the
table in place; ``--check`` only says whether it is current). Every number comes from
``regressor_blend.json`` (``autometa bench regressor``), but the prior-only blend from
``regressor_blend_ablation.json`` (the ablation run on the same cells) and the CPU time from
``member_costs.json`` (``autometa bench costs``). The best R² of a size is in bold, whichever
estimator has it. ``tests/test_claims.py`` pins the table to those three files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SOURCES = (
    "docs/results/regressor_blend.json",
    "docs/results/regressor_blend_ablation.json",
    "docs/results/member_costs.json",
)
MARKER = f"<!-- results: {' '.join(SOURCES)} -->"
COLUMNS = (  # (header, JSON, estimator, field)
    ("AutoMetaRegressor", 0, "autometa", "r2"),
    ("prior only, no evidence (ablation run)", 1, "am_prior", "r2"),
    ("RidgeCV", 0, "ridge", "r2"),
    ("SVR", 0, "svr", "r2"),
    ("RandomForest(300)", 0, "rf300", "r2"),
    ("FLAML zero-shot LGBM", 0, "flaml_lgbm", "r2"),
    ("best peer, hindsight", 0, "best_peer_hindsight", "r2"),
    ("AutoMeta cover80", 0, "autometa", "cover80"),
)
#: the columns that compete for the bold R² (not the hindsight pick, not the coverage)
RANKED = tuple(i for i, c in enumerate(COLUMNS) if c[3] == "r2" and c[2] != "best_peer_hindsight")


def table() -> str:
    """The marker line and the Markdown table."""
    data = [json.loads((ROOT / s).read_text()) for s in SOURCES]
    rows = [
        {(r["n_train"], r["estimator"]): r for r in d["rows"] if "estimator" in r} for d in data[:2]
    ]
    costs = data[2]["summary"]
    head = ["n_train", *(c[0] for c in COLUMNS), "AutoMeta fit+predict, CPU"]
    lines = [MARKER, "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in data[0]["params"]["sizes"]:
        values = [rows[src][(n, est)][field] for _, src, est, field in COLUMNS]
        cells = [f"{v:.4f}" for v in values]
        best = max(RANKED, key=lambda i: values[i])  # bold: the best R² of a real estimator
        cells[best] = f"**{cells[best]}**"
        cells.append(f"{costs[f'regressor_fit_predict_cpu_s@{n}']:.4f} s")
        lines.append("| " + " | ".join([str(n), *cells]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = README.read_text()
    start = text.index("<!-- results: docs/results/regressor_blend")
    end = text.index("\n\n", start)
    new = text[:start] + table() + text[end:]
    if "--check" in args:
        print(
            "current" if new == text else "stale: run python docs/results/readme_regressor_table.py"
        )
        return int(new != text)
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
