"""The regression task prior: deterministic, standardized, varied, and what it says it draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autometa.tasks import (
    InContextRegressionPrior,
    RegressionPrior,
    RegressionTablePool,
    collate_tasks,
)
from autometa.tasks._regression_prior import KINDS


def test_tasks_are_regression_and_standardized_by_support():
    prior = RegressionPrior(d_max=16, n_range=(20, 40), n_query=30)
    rng = np.random.default_rng(0)
    for _ in range(20):
        t = prior.sample(rng)
        assert t.is_regression and t.n_classes == 1
        assert t.x_support.shape[1] == 16 and t.y_query.shape == (30,)
        assert abs(float(t.y_support.mean())) < 1e-4
        assert float(t.y_support.std(unbiased=False)) == pytest.approx(1.0, abs=1e-3)


def test_deterministic_and_regenerable():
    prior = RegressionPrior(d_max=8)
    a = prior.sample(np.random.default_rng(3))
    b = prior.sample(np.random.default_rng(3))
    assert torch.equal(a.x_support, b.x_support) and torch.equal(a.y_query, b.y_query)
    again = prior.task_from_seed(a.seed)
    assert torch.equal(again.y_support, a.y_support)


@pytest.mark.parametrize("kind", KINDS)
def test_every_family_gives_a_learnable_signal(kind):
    """Without noise, a family's target is a function of the features: a RandomForest beats the mean."""
    from sklearn.ensemble import RandomForestRegressor

    prior = RegressionPrior(d_max=16, n_range=(300, 300), n_query=200, kinds=(kind,), snr_range=(0.01, 0.01),
                            skew_prob=0.0, outlier_prob=0.0, heteroscedastic_prob=0.0, missing_prob=0.0,
                            categorical_prob=0.0, irrelevant_prob=0.0)  # fmt: skip
    gains = []
    for seed in range(4):
        t = prior.task_from_seed(seed)
        fm = t.feature_mask.numpy()
        rf = RandomForestRegressor(100, random_state=0).fit(
            t.x_support.numpy()[:, fm], t.y_support.numpy()
        )
        pred = rf.predict(t.x_query.numpy()[:, fm])
        yq = t.y_query.numpy()
        gains.append(1 - np.mean((pred - yq) ** 2) / np.mean((yq - yq.mean()) ** 2))
    assert np.mean(gains) > 0.3


def test_skew_and_outliers_are_drawn():
    prior = RegressionPrior(
        d_max=8, n_range=(200, 200), skew_prob=1.0, outlier_prob=0.0, missing_prob=0.0
    )
    skews = []
    for seed in range(10):
        X, y, *_ = prior.generate(seed)
        z = (y - y.mean()) / y.std()
        skews.append(np.mean(z**3))
    assert np.median(skews) > 0.5  # exponentiated targets are right-skewed


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="kinds"):
        RegressionPrior(kinds=("spline",))
    with pytest.raises(ValueError, match="snr_range"):
        RegressionPrior(snr_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="skew_prob"):
        RegressionPrior(skew_prob=2.0)


def test_table_pool_from_frames_and_batching():
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=80), "b": rng.choice(["x", "y"], 80)})
    y = X["a"].to_numpy() * 3 + 1
    pool = RegressionTablePool({"toy": (X, y)}, d_max=8, n_support_range=(10, 20), n_query=30)
    t = pool.sample(rng)
    assert t.is_regression and t.name == "toy" and 10 <= t.x_support.shape[0] <= 20
    prior = InContextRegressionPrior(d_max=8, datasets=[], n_support_range=(8, 64))
    tasks = prior.sample_batch(np.random.default_rng(1), 4)
    assert len({t.x_support.shape[0] for t in tasks}) == 1
    batch = collate_tasks(tasks)
    assert batch.y_support.is_floating_point() and batch.c_max == 1


def test_collate_refuses_mixed_task_kinds():
    from autometa.tasks import SyntheticPrior

    reg = RegressionPrior(d_max=8).sample(np.random.default_rng(0))
    cls = SyntheticPrior(d_max=8, c_max=3).sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match="cannot mix"):
        collate_tasks([reg, cls])


def test_skewed_inputs_and_spacing_columns_only_when_asked():
    """``skewed_prob=0`` (the default) draws exactly the tasks it drew before the option;
    ``skewed_prob=1`` warps inputs to skewed or bounded marginals; ``spacing`` adds z-score columns."""
    from scipy.stats import skew

    from autometa.tasks._regression_prior import warp_marginals

    base = RegressionPrior(d_max=16, d_range=(4, 4), missing_prob=0.0, categorical_prob=0.0,
                           irrelevant_prob=0.0)  # fmt: skip
    same = RegressionPrior(d_max=16, d_range=(4, 4), missing_prob=0.0, categorical_prob=0.0,
                           irrelevant_prob=0.0, skewed_prob=0.0)  # fmt: skip
    assert torch.equal(base.task_from_seed(5).x_support, same.task_from_seed(5).x_support)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 6))
    W = warp_marginals(np.random.default_rng(1), X)
    warped = [j for j in range(6) if not np.allclose(W[:, j], X[:, j])]
    assert warped and all(abs(skew(X[:, j])) < 0.5 for j in range(6))  # Gaussian before
    kinds = {"skewed": 0, "bounded": 0}
    for j in warped:
        if abs(skew(W[:, j])) > 0.5:
            kinds["skewed"] += 1
        elif 0.0 <= W[:, j].min() and W[:, j].max() <= 1.0:
            kinds["bounded"] += 1
    assert sum(kinds.values()) == len(warped)  # every warped column is skewed or in [0, 1]
    spaced = RegressionPrior(d_max=16, d_range=(4, 4), missing_prob=0.0, categorical_prob=0.0,
                             irrelevant_prob=0.0, skewed_prob=1.0, spacing=True)  # fmt: skip
    task = spaced.task_from_seed(5)
    assert int(task.feature_mask.sum()) == 8  # 4 columns and their z-scores
    with pytest.raises(ValueError, match="skewed_prob"):
        RegressionPrior(skewed_prob=2.0)
