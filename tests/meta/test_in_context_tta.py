"""InContextTTA: Meta-LSTM steps on the in-context learner's head, from a meta-learned head init."""

from __future__ import annotations

import numpy as np
import torch

from autometa.meta import (
    InContextLearner,
    InContextTTA,
    MetaTrainer,
    load_meta_learner,
    save_meta_learner,
)
from autometa.meta._in_context import in_context_proba
from autometa.tasks import InContextPrior, collate_tasks

D, C = 8, 4


def base() -> InContextLearner:
    torch.manual_seed(0)
    return InContextLearner(d_max=D, c_max=C, width=32, depth=2).eval()


def batches(n: int, seed: int):
    prior = InContextPrior(
        d_max=D, c_max=C, datasets=[], n_support_range=(16, 48), n_query=32, max_features=D
    )
    return [
        collate_tasks(prior.sample_batch(np.random.default_rng(seed + i), 8), c_max=C)
        for i in range(n)
    ]


def test_zero_steps_is_the_in_context_learner_exactly():
    b = base()
    tta = InContextTTA.from_learner(b, steps=0)
    batch = batches(1, 0)[0]
    with torch.no_grad():
        want = b.predict(b.adapt(batch), batch.x_query, batch)
        got = tta.predict(tta.adapt(batch), batch.x_query, batch)
    torch.testing.assert_close(got, want)


def test_cross_fitted_features_never_see_their_own_label():
    tta = InContextTTA.from_learner(base(), steps=1)
    batch = batches(1, 1)[0]
    from dataclasses import replace

    y2 = batch.y_support.clone()
    y2[:, 0] = (y2[:, 0] + 1) % 2  # row 0 is in the first fold
    with torch.no_grad():
        a = tta._cross_fitted_features(batch)
        b = tta._cross_fitted_features(replace(batch, y_support=y2))
    torch.testing.assert_close(
        a[:, 0::2], b[:, 0::2]
    )  # the fold of row 0 is encoded without its labels
    assert not torch.allclose(a[:, 1::2], b[:, 1::2])  # the other fold reads them


def test_meta_training_the_steps_beats_the_untrained_steps():
    b = base()
    # the base learns a little first, so the head has something to refine
    prior = InContextPrior(
        d_max=D, c_max=C, datasets=[], n_support_range=(16, 48), n_query=32, max_features=D
    )
    MetaTrainer(
        b, prior, meta_batch_size=8, lr=3e-3, device="cpu", tracking=False, progress=False
    ).fit(60)
    b.eval()
    val = batches(4, 500)

    def loss(learner) -> float:
        learner.eval()
        return float(np.mean([learner.evaluate(v)["loss"] for v in val]))

    untrained = InContextTTA.from_learner(b, steps=3)
    before = loss(untrained)
    trained = InContextTTA.from_learner(b, steps=3)
    MetaTrainer(
        trained,
        prior,
        meta_batch_size=8,
        lr=3e-3,
        device="cpu",
        tracking=False,
        progress=False,
        seed=1,
    ).fit(60)
    assert loss(trained) < before - 0.01
    # the base stayed frozen
    for (k, p), q in zip(trained.base.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), k


def test_checkpoint_roundtrip_and_ensemble_inference(tmp_path):
    tta = InContextTTA.from_learner(base(), steps=2)
    loaded = load_meta_learner(save_meta_learner(tta, tmp_path / "tta.pt"))
    xs, ys = torch.randn(30, D), torch.arange(30) % 2
    xq, fm = torch.randn(5, D), torch.ones(D, dtype=torch.bool)
    a = in_context_proba(tta, xs, ys, xq, fm, 2)
    b = in_context_proba(loaded, xs, ys, xq, fm, 2)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a.sum(1), torch.ones(5))
    one = in_context_proba(tta, xs[:1], ys[:1], xq, fm, 2)  # one support row: nothing to leave out
    assert torch.isfinite(one).all()
