"""The regressor's meta-learned blend: fitting it beats uniform weights, and the shipped file says what it is."""

from __future__ import annotations

import numpy as np
import pytest

from autometa.estimators._regression_meta import REGRESSION_META_FEATURES
from autometa.estimators._regressor import DEFAULT_REGRESSOR_MEMBERS, REGRESSOR_PORTFOLIO
from autometa.estimators._shipped import load_shipped
from autometa.estimators.train_regressor import (
    _loss,
    blend_loss,
    calibrate_spread,
    choose_spread,
    fit_blend,
    fit_prior,
    interval_score,
    prior_tables,
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
        tasks.append(
            {
                "z": z,
                "preds": preds,
                "oob_sd": 1.0,
                "icl_offsets": np.c_[-np.ones(100), np.ones(100)],
            }
        )
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
    assert _loss(np.array([w[m] for m in members]), held, members) < _loss(
        np.full(3, 1 / 3), held, members
    )


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


def test_the_prior_learns_which_member_suits_which_task():
    """Ridge wins where the linear landmarker is high, the forest where it is low: the prior must learn it.

    With the meta-training removed (zero coefficients) both kinds of task get the same weights.
    """
    rng = np.random.default_rng(0)
    tasks = []
    for i in range(60):
        z = rng.normal(size=80)
        linear = i % 2 == 0
        meta = rng.normal(size=len(REGRESSION_META_FEATURES))
        meta[REGRESSION_META_FEATURES.index("landmark_ridge")] = 0.8 if linear else -0.2
        preds = {"ridge": z + (0.2 if linear else 1.0) * rng.normal(size=80),
                 "rf": z + (1.0 if linear else 0.2) * rng.normal(size=80)}  # fmt: skip
        tasks.append({"meta": meta, "z": z, "preds": preds, "dataset": f"t{i % 4}"})
    prior = fit_prior(tasks, ["rf", "ridge"], l2=0.01)
    high = prior.prior(tasks[0]["meta"], ["rf", "ridge"])
    low = prior.prior(tasks[1]["meta"], ["rf", "ridge"])
    assert high["ridge"] > 0.7 and low["rf"] > 0.7
    loss = np.mean([blend_loss(t, prior.prior(t["meta"], ["rf", "ridge"])) for t in tasks])
    assert loss < 0.8 * np.mean([blend_loss(t, {"rf": 0.5, "ridge": 0.5}) for t in tasks])


def test_shipped_prior_matches_the_defaults_and_its_card():
    if not REGRESSOR_PORTFOLIO.is_file():
        pytest.skip("no shipped blend")
    shipped = load_shipped("regressor_portfolio")
    assert set(shipped["members"]) <= set(DEFAULT_REGRESSOR_MEMBERS)
    assert sum(shipped["weights"].values()) == pytest.approx(1.0)
    info = shipped["info"]
    # trained on dev tables and the synthetic prior only: never an evaluation or reserved table
    # (the file is a record: tables the content audit dropped since are still named in it)
    assert set(info["data_sets"]) - roles.CONTENT_LEAKS == set(prior_tables())
    assert not set(info["data_sets"]) & set(roles.REGRESSOR_EVALUATION)
    assert set(info["data_sets"]) - roles.CONTENT_LEAKS == set(
        roles.REGRESSOR_VALIDATION
    )  # not the in-context member's tables
    # the shipped choices are the analysis' choices
    assert shipped["n0"] == info["n0"] and shipped["spread_model"] == info["spread_model"]
    assert shipped["target_margin"] == info["target_margin"]
    scores = info["n0_scores"]
    assert scores[f"{shipped['n0']:g}"] == min(scores.values())
    assert shipped["spread"] == "members"


def test_regressor_portfolio_card_names_data_command_and_hash():
    import hashlib
    import json

    from autometa.meta._integrity import recorded_hashes

    card_path = REGRESSOR_PORTFOLIO.with_name("regressor_portfolio_model_card.json")
    if not REGRESSOR_PORTFOLIO.is_file():
        pytest.skip("no shipped blend")
    card = json.loads(card_path.read_text())
    # the hash as the integrity check reads it (a card's "sha256" map or its "file"/"sha256" pair)
    recorded, where = recorded_hashes(card_path.parent)["regressor_portfolio.json"]
    assert where == card_path.name
    assert recorded == hashlib.sha256(REGRESSOR_PORTFOLIO.read_bytes()).hexdigest()
    info = load_shipped("regressor_portfolio")["info"]
    assert card["command"] == info["command"] and card["data"]["dev_tables"] == info["data_sets"]
