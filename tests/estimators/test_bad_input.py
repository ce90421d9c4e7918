"""Inputs that used to crash deep inside another library: each is handled or gets a clear
autometa ValueError naming the user's column or label (rows of docs/reliability.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autometa.estimators import AutoMetaClassifier

FAST = {"members": ["neural", "gbm", "lr"], "n_ensemble": 2, "blend": "uniform"}


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    n = 60
    X = pd.DataFrame({"age": rng.normal(40, 10, n), "income": rng.normal(size=n)})
    y = np.where(X["income"] + rng.normal(scale=0.3, size=n) > 0, "yes", "no")
    return X, y


def test_all_nan_column_is_uninformative(frame):
    X, y = frame
    X_nan = X.assign(empty=np.nan)
    with_nan = AutoMetaClassifier(random_state=0, **FAST).fit(X_nan, y)
    without = AutoMetaClassifier(random_state=0, **FAST).fit(X, y)
    assert list(with_nan.feature_names_in_) == ["age", "income", "empty"]
    # the empty column changes nothing: same probabilities as without it
    np.testing.assert_allclose(with_nan.predict_proba(X_nan), without.predict_proba(X), atol=1e-6)
    # at predict time the column may hold values; it is still ignored
    np.testing.assert_allclose(
        with_nan.predict_proba(X_nan.assign(empty=1.0)), with_nan.predict_proba(X_nan), atol=1e-6
    )


def test_every_column_missing_raises(frame):
    X, y = frame
    with pytest.raises(ValueError, match=r"Every column of X is entirely missing.*'a'"):
        AutoMetaClassifier(**FAST).fit(pd.DataFrame({"a": [np.nan] * len(y)}), y)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (
            ["x", None] * 30,
            r"y contains 30 missing label\(s\) \(NaN/None\), e.g. at row\(s\) \[1, 3",
        ),
        ([1, "a"] * 30, r"y mixes label types \(number 1, str 'a'\)"),
        ([True, "a"] * 30, r"y mixes label types \(bool True, str 'a'\)"),
    ],
)
def test_mixed_and_missing_labels(frame, labels, match):
    X, _ = frame
    with pytest.raises(ValueError, match=match):
        AutoMetaClassifier(**FAST).fit(X, np.array(labels, dtype=object))


def test_duplicate_column_names(frame):
    X, y = frame
    X.columns = ["age", "age"]
    with pytest.raises(ValueError, match=r"duplicate column names \['age'\]"):
        AutoMetaClassifier(**FAST).fit(X, y)


def test_infinity_names_the_users_column(frame):
    X, y = frame
    X.loc[3, "income"] = np.inf
    with pytest.raises(ValueError, match=r"infinity in column\(s\) \['income'\]"):
        AutoMetaClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"infinity in column\(s\) \[1\]"):
        AutoMetaClassifier(**FAST).fit(X.to_numpy(), y)
    clf = AutoMetaClassifier(**FAST).fit(X.replace(np.inf, np.nan), y)
    with pytest.raises(ValueError, match=r"infinity in column\(s\) \['income'\]"):
        clf.predict(X)


def test_pandas_nullable_dtypes(frame):
    X, y = frame
    n = len(y)
    X = X.assign(
        count=pd.array([1, None, 3] * (n // 3), dtype="Int64"),
        flag=pd.array([True, None, False] * (n // 3), dtype="boolean"),
        ratio=pd.array([0.5, None, 1.5] * (n // 3), dtype="Float64"),
        city=pd.array(["a", None, "b"] * (n // 3), dtype="string"),
    )
    clf = AutoMetaClassifier(random_state=0, **FAST).fit(X, pd.array(y, dtype="string"))
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all() and proba.shape == (n, 2)
    assert set(clf.classes_) == {"yes", "no"}
    # nullable numbers are numbers, the nullable string column is categorical
    assert len(clf.table_spec_.numeric) == 5 and len(clf.table_spec_.categorical) == 1


def test_datetime_column_is_numeric_seconds(frame):
    X, y = frame
    X = X.assign(when=pd.date_range("2020-01-01", periods=len(y), freq="D"))
    X.loc[5, "when"] = pd.NaT
    clf = AutoMetaClassifier(random_state=0, **FAST).fit(X, y)
    assert 2 in clf.table_spec_.numeric  # not 60 one-off categories
    tree = clf.table_spec_.tree_matrix(X)
    assert tree[0, 2] == pd.Timestamp("2020-01-01").timestamp() and np.isnan(tree[5, 2])
    assert clf.predict(X).shape == (len(y),)


def test_zero_row_predict_raises(frame):
    X, y = frame
    clf = AutoMetaClassifier(random_state=0, **FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        clf.predict(X.iloc[:0])
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        clf.predict_proba(X.to_numpy()[:0])


def test_large_fit_warns_and_subsamples(frame):
    X, y = frame
    with pytest.warns(
        UserWarning,
        match=r"60 training rows exceed max_samples=40; fitting on a stratified subsample",
    ):
        clf = AutoMetaClassifier(max_samples=40, random_state=0, **FAST).fit(X, y)
    assert clf.members_["lr"].estimator_.n_features_in_ >= 2
    assert sum(len(c) for c in [clf.members_["gbm"].estimator_.classes_]) == 2


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_time_columns_are_seconds_whatever_the_unit(unit):
    from autometa._utils import time_seconds
    from autometa.tasks import TabularEncoder

    when = pd.Series(pd.to_datetime(["2020-01-01", None, "2020-01-03"])).astype(
        f"datetime64[{unit}]"
    )
    np.testing.assert_array_equal(time_seconds(when), [1577836800.0, np.nan, 1578009600.0])
    np.testing.assert_array_equal(time_seconds(when - when[0]), [0.0, np.nan, 172800.0])
    X = pd.DataFrame({"when": when})
    as_seconds = pd.DataFrame({"when": time_seconds(when)})
    enc = TabularEncoder(4, 2, random_state=0)
    np.testing.assert_array_equal(enc.fit_transform(X)[0], enc.fit_transform(as_seconds)[0])
