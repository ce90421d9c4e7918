from __future__ import annotations

import numpy as np
import pytest
import torch

from autometa.tasks import SyntheticPrior, TaskPool, collate_tasks


def _tasks(pool: SyntheticPrior, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [pool.sample(rng) for _ in range(n)]


def test_is_a_task_pool_with_valid_tasks():
    pool = SyntheticPrior(d_max=12, c_max=5, n_range=(16, 48))
    assert isinstance(pool, TaskPool)
    for task in _tasks(pool, 12):
        assert task.d_max == 12 and 2 <= task.n_classes <= 5
        assert 16 <= task.x_support.shape[0] <= 48
        assert set(task.y_query.tolist()) <= set(task.y_support.tolist())
        assert set(task.y_support.tolist()) == set(range(task.n_classes))
        assert torch.isfinite(task.x_support).all() and torch.isfinite(task.x_query).all()
        assert torch.all(task.x_support[:, ~task.feature_mask] == 0)
        assert task.name.startswith("synthetic/") and task.seed is not None


def test_deterministic_given_the_rng_and_regenerable_from_seed():
    pool = SyntheticPrior(d_max=8, c_max=4, n_range=(16, 32))
    a, b = _tasks(pool, 4, seed=7), _tasks(pool, 4, seed=7)
    for ta, tb in zip(a, b, strict=True):
        assert torch.equal(ta.x_support, tb.x_support) and torch.equal(ta.y_query, tb.y_query)
        again = pool.task_from_seed(ta.seed)
        assert torch.equal(again.x_query, ta.x_query) and torch.equal(again.y_support, ta.y_support)
    c = _tasks(pool, 4, seed=8)
    assert [t.seed for t in a] != [t.seed for t in c]
    assert not torch.equal(a[0].x_support[:16], c[0].x_support[:16])


@pytest.mark.parametrize("kind", ["mlp", "scm", "gmm", "tree"])
def test_range_control(kind):
    pool = SyntheticPrior(
        d_max=16,
        c_max=10,
        n_range=(40, 40),
        d_range=(5, 5),
        class_range=(3, 3),
        kinds=(kind,),
        n_query=10,
        categorical_prob=0.0,
        missing_prob=0.0,
        noise_range=(0.0, 0.0),
    )
    for task in _tasks(pool, 3):
        assert task.name == f"synthetic/{kind}"
        assert task.x_support.shape == (40, 16) and task.x_query.shape[0] <= 10
        assert task.n_features == 5 and task.n_classes == 3


def test_imbalance_controls_class_shares():
    def ratio(imbalance: float) -> float:
        pool = SyntheticPrior(
            d_max=4,
            n_range=(200, 200),
            d_range=(4, 4),
            class_range=(2, 2),
            kinds=("gmm",),
            imbalance_range=(imbalance, imbalance),
            noise_range=(0.0, 0.0),
            missing_prob=0.0,
        )
        counts = [np.bincount(t.y_support.numpy(), minlength=2) for t in _tasks(pool, 5)]
        return float(np.mean([c.max() / c.min() for c in counts]))

    assert ratio(0.0) < 1.5 < 8 < ratio(1.0)


def test_categorical_and_missing_features_are_encoded():
    pool = SyntheticPrior(
        d_max=8, d_range=(8, 8), categorical_prob=1.0, missing_prob=1.0, n_range=(64, 64)
    )
    X, y, categorical, _, _ = pool.generate(3)
    assert categorical.all()
    assert all(len(np.unique(col[~np.isnan(col)])) <= 8 for col in X.T)
    task = pool.task_from_seed(3)
    assert task.n_features == 8  # no room left for missing indicators at d_max = 8
    assert torch.isfinite(task.x_support).all()


def test_synthetic_tasks_carry_signal():
    # nearest-class-mean balanced accuracy beats chance (1 / n_classes): labels depend on X
    pool = SyntheticPrior(
        d_max=8, c_max=3, n_range=(100, 100), noise_range=(0.0, 0.0), missing_prob=0.0
    )
    gains = []
    for task in _tasks(pool, 15, seed=1):
        xs, ys, xq, yq = task.x_support, task.y_support, task.x_query, task.y_query
        means = torch.stack([xs[ys == k].mean(0) for k in range(task.n_classes)])
        pred = torch.cdist(xq, means).argmin(1)
        recalls = [(pred[yq == k] == k).float().mean().item() for k in yq.unique()]
        gains.append(np.mean(recalls) - 1.0 / task.n_classes)
    assert np.mean(gains) > 0.1


def test_collate_synthetic_tasks():
    pool = SyntheticPrior(d_max=10, c_max=6, n_range=(16, 40))
    tasks = _tasks(pool, 5)
    batch = collate_tasks(tasks, c_max=6)
    assert batch.support_mask.sum(1).tolist() == [t.x_support.shape[0] for t in tasks]
    assert batch.x_support.shape[0] == 5 and batch.x_support.shape[2] == 10
    assert batch.class_mask.shape == (5, 6)
    assert torch.all(batch.x_support[~batch.support_mask] == 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kinds": ("mlp", "trees")}, "kinds"),
        ({"n_range": (10, 5)}, "n_range"),
        ({"noise_range": (0.0, 2.0)}, "noise_range"),
        ({"query_fraction": 1.0}, "query_fraction"),
        ({"c_max": 1}, "c_max"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SyntheticPrior(**kwargs)


def test_speed_is_a_few_milliseconds_per_task():
    import time

    pool = SyntheticPrior()
    rng = np.random.default_rng(0)
    pool.sample(rng)
    start = time.perf_counter()
    for _ in range(20):
        pool.sample(rng)
    assert (time.perf_counter() - start) / 20 < 0.1  # generous: shared 2-core CI machines


def test_default_kinds_and_opt_in_tree():
    from sklearn.tree import DecisionTreeClassifier

    assert SyntheticPrior().kinds == ("mlp", "scm", "gmm")
    pool = SyntheticPrior(
        d_max=6,
        c_max=4,
        kinds="tree",
        n_range=(300, 300),
        noise_range=(0.0, 0.0),
        categorical_prob=0.0,
        missing_prob=0.0,
    )
    scores = {}
    for kind in ("tree", "mlp"):
        pool.kinds = (kind,)
        accs = []
        for seed in range(4):
            X, y, _, got, n_support = pool.generate(seed)
            assert got == kind
            tree = DecisionTreeClassifier(max_depth=6, random_state=0).fit(
                X[:n_support], y[:n_support]
            )
            accs.append(tree.score(X[n_support:], y[n_support:]))
        scores[kind] = np.mean(accs)
    # labels of "tree" tasks are an axis-aligned tree of depth <= 6: CART recovers them
    assert scores["tree"] > 0.95 > scores["mlp"]
