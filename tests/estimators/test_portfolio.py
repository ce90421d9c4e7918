"""The meta-learned combination weights: learning, validation and persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autometa.estimators import (
    DEFAULT_PORTFOLIO,
    META_FEATURES,
    Portfolio,
    fit_portfolio,
    meta_features,
)


def _records(n_tasks: int, seed: int = 0) -> list[dict]:
    """Member "good" is right on small tasks, member "big" on large ones, "noise" never."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_tasks):
        n_rows = int(rng.choice([20, 2000]))
        y = rng.integers(0, 2, size=50)
        right = np.eye(2)[y] * 0.8 + 0.1
        wrong = np.full((50, 2), 0.5)
        z = meta_features(n_rows, 5, 2, 0, np.array([n_rows // 2, n_rows - n_rows // 2]), 0.0)
        small = n_rows < 100
        out.append({"z": z, "y": y, "proba": {"good": right if small else wrong, "big": wrong if small else right,
                                             "noise": rng.dirichlet([1, 1], size=50)}})  # fmt: skip
    return out


def test_fit_portfolio_learns_task_dependent_weights():
    p = fit_portfolio(_records(40), ["good", "big", "noise"], steps=150)
    small = p.weights(meta_features(20, 5, 2, 0, np.array([10, 10]), 0.0), ["good", "big", "noise"])
    large = p.weights(
        meta_features(2000, 5, 2, 0, np.array([1000, 1000]), 0.0), ["good", "big", "noise"]
    )
    assert small["good"] > 0.6 and large["big"] > 0.6
    assert "noise" not in small or small["noise"] < 0.2
    assert sum(small.values()) == pytest.approx(1.0)


def test_weights_renormalize_over_available_members():
    p = Portfolio.uniform(["a", "b", "c"])
    assert p.weights(np.zeros(len(META_FEATURES)), ["a", "c"]) == pytest.approx(
        {"a": 0.5, "c": 0.5}
    )
    with pytest.raises(ValueError, match="None of the members"):
        p.weights(np.zeros(len(META_FEATURES)), ["x"])


def test_round_trip_and_damaged_files(tmp_path):
    p = fit_portfolio(_records(10), ["good", "big", "noise"], steps=20)
    p.save(tmp_path / "p.json")
    q = Portfolio.load(tmp_path / "p.json")
    z = meta_features(64, 5, 2, 1, np.array([30, 34]), 0.1)
    assert q.weights(z, q.members) == pytest.approx(p.weights(z, p.members))
    d = json.loads((tmp_path / "p.json").read_text())
    d["meta_features"] = ["rows"]
    (tmp_path / "old.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match="train_default"):
        Portfolio.load(tmp_path / "old.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValueError, match="Could not read"):
        Portfolio.load(tmp_path / "junk.json")


def test_shipped_portfolio_loads_and_covers_every_member():
    if not DEFAULT_PORTFOLIO.is_file():
        pytest.skip("the shipped portfolio is built by python -m autometa.estimators.train_default")
    p = Portfolio.load(DEFAULT_PORTFOLIO)
    from autometa.estimators._classifier import DEFAULT_MEMBERS

    assert set(p.members) == set(DEFAULT_MEMBERS) == {"icl", "et", "gbm", "knn", "lr", "rf"}


def test_auc_objective_prefers_the_member_that_ranks_well():
    p = fit_portfolio(_records(12, seed=1), ["good", "big", "noise"], steps=60, objective="auc")
    small = p.weights(meta_features(20, 5, 2, 0, np.array([10, 10]), 0.0), ["good", "big", "noise"])
    assert small["good"] == max(small.values())
    with pytest.raises(ValueError, match="objective"):
        fit_portfolio(_records(2), ["good"], steps=1, objective="brier")


def test_landmarkers_tell_axis_aligned_from_local_structure():
    from autometa.estimators import landmarkers

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    axis = (x[:, 0] > 0).astype(int)  # one threshold on one column: the stump's task
    ring = (np.hypot(x[:, 0], x[:, 1]) > 1.2).astype(int)  # no single threshold works
    a, r = landmarkers(x, x, axis), landmarkers(x, x, ring)
    assert a.shape == (3,) and a[0] > 0.4 and r[0] < 0.15 and r[1] > r[0]
    np.testing.assert_array_equal(landmarkers(x, x, axis, seed=0), a)  # seeded
    x[::7, 2] = np.nan  # the stump takes NaN
    assert np.isfinite(landmarkers(x, np.nan_to_num(x), axis)).all()


def test_missing_meta_features_count_as_the_average_task():
    records = _records(20)
    for r in records[:5]:
        r["z"][-1] = np.nan
    p = fit_portfolio(records, ["good", "big", "noise"], steps=20)
    assert np.isfinite(p.mean).all() and np.isfinite(p.coef).all()
    w = p.weights(meta_features(20, 5, 2, 0, np.array([10, 10]), 0.0), ["good", "big"])
    assert sum(w.values()) == pytest.approx(1.0)
