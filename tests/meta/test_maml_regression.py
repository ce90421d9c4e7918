"""MAML for regression: meta-training on a regression prior beats the same net untrained."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autometa.meta import MAMLRegression, MetaTrainer, load_meta_learner, save_meta_learner
from autometa.tasks import RegressionPrior, collate_tasks

NET = {"kind": "mlp", "d_max": 8, "c_max": 1, "hidden": [32]}


def _prior() -> RegressionPrior:
    return RegressionPrior(d_max=8, n_range=(16, 32), n_query=32, d_range=(1, 6), kinds=("linear", "smooth"),
                           outlier_prob=0.0, skew_prob=0.0, heteroscedastic_prob=0.0)  # fmt: skip


def _query_mse(learner: MAMLRegression, seed: int = 123, n: int = 64) -> float:
    rng = np.random.default_rng(seed)
    prior = _prior()
    batch = collate_tasks([prior.sample(rng) for _ in range(n)], c_max=1)
    return learner.evaluate(batch)["loss"]


def test_meta_training_beats_the_untrained_net():
    torch.manual_seed(0)
    untrained = MAMLRegression(net=NET, inner_steps=3)
    torch.manual_seed(0)
    learner = MAMLRegression(net=NET, inner_steps=3)
    MetaTrainer(learner, _prior(), meta_batch_size=8, lr=3e-3, seed=0, device="cpu", tracking=False,
                progress=False).fit(150)  # fmt: skip
    assert _query_mse(learner) < 0.8 * _query_mse(untrained)


def test_predicts_one_value_per_row_and_round_trips_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    learner = MAMLRegression(net=NET)
    batch = collate_tasks([_prior().sample(np.random.default_rng(0))], c_max=1)
    fast = learner.adapt(batch, inference=True)
    pred = learner.predict(fast, batch.x_query, batch)
    assert pred.shape == batch.y_query.shape
    path = save_meta_learner(learner, tmp_path / "m.pt")
    again = load_meta_learner(path)
    assert isinstance(again, MAMLRegression)
    assert torch.equal(
        again.predict(again.adapt(batch, inference=True), batch.x_query, batch), pred
    )


def test_needs_a_one_output_net():
    with pytest.raises(ValueError, match="one-output net"):
        MAMLRegression(net={**NET, "c_max": 3})
