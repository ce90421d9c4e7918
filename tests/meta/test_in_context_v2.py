"""InContextV2 (per-cell tokens): learner contract, masks, invariances, sizes, many classes, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autometa.meta import (
    InContextV2,
    MetaTrainer,
    build_learner,
    load_meta_learner,
    save_meta_learner,
)
from autometa.meta._in_context import in_context_proba
from autometa.meta._in_context_v2 import permute_labels
from autometa.meta._schedule import MuonAdamW, make_optimizer
from autometa.meta._trainer_config import CheckpointConfig, OptimizerConfig
from autometa.tasks import InContextPrior, SyntheticPrior, collate_tasks

D, C = 8, 4


def small(**kw) -> InContextV2:
    torch.manual_seed(0)
    return InContextV2(d_max=D, c_max=C, width=32, depth=2, thinking_rows=4, **kw)


def batch_of(n_tasks: int = 3, seed: int = 0, n_range=(16, 32), d_max: int = D, c_max: int = C):
    prior = SyntheticPrior(d_max=d_max, c_max=c_max, n_range=n_range)
    rng = np.random.default_rng(seed)
    return collate_tasks([prior.sample(rng) for _ in range(n_tasks)], c_max=c_max)


def logits_of(learner, batch, x=None):
    with torch.no_grad():
        return learner.predict(learner.adapt(batch), batch.x_query if x is None else x, batch)


def test_shapes_and_absent_classes_masked():
    learner = small().eval()
    batch = batch_of()
    logits = logits_of(learner, batch)
    assert logits.shape == (batch.n_tasks, batch.x_query.shape[1], C)
    proba = torch.softmax(logits, -1)
    assert torch.all(proba[~batch.class_mask[:, None, :].expand_as(proba)] < 1e-6)


def test_config_roundtrip_and_checkpoint(tmp_path):
    learner = small()
    assert (
        build_learner("in-context-v2", **learner.get_config()).get_config() == learner.get_config()
    )
    loaded = load_meta_learner(save_meta_learner(learner, tmp_path / "v2.pt"))
    for a, b in zip(learner.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "bad",
    [{"width": 30, "heads": 4}, {"depth": 0}, {"c_max": 1}, {"thinking_rows": -1}, {"group_offsets": (1, 2)},
     {"group_offsets": (0, 1, 1)}],
)  # fmt: skip
def test_bad_config_is_refused(bad):
    with pytest.raises(ValueError):
        InContextV2(**{"d_max": D, "c_max": C, **bad})


def test_wrong_width_and_too_many_classes_are_explained():
    learner = small()
    with pytest.raises(ValueError, match="d_max=8"):
        learner.adapt(batch_of(d_max=D + 1))
    with pytest.raises(ValueError, match="output codes"):
        learner.adapt(batch_of(c_max=C + 2))


def test_padding_columns_and_padded_support_rows_change_nothing():
    learner = small().eval()
    batch = batch_of(n_tasks=1)
    ref = logits_of(learner, batch)
    # garbage in masked (padding) columns is never read
    noisy = batch.x_support.clone()
    noisy[:, :, ~batch.feature_mask[0]] = 123.0
    from dataclasses import replace

    assert torch.allclose(logits_of(learner, replace(batch, x_support=noisy)), ref, atol=1e-5)
    # an extra padded support row (mask False) is never attended to
    pad = replace(
        batch,
        x_support=torch.cat([batch.x_support, torch.full_like(batch.x_support[:, :1], 9.0)], 1),
        y_support=torch.cat([batch.y_support, batch.y_support[:, :1]], 1),
        support_mask=torch.cat(
            [batch.support_mask, torch.zeros_like(batch.support_mask[:, :1])], 1
        ),
    )
    assert torch.allclose(logits_of(learner, pad), ref, atol=1e-5)


def test_support_order_exact_and_queries_independent():
    learner = small().eval()
    batch = batch_of(n_tasks=1)
    ref = logits_of(learner, batch)
    from dataclasses import replace

    perm = torch.randperm(batch.x_support.shape[1], generator=torch.Generator().manual_seed(1))
    shuffled = replace(batch, x_support=batch.x_support[:, perm], y_support=batch.y_support[:, perm],
                       support_mask=batch.support_mask[:, perm])  # fmt: skip
    assert torch.allclose(logits_of(learner, shuffled), ref, atol=1e-5)
    # one query row alone gets the logits it gets among all the others
    assert torch.allclose(logits_of(learner, batch, batch.x_query[:, 3:4]), ref[:, 3:4], atol=1e-5)


def test_invariant_in_expectation_to_labels_and_feature_order():
    """Averaged over placements and label orders, relabelling or reordering the input changes little."""
    torch.manual_seed(0)
    learner = small().eval()
    batch = batch_of(n_tasks=1, n_range=(40, 40))
    k = int(batch.n_classes[0])
    xs, ys, xq, fm = batch.x_support[0], batch.y_support[0], batch.x_query[0], batch.feature_mask[0]
    ref = in_context_proba(learner, xs, ys, xq, fm, k, n_members=64, seed=0)
    relabel = torch.randperm(k, generator=torch.Generator().manual_seed(3))
    p_lab = in_context_proba(learner, xs, relabel[ys], xq, fm, k, n_members=64, seed=1)[:, relabel]
    cols = torch.randperm(D, generator=torch.Generator().manual_seed(4))
    p_col = in_context_proba(
        learner, xs[:, cols], ys, xq[:, cols], fm[cols], k, n_members=64, seed=2
    )
    assert (p_lab - ref).abs().mean() < 0.02
    assert (p_col - ref).abs().mean() < 0.02


def test_permute_labels_is_a_permutation_of_present_classes():
    batch = batch_of(n_tasks=4)
    out = permute_labels(batch, torch.Generator().manual_seed(0))
    for t in range(4):
        k = int(batch.n_classes[t])
        assert set(out.y_support[t].tolist()) <= set(range(k))
        # same partition of the rows: a bijection between old and new labels
        pairs = set(zip(batch.y_support[t].tolist(), out.y_support[t].tolist(), strict=True))
        assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


@pytest.mark.parametrize("n_support", [1, 1024])
def test_one_and_1024_support_rows(n_support):
    learner = small().eval()
    rng = np.random.default_rng(0)
    xs = torch.from_numpy(rng.normal(size=(n_support, D)).astype(np.float32))
    ys = (
        torch.from_numpy(rng.integers(0, 2, n_support))
        if n_support > 1
        else torch.zeros(1, dtype=torch.long)
    )
    fm = torch.ones(D, dtype=torch.bool)
    xq = torch.from_numpy(rng.normal(size=(5, D)).astype(np.float32))
    proba = in_context_proba(learner, xs, ys, xq, fm, 2, n_members=2)
    assert proba.shape == (5, 2) and torch.isfinite(proba).all()
    assert torch.allclose(proba.sum(1), torch.ones(5))


def test_thirty_classes_by_output_codes_give_seeded_distributions():
    """30 classes (more than c_max=4) through output codes: shapes, normalization, determinism.

    Whether the decoding finds the right class is checked with a perfect group classifier in the
    next test, and on a real 26-class dev table in tests/estimators/test_in_context_member.py.
    """
    learner = small().eval()
    k = 30
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=3.0, size=(k, D)).astype(np.float32)
    y = np.repeat(np.arange(k), 4)
    xs = torch.from_numpy(centers[y] + rng.normal(scale=0.1, size=(len(y), D)).astype(np.float32))
    fm = torch.ones(D, dtype=torch.bool)
    proba = in_context_proba(learner, xs, torch.from_numpy(y), xs[:60], fm, k, n_members=4, seed=0)
    assert proba.shape == (60, k) and torch.isfinite(proba).all()
    assert torch.allclose(proba.sum(1), torch.ones(60), atol=1e-5)
    again = in_context_proba(learner, xs, torch.from_numpy(y), xs[:60], fm, k, n_members=4, seed=0)
    assert torch.equal(proba, again)  # seeded


def test_thirty_classes_decoder_is_exact_for_a_perfect_group_classifier(monkeypatch):
    """With a group classifier that is always right, output-code decoding puts the mass on the true class."""
    import autometa.meta._in_context as ic

    k, C_ = 30, 10
    y_query = torch.arange(k)
    learner = InContextV2(d_max=D, c_max=C_, width=32, depth=1, thinking_rows=0)
    calls = []

    def perfect(learner_, xs, ys_group, xq, fm, n, **kw):
        # recover the code from the support labels: support row i has class i
        calls.append(1)
        return torch.nn.functional.one_hot(ys_group[y_query], n).float() * 0.9 + 0.1 / n

    monkeypatch.setattr(ic, "in_context_proba", perfect)
    xs = torch.zeros(k, D)
    proba = ic._output_code_proba(
        learner, xs, torch.arange(k), xs, torch.ones(D, dtype=torch.bool), k,
        n_codes=8, seed=0, max_support=1024, query_chunk=4096,
    )  # fmt: skip
    assert len(calls) == 8
    assert (proba.argmax(1) == y_query).float().mean() > 0.95


def test_muon_optimizer_state_round_trips():
    learner = small()
    opt = make_optimizer(
        "muon",
        learner.parameters(),
        lr=1e-3,
        weight_decay=0.0,
        matrices=learner.matrix_parameters(),
    )
    assert isinstance(opt, MuonAdamW)
    loss, _ = learner.meta_loss(batch_of())
    loss.backward()
    opt.step()
    state = opt.state_dict()
    other = make_optimizer(
        "muon",
        small().parameters(),
        lr=1e-3,
        weight_decay=0.0,
        matrices=small().matrix_parameters(),
    )
    with pytest.raises(ValueError):
        make_optimizer(
            "muon", [torch.nn.Parameter(torch.zeros(3))], lr=1e-3, weight_decay=0.0, matrices=[]
        )
    fresh = small()
    opt2 = make_optimizer(
        "muon", fresh.parameters(), lr=1e-3, weight_decay=0.0, matrices=fresh.matrix_parameters()
    )
    opt2.load_state_dict(state)
    assert len(opt2.state_dict()["state"]) == len(state["state"])
    del other


def _trainer(tmp_path, learner, steps_dir="run"):
    prior = InContextPrior(d_max=D, c_max=C, datasets=[], n_support_range=(8, 16), n_query=8)
    return MetaTrainer(
        learner, prior, meta_batch_size=2, optimizer=OptimizerConfig("muon", lr=1e-3, ema_decay=0.9), device="cpu",
        seed=0, checkpoints=CheckpointConfig(tmp_path / steps_dir, every=3), tracking=False, progress=False,
    )  # fmt: skip


def test_muon_and_ema_resume_exactly(tmp_path):
    whole = _trainer(tmp_path, small(), "a")
    whole.fit(6)
    part = _trainer(tmp_path, small(), "b")
    part.fit(3)
    resumed = _trainer(tmp_path, small(), "b")
    resumed.fit(6, resume=True)
    for a, b in zip(
        whole.learner.state_dict().values(), resumed.learner.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    for a, b in zip(
        whole.averaged.state_dict().values(), resumed.averaged.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    # the average is not the raw weights
    assert not all(
        torch.equal(a, b)
        for a, b in zip(
            whole.learner.state_dict().values(), whole.averaged.state_dict().values(), strict=True
        )
    )


def test_meta_training_teaches_it():
    """A few hundred steps on a simple prior beat the untrained learner on held-out tasks of that prior."""
    torch.manual_seed(0)
    prior = InContextPrior(d_max=D, c_max=C, datasets=[], n_support_range=(24, 24), n_query=16)
    learner = small()
    held = collate_tasks(prior.sample_batch(np.random.default_rng(99), 24), c_max=C)

    def val_loss(m):
        m.eval()
        with torch.no_grad():
            return float(m.meta_loss(held)[0])

    before = val_loss(learner)
    MetaTrainer(learner, prior, meta_batch_size=4, optimizer=OptimizerConfig("muon", lr=2e-3), device="cpu", seed=0,
                tracking=False, progress=False).fit(150)  # fmt: skip
    assert val_loss(learner) < before - 0.05


def test_regression_v2_reads_targets_and_learns():
    from autometa.meta import InContextRegressionV2
    from autometa.meta._in_context_regression import in_context_regression_distribution
    from autometa.tasks import RegressionPrior

    torch.manual_seed(0)
    learner = InContextRegressionV2(d_max=D, width=32, depth=2, thinking_rows=4, n_bins=16)
    assert (
        build_learner("in-context-regression-v2", **learner.get_config()).get_config()
        == learner.get_config()
    )
    prior = RegressionPrior(d_max=D, n_range=(24, 24), n_query=16)
    held = collate_tasks([prior.sample(np.random.default_rng(1000 + i)) for i in range(16)])
    with pytest.raises(ValueError, match="float targets"):
        learner.adapt(batch_of())

    def val_loss():
        learner.eval()
        return learner.evaluate(held)["loss"]

    before = val_loss()
    MetaTrainer(learner, prior, meta_batch_size=4, optimizer=OptimizerConfig("muon", lr=2e-3), device="cpu", seed=0,
                tracking=False, progress=False).fit(120)  # fmt: skip
    assert val_loss() < before - 0.1
    xs = held.x_support[0]
    probs, borders = in_context_regression_distribution(
        learner,
        xs,
        held.y_support[0].numpy() * 3.0 + 5.0,
        held.x_query[0],
        held.feature_mask[0],
        n_members=2,
    )
    assert probs.shape == (held.x_query.shape[1], 16) and np.allclose(probs.sum(1), 1.0)
    assert borders.shape == (17,)


def test_the_preset_learner_has_the_documented_size():
    """docs/in_context.md: width 96, 3 blocks, 16 thinking rows, 0.28 M parameters."""
    from autometa.meta._campaign import CAMPAIGN_PRESETS

    config = CAMPAIGN_PRESETS["in-context-v2"]()["learner_config"]
    assert (config["width"], config["depth"], config["thinking_rows"]) == (96, 3, 16)
    n = sum(p.numel() for p in InContextV2(**config).parameters())
    assert round(n / 1e6, 2) == 0.28


@pytest.mark.parametrize("n_support", [1, 1024])
def test_regression_v2_contract_sizes_support_order_and_query_independence(n_support):
    """The regression head on the v2 backbone (the shipped regressor's member): 1 and 1,024
    support rows give proper distributions; support-row order changes nothing; a query row's
    distribution does not depend on the other query rows."""
    from autometa.meta import InContextRegressionV2
    from autometa.meta._in_context_regression import in_context_regression_distribution

    torch.manual_seed(0)
    learner = InContextRegressionV2(d_max=D, width=32, depth=2, thinking_rows=4, n_bins=16).eval()
    rng = np.random.default_rng(0)
    xs = torch.from_numpy(rng.normal(size=(n_support, D)).astype(np.float32))
    ys = rng.normal(size=n_support) * 3.0 + 1.0
    xq = torch.from_numpy(rng.normal(size=(6, D)).astype(np.float32))
    fm = torch.ones(D, dtype=torch.bool)

    def dist(x_support, y_support, x_query):
        with torch.no_grad():
            return in_context_regression_distribution(
                learner, x_support, y_support, x_query, fm, n_members=2
            )

    probs, borders = dist(xs, ys, xq)
    assert probs.shape == (6, 16) and np.isfinite(probs).all() and np.allclose(probs.sum(1), 1.0)
    assert borders.shape == (17,) and np.all(np.diff(borders) > 0)
    order = rng.permutation(n_support)
    shuffled, _ = dist(xs[order], ys[order], xq)
    np.testing.assert_allclose(shuffled, probs, atol=1e-5)
    alone, _ = dist(xs, ys, xq[2:3])
    np.testing.assert_allclose(alone, probs[2:3], atol=1e-5)


def _ridge_learner(**kw):
    from autometa.meta import InContextRegressionV2

    torch.manual_seed(0)
    return InContextRegressionV2(d_max=D, width=32, depth=2, thinking_rows=4, n_bins=16, **kw)


@pytest.mark.parametrize("expert", [False, True])
def test_ridge_readin_starts_as_the_learner_without_it_and_round_trips(tmp_path, expert):
    from autometa.tasks import RegressionPrior

    plain = _ridge_learner().eval()
    grown = _ridge_learner(ridge_readin=True, ridge_expert=expert).eval()
    assert grown.get_config()["ridge_readin"] is True and "ridge_readin" not in plain.get_config()
    assert grown.get_config().get("ridge_expert", False) is expert
    grown.load_state_dict({**grown.state_dict(), **plain.state_dict()})
    batch = collate_tasks(
        [RegressionPrior(d_max=D, n_range=(24, 24), n_query=8).sample(np.random.default_rng(3))]
    )
    torch.testing.assert_close(
        logits_of(grown, batch), logits_of(plain, batch)
    )  # the read-in (and the expert's gate) start at zero
    with torch.no_grad():
        (grown.expert_gate.bias if expert else grown.ridge_in.weight).normal_()
    changed = logits_of(grown, batch)
    assert not torch.allclose(changed, logits_of(plain, batch))  # ... and is read once it is not
    save_meta_learner(grown, tmp_path / "g.pt")
    torch.testing.assert_close(
        logits_of(load_meta_learner(tmp_path / "g.pt").eval(), batch), changed
    )


@pytest.mark.parametrize("n_support", [1, 1024])
def test_ridge_readin_contract_sizes_support_order_and_query_independence(n_support):
    from autometa.meta._in_context_regression import in_context_regression_distribution

    learner = _ridge_learner(ridge_readin=True, ridge_expert=True).eval()
    with torch.no_grad():
        learner.ridge_in.weight.normal_()
        learner.expert_gate.weight.normal_(std=0.1)
        learner.expert_gate.bias.fill_(1.0)
    rng = np.random.default_rng(0)
    xs = torch.from_numpy(rng.normal(size=(n_support, D)).astype(np.float32))
    ys = xs[:, 0].numpy() * 2.0 + rng.normal(size=n_support)
    xq = torch.from_numpy(rng.normal(size=(6, D)).astype(np.float32))
    fm = torch.ones(D, dtype=torch.bool)
    fm[-2:] = False

    def dist(x_support, y_support, x_query):
        with torch.no_grad():
            return in_context_regression_distribution(
                learner, x_support, y_support, x_query, fm, n_members=2
            )[0]

    probs = dist(xs, ys, xq)
    assert np.isfinite(probs).all() and np.allclose(probs.sum(1), 1.0)
    order = rng.permutation(n_support)
    np.testing.assert_allclose(dist(xs[order], ys[order], xq), probs, atol=1e-5)
    np.testing.assert_allclose(dist(xs, ys, xq[2:3]), probs[2:3], atol=1e-5)
    garbage = xs.clone()
    garbage[:, ~fm] = 77.0  # masked columns are read by neither the cells nor the ridge fit
    np.testing.assert_allclose(dist(garbage, ys, xq), probs, atol=1e-5)


def test_ridge_expert_needs_the_readin():
    with pytest.raises(ValueError, match="ridge_readin=True"):
        _ridge_learner(ridge_expert=True)
    with pytest.raises(ValueError, match="ridge_readin=True"):
        InContextV2(d_max=D, c_max=C, width=32, depth=1, ridge_expert=True)


def test_ridge_readin_learns_linear_tasks_faster_than_the_same_learner_without_it():
    """Same seed, steps and tasks: the read-in must beat its absence on held-out linear tasks
    (it fails if the read-in is not wired into training or prediction)."""
    from autometa.tasks import RegressionPrior

    prior = RegressionPrior(d_max=D, n_range=(16, 32), n_query=16, kinds=("linear",))
    held = collate_tasks([prior.sample(np.random.default_rng(500 + i)) for i in range(24)])
    scores = {}
    for readin in (False, True):
        learner = _ridge_learner(ridge_readin=readin)
        MetaTrainer(learner, prior, meta_batch_size=4, optimizer=OptimizerConfig("muon", lr=2e-3), device="cpu",
                    seed=0, tracking=False, progress=False).fit(60)  # fmt: skip
        learner.eval()
        scores[readin] = learner.evaluate(held)["mse"]
    assert scores[True] < 0.8 * scores[False], scores


def test_classifier_ridge_readin_starts_as_the_learner_without_it_and_keeps_the_contract(tmp_path):
    from dataclasses import replace

    plain = small().eval()
    torch.manual_seed(0)
    grown = InContextV2(
        d_max=D, c_max=C, width=32, depth=2, thinking_rows=4, ridge_readin=True, ridge_expert=True
    ).eval()
    assert grown.get_config()["ridge_readin"] is True and "ridge_readin" not in plain.get_config()
    grown.load_state_dict({**grown.state_dict(), **plain.state_dict()})
    batch = batch_of(n_tasks=2)
    torch.testing.assert_close(
        logits_of(grown, batch), logits_of(plain, batch)
    )  # the gate starts at zero
    with torch.no_grad():
        grown.ridge_gate.normal_(std=20.0)
        grown.expert_gate.bias.fill_(2.0)
    ref = logits_of(grown, batch)
    assert not torch.allclose(
        ref, logits_of(plain, batch), atol=1e-4
    )  # ... and is read once it is not
    perm = torch.randperm(batch.x_support.shape[1], generator=torch.Generator().manual_seed(1))
    shuffled = replace(batch, x_support=batch.x_support[:, perm], y_support=batch.y_support[:, perm],
                       support_mask=batch.support_mask[:, perm])  # fmt: skip
    torch.testing.assert_close(logits_of(grown, shuffled), ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        logits_of(grown, batch, batch.x_query[:, 3:4]), ref[:, 3:4], atol=1e-5, rtol=1e-5
    )
    noisy = batch.x_support.clone()
    padding = ~batch.feature_mask[:, None, :].expand_as(noisy)
    noisy[padding] = 123.0  # padding columns reach neither the cells nor the fit
    if padding.any():
        torch.testing.assert_close(
            logits_of(grown, replace(batch, x_support=noisy)), ref, atol=1e-5, rtol=1e-5
        )
    save_meta_learner(grown, tmp_path / "c.pt")
    torch.testing.assert_close(logits_of(load_meta_learner(tmp_path / "c.pt").eval(), batch), ref)
