"""The regressor's meta-learned blend: fitting it beats uniform weights, and the shipped file says what it is."""

from __future__ import annotations

import numpy as np
import pytest

from autometa.estimators._regressor import DEFAULT_REGRESSOR_MEMBERS, REGRESSOR_PORTFOLIO
from autometa.estimators._shipped import load_shipped
from autometa.estimators.train_regressor import (
    _loss,
    calibrate_spread,
    choose_spread,
    fit_blend,
    interval_score,
)
from autometa.tasks import roles


def _tasks(seed=0, n_tasks=12):
    """Synthetic member predictions: 'good' is accurate, 'bad' is noise, 'mid' in between."""
    rng = np.random.default_rng(seed)
    tasks = []
    for _ in range(n_tasks):
        z = rng.normal(size=100)
        preds = {"good": z + 0.3 * rng.normal(size=100), "mid": z + 1.0 * rng.normal(size=100),
                 "bad": rng.normal(size=100)}  # fmt: skip
        tasks.append({"z": z, "preds": preds, "oob_sd": 1.0, "icl_offsets": np.c_[-np.ones(100), np.ones(100)]})
    return tasks


def test_fitted_weights_beat_uniform_and_favour_the_good_member():
    tasks = _tasks()
    members = ["bad", "good", "mid"]
    w = fit_blend(tasks, members, l2=0.001)
    assert w["good"] > w["mid"] > w["bad"]
    learned = _loss(np.array([w[m] for m in members]), tasks, members)
    uniform = _loss(np.full(3, 1 / 3), tasks, members)
    assert learned < 0.7 * uniform
    held = _tasks(seed=1)
    assert _loss(np.array([w[m] for m in members]), held, members) < _loss(np.full(3, 1 / 3), held, members)


def test_spread_calibration_reaches_80_percent():
    tasks = _tasks()
    w = {"good": 1.0}
    for source in ("oob", "icl"):
        s = calibrate_spread(tasks, w, source)
        covered = []
        for t in tasks:
            half = 1.2816 * s if source == "oob" else s
            covered.append(np.mean(np.abs(t["z"] - t["preds"]["good"]) <= half))
        assert np.mean(covered) == pytest.approx(0.8, abs=0.02)


def test_choose_spread_prefers_the_source_whose_calibration_transfers_across_tables():
    """'icl' offsets fit one table's noise and not the other's; the oob scale is right everywhere."""
    rng = np.random.default_rng(0)
    tasks = []
    for name, noise in (("a", 0.3), ("b", 1.5), ("c", 0.8)):
        for _ in range(4):
            z = rng.normal(size=200)
            pred = z + noise * rng.normal(size=200)
            tasks.append({"dataset": name, "z": z, "preds": {"icl": pred, "m": pred}, "oob_sd": noise,
                          "icl_offsets": np.c_[-np.ones(200), np.ones(200)]})  # fmt: skip
    out = choose_spread(tasks, ["icl", "m"], l2=0.01)
    assert out["spread"] == "oob"
    held = out["leave_one_table_out"]
    assert abs(held["oob"]["cover80"] - 0.8) < abs(held["icl"]["cover80"] - 0.8)
    assert held["oob"]["interval_score"] < held["icl"]["interval_score"]
    # the score is proper: a calibrated interval beats one twice as wide and one half as wide
    right = interval_score(tasks, {"m": 1.0}, "oob", 1.0)["interval_score"]
    assert right < interval_score(tasks, {"m": 1.0}, "oob", 2.0)["interval_score"]
    assert right < interval_score(tasks, {"m": 1.0}, "oob", 0.5)["interval_score"]


def test_shipped_blend_matches_the_defaults_and_its_card():
    if not REGRESSOR_PORTFOLIO.is_file():
        pytest.skip("no shipped blend")
    shipped = load_shipped("regressor_portfolio")
    assert set(shipped["members"]) <= set(DEFAULT_REGRESSOR_MEMBERS)
    assert set(shipped["weights"]) == set(shipped["members"])
    assert sum(shipped["weights"].values()) == pytest.approx(1.0)
    info = shipped["info"]
    assert set(info["data_sets"]) == set(roles.REGRESSOR_VALIDATION)
    assert not set(info["data_sets"]) & set(roles.REGRESSOR_EVALUATION)
    assert info["loss_learned"] <= info["loss_uniform"]
    # the spread source is the one that scored best with its calibration left out of the table
    held = info["spread_leave_one_table_out"]
    assert shipped["spread"] == min(held, key=lambda s: (held[s]["interval_score"], s != "oob"))
    assert shipped["weights"] != pytest.approx(dict.fromkeys(shipped["weights"], 1 / len(shipped["weights"])))
