from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autometa.tasks import TabularEncoder, Task, collate_tasks, encode_task


def _mixed_frame(n: int = 12, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "int": rng.integers(0, 5, n),
            "bool": rng.random(n) < 0.5,
            "cat": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "obj": pd.Series(rng.choice(["x", "y"], n), dtype=object),
            "str": pd.Series(rng.choice(["40-49", "50-59", "60-69"], n), dtype="str"),
        }
    )
    X.loc[1, "num"] = np.nan
    X.loc[2, "obj"] = None
    y = np.array(["yes", "no", "maybe"])[np.arange(n) % 3]
    return X, y


def test_mixed_frame_shapes_mask_and_padding():
    X, y = _mixed_frame()
    enc = TabularEncoder(d_max=10).fit(X, y)
    x, mask = enc.transform(X)
    assert x.dtype == np.float32 and x.shape == (12, 10)
    assert mask.dtype == bool and mask.shape == (10,)
    # 6 columns + missing indicators for "num" and "obj"
    assert enc.n_features_out_ == 8 and mask.tolist() == [True] * 8 + [False] * 2
    assert np.all(x[:, ~mask] == 0)
    assert np.isfinite(x).all()
    assert enc.categorical_.tolist() == [False, False, False, True, True, True]
    assert list(enc.feature_names_in_) == list(X.columns)
    assert enc.get_feature_names_out().tolist()[-2:] == ["num__missing", "obj__missing"]
    assert x[1, 0] == 0.0 and x[1, 6] == 1.0 and x[2, 7] == 1.0


def test_string_dtype_columns_are_categorical_like_keel_breast():
    X = pd.DataFrame({"age": pd.Series(["40-49", "50-59", "40-49", "30-39", "40-49"], dtype="str")})
    enc = TabularEncoder(d_max=2).fit(X, [0, 1, 0, 1, 0])
    assert enc.categorical_.tolist() == [True]
    x, _ = enc.transform(X)
    # the most frequent category gets the lowest code; equal values encode equally
    assert x[0, 0] == x[2, 0] == x[4, 0] < x[1, 0]
    assert x[1, 0] != x[3, 0]


def test_unseen_category_is_missing_not_an_error():
    X = pd.DataFrame({"c": ["a", "b", "a", "b"], "v": [1.0, 2.0, 3.0, 4.0]})
    enc = TabularEncoder(d_max=4, missing_indicators=False).fit(X, [0, 1, 0, 1])
    x, _ = enc.transform(pd.DataFrame({"c": ["zzz"], "v": [2.0]}))
    assert x[0, 0] == 0.0


def test_constant_and_all_missing_columns_encode_to_zero_without_warnings():
    X = np.array([[1.0, np.nan, 3.0], [1.0, np.nan, 4.0], [1.0, np.nan, 5.0]])
    with np.errstate(all="raise"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            x, mask = TabularEncoder(d_max=5).fit_transform(X, [0, 1, 0])
    assert np.all(x[:, :2] == 0.0)
    assert np.isfinite(x).all()


def test_numeric_normalization_is_rank_gauss_and_works_at_n5():
    X = np.array([[1.0], [10.0], [100.0], [1000.0], [10000.0]])
    x, _ = TabularEncoder(d_max=1).fit_transform(X)
    assert np.all(np.diff(x[:, 0]) > 0)
    np.testing.assert_allclose(x[:, 0], -x[::-1, 0], atol=1e-6)  # symmetric ranks
    assert x[2, 0] == 0.0
    # monotone transforms of a column do not change the encoding
    x_log, _ = TabularEncoder(d_max=1).fit_transform(np.log(X))
    np.testing.assert_array_equal(x, x_log)


def test_values_outside_training_range_are_clipped():
    enc = TabularEncoder(d_max=1).fit(np.arange(10.0).reshape(-1, 1))
    x, _ = enc.transform(np.array([[-100.0], [0.0], [9.0], [100.0]]))
    assert x[0, 0] == x[1, 0] and x[2, 0] == x[3, 0]


def test_above_d_max_keeps_the_most_informative_columns_in_order():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    X = rng.normal(size=(40, 6))
    X[:, 4] += 3 * y  # strongly informative
    X[:, 1] += 1.5 * y  # informative
    enc = TabularEncoder(d_max=2).fit(X, y)
    assert enc.selected_features_.tolist() == [1, 4]
    assert enc.transform(X)[0].shape == (40, 2)
    # ties (identical columns) are broken by the lower column index
    Xt = np.repeat(X[:, [4]], 3, axis=1)
    assert TabularEncoder(d_max=2).fit(Xt, y).selected_features_.tolist() == [0, 1]
    # without labels the variance of the normalized column decides: the constant column loses
    Xc = np.column_stack([np.ones(40), X[:, 0], X[:, 1]])
    assert TabularEncoder(d_max=2).fit(Xc).selected_features_.tolist() == [1, 2]


def test_missing_indicators_only_where_room_remains():
    X = np.array([[np.nan, 1.0, 2.0], [1.0, np.nan, 3.0], [2.0, 2.0, np.nan], [3.0, 3.0, 4.0]])
    assert TabularEncoder(d_max=3).fit(X).indicator_features_.tolist() == []
    assert TabularEncoder(d_max=4).fit(X).indicator_features_.tolist() == [0]
    assert TabularEncoder(d_max=8).fit(X).indicator_features_.tolist() == [0, 1, 2]
    assert TabularEncoder(d_max=8, missing_indicators=False).fit(X).n_features_out_ == 3


@pytest.mark.parametrize(
    "y",
    [
        ["b", "a", "c", "a"],
        [3, 1, 2, 1],
        [True, False, True, False],
        [1.5, 0.5, 2.5, 0.5],
        pd.Series(["b", "a", "c", "a"], dtype="str"),
        pd.Series(pd.Categorical(["b", "a", "c", "a"])),
        np.array([1, "a", 2, "a"], dtype=object),
    ],
)
def test_labels_round_trip(y):
    X = np.arange(8.0).reshape(4, 2)
    enc = TabularEncoder().fit(X, y)
    idx = enc.encode_labels(y)
    assert idx.dtype == np.int64 and idx.min() >= 0 and idx.max() < len(enc.classes_)
    assert list(enc.decode_labels(idx)) == list(y)


def test_mixed_type_labels_keep_their_types():
    enc = TabularEncoder().fit(np.zeros((3, 1)), np.array([1, "1", 2], dtype=object))
    assert len(enc.classes_) == 3
    assert enc.decode_labels(enc.encode_labels(np.array([1], dtype=object)))[0] == 1


def test_unknown_label_raises():
    enc = TabularEncoder().fit(np.zeros((2, 1)), ["a", "b"])
    with pytest.raises(ValueError, match="not seen in fit"):
        enc.encode_labels(["c"])


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (np.array([[1.0, np.inf], [2.0, 3.0]]), [0, 1], "inf"),
        (pd.DataFrame({"a": [1.0, -np.inf]}), [0, 1], "inf in column 'a'"),
        (np.empty((0, 3)), [], "0 samples"),
        (np.empty((3, 0)), [0, 1, 0], "0 features"),
        (np.arange(4.0), [0, 1, 0, 1], "2-D"),
        (pd.Series([1.0, 2.0]), [0, 1], "2-D"),
        (np.zeros((3, 2)), [0, 1], "3 samples but y has 2"),
        (np.zeros((11, 2)), np.arange(11), "at most c_max=10"),
        (np.zeros((2, 2)), [0.0, np.nan], "missing values"),
    ],
)
def test_bad_input_raises_clear_errors(X, y, match):
    with pytest.raises(ValueError, match=match):
        TabularEncoder().fit(X, y)


def test_transform_checks_features():
    enc = TabularEncoder().fit(np.zeros((3, 2)), [0, 1, 0])
    with pytest.raises(ValueError, match="X has 3 features, but TabularEncoder was fitted with 2"):
        enc.transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="inf"):
        enc.transform(np.array([[np.inf, 0.0]]))
    frame_enc = TabularEncoder().fit(pd.DataFrame({"a": [1, 2], "b": [3, 4]}), [0, 1])
    with pytest.raises(ValueError, match="different columns"):
        frame_enc.transform(pd.DataFrame({"a": [1], "c": [2]}))
    # same columns in another order are aligned by name
    x1, _ = frame_enc.transform(pd.DataFrame({"b": [3], "a": [2]}))
    x2, _ = frame_enc.transform(pd.DataFrame({"a": [2], "b": [3]}))
    np.testing.assert_array_equal(x1, x2)


def test_not_fitted_and_bad_params():
    with pytest.raises(ValueError, match="not fitted"):
        TabularEncoder().transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="without y"):
        TabularEncoder().fit(np.zeros((2, 2))).encode_labels([0])
    with pytest.raises(ValueError, match="d_max must be a positive int"):
        TabularEncoder(d_max=0).fit(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="categorical_features"):
        TabularEncoder(categorical_features="all").fit(np.zeros((2, 2)))


def test_categorical_features_forces_numeric_codes_to_categorical():
    X = np.array([[3.0, 0.1], [1.0, 0.2], [3.0, 0.3], [2.0, 0.4]])
    enc = TabularEncoder(d_max=2, categorical_features=[0]).fit(X, [0, 1, 0, 1])
    assert enc.categorical_.tolist() == [True, False]
    x, _ = enc.transform(np.array([[3.0, 0.1], [7.0, 0.1]]))
    assert x[0, 0] < 0 and x[1, 0] == 0.0  # most frequent code lowest; unseen code -> 0
    by_mask = TabularEncoder(d_max=2, categorical_features=np.array([True, False])).fit(X)
    assert by_mask.categorical_.tolist() == [True, False]


def test_encode_task_builds_a_valid_task_and_collates():
    X, y = _mixed_frame(30)
    task = encode_task(
        X.iloc[:20], y[:20], X.iloc[20:], y[20:], d_max=10, c_max=4, name="t", seed=3
    )
    assert isinstance(task, Task) and task.n_classes == 3 and task.seed == 3
    batch = collate_tasks([task, task], c_max=4)
    assert batch.x_support.shape == (2, 20, 10)
    assert batch.feature_mask.sum(1).tolist() == [8, 8]
    perm = encode_task(
        X.iloc[:20], y[:20], X.iloc[20:], y[20:], d_max=10, class_permutation=np.array([2, 0, 1])
    )
    assert torch.equal(perm.y_support, torch.tensor([2, 0, 1])[task.y_support])
    with pytest.raises(ValueError, match="must occur in the support set"):
        encode_task(X.iloc[:2], y[:2], X.iloc[2:5], y[2:5])


# ---------------------------------------------------------------------- property-based tests
_column = st.sampled_from(["float", "int", "bool", "cat", "str", "object"])


@st.composite
def _frames(draw):
    n = draw(st.integers(1, 25))
    kinds = draw(st.lists(_column, min_size=1, max_size=8))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    data = {}
    for j, kind in enumerate(kinds):
        if kind == "float":
            col = pd.Series(rng.normal(size=n) * 10.0 ** rng.integers(-3, 4))
        elif kind == "int":
            col = pd.Series(rng.integers(-5, 5, n))
        elif kind == "bool":
            col = pd.Series(rng.random(n) < 0.5)
        elif kind == "cat":
            col = pd.Series(pd.Categorical(rng.choice(list("abcd"), n)))
        elif kind == "str":
            col = pd.Series(rng.choice(["10-19", "20-29", "30-39"], n), dtype="str")
        else:
            col = pd.Series(rng.choice(["u", "v", "w"], n), dtype=object)
        if draw(st.booleans()):
            col = col.astype(object) if kind in ("int", "bool") else col
            col[rng.random(n) < 0.3] = None if kind != "float" else np.nan
        data[f"c{j}"] = col
    y = rng.choice(np.array(["p", "q", "r"])[: draw(st.integers(1, 3))], n)
    return pd.DataFrame(data), y


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=_frames(), d_max=st.integers(1, 10))
def test_property_encoder_shapes_padding_finite_and_deterministic(frame, d_max):
    X, y = frame
    enc = TabularEncoder(d_max=d_max, c_max=3)
    x, mask = enc.fit_transform(X, y)
    assert x.shape == (len(X), d_max) and x.dtype == np.float32
    assert mask.shape == (d_max,) and mask.dtype == bool
    assert (
        mask.sum() == enc.n_features_out_ == min(d_max, X.shape[1]) + enc.indicator_features_.size
    )
    assert mask[: mask.sum()].all()
    assert np.all(x[:, ~mask] == 0.0)
    assert np.isfinite(x).all()
    assert enc.selected_features_.size == min(d_max, X.shape[1])
    assert list(enc.decode_labels(enc.encode_labels(y))) == list(y)
    x2, mask2 = TabularEncoder(d_max=d_max, c_max=3).fit(X, y).transform(X)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(mask, mask2)


def test_nullable_datetime_and_object_numeric_columns():
    X = pd.DataFrame(
        {
            "int_na": pd.array([1, None, 3, 4], dtype="Int64"),
            "bool_na": pd.array([True, None, False, True], dtype="boolean"),
            "when": pd.to_datetime(["2020-01-01", None, "2021-06-01", "2022-01-01"]),
            "obj_num": pd.Series([1.5, None, 2, 7], dtype=object),
        }
    )
    enc = TabularEncoder(d_max=8).fit(X, [0, 1, 0, 1])
    assert not enc.categorical_.any()
    x, mask = enc.transform(X)
    assert np.isfinite(x).all() and x[1, :4].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert mask.sum() == 8 and x[1, 4:].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_pickle_clone_and_params():
    import pickle

    from sklearn.base import clone

    X, y = _mixed_frame()
    enc = TabularEncoder(d_max=10, random_state=3).fit(X, y)
    again = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(again.transform(X)[0], enc.transform(X)[0])
    fresh = clone(enc)
    assert fresh.get_params() == enc.get_params() and not hasattr(fresh, "classes_")
    assert TabularEncoder().set_params(d_max=4).d_max == 4
    with pytest.raises(ValueError, match="Invalid parameter"):
        TabularEncoder().set_params(width=3)


def test_deterministic_in_another_process():
    import subprocess
    import sys

    code = (
        "import numpy as np; from autometa.tasks import SyntheticPrior;"
        "t = SyntheticPrior().sample(np.random.default_rng(11));"
        "print(float(t.x_support.double().sum()), t.y_query.tolist()[:10])"
    )
    from autometa.tasks import SyntheticPrior

    t = SyntheticPrior().sample(np.random.default_rng(11))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"{float(t.x_support.double().sum())} {t.y_query.tolist()[:10]}"


def test_subsample_uses_random_state():
    X = np.random.default_rng(0).normal(size=(60, 2))
    a = TabularEncoder(subsample=20, random_state=0).fit_transform(X)[0]
    b = TabularEncoder(subsample=20, random_state=0).fit_transform(X)[0]
    c = TabularEncoder(subsample=20, random_state=1).fit_transform(X)[0]
    full = TabularEncoder().fit_transform(X)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, full)
    assert np.isfinite(a).all()


def test_categories_fitted_on_strings_accept_numbers_at_transform():
    enc = TabularEncoder(d_max=2, missing_indicators=False).fit(
        pd.DataFrame({"c": ["a", "b", "a"]})
    )
    x, _ = enc.transform(np.array([[1.0], [2.0]]))
    assert np.all(x == 0.0)  # unseen categories


def test_spacing_columns_are_affine_in_the_values_and_come_last():
    """``spacing=True`` appends, space permitting, a clipped robust z-score per numeric column
    after the missing indicators; off by default, the encoding is unchanged."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"skewed": rng.lognormal(size=40), "cat": rng.choice(["a", "b"], 40), "flat": 3.0}
    )
    X.loc[0, "skewed"] = np.nan
    plain, _ = TabularEncoder(d_max=8).fit_transform(X)
    enc = TabularEncoder(d_max=8, spacing=True)
    x, mask = enc.fit_transform(X)
    assert np.array_equal(x[:, :4], plain[:, :4])  # 3 columns and one indicator, as before
    assert enc.spacing_features_.tolist() == [0]  # numeric and not constant only
    assert enc.get_feature_names_out().tolist() == [
        "skewed",
        "cat",
        "flat",
        "skewed__missing",
        "skewed__z",
    ]
    assert mask.tolist() == [True] * 5 + [False] * 3
    assert np.array_equal(enc.transform(X)[0], x)
    z, values = x[1:, 4], X["skewed"].to_numpy()[1:]
    inside = np.abs(z) < 3.0
    slope = np.polyfit(values[inside], z[inside], 1)  # affine up to the clip
    assert np.allclose(np.polyval(slope, values[inside]), z[inside], atol=1e-5)
    assert x[0, 4] == 0.0 and np.abs(z).max() <= 3.0
    assert TabularEncoder(d_max=4, spacing=True).fit(X).spacing_features_.size == 0  # no room
