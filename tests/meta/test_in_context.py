"""InContextLearner: the learner contract, invariances, sizes, and that meta-training teaches it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autometa.meta import (
    InContextLearner,
    MetaTrainer,
    build_learner,
    load_meta_learner,
    save_meta_learner,
)
from autometa.meta._in_context import in_context_proba, permute_slots
from autometa.tasks import InContextPrior, SyntheticPrior, TabularEncoder, collate_tasks

D, C = 8, 4


def small(**kw) -> InContextLearner:
    torch.manual_seed(0)
    return InContextLearner(d_max=D, c_max=C, width=32, depth=2, **kw)


def batch_of(n_tasks: int = 3, seed: int = 0, n_range=(16, 32)):
    prior = SyntheticPrior(d_max=D, c_max=C, n_range=n_range)
    rng = np.random.default_rng(seed)
    return collate_tasks([prior.sample(rng) for _ in range(n_tasks)], c_max=C)


def test_shapes_and_absent_classes_masked():
    learner = small().eval()
    batch = batch_of()
    logits = learner.predict(learner.adapt(batch), batch.x_query, batch)
    assert logits.shape == (batch.n_tasks, batch.x_query.shape[1], C)
    proba = torch.softmax(logits, -1)
    assert torch.all(proba[~batch.class_mask[:, None, :].expand_as(proba)] < 1e-6)


def test_registered_config_roundtrip(tmp_path):
    learner = small()
    rebuilt = build_learner("in-context", **learner.get_config())
    assert rebuilt.get_config() == learner.get_config()
    path = save_meta_learner(learner, tmp_path / "ic.pt")
    loaded = load_meta_learner(path)
    for a, b in zip(learner.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("bad", [{"width": 30, "heads": 4}, {"depth": 0}, {"c_max": 1}])
def test_bad_config_is_refused(bad):
    with pytest.raises(ValueError):
        InContextLearner(**{"d_max": D, "c_max": C, **bad})


def test_wrong_width_names_d_max():
    learner = small()
    prior = SyntheticPrior(d_max=D + 1, c_max=C, n_range=(8, 8))
    batch = collate_tasks([prior.sample(np.random.default_rng(0))], c_max=C)
    with pytest.raises(ValueError, match="d_max=8"):
        learner.adapt(batch)


def test_support_row_order_is_exactly_irrelevant():
    learner = small().eval()
    batch = batch_of(1)
    perm = torch.randperm(batch.x_support.shape[1], generator=torch.Generator().manual_seed(1))
    from dataclasses import replace

    shuffled = replace(
        batch, x_support=batch.x_support[:, perm], y_support=batch.y_support[:, perm]
    )
    with torch.no_grad():
        a = learner.predict(learner.adapt(batch), batch.x_query, batch)
        b = learner.predict(learner.adapt(shuffled), batch.x_query, batch)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_query_rows_do_not_see_each_other():
    learner = small().eval()
    batch = batch_of(1)
    with torch.no_grad():
        state = learner.adapt(batch)
        whole = learner.predict(state, batch.x_query, batch)
        first = learner.predict(state, batch.x_query[:, :1], batch)
    torch.testing.assert_close(whole[:, :1], first, atol=1e-5, rtol=1e-5)


def test_padded_support_rows_are_ignored():
    learner = small().eval()
    prior = SyntheticPrior(d_max=D, c_max=C, n_range=(10, 10))
    rng = np.random.default_rng(3)
    short, long = prior.sample(rng), SyntheticPrior(d_max=D, c_max=C, n_range=(30, 30)).sample(rng)
    alone = collate_tasks([short], c_max=C)
    padded = collate_tasks([short, long], c_max=C)
    with torch.no_grad():
        a = learner.predict(learner.adapt(alone), alone.x_query, alone)
        b = learner.predict(learner.adapt(padded), padded.x_query, padded)
    q = alone.x_query.shape[1]
    torch.testing.assert_close(a[0], b[0, :q], atol=1e-5, rtol=1e-5)


def test_permute_slots_moves_columns_together():
    batch = batch_of(2)
    moved = permute_slots(batch, torch.Generator().manual_seed(0))
    for t in range(batch.n_tasks):
        assert moved.feature_mask[t].sum() == batch.feature_mask[t].sum()
        # the same multiset of columns, support and query moved by one permutation
        cols = {
            tuple(batch.x_support[t, :, j].tolist()): tuple(batch.x_query[t, :, j].tolist())
            for j in range(D)
        }
        for j in range(D):
            assert cols[tuple(moved.x_support[t, :, j].tolist())] == tuple(
                moved.x_query[t, :, j].tolist()
            )


def _ensemble_inputs(n_support: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_support + 40, 5))
    X[rng.random(X.shape) < 0.1] = np.nan  # missing values: the encoder maps them, rows stay usable
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) > 0).astype(int)
    y[:2] = [0, 1]
    enc = TabularEncoder(d_max=D, c_max=C).fit(X[:n_support], y[:n_support])
    xs, fm = enc.transform(X[:n_support])
    xq, _ = enc.transform(X[n_support:])
    return (
        torch.from_numpy(xs),
        torch.from_numpy(enc.encode_labels(y[:n_support])),
        torch.from_numpy(xq),
        torch.from_numpy(fm),
    )


@pytest.mark.parametrize("n_support", [1, 2, 1024])
def test_support_sizes_from_one_row_to_1024(n_support):
    learner = small()
    xs, ys, xq, fm = _ensemble_inputs(max(n_support, 2))
    xs, ys = xs[:n_support], ys[:n_support]
    proba = in_context_proba(learner, xs, ys, xq, fm, 2, n_members=2)
    assert proba.shape == (xq.shape[0], 2)
    assert torch.all(torch.isfinite(proba))
    torch.testing.assert_close(proba.sum(1), torch.ones(xq.shape[0]))


def test_large_support_is_subsampled_per_member():
    learner = small()
    xs, ys, xq, fm = _ensemble_inputs(300)
    full = in_context_proba(learner, xs, ys, xq, fm, 2, n_members=2, max_support=1024)
    sub = in_context_proba(learner, xs, ys, xq, fm, 2, n_members=2, max_support=64)
    assert sub.shape == full.shape and not torch.allclose(sub, full)


def test_ensemble_is_deterministic_and_seeded():
    learner = small()
    xs, ys, xq, fm = _ensemble_inputs(40)
    a = in_context_proba(learner, xs, ys, xq, fm, 2, seed=3)
    b = in_context_proba(learner, xs, ys, xq, fm, 2, seed=3)
    c = in_context_proba(learner, xs, ys, xq, fm, 2, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_feature_and_label_order_invariant_in_expectation():
    """With many members, reordering the columns or renaming the classes barely moves the average."""
    learner = small()
    xs, ys, xq, fm = _ensemble_inputs(40)
    base = in_context_proba(learner, xs, ys, xq, fm, 2, n_members=256, seed=0)
    cols = torch.tensor([3, 1, 0, 4, 2, 5, 6, 7])
    moved = in_context_proba(
        learner, xs[:, cols], ys, xq[:, cols], fm[cols], 2, n_members=256, seed=1
    )
    relabelled = in_context_proba(learner, xs, 1 - ys, xq, fm, 2, n_members=256, seed=2)
    single = in_context_proba(
        learner, xs[:, cols], ys, xq[:, cols], fm[cols], 2, n_members=1, seed=1
    )
    gap_ensemble = (base - moved).abs().mean()
    assert gap_ensemble < 0.5 * (base - single).abs().mean() + 1e-4
    assert (base - relabelled.flip(1)).abs().mean() < 0.05


def test_more_classes_than_c_max_are_served_by_output_codes():
    learner = small()
    xs, ys, xq, fm = _ensemble_inputs(20)
    ys = torch.arange(len(ys)) % 5  # five classes, c_max=4
    proba = in_context_proba(learner, xs, ys, xq, fm, 5)
    assert proba.shape == (len(xq), 5) and torch.isfinite(proba).all()
    assert torch.allclose(proba.sum(1), torch.ones(len(xq)), atol=1e-5)


def test_loss_goes_down_on_the_prior_in_a_few_cpu_steps():
    torch.manual_seed(0)
    learner = InContextLearner(d_max=D, c_max=C, width=32, depth=2)
    prior = InContextPrior(
        d_max=D, c_max=C, datasets=[], n_support_range=(16, 48), n_query=32, max_features=D
    )
    val = [
        collate_tasks(prior.sample_batch(np.random.default_rng(100 + i), 8), c_max=C)
        for i in range(4)
    ]

    def val_loss() -> float:
        learner.eval()
        with torch.no_grad():
            return float(np.mean([float(learner.meta_loss(b)[0]) for b in val]))

    before = val_loss()
    MetaTrainer(
        learner, prior, meta_batch_size=8, lr=3e-3, device="cpu", tracking=False, progress=False
    ).fit(120)
    after = val_loss()
    assert after < before - 0.03, (before, after)
