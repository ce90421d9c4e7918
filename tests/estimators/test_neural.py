"""The neural members' inference-time inner loop is the learners' own adapt, in its inference mode."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from autometa.augment import AugmentedLearner
from autometa.estimators._neural import NeuralMember
from autometa.meta import build_learner
from autometa.tasks import collate_tasks
from autometa.tasks._synthetic import SyntheticPrior

NET = {"kind": "mlp", "d_max": 8, "c_max": 3, "hidden": [16]}


@pytest.fixture
def batch():
    pool = SyntheticPrior(8, 3, n_range=(10, 20), n_query=5, d_range=(2, 8))
    rng = np.random.default_rng(0)
    return collate_tasks([pool.sample(rng) for _ in range(4)])


@pytest.mark.parametrize(
    ("algo", "kwargs"),
    [
        ("meta-lstm", {"init_lr": 0.1}),
        ("metasgd", {"inner_lr": 0.1}),
        ("maml", {"inner_lr": 0.1}),
        ("anil", {}),
    ],
)
def test_inference_mode_equals_the_learners_vmapped_adapt(batch, algo, kwargs):
    torch.manual_seed(0)
    learner = build_learner(algo, net=NET, inner_steps=3, **kwargs)
    reference = learner.adapt(batch)
    with torch.no_grad():
        fast = learner.adapt(batch, inference=True)
    assert not any(v.requires_grad for v in fast.values())
    init = learner.init_params()
    assert any(not torch.allclose(reference[k], init[k].expand_as(reference[k])) for k in reference)
    for k in reference:
        torch.testing.assert_close(fast[k], reference[k].detach(), rtol=1e-5, atol=1e-6)


def test_inference_mode_on_augmented_rows_equals_the_augmented_learner(batch):
    torch.manual_seed(0)
    learner = AugmentedLearner(build_learner("meta-lstm", net=NET, inner_steps=3, init_lr=0.1))
    reference = learner.adapt(batch, generator=torch.Generator().manual_seed(3))
    support = learner.augment(batch, torch.Generator().manual_seed(3))
    assert support.x.shape[1] > batch.x_support.shape[1]  # the policy added rows
    fast = learner.adapt(batch, generator=torch.Generator().manual_seed(3), inference=True)
    for k in reference:
        torch.testing.assert_close(fast[k], reference[k].detach(), rtol=1e-5, atol=1e-6)


def _frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    return pd.DataFrame(x, columns=list("abcd")), y


@pytest.mark.parametrize("algo", ["meta-lstm", "hypernet-maml"])
def test_augmented_member_is_seeded_per_fit_and_augmentation_matters(algo):
    torch.manual_seed(0)
    extra = {"init_lr": 0.1} if algo == "meta-lstm" else {"inner_rule": "meta-lstm"}
    learner = AugmentedLearner(build_learner(algo, net=NET, inner_steps=2, **extra))
    learner.requires_grad_(False)
    df, y = _frame()

    def proba(augment, seed=1):
        return (
            NeuralMember(learner, n_views=2, augment=augment)
            .fit(_ctx(df), y, seed)
            .predict_proba(_ctx(df))
        )

    first = proba(True)
    np.testing.assert_allclose(first.sum(axis=1), 1.0)
    # the learner's own random stream has moved on, yet the same seed gives the same fit
    learner.adapt(collate_tasks([_task_of(df, y)]))
    np.testing.assert_array_equal(proba(True), first)
    assert not np.allclose(proba(True, seed=2), first)  # other views and augmentation draws
    assert not np.allclose(proba(False), first)  # the policy's rows change the fit


def _ctx(df, n_classes=2):
    from autometa.estimators._context import FitContext

    return FitContext(df, n_classes=n_classes)


def _task_of(df, y):
    from autometa.tasks._encoder import encode_task

    return encode_task(df, y, df, y, d_max=8, c_max=3)


def test_views_above_256_rows_adapt_on_their_own_stratified_subsamples():
    from autometa.estimators._neural import VIEW_ROWS

    torch.manual_seed(0)
    learner = build_learner("maml", net=NET, inner_steps=1, inner_lr=0.1)
    df, y = _frame(n=700)
    member = NeuralMember(learner, n_views=3).fit(_ctx(df), y, seed=0)
    assert all(VIEW_ROWS - 2 <= n <= VIEW_ROWS for n in member.view_rows_)
    small = NeuralMember(learner, n_views=3).fit(_ctx(df.iloc[:100]), y[:100], seed=0)
    assert small.view_rows_ == [100, 100, 100]
