"""Metric-based learners: ProtoNet, Matching, Relation and Siamese networks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autometa.meta import MetaTrainer, build_learner, load_meta_learner, save_meta_learner
from autometa.meta._metric import MatchingNet, ProtoNet, RelationNet, SiameseNet
from autometa.tasks import Task, collate_tasks

sys.path.insert(0, str(Path(__file__).parent))
from _trainer_helpers import NewClassesPool  # noqa: E402

MLP = {"kind": "mlp", "d_max": 8, "c_max": 5, "hidden": [32, 32]}
CONV = {"kind": "conv4", "image_shape": [1, 8, 8], "c_max": 5, "channels": 8}

ALL = [
    ("protonet", {}),
    ("matching", {}),
    ("matching", {"fce": "attention"}),
    ("matching", {"fce": "lstm"}),
    ("relation", {}),
    ("relation", {"loss": "mse"}),
    ("siamese", {}),
    ("siamese", {"loss": "ce", "verifier_hidden": [16]}),
]
IDS = [f"{a}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for a, kw in ALL]


def _batch(n_tasks: int = 3, seed: int = 0, **kw):
    pool = NewClassesPool(**kw)
    rng = np.random.default_rng(seed)
    return collate_tasks([pool.sample(rng) for _ in range(n_tasks)], c_max=pool.c_max)


def _image_batch(n_tasks: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    tasks = []
    for _ in range(n_tasks):
        xs = torch.from_numpy(rng.random((5 * 2, 64), dtype=np.float32))
        xq = torch.from_numpy(rng.random((5 * 3, 64), dtype=np.float32))
        ys, yq = torch.arange(5).repeat(2), torch.arange(5).repeat(3)
        tasks.append(Task(xs, ys, xq, yq, torch.ones(64, dtype=torch.bool), 5))
    return collate_tasks(tasks, c_max=5)


def test_prototypes_equal_class_means_of_embeddings():
    torch.manual_seed(0)
    learner = ProtoNet(net=MLP)
    batch = _batch(n_tasks=3)
    fast = learner.adapt(batch)
    protos = fast["prototypes"]
    assert (
        protos.shape == (3, 5, 32) and "query_embedding" not in fast
    )  # the MLP embeds rows independently
    for t in range(3):
        emb = learner.net.features(batch.x_support[t], batch.feature_mask[t])
        for k in range(int(batch.n_classes[t])):
            rows = batch.support_mask[t] & (batch.y_support[t] == k)
            torch.testing.assert_close(protos[t, k], emb[rows].mean(0))
    logits = learner.predict(fast, batch.x_query, batch)
    q = learner.net.features(batch.x_query[0], batch.feature_mask[0])
    expected = -(torch.cdist(q, protos[0]) ** 2)
    c0 = int(batch.n_classes[0])
    torch.testing.assert_close(logits[0, :, :c0], expected[:, :c0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("algo", ["protonet", "matching", "relation", "siamese"])
def test_episode_batch_norm_embeds_support_and_query_together(algo):
    torch.manual_seed(0)
    assert "query_embedding" not in build_learner(algo, net=CONV).adapt(_image_batch(n_tasks=1))
    learner = build_learner(algo, net=CONV, episode_batch_norm=True)
    batch = _image_batch(n_tasks=2)
    with torch.no_grad():
        fast = learner.adapt(batch)
        s = batch.x_support.shape[1]
        both = learner.net.features(torch.cat([batch.x_support[1], batch.x_query[1]]), None)
        torch.testing.assert_close(fast["query_embedding"][1], both[s:])
        if algo == "protonet":
            onehot = F.one_hot(batch.y_support[1], 5).float()
            torch.testing.assert_close(
                fast["prototypes"][1], (onehot.T @ both[:s]) / onehot.sum(0)[:, None]
            )
        cached = learner.predict(fast, batch.x_query, batch)
        recomputed = learner.predict(fast, batch.x_query.clone(), batch)  # not the cached tensor
    torch.testing.assert_close(cached, recomputed, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("algo", "kw"), ALL, ids=IDS)
def test_probabilities_sum_to_one_and_absent_classes_get_zero(algo, kw):
    torch.manual_seed(0)
    learner = build_learner(algo, net=MLP, **kw)
    batch = _batch(n_tasks=4, seed=1)
    assert not bool(batch.class_mask.all()), "the batch must contain a task with absent classes"
    with torch.no_grad():
        logits = learner.predict(learner.adapt(batch), batch.x_query, batch)
    assert logits.shape == (4, batch.x_query.shape[1], 5)
    probs = torch.softmax(logits, dim=-1)
    torch.testing.assert_close(probs.sum(-1), torch.ones(probs.shape[:2]))
    absent = ~batch.class_mask.unsqueeze(1).expand_as(probs)
    assert float(probs[absent].max()) == 0.0
    assert bool(torch.isfinite(logits).all())


def test_matching_logits_are_exact_log_probabilities_of_the_attention_vote():
    torch.manual_seed(0)
    learner = MatchingNet(net=MLP)
    batch = _batch(n_tasks=2, seed=2)
    with torch.no_grad():
        logits = learner.predict(learner.adapt(batch), batch.x_query, batch)
        t = 0
        f = F.normalize(learner.net.features(batch.x_query[t], batch.feature_mask[t]), dim=-1)
        g = F.normalize(learner.net.features(batch.x_support[t], batch.feature_mask[t]), dim=-1)
        sim = (f @ g.T) * learner.log_scale.exp()
        sim[:, ~batch.support_mask[t]] = -torch.inf
        attn = torch.softmax(sim, dim=-1)
        vote = attn @ F.one_hot(batch.y_support[t], 5).float()
    c = int(batch.n_classes[t])
    torch.testing.assert_close(logits[t, :, :c].exp(), vote[:, :c], rtol=1e-5, atol=1e-6)


def test_siamese_pairwise_loss_matches_a_pair_by_pair_reference():
    torch.manual_seed(0)
    learner = SiameseNet(net=MLP)
    batch = _batch(n_tasks=2, seed=3)
    loss, metrics = learner.meta_loss(batch)
    fast = learner.adapt(batch)
    v = learner.verification_logits(fast, batch.x_query, batch)
    pos, neg = [], []
    for t in range(2):
        for i in range(batch.x_query.shape[1]):
            for j in range(batch.x_support.shape[1]):
                if not (batch.query_mask[t, i] and batch.support_mask[t, j]):
                    continue
                same = bool(batch.y_query[t, i] == batch.y_support[t, j])
                target = torch.tensor(1.0 if same else 0.0)
                (pos if same else neg).append(
                    F.binary_cross_entropy_with_logits(v[t, i, j], target)
                )
    expected = 0.5 * torch.stack(pos).mean() + 0.5 * torch.stack(neg).mean()
    torch.testing.assert_close(loss, expected)
    assert 0.0 <= metrics["accuracy"] <= 1.0


@pytest.mark.parametrize("algo", ["protonet", "siamese"])
def test_predictions_do_not_depend_on_support_order(algo):
    torch.manual_seed(0)
    learner = build_learner(algo, net=MLP)
    batch = _batch(n_tasks=1, seed=4)
    perm = torch.randperm(batch.x_support.shape[1])
    shuffled = collate_tasks(
        [
            Task(
                batch.x_support[0, perm],
                batch.y_support[0, perm],
                batch.x_query[0],
                batch.y_query[0],
                batch.feature_mask[0],
                int(batch.n_classes[0]),
            )
        ],
        c_max=5,
    )
    with torch.no_grad():
        a = learner.predict(learner.adapt(batch), batch.x_query, batch)
        b = learner.predict(learner.adapt(shuffled), shuffled.x_query, shuffled)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("algo", "kw"), ALL, ids=IDS)
def test_conv4_embeddings_train(algo, kw):
    torch.manual_seed(0)
    learner = build_learner(algo, net=CONV, **kw)
    batch = _image_batch()
    loss, metrics = learner.meta_loss(batch)
    loss.backward()
    grads = [p.grad for p in learner.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    assert set(metrics) >= {"loss", "accuracy"}


@pytest.mark.parametrize("algo", ["protonet", "matching", "relation", "siamese"])
def test_meta_training_beats_chance_on_held_out_episodes(algo):
    torch.manual_seed(0)
    learner = build_learner(algo, net={"kind": "mlp", "d_max": 8, "c_max": 5, "hidden": [32]})
    pool = NewClassesPool(n_way=5)
    trainer = MetaTrainer(
        learner,
        pool,
        meta_batch_size=4,
        lr=3e-3,
        device="cpu",
        seed=0,
        tracking=False,
        progress=False,
        eval_every=10_000,
        checkpoint_every=10_000,
    )
    held_out = _batch(n_tasks=20, seed=123, n_way=5)
    before = learner.evaluate(held_out)
    trainer.fit(steps=20)
    after = learner.evaluate(held_out)
    assert after["accuracy"] > 0.6, (
        f"{algo}: held-out 5-way accuracy {after['accuracy']:.2f} (chance 0.2)"
    )
    assert after["loss"] < before["loss"], f"{algo}: meta-training did not lower the held-out loss"


@pytest.mark.parametrize(("algo", "kw"), ALL, ids=IDS)
def test_checkpoint_round_trip(tmp_path, algo, kw):
    torch.manual_seed(0)
    learner = build_learner(algo, net=MLP, **kw)
    with torch.no_grad():  # move the weights away from their initialization
        for p in learner.parameters():
            p.add_(0.01 * torch.randn_like(p))
    batch = _batch(n_tasks=2, seed=5)
    path = save_meta_learner(learner, tmp_path / f"{algo}.pt")
    again = load_meta_learner(path)
    assert type(again) is type(learner)
    assert again.get_config() == learner.get_config()
    learner.eval()
    with torch.no_grad():
        a = learner.predict(learner.adapt(batch), batch.x_query, batch)
        b = again.predict(again.adapt(batch), batch.x_query, batch)
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    ("algo", "kw", "match"),
    [
        ("protonet", {"net": [1, 2]}, "base-net config dict"),
        ("protonet", {"net": {"kind": "resnet", "c_max": 5}}, "Unknown base net kind"),
        ("protonet", {"net": {"kind": "mlp", "c_max": 5}}, "invalid base-net config"),
        ("matching", {"net": MLP, "fce": "gru"}, "fce must be one of"),
        (
            "matching",
            {"net": MLP, "fce": "attention", "heads": 5},
            "must divide the embedding width",
        ),
        ("relation", {"net": MLP, "loss": "hinge"}, "loss must be one of"),
        (
            "relation",
            {"net": MLP, "relation_hidden": [0]},
            "relation_hidden entries must be an int >= 1",
        ),
        ("siamese", {"net": MLP, "loss": "triplet"}, "loss must be one of"),
    ],
)
def test_bad_configs_raise_clear_errors(algo, kw, match):
    with pytest.raises(ValueError, match=match):
        build_learner(algo, **kw)


def test_batch_wider_than_c_max_is_rejected():
    learner = RelationNet(net={"kind": "mlp", "d_max": 8, "c_max": 3, "hidden": [8]})
    batch = _batch(n_tasks=1, c_max=5)
    with pytest.raises(ValueError, match="collate with c_max=3"):
        learner.adapt(batch)
