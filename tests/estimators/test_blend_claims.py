"""The numbers docs and README quote about the combiner are the committed results' numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results"


def _rows(name: str) -> dict[tuple[int, str], dict]:
    data = json.loads((RESULTS / name).read_text())
    return {(r["n_train"], r["estimator"]): r for r in data["rows"]}, data["summary"]


def _margins_claimed(text: str, summary: dict) -> None:
    """The margins are written as in the JSON, and no sentence claims more than they show."""
    flat = " ".join(text.split())
    for kind in ("best_peer", "hindsight_peer"):
        margins = [summary[f"r2_margin_vs_{kind}@{n}"] for n in (32, 128, 512)]
        assert " / ".join(f"{m:+.4f}" for m in margins) in flat, kind
    low = flat.lower()
    beaten = all(summary[f"r2_margin_vs_best_peer@{n}"] >= 0 for n in (32, 128, 512))
    assert ("above the best single peer at every size" in low) == beaten
    ranked = all(summary[f"best_mean_rank@{n}"] == "autometa" for n in (32, 128, 512))
    assert ("best mean rank" in low and "at every size" in low) == ranked


def _regressor_section(doc: str) -> str:
    """The text about the current benchmark (not the older nine-table sections of regressor.md)."""
    text = (ROOT / doc).read_text()
    if doc == "README.md":
        return text.split("### AutoMetaRegressor vs", 1)[1].split("\n### ", 1)[0]
    return text.split("### This wave (issue 23)", 1)[1].split("### Issue 14 blend", 1)[0]


@pytest.mark.parametrize("doc", ["docs/regressor.md", "README.md"])
def test_regressor_numbers_match_the_results(doc):
    text = _regressor_section(doc)
    rows, summary = _rows("regressor_blend.json")
    for n in (32, 128, 512):
        assert f"{rows[(n, 'autometa')]['r2']:.4f}" in text
        assert f"{rows[(n, 'autometa')]['cover80']:.4f}" in text
        assert f"{rows[(n, 'best_peer_hindsight')]['r2']:.4f}" in text
        assert summary[f"cells_below_worst_peer@{n}"] == 0
    _margins_claimed(text, summary)
    costs = json.loads((RESULTS / "member_costs.json").read_text())["summary"]
    assert f"{costs['regressor_fit_predict_cpu_s@512']:.4f}" in text


def test_the_margin_check_fails_on_a_stale_claim():
    _, summary = _rows("regressor_blend.json")
    text = " ".join(_regressor_section("README.md").split())
    _margins_claimed(text, summary)
    margins = " / ".join(f"{summary[f'r2_margin_vs_best_peer@{n}']:+.4f}" for n in (32, 128, 512))
    typo = margins[:-1] + str((int(margins[-1]) + 5) % 10)
    with pytest.raises(AssertionError):  # a margin typed in differently
        _margins_claimed(text.replace(margins, typo), summary)
    claim = re.compile(r"\s*above the best single peer at every size[.;,]?", re.IGNORECASE)
    flipped = (
        claim.sub("", text)
        if claim.search(text)
        else text + " Above the best single peer at every size."
    )
    with pytest.raises(AssertionError):  # the claim made, or dropped, against the JSON
        _margins_claimed(flipped, summary)


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


def test_classifier_goals_as_docs_classifier_md_states_them():
    """docs/classifier.md: issue 10's goal (+0.02 over the best single peer at 32 rows, +0.015 at
    128) missed at 32 and met at 128; issue 23's target (at least the hindsight peer at 128 and
    512, within 0.005 at 32) now missed at 128 only, where the files of before the retrain met it."""
    _, now = _rows("classifier.json")
    _, before = _rows("classifier_before_audit_retrain.json")
    assert now["auc_margin_vs_best_other@32"] < 0.02
    assert now["auc_margin_vs_best_other@128"] >= 0.015
    assert now["auc_margin_vs_hindsight_peer@32"] > -0.005
    assert now["auc_margin_vs_hindsight_peer@128"] < 0 <= now["auc_margin_vs_hindsight_peer@512"]
    assert before["auc_margin_vs_hindsight_peer@128"] >= 0
    assert (
        before["auc_margin_vs_hindsight_peer@512"] >= 0
        and before["auc_margin_vs_hindsight_peer@32"] > -0.005
    )


def test_the_in_context_member_alone_as_docs_classifier_md_states():
    """docs/classifier.md: the member alone is above RandomForest(300) and below the default blend
    at every size; issue 22's target (RF + 0.02 at 32 and 128, RF + 0.01 at 512) met at 512 only."""
    rows, _ = _rows("classifier_icl.json")
    auc = {
        (n, e): rows[(n, e)]["roc_auc"]
        for n in (32, 128, 512)
        for e in ("am_icl_only", "rf300", "autometa")
    }
    for n in (32, 128, 512):
        assert auc[(n, "rf300")] < auc[(n, "am_icl_only")] < auc[(n, "autometa")]
    met = {
        n: auc[(n, "am_icl_only")] >= auc[(n, "rf300")] + (0.01 if n == 512 else 0.02)
        for n in (32, 128, 512)
    }
    assert met == {32: False, 128: False, 512: True}
