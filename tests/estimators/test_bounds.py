"""Bounded predictions: a data-entry outlier gives a finite, bounded prediction and one warning."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from autometa import AutoMetaRegressor
from autometa.estimators._bounds import TARGET_MARGIN, InputBounds, TargetBounds


def test_input_bounds_clip_and_find_far_rows():
    X = np.array([[0.0, 1.0], [1.0, 1.0], [np.nan, 1.0]])
    b = InputBounds().fit(X)
    new = np.array([[5.0, 3.0], [0.5, 1.0], [-0.5, np.nan]])
    assert np.allclose(b.clip(new)[:2], [[1.0, 1.0], [0.5, 1.0]]) and np.isnan(b.clip(new)[2, 1])
    far = b.far_outside(new)
    assert far.tolist() == [
        [True, False],
        [False, False],
        [False, False],
    ]  # constant column never counts
    assert "column 'a' = 5" in b.describe(new, ["a", "b"])
    assert b.describe(new[1:], ["a", "b"]) is None


def test_target_bounds_widen_the_range_by_the_margin():
    t = TargetBounds(0.5).fit(np.array([0.0, 2.0]))
    assert (t.low_, t.high_) == (-1.0, 3.0)
    assert t.clip(np.array([-5.0, 1.0, 9.0])).tolist() == [-1.0, 1.0, 3.0]
    with pytest.raises(ValueError, match="margin"):
        TargetBounds(-1.0)


@pytest.fixture
def prices() -> tuple[pd.DataFrame, np.ndarray]:
    """A skewed positive target (log-transformed by the regressor), linear in the log."""
    rng = np.random.default_rng(0)
    n = 200
    X = pd.DataFrame({"area": rng.uniform(50, 200, n), "rooms": rng.integers(1, 6, n).astype(float),
                      "city": rng.choice(["a", "b", "c"], n)})  # fmt: skip
    y = (
        np.exp(0.02 * X["area"].to_numpy() + 0.2 * X["rooms"].to_numpy() + 0.3 * rng.normal(size=n))
        * 1000
    )
    return X, y


def test_a_data_entry_outlier_gives_a_bounded_prediction_and_one_warning(prices):
    X, y = prices
    reg = AutoMetaRegressor(random_state=0).fit(X[:128], y[:128])
    assert reg.target_transform_.log_
    test = X[128:140].copy()
    test.iloc[0, 0] = 1500.0  # area typed with an extra digit: 7x the training maximum
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pred = reg.predict(test)
    messages = [
        str(w.message) for w in caught if "far outside the training range" in str(w.message)
    ]
    assert len(messages) == 1 and "'area' = 1500" in messages[0]
    low, high = reg.target_transform_.inverse(
        np.array([reg.target_bounds_.low_, reg.target_bounds_.high_])
    )
    assert np.all(np.isfinite(pred)) and np.all((pred >= low) & (pred <= high))
    # the documented range: the training targets' range widened by the margin (in the log here)
    z = np.log(y[:128])
    width = z.max() - z.min()
    assert high == pytest.approx(np.exp(z.max() + reg.target_bounds_.margin * width), rel=1e-6)
    assert reg.target_bounds_.margin == pytest.approx(_shipped_margin())
    with pytest.warns(UserWarning, match="far outside"):
        q = reg.predict_quantiles(test, [0.1, 0.9])
    assert np.all(np.isfinite(q)) and np.all((q >= low * (1 - 1e-9)) & (q <= high * (1 + 1e-9)))
    # ordinary rows: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.predict(X[140:150])


def test_the_ridge_member_alone_would_have_exploded_and_extrapolate_lifts_the_limits(prices):
    X, y = prices
    test = X[128:129].copy()
    test.iloc[0, 0] = 1500.0
    free = AutoMetaRegressor(members=["ridge"], extrapolate=True, random_state=0).fit(
        X[:128], y[:128]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning when the user asked for extrapolation
        wild = free.predict(test)[0]
    bounded = AutoMetaRegressor(members=["ridge"], random_state=0).fit(X[:128], y[:128])
    with pytest.warns(UserWarning, match="far outside"):
        tame = bounded.predict(test)[0]
    assert wild > 100 * y[:128].max()  # linear extrapolation through the log: nonsense
    assert tame <= 2 * y[:128].max()


def _shipped_margin() -> float:
    from autometa.estimators._shipped import load_shipped, shipped_path

    if not shipped_path("regressor_portfolio").is_file():
        return TARGET_MARGIN
    return float(load_shipped("regressor_portfolio").get("target_margin", TARGET_MARGIN))
