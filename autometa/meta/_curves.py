"""Learning curves of campaigns compared at equal CPU time.

A campaign's ``curve.json`` holds one held-out evaluation per chunk: ``step``, ``cpu_hours``
and the scores (``auc@32``, ...). Comparing two recipes "at equal CPU time" reads each curve
at the same CPU-hour budgets. One evaluation is one seed of a few tables, so it is noisy; a
budget's score is the mean of the evaluations in the last quarter of the budget
(``(0.75 h, h]`` CPU-hours; campaigns that evaluate at different intervals are averaged over
the same stretch of compute), and a budget the curve has not reached gives no score.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["compare_campaigns", "curve_at", "differences", "load_curve", "markdown_table"]


def load_curve(directory: str | os.PathLike[str]) -> list[dict[str, float]]:
    """The ``curve`` list of ``directory/curve.json`` (empty when the campaign has not evaluated yet)."""
    path = Path(directory) / "curve.json"
    if not path.is_file():
        return []
    return json.loads(path.read_text())["curve"]


def curve_at(
    curve: Sequence[dict[str, float]], hours: float, keys: Sequence[str], span: float = 0.25
) -> dict[str, float] | None:
    """Mean of ``keys`` over the evaluations with ``cpu_hours`` in ``((1 - span) * hours, hours]``.

    Returns None when no evaluation lies in that stretch or the curve has not yet reached
    ``hours`` (its last evaluation is before the budget), so that a score is never read off a
    curve that stopped short of the budget.
    """
    if not curve or curve[-1]["cpu_hours"] < hours:
        return None
    inside = [c for c in curve if (1.0 - span) * hours < c["cpu_hours"] <= hours]
    if not inside:
        return None
    out = {k: float(np.mean([c[k] for c in inside])) for k in keys}
    out["step"] = int(inside[-1]["step"])
    out["evaluations"] = len(inside)
    return out


def compare_campaigns(
    campaigns: dict[str, str | os.PathLike[str]],
    budgets: Sequence[float],
    keys: Sequence[str] = ("auc@32", "auc@128", "auc@512"),
    span: float = 0.25,
    until: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Each campaign's scores at each CPU-hour budget (None where its curve has not got there).

    Parameters
    ----------
    campaigns : dict of name -> campaign directory
    budgets : sequence of float
        CPU-hours.
    keys, span
        See :func:`curve_at`.
    until : dict of name -> step, optional
        Read each named curve only up to this step (what a committed comparison saw, so that
        it can be recomputed while the campaigns train on).

    Returns
    -------
    dict
        ``{"budgets": [...], "span": s, "campaigns": {name: {"dir": ..., "until_step": s,
        "cpu_hours": reached, "at": {str(budget): scores or None}}}}``.
    """
    out: dict[str, Any] = {
        "budgets": [float(b) for b in budgets],
        "span": float(span),
        "campaigns": {},
    }
    for name, directory in campaigns.items():
        curve = load_curve(directory)
        if until is not None and name in until:
            curve = [c for c in curve if c["step"] <= int(until[name])]
        out["campaigns"][name] = {
            "dir": str(directory),
            "until_step": int(curve[-1]["step"]) if curve else 0,
            "cpu_hours": round(float(curve[-1]["cpu_hours"]), 3) if curve else 0.0,
            "at": {f"{b:g}": curve_at(curve, b, keys, span) for b in budgets},
        }
    return out


def _pairs(names: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(reference, compared campaigns): every campaign against the first (the reference), then
    the variants (third campaign on) against the second (the recipe they each change once)."""
    out = []
    if len(names) >= 2:
        out.append((names[0], list(names[1:])))
    if len(names) >= 3:
        out.append((names[1], list(names[2:])))
    return out


def differences(
    result: dict[str, Any], keys: Sequence[str] = ("auc@32", "auc@128", "auc@512")
) -> dict[str, dict[str, dict[str, dict[str, float] | None]]]:
    """The comparison's differences at equal CPU-hours, as the tables of :func:`markdown_table`
    show them: ``{reference: {campaign: {str(budget): {key: campaign - reference} or None}}}``
    (None where either has no score at that budget)."""
    camps = result["campaigns"]
    out: dict[str, dict[str, dict[str, dict[str, float] | None]]] = {}
    for reference, names in _pairs(list(camps)):
        base = camps[reference]["at"]
        out[reference] = {}
        for name in names:
            cells: dict[str, dict[str, float] | None] = {}
            for b in result["budgets"]:
                at, ref = camps[name]["at"][f"{b:g}"], base[f"{b:g}"]
                cells[f"{b:g}"] = (
                    None if at is None or ref is None else {k: at[k] - ref[k] for k in keys}
                )
            out[reference][name] = cells
    return out


def _marker(source: str | None) -> list[str]:
    """The ``<!-- results: ... -->`` line that pins a table to its JSON (``tests/test_claims.py``)."""
    return [] if source is None else [f"<!-- results: {source} -->"]


def markdown_table(
    result: dict[str, Any],
    keys: Sequence[str] = ("auc@32", "auc@128", "auc@512"),
    source: str | None = None,
) -> str:
    """The comparison of :func:`compare_campaigns` as markdown: a table with one row per campaign,
    then the same cells as differences (:func:`differences`) to the first campaign (the
    reference) and, from the third campaign on, to the second (the recipe each variant changes
    once). With ``source`` (the path of the results JSON holding ``result`` and its
    ``differences``), each table is preceded by a results marker naming it."""
    sizes = "/".join(k.split("@", 1)[1] for k in keys)
    prefix = keys[0].split("@", 1)[0]
    metric = {"auc": "AUC", "r2": "R²"}.get(prefix, prefix)
    budgets = result["budgets"]
    lines = _marker(source) + [
        "| campaign | CPU-hours reached | "
        + " | ".join(f"{metric}@{sizes} at {b:g} CPU-h" for b in budgets)
        + " |"
    ]
    lines.append("|---" * (2 + len(budgets)) + "|")
    for name, entry in result["campaigns"].items():
        cells = []
        for b in budgets:
            at = entry["at"][f"{b:g}"]
            cells.append("—" if at is None else " / ".join(f"{at[k]:.4f}" for k in keys))
        lines.append(f"| {name} | {entry['cpu_hours']:.2f} | " + " | ".join(cells) + " |")
    for reference, rows in differences(result, keys).items():
        lines += [
            "",
            f"Difference to {reference} at the same CPU-hours (positive: better):",
            "",
            *_marker(source),
            "| campaign | "
            + " | ".join(f"Δ{metric}@{sizes} at {b:g} CPU-h" for b in budgets)
            + " |",
            "|---" * (1 + len(budgets)) + "|",
        ]
        for name, at in rows.items():
            cells = [
                "—" if d is None else " / ".join(f"{d[k]:+.4f}" for k in keys) for d in at.values()
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
