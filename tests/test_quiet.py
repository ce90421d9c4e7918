"""Quiet by default: ordinary inputs print no warning; a member leaving the blend is named once."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from autometa import AutoMetaClassifier, AutoMetaRegressor
from autometa.estimators import _base


@pytest.mark.parametrize("value", [3.0, -2.0, 1e6])
def test_a_constant_regression_target_fits_without_a_warning(value):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    with warnings.catch_warnings():
        warnings.simplefilter(
            "error"
        )  # scipy's "catastrophic cancellation" RuntimeWarning included
        reg = AutoMetaRegressor(random_state=0).fit(X, np.full(40, value))
        mean = reg.predict(X.head(5))
    np.testing.assert_allclose(mean, value, rtol=1e-2, atol=0.05)


def test_a_member_leaving_the_blend_is_named_once_with_its_limit(monkeypatch):
    monkeypatch.setattr(_base, "_NOTED", set())
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 4)), columns=["a", "b", "c", "d"])
    y = np.arange(120) % 12  # 12 classes: above the Meta-LSTM member's c_max of 10
    with pytest.warns(
        UserWarning,
        match=r"'neural' member handles at most 10 classes .*; y has 12, so the blend goes on without it",
    ):
        clf = AutoMetaClassifier(members=["neural", "rf"], blend="uniform", random_state=0).fit(
            X, y
        )
    assert list(clf.weights_) == ["rf"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second time: no note
        AutoMetaClassifier(members=["neural", "rf"], blend="uniform", random_state=1).fit(X, y)
