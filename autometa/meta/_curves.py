"""Learning curves of campaigns compared at equal CPU time.

A campaign's ``curve.json`` holds one held-out evaluation per chunk: ``step``, ``cpu_hours``
and the scores (``auc@32``, ...). Comparing two recipes "at equal CPU time" reads each curve
at the same CPU-hour budgets. One evaluation is one seed of a few tables, so it is noisy; a
budget's score is the mean of the last ``window`` evaluations at or before it (a budget the
curve has not reached yet gives no score).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["compare_campaigns", "curve_at", "load_curve"]


def load_curve(directory: str | os.PathLike[str]) -> list[dict[str, float]]:
    """The ``curve`` list of ``directory/curve.json`` (empty when the campaign has not evaluated yet)."""
    path = Path(directory) / "curve.json"
    if not path.is_file():
        return []
    return json.loads(path.read_text())["curve"]


def curve_at(curve: Sequence[dict[str, float]], hours: float, keys: Sequence[str], window: int = 3) -> dict[str, float] | None:
    """Mean of ``keys`` over the last ``window`` evaluations with ``cpu_hours <= hours``.

    Returns None when the curve has fewer than ``window`` evaluations by then or has not yet
    reached ``hours`` (its last evaluation is before the budget), so that a score is never
    read off a curve that stopped short of the budget.
    """
    done = [c for c in curve if c["cpu_hours"] <= hours]
    if len(done) < window or not curve or curve[-1]["cpu_hours"] < hours:
        return None
    last = done[-window:]
    out = {k: float(np.mean([c[k] for c in last])) for k in keys}
    out["step"] = int(last[-1]["step"])
    return out


def compare_campaigns(
    campaigns: dict[str, str | os.PathLike[str]],
    budgets: Sequence[float],
    keys: Sequence[str] = ("auc@32", "auc@128", "auc@512"),
    window: int = 3,
    until: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Each campaign's scores at each CPU-hour budget (None where its curve has not got there).

    Parameters
    ----------
    campaigns : dict of name -> campaign directory
    budgets : sequence of float
        CPU-hours.
    keys, window
        See :func:`curve_at`.
    until : dict of name -> step, optional
        Read each named curve only up to this step (what a committed comparison saw, so that
        it can be recomputed while the campaigns train on).

    Returns
    -------
    dict
        ``{"budgets": [...], "window": w, "campaigns": {name: {"dir": ..., "until_step": s,
        "cpu_hours": reached, "at": {str(budget): scores or None}}}}``.
    """
    out: dict[str, Any] = {"budgets": [float(b) for b in budgets], "window": int(window), "campaigns": {}}
    for name, directory in campaigns.items():
        curve = load_curve(directory)
        if until is not None and name in until:
            curve = [c for c in curve if c["step"] <= int(until[name])]
        out["campaigns"][name] = {
            "dir": str(directory),
            "until_step": int(curve[-1]["step"]) if curve else 0,
            "cpu_hours": round(float(curve[-1]["cpu_hours"]), 3) if curve else 0.0,
            "at": {f"{b:g}": curve_at(curve, b, keys, window) for b in budgets},
        }
    return out
