from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autometa.tasks import EpisodicPool, collate_tasks, make_pool


def _arrays(n_classes: int = 12, per_class: int = 30, d: int = 5):
    rng = np.random.default_rng(0)
    y = np.repeat([f"c{k:02d}" for k in range(n_classes)], per_class)
    X = rng.normal(size=(len(y), d)) + np.repeat(np.arange(n_classes), per_class)[:, None]
    return X, y


@settings(max_examples=25, deadline=None)
@given(
    n_way=st.integers(2, 4),
    k_shot=st.integers(1, 5),
    n_query=st.integers(1, 10),
    seed=st.integers(0, 2**32),
    split=st.sampled_from(["train", "val", "test"]),
    split_seed=st.integers(0, 3),
)
def test_property_episode_shapes_labels_and_determinism(
    n_way, k_shot, n_query, seed, split, split_seed
):
    X, y = _arrays(n_classes=20)  # 12 / 4 / 4 classes
    pool = EpisodicPool(
        (X, y), n_way=n_way, k_shot=k_shot, n_query=n_query, split=split, split_seed=split_seed
    )
    task = pool.sample(np.random.default_rng(seed))
    assert task.x_support.shape == (n_way * k_shot, 5) and task.x_query.shape == (
        n_way * n_query,
        5,
    )
    assert task.n_classes == n_way == pool.c_max
    assert torch.bincount(task.y_support, minlength=n_way).tolist() == [k_shot] * n_way
    assert torch.bincount(task.y_query, minlength=n_way).tolist() == [n_query] * n_way
    assert torch.isfinite(task.x_support).all()
    again = pool.sample(np.random.default_rng(seed))
    assert torch.equal(again.x_support, task.x_support) and torch.equal(again.y_query, task.y_query)


def test_class_disjoint_splits_and_documented_partition():
    X, y = _arrays(n_classes=10)
    pools = {
        s: EpisodicPool(
            (X, y), n_way=2, split=s, split_seed=4, image_shape=(1, 1, 5)
        )  # unencoded rows
        for s in ("train", "val", "test")
    }
    parts = pools["train"].classes_by_split
    assert [len(parts[s]) for s in ("train", "val", "test")] == [6, 2, 2]
    assert set(parts["train"]).isdisjoint(parts["val"]) and set(parts["val"]).isdisjoint(
        parts["test"]
    )
    assert set(parts["train"]) | set(parts["val"]) | set(parts["test"]) == set(np.unique(y))
    assert all(p.classes_by_split == parts for p in pools.values())
    # each split only ever yields rows of its own classes (X encodes the class in its mean)
    for split, pool in pools.items():
        own = {int(c[1:]) for c in parts[split]}
        raw = pool._x  # the rows as given; map back through row identity
        for seed in range(5):
            task = pool.sample(np.random.default_rng(seed))
            idx = [int(np.flatnonzero((raw == r.numpy()).all(1))[0]) for r in task.x_support]
            assert {int(y[i][1:]) for i in idx} <= own
    other = EpisodicPool((X, y), n_way=2, split="train", split_seed=5).classes_by_split
    assert other != parts


def test_labels_are_relabelled_per_episode():
    X, y = _arrays()
    pool = EpisodicPool((X, y), n_way=3, k_shot=2, n_query=2)
    firsts = set()
    for s in range(12):
        task = pool.sample(np.random.default_rng(s))
        # the class behind label 0 changes across episodes
        firsts.add(round(float(task.x_support[task.y_support == 0].mean()), 1))
    assert len(firsts) > 2


def test_tabular_normalization_is_fitted_on_train_classes_only():
    X, y = _arrays()
    pool = EpisodicPool((X, y), n_way=2, split="train")
    test_classes = set(pool.classes_by_split["test"]) | set(pool.classes_by_split["val"])
    X2 = X.copy()
    X2[np.isin(y, list(test_classes))] *= 100.0
    pool2 = EpisodicPool((X2, y), n_way=2, split="train")
    t1, t2 = pool.sample(np.random.default_rng(0)), pool2.sample(np.random.default_rng(0))
    assert torch.equal(t1.x_support, t2.x_support)


def test_letter_and_image_episodes():
    letter = make_pool("episodic:letter:5way1shot", d_max=32, split="test")
    task = letter.sample(np.random.default_rng(0))
    assert task.x_support.shape == (5, 32) and task.n_features == 16
    images = EpisodicPool(
        "optdigits", n_way=2, k_shot=1, n_query=3, split_fractions=(0.5, 0.0, 0.5)
    )
    assert images.image_shape == (1, 8, 8) and images.d_max == 64
    batch = collate_tasks([images.sample(np.random.default_rng(s)) for s in range(3)])
    assert batch.x_support.shape == (3, 2, 64)
    assert float(batch.x_query.min()) >= 0.0 and float(batch.x_query.max()) <= 1.0
    from autometa.functional import Conv4

    net = Conv4(images.image_shape, c_max=2)
    assert net(batch.x_query[0]).shape == (6, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_way": 5, "split": "val"}, "has 2 classes"),
        ({"split_fractions": (0.5, 0.5, 0.5)}, "summing to 1"),
        ({"split": "holdout"}, "split must be"),
        ({"n_way": 1}, "n_way must be"),
        ({"k_shot": 20, "n_query": 20}, "fewer than k_shot"),
    ],
)
def test_bad_arguments(kwargs, match):
    X, y = _arrays(n_classes=10)
    with pytest.raises(ValueError, match=match):
        EpisodicPool((X, y), **kwargs)


def test_image_d_max_mismatch():
    with pytest.raises(ValueError, match="d_max must be 64"):
        EpisodicPool("optdigits", d_max=32, n_way=2, split_fractions=(0.5, 0.0, 0.5))


@settings(max_examples=20, deadline=None)
@given(split_seed=st.integers(0, 2**32 - 1), seed=st.integers(0, 2**32 - 1))
def test_property_splits_are_class_disjoint_for_any_seed(split_seed, seed):
    X, y = _arrays(n_classes=15, per_class=4, d=2)
    seen = {}
    for split in ("train", "val", "test"):
        # image_shape: values pass through unencoded, so every row can be traced back to its class
        pool = EpisodicPool(
            (X, y),
            n_way=2,
            k_shot=1,
            n_query=1,
            split=split,
            split_seed=split_seed,
            image_shape=(1, 1, 2),
        )
        task = pool.sample(np.random.default_rng(seed))
        rows = torch.cat([task.x_support, task.x_query]).numpy()
        hits = [np.flatnonzero((pool._x == r).all(1)) for r in rows]
        seen[split] = {y[h[0]] for h in hits}
        assert seen[split] <= set(pool.classes_by_split[split])
    parts = pool.classes_by_split
    assert sorted(parts["train"] + parts["val"] + parts["test"]) == sorted(set(y))
    assert (
        not seen["train"] & seen["val"]
        and not seen["train"] & seen["test"]
        and not seen["val"] & seen["test"]
    )
