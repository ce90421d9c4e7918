"""HyperNet (support set -> weights) and HyperNet + MAML steps."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from autometa.functional import masked_cross_entropy
from autometa.meta import (
    HyperNet,
    HyperNetMAML,
    MetaTrainer,
    build_learner,
    load_meta_learner,
    save_meta_learner,
)
from autometa.tasks import Task, collate_tasks

sys.path.insert(0, str(Path(__file__).parent))
from _trainer_helpers import NewClassesPool  # noqa: E402

MLP = {"kind": "mlp", "d_max": 8, "c_max": 5, "hidden": [32, 32]}
CONV = {"kind": "conv4", "image_shape": [1, 8, 8], "c_max": 5, "channels": 8}


def _tasks(n: int, seed: int, **kw) -> list[Task]:
    pool = NewClassesPool(**kw)
    rng = np.random.default_rng(seed)
    return [pool.sample(rng) for _ in range(n)]


def _shuffled(task: Task, seed: int) -> Task:
    perm = torch.randperm(task.x_support.shape[0], generator=torch.Generator().manual_seed(seed))
    return Task(
        task.x_support[perm],
        task.y_support[perm],
        task.x_query,
        task.y_query,
        task.feature_mask,
        task.n_classes,
    )


def _perturb(learner: torch.nn.Module) -> None:
    """Move every weight off its initialization (zero-initialized layers included)."""
    with torch.no_grad():
        for p in learner.parameters():
            p.add_(0.05 * torch.randn_like(p))


@pytest.mark.parametrize("encoder", ["deepsets", "attention"])
def test_set_encoder_is_permutation_invariant(encoder):
    torch.manual_seed(0)
    learner = HyperNet(net=MLP, encoder=encoder, width=32)
    _perturb(learner)
    task = _tasks(1, seed=0, n_way=4)[0]
    a, b = collate_tasks([task], c_max=5), collate_tasks([_shuffled(task, 1)], c_max=5)
    with torch.no_grad():
        ctx_a, z_a, mu_a, _ = learner.encode(a)
        ctx_b, z_b, mu_b, _ = learner.encode(b)
        torch.testing.assert_close(ctx_a, ctx_b)
        torch.testing.assert_close(z_a, z_b)
        torch.testing.assert_close(mu_a, mu_b)
        fast_a, fast_b = learner.adapt(a), learner.adapt(b)
        for k in fast_a:
            torch.testing.assert_close(fast_a[k], fast_b[k])
        torch.testing.assert_close(
            learner.predict(fast_a, a.x_query, a), learner.predict(fast_b, b.x_query, b)
        )


@pytest.mark.parametrize("encoder", ["deepsets", "attention"])
def test_padded_rows_do_not_change_the_output(encoder):
    torch.manual_seed(0)
    learner = HyperNet(net=MLP, encoder=encoder, width=32)
    _perturb(learner)
    small, large = _tasks(1, seed=1, k=2)[0], _tasks(1, seed=2, k=6)[0]
    alone = collate_tasks([small], c_max=5)
    padded = collate_tasks([small, large], c_max=5)
    assert padded.x_support.shape[1] > alone.x_support.shape[1]
    with torch.no_grad():
        fa, fp = learner.adapt(alone), learner.adapt(padded)
        for k in fa:
            torch.testing.assert_close(fa[k][0], fp[k][0], rtol=1e-5, atol=1e-5)


def test_untrained_hypernet_writes_the_prototype_head():
    """Zero-initialized generator and FiLM: the head is w_k = mu_k, b_k = -|mu_k|^2 / 2."""
    torch.manual_seed(0)
    learner = HyperNet(net=MLP, width=16)
    batch = collate_tasks(_tasks(3, seed=3), c_max=5)
    fast = learner.adapt(batch)
    for t in range(3):
        emb = learner.net.features(batch.x_support[t], batch.feature_mask[t])
        for k in range(int(batch.n_classes[t])):
            mu = emb[batch.support_mask[t] & (batch.y_support[t] == k)].mean(0)
            torch.testing.assert_close(fast["head.weight"][t, k], mu)
            torch.testing.assert_close(fast["head.bias"][t, k], -0.5 * mu.dot(mu))
    for name, value in learner.net.named_parameters():  # FiLM starts at the identity
        if not name.startswith("head"):
            torch.testing.assert_close(fast[name][0], value)


def test_varied_rows_features_and_classes_with_masks():
    torch.manual_seed(0)
    learner = HyperNet(net=MLP, width=16)
    tasks = _tasks(4, seed=4) + _tasks(1, seed=5, k=1)
    batch = collate_tasks(tasks, c_max=5)
    assert (
        len({int(t.feature_mask.sum()) for t in tasks}) > 1
        and len({t.n_classes for t in tasks}) > 1
    )
    with torch.no_grad():
        fast = learner.adapt(batch)
        probs = torch.softmax(learner.predict(fast, batch.x_query, batch), dim=-1)
    assert fast["head.weight"].shape == (5, 5, 32) and fast["head.bias"].shape == (5, 5)
    torch.testing.assert_close(probs.sum(-1), torch.ones(probs.shape[:2]))
    assert float(probs[~batch.class_mask.unsqueeze(1).expand_as(probs)].max()) == 0.0


def test_film_modulates_the_last_hidden_layer():
    torch.manual_seed(0)
    learner = HyperNet(net=MLP, width=16)
    _perturb(learner)
    batch = collate_tasks(_tasks(2, seed=6), c_max=5)
    fast = learner.adapt(batch)
    torch.testing.assert_close(fast["body.0.weight"][0], learner.net.body[0].weight)
    assert not torch.allclose(fast["body.1.weight"][0], learner.net.body[1].weight)
    assert not torch.allclose(fast["body.1.weight"][0], fast["body.1.weight"][1])  # task-specific


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"inner_rule": "meta-sgd", "inner_params": "all"},
        {"inner_rule": "meta-lstm", "inner_lr": 0.3},
        {"first_order": True, "encoder": "attention"},
    ],
    ids=["sgd-head", "metasgd-all", "metalstm", "fo-attention"],
)
def test_hypernet_maml_steps_start_from_the_hypernet_and_train_everything(kw):
    torch.manual_seed(0)
    learner = HyperNetMAML(net=MLP, width=16, inner_steps=2, **kw)
    batch = collate_tasks(_tasks(3, seed=7), c_max=5)
    start = HyperNet.adapt(learner, batch)
    fast = learner.adapt(batch)
    moved = [k for k in fast if not torch.allclose(fast[k], start[k])]
    assert "head.weight" in moved
    if kw.get("inner_params") != "all":
        assert all(k.startswith("head") for k in moved)

    def support_loss(params):
        logits = learner.predict(params, batch.x_support, batch)
        return torch.vmap(masked_cross_entropy)(
            logits, batch.y_support, batch.support_mask, batch.class_mask
        ).mean()

    assert float(support_loss(fast).detach()) < float(support_loss(start).detach())
    loss, _ = learner.meta_loss(batch)
    loss.backward()
    missing = [n for n, p in learner.named_parameters() if p.grad is None]
    assert not missing, f"no meta-gradient for {missing}"


def test_conv4_hypernet_with_episode_batch_norm():
    torch.manual_seed(0)
    learner = HyperNet(net=CONV, width=16, episode_batch_norm=True)
    rng = np.random.default_rng(1)
    xs, xq = (torch.from_numpy(rng.random((n, 64), dtype=np.float32)) for n in (5, 10))
    task = Task(
        xs, torch.arange(5), xq, torch.arange(5).repeat(2), torch.ones(64, dtype=torch.bool), 5
    )
    batch = collate_tasks([task], c_max=5)
    with torch.no_grad():
        fast = learner.adapt(batch)
        both = learner.net.features(torch.cat([xs, xq]), None)
        torch.testing.assert_close(
            fast["head.weight"][0], both[:5]
        )  # 1-shot: prototypes are the rows
        logits = learner.predict(fast, batch.x_query, batch)[0]
    expected = both[5:] @ both[:5].T - 0.5 * (both[:5] ** 2).sum(-1)
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)


def test_conv4_hypernet_normalizes_each_set_by_default():
    torch.manual_seed(0)
    learner = HyperNet(net=CONV, width=16)
    rng = np.random.default_rng(1)
    xs, xq = (torch.from_numpy(rng.random((n, 64), dtype=np.float32)) for n in (5, 10))
    task = Task(
        xs, torch.arange(5), xq, torch.arange(5).repeat(2), torch.ones(64, dtype=torch.bool), 5
    )
    batch = collate_tasks([task], c_max=5)
    with torch.no_grad():
        fast = learner.adapt(batch)
        fs, fq = learner.net.features(xs, None), learner.net.features(xq, None)
        torch.testing.assert_close(fast["head.weight"][0], fs)
        logits = learner.predict(fast, batch.x_query, batch)[0]
    torch.testing.assert_close(logits, fq @ fs.T - 0.5 * (fs**2).sum(-1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("algo", ["hypernet", "hypernet-maml"])
def test_conv4_base_net(algo):
    torch.manual_seed(0)
    extra = {"inner_steps": 1} if algo == "hypernet-maml" else {}
    learner = build_learner(algo, net=CONV, width=16, encoder="attention", heads=2, **extra)
    rng = np.random.default_rng(0)
    tasks = [
        Task(
            torch.from_numpy(rng.random((10, 64), dtype=np.float32)),
            torch.arange(5).repeat(2),
            torch.from_numpy(rng.random((15, 64), dtype=np.float32)),
            torch.arange(5).repeat(3),
            torch.ones(64, dtype=torch.bool),
            5,
        )
        for _ in range(2)
    ]
    batch = collate_tasks(tasks, c_max=5)
    fast = learner.adapt(batch)
    assert fast["body.3.1.weight"].shape == (2, 8)  # the FiLM-modulated batch-norm scale
    loss, metrics = learner.meta_loss(batch)
    loss.backward()
    assert bool(torch.isfinite(loss)) and 0.0 <= metrics["accuracy"] <= 1.0


@pytest.mark.parametrize("algo", ["hypernet", "hypernet-maml"])
def test_meta_training_beats_chance_on_held_out_episodes(algo):
    torch.manual_seed(0)
    extra = {"inner_steps": 1} if algo == "hypernet-maml" else {}
    learner = build_learner(
        algo, net={"kind": "mlp", "d_max": 8, "c_max": 5, "hidden": [32]}, width=32, **extra
    )
    trainer = MetaTrainer(
        learner,
        NewClassesPool(n_way=5),
        meta_batch_size=4,
        lr=3e-3,
        device="cpu",
        seed=0,
        tracking=False,
        progress=False,
        eval_every=10_000,
        checkpoint_every=10_000,
    )
    held_out = collate_tasks(_tasks(20, seed=123, n_way=5), c_max=5)
    before = learner.evaluate(held_out)
    trainer.fit(steps=20)
    after = learner.evaluate(held_out)
    assert after["accuracy"] > 0.6, (
        f"{algo}: held-out 5-way accuracy {after['accuracy']:.2f} (chance 0.2)"
    )
    assert after["loss"] < before["loss"]


@pytest.mark.parametrize(
    ("algo", "kw"),
    [("hypernet", {"encoder": "attention"}), ("hypernet-maml", {"inner_rule": "meta-sgd"})],
)
def test_checkpoint_round_trip(tmp_path, algo, kw):
    torch.manual_seed(0)
    learner = build_learner(algo, net=MLP, width=16, **kw)
    _perturb(learner)
    path = save_meta_learner(learner, tmp_path / "hn.pt")
    again = load_meta_learner(path)
    assert again.get_config() == learner.get_config()
    batch = collate_tasks(_tasks(2, seed=8), c_max=5)
    learner.eval()
    a = learner.predict(learner.adapt(batch), batch.x_query, batch)
    b = again.predict(again.adapt(batch), batch.x_query, batch)
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    ("algo", "kw", "match"),
    [
        ("hypernet", {"net": "mlp"}, "base-net config dict"),
        ("hypernet", {"net": MLP, "encoder": "lstm"}, "encoder must be one of"),
        (
            "hypernet",
            {"net": MLP, "encoder": "attention", "width": 30, "heads": 4},
            "must divide width",
        ),
        ("hypernet", {"net": MLP, "width": 0}, "width must be an int >= 1"),
        (
            "hypernet",
            {"net": {**MLP, "hidden": []}},
            "film=True needs a base net with a hidden layer",
        ),
        ("hypernet-maml", {"net": MLP, "inner_steps": 0}, "inner_steps must be an int >= 1"),
        ("hypernet-maml", {"net": MLP, "inner_lr": -1.0}, "inner_lr must be a float > 0"),
        ("hypernet-maml", {"net": MLP, "inner_rule": "adam"}, "inner_rule must be one of"),
        ("hypernet-maml", {"net": MLP, "inner_params": "body"}, "inner_params must be one of"),
        (
            "hypernet-maml",
            {"net": MLP, "inner_rule": "meta-lstm", "inner_lr": 1.5},
            r"must lie in \(0, 1\)",
        ),
    ],
)
def test_bad_configs_raise_clear_errors(algo, kw, match):
    with pytest.raises(ValueError, match=match):
        build_learner(algo, **kw)


def test_mlp_without_hidden_layers_works_without_film():
    learner = HyperNet(net={**MLP, "hidden": []}, film=False, width=8)
    batch = collate_tasks(_tasks(2, seed=9), c_max=5)
    assert learner.predict(learner.adapt(batch), batch.x_query, batch).shape[-1] == 5
