"""``autometa bench augment`` on a tiny configuration (dev data only)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autometa.bench.augment import paired_ci


def test_paired_ci():
    m, lo, hi = paired_ci(np.array([0.1, 0.2, 0.3]))
    assert m == pytest.approx(0.2) and lo < 0.2 < hi
    # a constant positive difference has a degenerate interval above zero
    m, lo, hi = paired_ci(np.full(5, 0.05))
    assert lo == pytest.approx(0.05) and hi == pytest.approx(0.05)


@pytest.mark.slow
def test_bench_augment_cli_tiny(tmp_path, tracking_uri, capsys):
    from autometa.cli import main

    out = tmp_path / "augment.json"
    rc = main(
        [
            "bench",
            "augment",
            "--sets",
            "hayes-roth",
            "--n-train",
            "32",
            "--seeds",
            "2",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    payload = json.loads(out.read_text())
    comparisons = {r["comparison"] for r in payload["rows"]}
    assert "maml+learned - maml+none" in comparisons and "hgb+metaaug - hgb+smote" in comparisons
    for row in payload["rows"]:
        assert 0.0 <= row["auc_a"] <= 1.0 and row["ci95_low"] <= row["diff"] <= row["ci95_high"]
    summary = payload["summary"]
    assert "learned_beats_none@32" in summary
    # what the docs quote about the policy on the benchmark's tables: a probability, a row rate
    assert 0.0 < summary["learned_p_identity@32"] < 1.0
    assert summary["metaaug_rows_added_per_row@32"] >= 0.0
    assert (
        summary["metaaug_rows_added_per_row/hayes-roth@32"]
        == summary["metaaug_rows_added_per_row@32"]
    )
    assert "maml+learned - maml+uniform" in capsys.readouterr().out
