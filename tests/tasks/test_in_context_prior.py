"""InContextPrior: one shape per batch, deterministic stream, dev tables only, irrelevant features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autometa.tasks import InContextPrior, SyntheticPrior
from autometa.tasks.datasets import is_reserved


def test_batch_shares_one_shape_and_is_deterministic():
    prior = InContextPrior(
        d_max=16,
        c_max=5,
        datasets=["sklearn/iris", "sklearn/wine"],
        n_support_range=(8, 64),
        n_query=16,
    )
    a = prior.sample_batch(np.random.default_rng(0), 6)
    b = prior.sample_batch(np.random.default_rng(0), 6)
    assert len({t.x_support.shape[0] for t in a}) == 1
    for s, t in zip(a, b, strict=True):
        assert (
            s.name == t.name
            and torch.equal(s.x_support, t.x_support)
            and torch.equal(s.y_query, t.y_query)
        )


def test_support_sizes_cover_the_log_range():
    prior = InContextPrior(d_max=8, c_max=4, datasets=[], n_support_range=(4, 512), n_query=8)
    rng = np.random.default_rng(0)
    sizes = np.array([prior._draw_support(rng) for _ in range(3000)])
    assert sizes.min() >= 4 and sizes.max() <= 512
    # log-uniform: about as many draws in [8, 32) as in [128, 512)
    small, large = np.mean((sizes >= 8) & (sizes < 32)), np.mean((sizes >= 128) & (sizes < 512))
    assert abs(small - large) < 0.05


def test_mixes_generators_and_tables():
    prior = InContextPrior(
        d_max=16,
        c_max=5,
        datasets=["sklearn/iris"],
        dataset_weight=0.5,
        n_support_range=(8, 16),
        n_query=8,
    )
    names = {t.name.split("/")[0] for t in prior.sample_batch(np.random.default_rng(1), 40)}
    assert {"synthetic", "sklearn"} <= names


def test_default_tables_are_dev_and_not_held_out():
    from autometa.estimators._dev_data import EVALUATION, PORTFOLIO_TRAIN
    from autometa.meta._campaign import EVAL_DATASETS

    prior = InContextPrior(d_max=8, c_max=4)
    assert prior.datasets
    assert not set(prior.datasets) & (set(EVALUATION) | set(PORTFOLIO_TRAIN) | set(EVAL_DATASETS))
    assert not any(
        is_reserved(name.split("/", 1)[1]) for name in prior.datasets if name.startswith("keel/")
    )


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="n_support_range"):
        InContextPrior(datasets=[], n_support_range=(1, 8))
    with pytest.raises(ValueError, match="dataset_weight"):
        InContextPrior(datasets=[], dataset_weight=2.0)


def test_irrelevant_features_are_independent_noise():
    opts = {
        "d_max": 8,
        "c_max": 2,
        "n_range": (200, 200),
        "kinds": ("gmm",),
        "categorical_prob": 0.0,
        "missing_prob": 0.0,
    }
    base = SyntheticPrior(**opts)
    noisy = SyntheticPrior(**opts, irrelevant_prob=1.0)
    # off by default: the default stream is unchanged by the option's existence
    X0, *_ = base.generate(5)
    X1, *_ = SyntheticPrior(**opts, irrelevant_prob=0.0).generate(5)
    np.testing.assert_array_equal(np.nan_to_num(X0), np.nan_to_num(X1))
    changed = 0
    for seed in range(10):
        Xa, *_ = base.generate(seed)
        Xb, *_ = noisy.generate(seed)
        if Xa.shape[1] > 1:
            same = np.all(np.isclose(np.nan_to_num(Xa), np.nan_to_num(Xb)), axis=0)
            assert 1 <= (~same).sum() <= Xa.shape[1] - 1
            changed += 1
    assert changed
