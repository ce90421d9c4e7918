"""The numbers docs and README quote about the combiner are the committed results' numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results"


def _rows(name: str) -> dict[tuple[int, str], dict]:
    data = json.loads((RESULTS / name).read_text())
    return {(r["n_train"], r["estimator"]): r for r in data["rows"]}, data["summary"]


@pytest.mark.parametrize("doc", ["docs/regressor.md", "README.md"])
def test_regressor_numbers_match_the_results(doc):
    text = (ROOT / doc).read_text()
    rows, summary = _rows("regressor_blend.json")
    for n in (32, 128, 512):
        assert f"{rows[(n, 'autometa')]['r2']:.4f}" in text
        assert f"{rows[(n, 'autometa')]['cover80']:.4f}" in text
        assert f"{rows[(n, 'best_peer_hindsight')]['r2']:.4f}" in text
        assert summary[f"cells_below_worst_peer@{n}"] == 0
    assert f"{summary['r2_margin_vs_hindsight_peer@128']:.3g}" in text.replace(
        "-0.0000152", "-1.52e-05"
    )
    costs = json.loads((RESULTS / "member_costs.json").read_text())["summary"]
    assert f"{costs['regressor_fit_predict_cpu_s@512']:.4f}" in text


def test_regressor_ablation_matches_the_results():
    text = (ROOT / "docs/regressor.md").read_text()
    rows, _ = _rows("regressor_blend_ablation.json")
    for n in (32, 128, 512):
        for e in ("autometa", "am_prior", "am_evidence"):
            assert f"{rows[(n, e)]['r2']:.4f}" in text


@pytest.mark.parametrize("doc", ["docs/classifier.md", "README.md"])
def test_classifier_numbers_match_the_results(doc):
    text = (ROOT / doc).read_text()
    rows, summary = _rows("classifier_blend.json")
    for n in (32, 128, 512):
        assert f"{rows[(n, 'autometa')]['roc_auc']:.4f}" in text
        assert f"{rows[(n, 'am_prior')]['roc_auc']:.4f}" in text
        assert f"+{summary[f'auc_margin_vs_hindsight_peer@{n}']:.4f}" in text
