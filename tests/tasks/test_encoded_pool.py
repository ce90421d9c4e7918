"""EncodedDatasetPool: whole dev tables encoded once, tasks cut from them, deterministic per generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autometa.tasks import EncodedDatasetPool


def test_tasks_are_valid_and_a_function_of_the_generator():
    pool = EncodedDatasetPool(
        ["keel/iris", "keel/wine"], d_max=8, c_max=2, n_range=(10, 20), n_query=30
    )
    a = [pool.sample(np.random.default_rng(3)) for _ in range(2)]
    assert all(
        torch.equal(a[0].x_support, t.x_support) and torch.equal(a[0].y_query, t.y_query) for t in a
    )
    rng = np.random.default_rng(0)
    for _ in range(20):
        task = pool.sample(rng)
        assert task.name in ("keel/iris", "keel/wine") and task.n_classes <= 2
        assert 10 <= task.x_support.shape[0] <= 20 and task.x_support.shape[1] == 8
        assert set(task.y_query.tolist()) <= set(task.y_support.tolist())
        assert int(task.feature_mask.sum()) == min(8, pool.encoded(task.name)[0].shape[1])


def test_reserved_tables_are_refused():
    with pytest.raises(ValueError, match="reserved"):
        EncodedDatasetPool(["keel/sonar"]).sample(np.random.default_rng(0))
