"""InContextRegressionLearner: the learner contract, the ensemble, and that meta-training teaches it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autometa.functional import bar_mean, bar_quantiles
from autometa.meta import (
    InContextRegressionLearner,
    MetaTrainer,
    build_learner,
    load_meta_learner,
    save_meta_learner,
)
from autometa.meta._in_context_regression import in_context_regression_distribution
from autometa.tasks import InContextRegressionPrior, RegressionPrior, collate_tasks

D = 8


def small(**kw) -> InContextRegressionLearner:
    torch.manual_seed(0)
    return InContextRegressionLearner(d_max=D, width=32, depth=2, n_bins=24, **kw)


def batch_of(n_tasks=3, seed=0, **kw):
    prior = RegressionPrior(d_max=D, n_range=(16, 32), n_query=24, **kw)
    rng = np.random.default_rng(seed)
    return collate_tasks([prior.sample(rng) for _ in range(n_tasks)])


def test_shapes_loss_and_config_roundtrip(tmp_path):
    learner = small()
    batch = batch_of()
    logits = learner.predict(learner.adapt(batch), batch.x_query, batch)
    assert logits.shape == (3, batch.x_query.shape[1], 24)
    loss, metrics = learner.meta_loss(batch)
    assert torch.isfinite(loss) and set(metrics) == {"loss", "mse"}
    rebuilt = build_learner("in-context-regression", **learner.get_config())
    assert rebuilt.get_config() == learner.get_config()
    loaded = load_meta_learner(save_meta_learner(learner, tmp_path / "r.pt"))
    assert isinstance(loaded, InContextRegressionLearner)
    for a, b in zip(learner.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_refuses_class_labels_and_wrong_width():
    from autometa.tasks import SyntheticPrior

    learner = small()
    cls = collate_tasks([SyntheticPrior(d_max=D, c_max=3).sample(np.random.default_rng(0))])
    with pytest.raises(ValueError, match="float targets"):
        learner.adapt(cls)
    wide = collate_tasks([RegressionPrior(d_max=D + 1).sample(np.random.default_rng(0))])
    with pytest.raises(ValueError, match="d_max"):
        learner.adapt(wide)
    with pytest.raises(ValueError, match="n_bins"):
        InContextRegressionLearner(d_max=D, n_bins=1)


def test_query_rows_do_not_interact_and_support_order_is_irrelevant():
    learner = small().eval()
    batch = batch_of(1)
    state = learner.adapt(batch)
    full = learner.predict(state, batch.x_query, batch)
    one = learner.predict(state, batch.x_query[:, :1], batch)
    assert torch.allclose(full[:, :1], one, atol=1e-5)
    perm = torch.randperm(batch.x_support.shape[1], generator=torch.Generator().manual_seed(0))
    from dataclasses import replace

    shuffled = replace(
        batch, x_support=batch.x_support[:, perm], y_support=batch.y_support[:, perm]
    )
    again = learner.predict(learner.adapt(shuffled), batch.x_query, shuffled)
    assert torch.allclose(full, again, atol=1e-5)


def test_distribution_in_user_units_and_deterministic():
    learner = small()
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(60, D)).astype(np.float32))
    fm = torch.ones(D, dtype=torch.bool)
    y = rng.normal(size=60) * 50 + 1000
    p1, b1 = in_context_regression_distribution(learner, x[:40], y[:40], x[40:], fm, seed=3)
    p2, b2 = in_context_regression_distribution(learner, x[:40], y[:40], x[40:], fm, seed=3)
    assert np.array_equal(p1, p2) and np.array_equal(b1, b2)
    assert p1.shape == (20, 24) and np.allclose(p1.sum(1), 1)
    mean = bar_mean(torch.from_numpy(p1), torch.from_numpy(b1)).numpy()
    assert np.all((mean > 700) & (mean < 1300))  # in y's units: around the support's mean
    # subsampled support (above max_support) still gives a distribution over the same bins
    p3, _ = in_context_regression_distribution(learner, x[:40], y[:40], x[40:], fm, max_support=16)
    assert p3.shape == p1.shape and np.allclose(p3.sum(1), 1)


def _held_out(learner, seed=123, n_tasks=24):
    prior = RegressionPrior(d_max=D, n_range=(24, 24), n_query=48, kinds=("linear",), snr_range=(0.05, 0.2),
                            skew_prob=0.0, outlier_prob=0.0, missing_prob=0.0, categorical_prob=0.0)  # fmt: skip
    rng = np.random.default_rng(seed)
    batch = collate_tasks([prior.sample(rng) for _ in range(n_tasks)])
    return learner.eval().evaluate(batch)


def test_meta_training_beats_the_untrained_learner():
    """Meta-training on linear tasks lowers held-out NLL and MSE well below the untrained learner's."""
    learner = small()
    before = _held_out(learner)
    prior = InContextRegressionPrior(d_max=D, datasets=[], n_support_range=(8, 32), n_query=32,
                                     kinds=("linear",), snr_range=(0.05, 0.2), skew_prob=0.0,
                                     outlier_prob=0.0)  # fmt: skip
    MetaTrainer(learner.train(), prior, meta_batch_size=8, lr=3e-3, optimizer="adamw", seed=0, device="cpu",
                tracking=False, progress=False).fit(150)  # fmt: skip
    after = _held_out(learner)
    assert after["loss"] < before["loss"] - 0.3
    assert after["mse"] < 0.7 * before["mse"]


def test_quantiles_of_the_distribution_are_monotone():
    learner = small()
    batch = batch_of(1)
    logits = learner.predict(learner.adapt(batch), batch.x_query, batch)
    q = bar_quantiles(torch.softmax(logits, -1), learner.borders, torch.tensor([0.1, 0.5, 0.9]))
    assert torch.all(q[..., 1:] >= q[..., :-1])


def test_spacing_is_part_of_the_config_and_reaches_the_encoders(tmp_path):
    """A learner with ``spacing=True`` says so in its config (kept through a checkpoint), and the
    member and the held-out scores encode rows with the z-score columns it was trained on."""
    from autometa.estimators._context import FitContext
    from autometa.estimators._in_context_regression_member import InContextRegressionMember

    assert "spacing" not in small().get_config()  # configs of learners before the option
    learner = small(spacing=True)
    assert learner.get_config()["spacing"] is True
    loaded = load_meta_learner(save_meta_learner(learner, tmp_path / "s.pt"))
    assert loaded.spacing is True
    import pandas as pd

    rng = np.random.default_rng(0)
    X, y = pd.DataFrame(rng.lognormal(size=(40, 3))), rng.normal(size=40)
    member = InContextRegressionMember(loaded).fit(FitContext(X), y, seed=0)
    assert member.encoder_.spacing_features_.tolist() == [0, 1, 2]
    assert np.isfinite(member.predict(FitContext(X))).all()
