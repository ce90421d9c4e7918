"""``autometa bench in-context``: a tiny run reports both estimators and the growth factors."""

from __future__ import annotations

import argparse

import torch

from autometa.bench import in_context as bench


def test_tiny_run_reports_growth(monkeypatch):
    before = torch.get_num_threads()
    try:
        args = argparse.Namespace(support="16", query="20,80", repeats=1, quick=False)
        result = bench.compute(args)
    finally:
        torch.set_num_threads(before)
    assert {(r["estimator"], r["query"]) for r in result.rows} == {
        (e, q) for e in ("icl", "rf300") for q in (20, 80)
    }
    assert all(r["fit_s"] >= 0 and r["predict_s"] >= 0 for r in result.rows)
    assert result.summary["query_rows_growth"] == 4.0
    assert "icl_predict_growth@support=16" in result.summary
