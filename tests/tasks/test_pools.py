from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from autometa.tasks import (
    DatasetPool,
    MixturePool,
    SyntheticPrior,
    TaskPool,
    collate_tasks,
    datasets,
    make_pool,
)

SMALL = ["keel/tae", "keel/hayes-roth", "keel/iris", "keel/breast"]


def _check_task(task, d_max, c_max):
    assert task.d_max == d_max and 2 <= task.n_classes <= c_max
    assert set(task.y_support.tolist()) == set(range(task.n_classes))
    assert set(task.y_query.tolist()) <= set(range(task.n_classes))
    assert torch.isfinite(task.x_support).all() and torch.isfinite(task.x_query).all()
    assert torch.all(task.x_support[:, ~task.feature_mask] == 0)
    assert torch.all(task.x_query[:, ~task.feature_mask] == 0)


def test_dataset_pool_tasks_are_valid_and_deterministic():
    pool = DatasetPool(SMALL, d_max=12, c_max=3, n_support_range=(16, 40), n_query=20)
    assert isinstance(pool, TaskPool)
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    for _ in range(8):
        a, b = pool.sample(rng_a), pool.sample(rng_b)
        _check_task(a, 12, 3)
        assert a.name in SMALL and 16 <= a.x_support.shape[0] <= 40 and a.x_query.shape[0] <= 20
        assert torch.equal(a.x_support, b.x_support) and torch.equal(a.y_query, b.y_query)
        again = pool.task_from_seed(a.seed)
        assert again.name == a.name and torch.equal(again.x_query, a.x_query)


def test_many_classes_and_features_are_subsampled():
    pool = DatasetPool(
        ["letter"], d_max=8, c_max=4, n_support_range=(32, 32), n_query=16, max_features=6
    )
    seen = set()
    for task in (pool.sample(np.random.default_rng(s)) for s in range(4)):
        _check_task(task, 8, 4)
        assert task.n_classes == 4 and task.n_features == 6 and task.x_support.shape[0] == 32
        seen.add(tuple(task.x_support[0, :6].tolist()))
    assert len(seen) == 4


def test_small_data_sets_cap_rows():
    pool = DatasetPool(["tae"], d_max=8, n_support_range=(500, 500), n_query=500)
    task = pool.sample(np.random.default_rng(0))
    n_rows = len(datasets.load_dataset("tae")[1])
    assert task.x_support.shape[0] + task.x_query.shape[0] <= n_rows
    assert task.x_support.shape[0] == n_rows // 2


def test_reserved_data_sets_are_refused_in_pools():
    with pytest.raises(ValueError, match="Reserved data sets .*evaluation_only=True"):
        DatasetPool(["tae", "sonar"])
    for spec in ("keel-dev", "dev"):
        for split in ("train", "val"):
            pool = make_pool(spec, split=split)
            assert not any(datasets.is_reserved(n) for n in pool.datasets)


def test_keel_dev_train_and_val_are_disjoint_families():
    train, val = make_pool("keel-dev", split="train"), make_pool("keel-dev", split="val")
    fam = lambda pool: {datasets.family_of(n) for n in pool.datasets}  # noqa: E731
    assert fam(train) and fam(val) and not fam(train) & fam(val)
    assert train.name == "keel-dev/train"


def test_from_folder_of_csv_and_parquet(tmp_path):
    rng = np.random.default_rng(0)
    for i, suffix in enumerate(["csv", "csv", "parquet"]):
        n = 60
        df = pd.DataFrame(
            {
                "a": rng.normal(size=n),
                "color": rng.choice(["red", "blue", "green"], n),
                "label": rng.choice(["yes", "no"], n),
            }
        )
        df.loc[3, "a"] = np.nan
        path = tmp_path / f"table{i}.{suffix}"
        df.to_csv(path, index=False) if suffix == "csv" else df.to_parquet(path)
    (tmp_path / "notes.txt").write_text("ignored")
    pool = DatasetPool.from_folder(
        tmp_path, target="label", d_max=6, n_support_range=(10, 20), n_query=10
    )
    assert pool.datasets == ["table0", "table1", "table2"]
    tasks = [pool.sample(np.random.default_rng(s)) for s in range(6)]
    for task in tasks:
        _check_task(task, 6, 2)
    batch = collate_tasks(tasks, c_max=2)
    assert batch.x_support.shape[:1] == (6,) and batch.feature_mask.shape == (6, 6)
    assert make_pool(f"folder:{tmp_path}:target=label", d_max=6).datasets == pool.datasets
    with pytest.raises(ValueError, match="no target column 'target'"):
        DatasetPool.from_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .csv or .parquet"):
        DatasetPool.from_folder(tmp_path / "empty")
    with pytest.raises(ValueError, match="does not exist"):
        DatasetPool.from_folder(tmp_path / "missing")


def test_in_memory_frames_and_bad_arguments():
    X = pd.DataFrame({"x": np.arange(40.0), "z": np.arange(40) % 3})
    y = np.arange(40) % 2
    pool = DatasetPool({"mine": (X, y)}, d_max=4, n_support_range=(10, 10), n_query=10)
    _check_task(pool.sample(np.random.default_rng(0)), 4, 2)
    with pytest.raises(ValueError, match="Unknown data set"):
        DatasetPool(["no-such-set"])
    with pytest.raises(ValueError, match="n_support_range"):
        DatasetPool(["tae"], n_support_range=(10, 5))
    with pytest.raises(ValueError, match="appears twice"):
        DatasetPool(["tae", "keel/tae"])
    with pytest.raises(ValueError, match="at least 2"):
        DatasetPool({"one": (X, np.zeros(40))}).sample(np.random.default_rng(0))


def test_mixture_pool():
    synth = SyntheticPrior(d_max=8, c_max=3, n_range=(16, 24))
    real = DatasetPool(["tae"], d_max=8, c_max=3, n_support_range=(16, 24), n_query=8)
    mix = MixturePool([synth, real], weights=[1, 3])
    assert mix.d_max == 8 and mix.c_max == 3 and mix.name == "synthetic+keel/tae"
    np.testing.assert_allclose(mix.probabilities, [0.25, 0.75])
    rng = np.random.default_rng(0)
    tasks = [mix.sample(rng) for _ in range(16)]
    names = {t.name.split("/")[0] for t in tasks}
    assert names == {"synthetic", "keel"}
    batch = collate_tasks(tasks, c_max=3)
    assert batch.x_support.shape[0] == 16 and batch.class_mask.shape == (16, 3)
    with pytest.raises(ValueError, match="share d_max"):
        MixturePool([synth, SyntheticPrior(d_max=4)])
    with pytest.raises(ValueError, match="weights"):
        MixturePool([synth, real], weights=[1, -1])
    spec = make_pool("synthetic@0.7,dataset:tae+wine@0.3", d_max=8, c_max=3)
    assert isinstance(spec, MixturePool) and np.allclose(spec.probabilities, [0.7, 0.3])


def test_pools_pickle_and_resume_identically(tmp_path):
    import pickle

    pd.DataFrame({"a": np.arange(30.0), "target": [0, 1, 2] * 10}).to_csv(
        tmp_path / "t.csv", index=False
    )
    pools = [
        DatasetPool(["tae"], d_max=8, n_support_range=(10, 10), n_query=5),
        DatasetPool.from_folder(tmp_path, d_max=8, n_support_range=(10, 10), n_query=5),
        DatasetPool(
            {"m": (np.arange(40.0).reshape(20, 2), np.arange(20) % 2)},
            d_max=8,
            n_support_range=(6, 6),
        ),
        make_pool("synthetic@1,dataset:tae@1", d_max=8),
    ]
    for pool in pools:
        pool.sample(np.random.default_rng(0))  # fill the cache, then pickle
        copy = pickle.loads(pickle.dumps(pool))
        a, b = pool.sample(np.random.default_rng(5)), copy.sample(np.random.default_rng(5))
        assert torch.equal(a.x_support, b.x_support) and a.name == b.name
