"""``autometa bench costs``: every default member of both estimators gets its fit, cross-fit and predict cost."""

from __future__ import annotations

import argparse

import torch

from autometa.bench import costs as bench


def test_tiny_run_costs_every_member():
    before = torch.get_num_threads()
    try:
        result = bench.compute(argparse.Namespace(rows="32", repeats=1, quick=False))
    finally:
        torch.set_num_threads(before)
    members = {(r["estimator"], r["member"]) for r in result.rows}
    assert {
        ("regressor", m) for m in ("icl", "maml", "et", "gbm", "knn", "rf", "ridge", "svr")
    } <= members
    assert {("classifier", m) for m in ("icl", "et", "gbm", "knn", "lr", "rf")} <= members
    rf = next(r for r in result.rows if r["estimator"] == "regressor" and r["member"] == "rf")
    assert rf["oof_s"] == 0.0  # the forest's out-of-bag predictions are free
    assert all(r["fit_s"] >= 0 for r in result.rows)
    assert result.summary["regressor_fit_predict_cpu_s@32"] > 0
