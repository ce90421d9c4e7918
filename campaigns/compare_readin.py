"""Compare each ridge read-in branch with the campaign it was grown from, step for step.

Run from the repository root: ``python campaigns/compare_readin.py``. A grown branch
(``--grow-from``) continues its origin's run (same weights, moments and task stream, the CPU-hours
counted on) with the new parameters added at zero, and the origin goes on at constant rate
beside it: both see the same tasks at the same steps, and a step costs the same (the ridge fit
is one SVD per task), so comparing them at the same steps compares them at equal CPU time (the
table shows each one's CPU-hours). Writes ``docs/results/readin.json`` and the tables between
the markers of ``docs/in_context.md`` (``tests/meta/test_curves.py`` recomputes both from the
curves).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from autometa.meta._curves import load_curve

#: task -> (keys, [(name, branch directory, reference directory)]): each branch against the
#: campaign it was grown from
PAIRS = {
    "regression": (
        ("r2@32", "r2@128"),
        [
            ("+ ridge read-in, against the constant-rate v2 run",
             "campaigns/in-context-regression-v2-ridge", "campaigns/in-context-regression-v2"),
            ("+ read-in + ridge expert, against the constant-rate v2 run",
             "campaigns/in-context-regression-v2-expert", "campaigns/in-context-regression-v2"),
        ],
    ),
    "classification": (
        ("auc@32", "auc@128", "auc@512"),
        [
            ("+ ridge read-in, against the constant-rate v2 run",
             "campaigns/in-context-v2-ridge", "campaigns/in-context-v2"),
            ("+ read-in + ridge expert, against the constant-rate v2 run",
             "campaigns/in-context-v2-expert", "campaigns/in-context-v2"),
        ],
    ),
}  # fmt: skip
RESULTS = Path("docs/results/readin.json")
DOC = Path("docs/in_context.md")
BEGIN = "<!-- readin-comparison: written by campaigns/compare_readin.py -->"
END = "<!-- /readin-comparison -->"


def _grown_at(directory: str) -> int:
    stored = json.loads((Path(directory) / "curve.json").read_text())
    return int(stored["grown_at"])


def compare(until: dict[str, int] | None = None) -> dict:
    """The comparison (what the JSON holds): each branch's evaluations after its own branch
    point, next to its reference's at the same steps; curves read up to ``until[directory]``."""
    out: dict = {"command": "python campaigns/compare_readin.py", "pairs": {}}
    for task, (keys, pairs) in PAIRS.items():
        rows = []
        for name, branch, reference in pairs:
            start = _grown_at(branch)
            curves = {}
            for d in (branch, reference):
                curve = load_curve(d)
                if until is not None and d in until:
                    curve = [c for c in curve if c["step"] <= int(until[d])]
                curves[d] = {int(c["step"]): c for c in curve if c["step"] > start}
            steps = sorted(set(curves[branch]) & set(curves[reference]))
            at = [
                {
                    "step": s,
                    "branch": {k: curves[branch][s][k] for k in (*keys, "cpu_hours")},
                    "reference": {k: curves[reference][s][k] for k in (*keys, "cpu_hours")},
                    "difference": {k: curves[branch][s][k] - curves[reference][s][k] for k in keys},
                }
                for s in steps
            ]
            mean = (
                {k: float(np.mean([a["branch"][k] - a["reference"][k] for a in at])) for k in keys}
                if at
                else None
            )
            rows.append({
                "name": name, "branch": branch, "reference": reference, "grown_at": start,
                "until_step": {d: max(curves[d], default=start) for d in (branch, reference)},
                "steps": at, "mean_difference": mean,
            })  # fmt: skip
        out["pairs"][task] = {"keys": list(keys), "rows": rows}
    return out


def _signed(x: float) -> str:
    return f"{(round(x, 4) or 0.0):+.4f}"  # no "-0.0000"


def tables(result: dict) -> str:
    """The markdown of every pair: one row per common evaluation step, then the mean difference."""
    parts: list[str] = []
    for task, pair in result["pairs"].items():
        keys = pair["keys"]
        sizes = "/".join(k.split("@", 1)[1] for k in keys)
        metric = "R²" if keys[0].startswith("r2") else "AUC"
        parts += [
            *([""] if parts else []),
            f"<!-- results: {RESULTS} -->",
            f"| {task}: branch | step | CPU-hours (branch / reference) | {metric}@{sizes} branch "
            f"| {metric}@{sizes} reference | Δ{metric}@{sizes} |",
            "|---|---|---|---|---|---|",
        ]
        for row in pair["rows"]:
            for a in row["steps"]:
                b, r = a["branch"], a["reference"]
                parts.append(
                    f"| {row['name']} | {a['step']:,} | {b['cpu_hours']:.2f} / {r['cpu_hours']:.2f} | "
                    + " / ".join(f"{b[k]:.4f}" for k in keys)
                    + " | "
                    + " / ".join(f"{r[k]:.4f}" for k in keys)
                    + " | "
                    + " / ".join(_signed(a["difference"][k]) for k in keys)
                    + " |"
                )
            if row["mean_difference"] is not None:
                parts.append(
                    f"| {row['name']}: mean over its {len(row['steps'])} steps | | | | | "
                    + " / ".join(_signed(row["mean_difference"][k]) for k in keys)
                    + " |"
                )
    return "\n".join(parts)


if __name__ == "__main__":
    result = compare()
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    text = DOC.read_text()
    head, rest = text.split(BEGIN)
    DOC.write_text(head + BEGIN + "\n" + tables(result) + "\n" + END + rest.split(END, 1)[1])
    print(tables(result))
