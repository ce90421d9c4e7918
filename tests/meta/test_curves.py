"""Campaign curves compared at equal CPU time, and the committed comparison recomputed from the curves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from autometa.meta._curves import compare_campaigns, curve_at, markdown_table

ROOT = Path(__file__).resolve().parents[2]
CURVE = [{"step": 100 * i, "cpu_hours": 0.1 * i, "auc@32": 0.5 + 0.01 * i} for i in range(1, 11)]


def test_curve_at_averages_the_evaluations_of_the_budgets_last_quarter():
    at = curve_at(CURVE, 0.8, ["auc@32"])  # (0.6, 0.8]: the evaluations at 0.7 and 0.8
    assert at == {"auc@32": pytest.approx((0.57 + 0.58) / 2), "step": 800, "evaluations": 2}


def test_curve_at_refuses_a_budget_the_curve_has_not_reached_or_no_point_inside():
    assert curve_at(CURVE, 1.5, ["auc@32"]) is None  # stopped at 1.0 CPU-hours
    assert curve_at(CURVE, 0.35, ["auc@32"], span=0.1) is None  # nothing in (0.315, 0.35]


def test_markdown_table_gives_differences_to_the_first_campaign_where_both_have_a_score():
    result = {
        "budgets": [0.5, 1.0],
        "campaigns": {
            "base": {"cpu_hours": 2.0, "at": {"0.5": {"auc@32": 0.70}, "1": {"auc@32": 0.75}}},
            "new": {"cpu_hours": 0.6, "at": {"0.5": {"auc@32": 0.72}, "1": None}},
        },
    }
    text = markdown_table(result, keys=("auc@32",))
    assert "| new | 0.60 | 0.7200 | — |" in text
    assert "| new | +0.0200 | — |" in text.split("Difference to base")[1]


def test_the_committed_comparison_is_what_the_committed_curves_give():
    results = ROOT / "docs" / "results" / "in_context_v2.json"
    committed = json.loads(results.read_text())
    dirs = {name: ROOT / entry["dir"] for name, entry in committed["campaigns"].items()}
    until = {name: entry["until_step"] for name, entry in committed["campaigns"].items()}
    again = compare_campaigns(dirs, committed["budgets"], span=committed["span"], until=until)
    for name, entry in committed["campaigns"].items():
        assert again["campaigns"][name]["at"] == entry["at"], name
        assert again["campaigns"][name]["cpu_hours"] == entry["cpu_hours"], name


def test_the_docs_table_is_the_committed_comparison():
    committed = json.loads((ROOT / "docs" / "results" / "in_context_v2.json").read_text())
    doc = (ROOT / "docs" / "in_context.md").read_text()
    inside = doc.split("<!-- v2-comparison: written by campaigns/compare_v2.py -->")[1].split(
        "<!-- /v2-comparison -->"
    )[0]
    assert inside.strip() == markdown_table(committed).strip()


def test_the_docs_cost_figures_are_the_committed_benchmark():
    cost = json.loads((ROOT / "docs" / "results" / "in_context_v2_cost.json").read_text())
    at = {(r["estimator"], r["support"], r["query"]): r["predict_s"] for r in cost["rows"]}
    doc = (ROOT / "docs" / "in_context.md").read_text()
    for key in [("icl:v2-step400", 512, 512), ("icl", 512, 512), ("rf300", 512, 512), ("icl:v2-step400", 512, 2000),
                ("icl", 512, 2000)]:  # fmt: skip
        assert f"{at[key]:.4f} s" in doc, key
    assert f"{cost['summary']['icl:v2-step400_predict_growth@support=512']:.4f}x" in doc
    assert at[("icl:v2-step400", 512, 512)] > at[("icl", 512, 512)]  # the prose says v2 costs more


def test_the_docs_step_figures_are_the_committed_benchmark():
    step = json.loads((ROOT / "docs" / "results" / "in_context_step.json").read_text())
    at = {(r["preset"], r["dtype"], r["support"]): r for r in step["rows"]}
    summary = step["summary"]
    doc = " ".join((ROOT / "docs" / "in_context.md").read_text().split())
    v1, v2 = "in-context", "in-context-v2"
    figures = [
        f"takes {at[(v2, 'fp32', 128)]['step_cpu_s']:.4f} CPU-s in fp32 against {at[(v1, 'fp32', 128)]['step_cpu_s']:.4f} for v1",
        f"at 256 rows {at[(v2, 'fp32', 256)]['step_cpu_s']:.4f} against {at[(v1, 'fp32', 256)]['step_cpu_s']:.4f}",
        f"the v2 step takes {at[(v2, 'bf16', 128)]['step_cpu_s']:.4f} CPU-s at 128 rows ({summary[f'{v2}_bf16_over_fp32@support=128']:.4f}x fp32)",
        f"{at[(v2, 'bf16', 256)]['step_cpu_s']:.4f} at 256 ({summary[f'{v2}_bf16_over_fp32@support=256']:.4f}x)",
        f"are {at[(v2, 'fp32', 128)]['saved_mb']:.2f} MB for v2 at 128 training rows and {at[(v2, 'fp32', 256)]['saved_mb']:.2f} MB at 256",
        f"against {at[(v1, 'fp32', 128)]['saved_mb']:.2f} and {at[(v1, 'fp32', 256)]['saved_mb']:.2f} MB for v1",
        f"{summary[f'{v2}_mflop_per_query_row@support=512']:.2f} MFLOP per row",
        f"against {summary[f'{v1}_mflop_per_query_row@support=512']:.2f} for v1",
    ]  # fmt: skip
    for figure in figures:
        assert figure in doc, figure
    # what the prose concludes from them
    assert summary[f"{v2}_bf16_over_fp32@support=128"] > 1  # bf16 is slower on this CPU
    assert at[(v2, "fp32", 128)]["saved_mb"] > 10 * at[(v1, "fp32", 128)]["saved_mb"]


def test_the_docs_reading_of_the_comparison_is_what_the_committed_comparison_says():
    committed = json.loads((ROOT / "docs" / "results" / "in_context_v2.json").read_text())
    doc = (ROOT / "docs" / "in_context.md").read_text()
    reading = " ".join(doc.split("**Reading it**")[1].split("**Cost on this CPU**")[0].split())
    table = markdown_table(committed).replace("-", "−")
    keys = ("auc@32", "auc@128", "auc@512")
    # every triple of differences quoted is a cell of the generated difference tables
    triples = re.findall(r"[−+]\d\.\d{4} / [−+]\d\.\d{4} / [−+]\d\.\d{4}", reading)
    assert len(triples) == 6
    for triple in triples:
        assert triple in table, triple
    camps = committed["campaigns"]

    def diff(name, reference, budget):
        at, ref = camps[name]["at"][budget], camps[reference]["at"][budget]
        return [at[k] - ref[k] for k in keys]

    v1, v2 = "v1 (row tokens, AdamW; shipped recipe)", "v2 (per-cell, Muon, EMA)"
    d = diff(v2, v1, "1")  # "ahead at 128 and 512 training rows and level at 32"
    assert d[1] > 0 and d[2] > 0 and abs(d[0]) < 0.005
    assert min(diff(v2, v1, "2")) > 0  # "ahead at all three sizes"
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "v2 learner overtook v1 at 128 and 512 training rows by 1 CPU-hour" in readme
    assert max(diff("v2 + prior v2", v2, "0.5")) <= 0.001  # "no gain"
    d = diff("v2, no thinking rows", v2, "0.5")  # "costs most at 32 and little at 128"
    assert d[0] < 0 and d[0] == min(d) and abs(d[1]) < 0.002
