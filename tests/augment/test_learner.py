"""AugmentedLearner: bilevel gradients to the policy, config round trip, train_policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autometa.augment import (
    AugmentationPolicy,
    AugmentedLearner,
    UniformPolicy,
    soft_cross_entropy,
    train_policy,
)
from autometa.meta._base import LEARNERS, build_learner
from autometa.tasks._task import Task, collate_tasks

NET = {"kind": "mlp", "d_max": 6, "c_max": 4, "hidden": [8]}


def _task(seed: int, d: int = 4, n_classes: int = 3) -> Task:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(20, 6, generator=g)
    x[:, d:] = 0
    y = torch.arange(20) % n_classes
    x[:, 0] += y.float()
    return Task(x[:10], y[:10], x[10:], y[10:], torch.arange(6) < d, n_classes)


def _batch(seed: int = 0):
    return collate_tasks([_task(seed), _task(seed + 1, d=3, n_classes=2)], c_max=4)


@pytest.mark.parametrize("algo", ["maml", "metasgd", "anil"])
def test_bilevel_step_gives_policy_gradients(algo):
    torch.manual_seed(0)
    learner = AugmentedLearner.from_learner(build_learner(algo, net=NET, inner_steps=2))
    loss, metrics = learner.meta_loss(_batch())
    loss.backward()
    for name in ("op_logits", "magnitude_logits"):
        grad = getattr(learner.policy, name).grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name
    assert learner.policy.context[-1].weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.base.parameters())
    assert "policy/p_smote" in metrics and 0 <= metrics["accuracy"] <= 1


def test_parameters_include_policy_and_base():
    learner = AugmentedLearner.from_learner(build_learner("maml", net=NET))
    ids = {id(p) for p in learner.parameters()}
    assert all(id(p) in ids for p in learner.policy.parameters())
    assert all(id(p) in ids for p in learner.base.parameters())


def test_config_round_trip_through_registry():
    assert LEARNERS["augmented"] is AugmentedLearner
    learner = AugmentedLearner(
        build_learner("maml", net=NET, inner_steps=2), AugmentationPolicy(n_augment=1), seed=3
    )
    config = learner.get_config()
    assert config["base"] == {"algo": "maml", "config": learner.base.get_config()}
    assert config["policy"]["n_augment"] == 1 and config["seed"] == 3
    rebuilt = build_learner("augmented", **config)
    rebuilt.load_state_dict(learner.state_dict())
    assert rebuilt.get_config() == config
    batch = _batch()
    torch.testing.assert_close(rebuilt.evaluate(batch), learner.evaluate(batch))


def test_same_seed_same_adaptation():
    a = AugmentedLearner(build_learner("maml", net=NET), seed=1)
    b = build_learner("augmented", **a.get_config())
    b.load_state_dict(a.state_dict())
    batch = _batch()
    fa, fb = a.adapt(batch), b.adapt(batch)
    assert all(torch.equal(fa[k], fb[k]) for k in fa)


def test_hard_label_path_for_other_learners():
    # Reptile is first order: it gets a TaskBatch and no gradient reaches the policy
    learner = AugmentedLearner(
        build_learner("reptile", net=NET, inner_steps=1), UniformPolicy(n_augment=1)
    )
    fast = learner.adapt(_batch())
    assert fast["head.weight"].shape[0] == 2


def test_soft_cross_entropy_matches_hard_for_one_hot():
    logits = torch.randn(5, 4)
    y = torch.tensor([0, 1, 2, 1, 0])
    rm = torch.tensor([True, True, True, True, False])
    cm = torch.tensor([True, True, True, False])
    from autometa.functional import masked_cross_entropy

    expected = masked_cross_entropy(logits, y, rm, cm)
    soft = torch.nn.functional.one_hot(y, 4).float()
    torch.testing.assert_close(soft_cross_entropy(logits, soft, rm, cm), expected)
    torch.testing.assert_close(soft_cross_entropy(logits, y, rm, cm), expected)


def test_train_policy_freezes_learner_and_moves_policy():
    torch.manual_seed(0)
    base = build_learner("maml", net=NET, inner_steps=1)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    policy = AugmentationPolicy(n_augment=1)
    logits0 = policy.op_logits.detach().clone()
    seen = []
    out = train_policy(
        base,
        lambda rng: _batch(int(rng.integers(100))),
        policy=policy,
        steps=3,
        lr=0.05,
        callback=lambda s, m: seen.append(s),
    )
    assert out is policy and seen == [0, 1, 2]
    assert not torch.equal(policy.op_logits.detach(), logits0)
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())
    assert all(p.requires_grad for p in base.parameters())


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="base must be a MetaLearner"):
        AugmentedLearner({"config": {}})
    with pytest.raises(ValueError, match="policy must be an AugmentationPolicy"):
        AugmentedLearner(build_learner("maml", net=NET), policy="smote")
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        AugmentedLearner(build_learner("maml", net=NET), seed=-1)
    with pytest.raises(ValueError, match="already an AugmentedLearner"):
        AugmentedLearner(AugmentedLearner(build_learner("maml", net=NET)))
    with pytest.raises(ValueError, match="no trainable parameters"):
        train_policy(
            build_learner("maml", net=NET), lambda rng: _batch(), policy=UniformPolicy(), steps=1
        )


def test_keel_task_source_is_dev_only():
    from autometa.augment._data import (
        EVAL_SETS,
        META_TRAIN_SETS,
        RESERVED_SETS,
        KeelTaskSource,
        load_keel,
    )

    assert not set(RESERVED_SETS) & (set(EVAL_SETS) | set(META_TRAIN_SETS))
    with pytest.raises(ValueError, match="reserved KEEL set"):
        KeelTaskSource(["iris", "pima"])
    with pytest.raises(ValueError, match="reserved KEEL set"):
        load_keel("sonar")
    task = KeelTaskSource(["iris"], d_max=8, c_max=3, n_range=(12, 12), n_query=20).sample(
        np.random.default_rng(0)
    )
    assert task.x_support.shape == (12, 8) and task.n_features == 4 and task.n_classes == 3
    assert set(task.y_query.tolist()) <= set(task.y_support.tolist())


@pytest.mark.parametrize(
    ("algo", "extra"),
    [("fomaml", {}), ("reptile", {}), ("meta-lstm", {}), ("maml", {"first_order": True})],
)
def test_learned_policy_with_a_first_order_learner_raises(algo, extra):
    # a first-order learner detaches the inner gradients: the policy would get no gradient at all
    torch.manual_seed(0)
    base = build_learner(algo, net=NET, inner_steps=1, **extra)
    with pytest.raises(ValueError, match="first-order .* no gradient"):
        AugmentedLearner.from_learner(base)
    wrapped = AugmentedLearner(base)  # loading a checkpoint still works; training it does not
    with pytest.raises(ValueError, match="first-order"):
        wrapped.meta_loss(_batch())
    with pytest.raises(ValueError, match="first-order"):
        train_policy(base, lambda rng: _batch(), steps=1)
    # what the message promises: without the check the policy really gets nothing
    with torch.no_grad():
        wrapped.meta_loss(_batch())  # evaluation is allowed
    loss, _ = super(AugmentedLearner, wrapped).meta_loss(_batch())
    loss.backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in wrapped.policy.parameters())


def test_frozen_policy_with_a_first_order_learner_is_a_fixed_augmentation():
    torch.manual_seed(0)
    wrapped = AugmentedLearner(build_learner("meta-lstm", net=NET, inner_steps=1))
    wrapped.policy.requires_grad_(False)
    loss, _ = wrapped.meta_loss(_batch())
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in wrapped.base.parameters())


def test_cli_augment_learned_with_a_first_order_learner_exits_with_the_reason(tmp_path, capsys):
    from autometa.cli import main

    args = ["meta-train", "--algo", "fomaml", "--steps", "2", "--pool", "synthetic", "--d-max", "6", "--c-max", "3",
            "--hidden", "8", "--meta-batch-size", "2", "--no-progress", "--no-mlflow", "--augment", "learned",
            "--checkpoint-dir", str(tmp_path)]  # fmt: skip
    assert main(args) == 2
    assert "first-order" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.pt"))
