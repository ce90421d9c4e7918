"""``autometa.bench.fewshot``: episode scoring, and meta-training beating the untrained learner."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from autometa.bench.fewshot import compute, evaluate_episodes
from autometa.meta import MetaTrainer, build_learner
from autometa.tasks import EpisodicPool


@pytest.fixture(scope="module")
def pools() -> dict[str, EpisodicPool]:
    # the bench's default: KEEL letter (a dev set, 26 classes), split by class
    return {
        split: EpisodicPool("letter", n_way=5, k_shot=1, n_query=5, split=split, split_seed=0)
        for split in ("train", "test")
    }


def _protonet(pool: EpisodicPool):
    torch.manual_seed(0)
    return build_learner(
        "protonet", net={"kind": "mlp", "d_max": pool.d_max, "c_max": 5, "hidden": [32, 32]}
    )


def test_evaluate_episodes_shape_range_and_determinism(pools) -> None:
    learner = _protonet(pools["train"])
    a = evaluate_episodes(learner, pools["test"], n_episodes=30, seed=5, chunk=7)
    b = evaluate_episodes(learner, pools["test"], n_episodes=30, seed=5, chunk=30)
    assert a.shape == (30,) and ((a >= 0) & (a <= 1)).all()
    np.testing.assert_allclose(a, b, atol=1e-6)  # chunking does not change the episodes
    assert learner.training  # left in training mode for the trainer


def test_meta_training_beats_the_untrained_learner_on_the_same_episodes(pools) -> None:
    # meta-test classes are disjoint from the meta-train classes
    learner = _protonet(pools["train"])
    before = evaluate_episodes(learner, pools["test"], n_episodes=200, seed=10_000)
    MetaTrainer(
        learner, pools["train"], meta_batch_size=8, lr=3e-3, tracking=False, progress=False
    ).fit(150)
    after = evaluate_episodes(learner, pools["test"], n_episodes=200, seed=10_000)
    assert after.mean() > before.mean() + 0.1, (before.mean(), after.mean())


def _args(**kw) -> argparse.Namespace:
    base = dict(
        dataset="letter",
        ways=5,
        shots=[1],
        queries=15,
        algos=["protonet"],
        steps=2,
        meta_batch=4,
        lr=1e-3,
        hidden=[16],
        test_episodes=20,
        device="cpu",
        seed=0,
        threads=1,
        quick=False,
    )
    base.update(kw)
    return argparse.Namespace(**base)


def test_compute_rejects_unknown_learners() -> None:
    with pytest.raises(ValueError, match="Unknown learners \\['no-such-learner'\\]"):
        compute(_args(algos=["protonet", "no-such-learner"]))
