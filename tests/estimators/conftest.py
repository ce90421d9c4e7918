"""Shared fixtures of the estimator tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One torch thread during these tests (much faster on a shared 2-core CPU); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def mixed_frame() -> tuple[pd.DataFrame, np.ndarray]:
    """48 rows with numeric, categorical, boolean and string columns, NaN, and string labels."""
    rng = np.random.default_rng(0)
    n = 48
    signal = rng.normal(size=n)
    X = pd.DataFrame(
        {
            "num": signal + 0.3 * rng.normal(size=n),
            "int": rng.integers(0, 5, size=n),
            "cat": pd.Categorical(rng.choice(["red", "green", "blue"], size=n)),
            "flag": rng.random(n) > 0.5,
            "text": np.where(signal > 0, "high", "low").astype(object),
        }
    )
    X.loc[[3, 7, 11], "num"] = np.nan
    X.loc[[5], "text"] = None
    y = np.where(signal + 0.2 * rng.normal(size=n) > 0, "yes", "no")
    return X, y
