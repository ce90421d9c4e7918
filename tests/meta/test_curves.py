"""Campaign curves compared at equal CPU time, and the committed comparison recomputed from the curves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autometa.meta._curves import compare_campaigns, curve_at

ROOT = Path(__file__).resolve().parents[2]
CURVE = [{"step": 100 * i, "cpu_hours": 0.1 * i, "auc@32": 0.5 + 0.01 * i} for i in range(1, 11)]


def test_curve_at_averages_the_last_evaluations_before_the_budget():
    at = curve_at(CURVE, 0.55, ["auc@32"], window=3)
    assert at == {"auc@32": pytest.approx((0.53 + 0.54 + 0.55) / 3), "step": 500}


def test_curve_at_refuses_a_budget_the_curve_has_not_reached_or_too_few_points():
    assert curve_at(CURVE, 1.5, ["auc@32"]) is None  # stopped at 1.0 CPU-hours
    assert curve_at(CURVE, 0.25, ["auc@32"], window=3) is None  # two evaluations by then


def test_the_committed_comparison_is_what_the_committed_curves_give():
    results = ROOT / "docs" / "results" / "in_context_v2.json"
    committed = json.loads(results.read_text())
    dirs = {name: ROOT / entry["dir"] for name, entry in committed["campaigns"].items()}
    until = {name: entry["until_step"] for name, entry in committed["campaigns"].items()}
    again = compare_campaigns(dirs, committed["budgets"], window=committed["window"], until=until)
    for name, entry in committed["campaigns"].items():
        assert again["campaigns"][name]["at"] == entry["at"], name
        assert again["campaigns"][name]["cpu_hours"] == entry["cpu_hours"], name
