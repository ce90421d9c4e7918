"""The combiner: greedy ensemble selection started from the meta-learned prior, shrunk by n."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from autometa import AutoMetaRegressor
from autometa.estimators._combiner import (
    evidence_share,
    fold_ids,
    greedy_selection,
    log_loss,
    oof_predictions,
    squared_error,
)


def _oof(n: int, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    return {
        "bad": rng.normal(size=n),
        "good": y + 0.2 * rng.normal(size=n),
        "mid": y + 0.8 * rng.normal(size=n),
    }, y


def test_fold_ids_are_balanced_and_stratified():
    folds = fold_ids(10, 3, seed=0)
    assert sorted(np.bincount(folds).tolist()) == [3, 3, 4]
    y = np.array([0] * 6 + [1] * 3)
    folds = fold_ids(9, 3, seed=1, y=y)
    for c in (0, 1):  # every fold holds each class
        assert set(folds[y == c]) == {0, 1, 2}
    assert fold_ids(4, 10, seed=0).max() == 3  # k capped by n


def test_oof_predictions_never_see_their_own_rows():
    y = np.arange(12, dtype=float)
    folds = fold_ids(12, 3, seed=0)
    oof = oof_predictions(lambda tr, te: np.full(te.sum(), y[tr].mean()), folds)
    for f in range(3):
        assert np.allclose(oof[folds == f], y[folds != f].mean())


def test_evidence_share_grows_with_n():
    assert evidence_share(32, math.inf) == 0.0
    assert evidence_share(32, 0.0) == 1.0
    assert evidence_share(64, 64.0) == pytest.approx(0.5)
    assert evidence_share(32, 100) < evidence_share(128, 100) < evidence_share(512, 100)


def test_prior_alone_and_evidence_alone_are_the_two_ends():
    oof, y = _oof(512)
    prior = {"bad": 0.6, "good": 0.2, "mid": 0.2}
    assert greedy_selection(oof, y, squared_error, prior=prior, n0=math.inf) == pytest.approx(prior)
    plain = greedy_selection(oof, y, squared_error, n0=0.0)  # Caruana et al. from scratch
    assert plain["good"] > 0.7 and plain["bad"] == 0.0


def test_recovers_the_clearly_best_member_at_512_rows_but_trusts_the_prior_at_16():
    oof, y = _oof(512)
    prior = {"bad": 0.6, "good": 0.2, "mid": 0.2}
    w = greedy_selection(oof, y, squared_error, prior=prior, n0=64.0)
    assert max(w, key=w.get) == "good" and w["good"] > 0.6 and w["bad"] < 0.1
    small, ys = _oof(16, seed=1)
    w16 = greedy_selection(small, ys, squared_error, prior=prior, n0=64.0)
    assert w16["bad"] > 0.4  # with 16 rows the prior still carries 80% of the mass


def test_works_on_probabilities_with_the_log_loss():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=300)
    sharp = np.full((300, 3), 0.1)
    sharp[np.arange(300), y] = 0.8
    flat = np.full((300, 3), 1 / 3)
    w = greedy_selection({"flat": flat, "sharp": sharp}, y, log_loss, n0=0.0)
    assert w["sharp"] > 0.9
    assert log_loss(sharp, y) < log_loss(flat, y)


def test_the_regressor_finds_the_clearly_best_member_at_512_rows():
    """A linear task with little noise: ridge is clearly best; the combiner gives it the largest weight."""
    rng = np.random.default_rng(0)
    n, d = 1012, 6
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.05 * rng.normal(size=n)
    X = pd.DataFrame(X, columns=[f"x{j}" for j in range(d)])
    kw = {"in_context_learner": None, "maml_learner": None, "random_state": 0}
    reg = AutoMetaRegressor(**kw).fit(X[:512], y[:512])
    assert max(reg.weights_, key=reg.weights_.get) == "ridge" and reg.weights_["ridge"] > 0.5
    assert reg.evidence_share_ > 0.5
    r2 = 1 - np.mean((reg.predict(X[512:]) - y[512:]) ** 2) / np.var(y[512:])
    uniform = AutoMetaRegressor(blend="uniform", **kw).fit(X[:512], y[:512])
    r2_uniform = 1 - np.mean((uniform.predict(X[512:]) - y[512:]) ** 2) / np.var(y[512:])
    assert r2 > 0.99 and r2 > r2_uniform + 0.01


def test_shipped_classifier_combiner_is_carded_and_chosen_by_its_analysis():
    import hashlib
    import json

    from autometa import AutoMetaClassifier
    from autometa.estimators._shipped import load_shipped, shipped_path
    from autometa.tasks import roles

    COMBINER_FILE = shipped_path("classifier_combiner")
    if not COMBINER_FILE.is_file():
        pytest.skip("no shipped combiner")
    shipped = json.loads(COMBINER_FILE.read_text())
    card = json.loads(COMBINER_FILE.with_name("model_card.json").read_text())
    assert (
        card["sha256"]["classifier_combiner.json"]
        == hashlib.sha256(COMBINER_FILE.read_bytes()).hexdigest()
    )
    info = shipped["info"]
    assert set(info["data_sets"]) <= set(roles.CLASSIFIER_PORTFOLIO_TRAIN)
    auc = info["auc_by_n0"]
    assert AutoMetaClassifier()._shipped_n0(load_shipped("classifier_portfolio")) == shipped["n0"]
    assert auc[f"{shipped['n0']:g}"] == max(
        v for k, v in auc.items() if k[0].isdigit() or k == "inf"
    )


def test_classifier_combiner_reading_in_the_docs_holds():
    """docs/classifier.md: the evidence alone loses to the prior at 32 and 128 rows and wins at
    512; prior + evidence beats the prior alone at every size."""
    import json

    from autometa.estimators._shipped import shipped_path

    shipped = json.loads(shipped_path("classifier_combiner").read_text())
    n0 = f"{shipped['n0']:g}"
    by_size = shipped["info"]["auc_by_size"]
    assert by_size["32"]["0"] < by_size["32"]["inf"] and by_size["128"]["0"] < by_size["128"]["inf"]
    assert by_size["512"]["0"] > by_size["512"]["inf"]
    assert all(v[n0] > v["inf"] for v in by_size.values())
