"""MetaAugmenter: keeps rows, round-trips types, validates, works in an imblearn pipeline."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from autometa.augment import AugmentationPolicy, MetaAugmenter, save_policy
from autometa.augment._resampler import DEFAULT_POLICY_PATH


def _frame(n: int = 40, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "count": rng.integers(0, 7, n),
            "f32": rng.normal(size=n).astype("float32"),
            "cat": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "text": pd.Series(rng.choice(["lo", "hi"], n), dtype="str"),
            "flag": rng.random(n) > 0.5,
        },
        index=np.arange(100, 100 + n),
    )
    y = pd.Series(rng.choice(["no", "yes"], n, p=[0.7, 0.3]), name="label", index=X.index)
    return X, y


def test_default_policy_ships_with_model_card():
    assert DEFAULT_POLICY_PATH.is_file()
    card = json.loads(DEFAULT_POLICY_PATH.with_name("augment_model_card.json").read_text())
    for key in ("sha256", "command", "data", "metrics", "git_commit", "autometa_version"):
        assert key in card
    import hashlib

    assert hashlib.sha256(DEFAULT_POLICY_PATH.read_bytes()).hexdigest() == card["sha256"]
    assert not set(card["data"]["reserved_never_used"]) & set(card["data"]["keel_meta_train"])


def test_dataframe_round_trip_keeps_originals_and_dtypes():
    X, y = _frame()
    X_res, y_res = MetaAugmenter(random_state=0).fit_resample(X, y)
    assert isinstance(X_res, pd.DataFrame) and isinstance(y_res, pd.Series)
    assert list(X_res.columns) == list(X.columns)
    assert X_res.dtypes.to_dict() == X.dtypes.to_dict()
    assert y_res.name == "label" and y_res.dtype == y.dtype
    assert len(X) < len(X_res) <= 3 * len(X) and len(y_res) == len(X_res)
    # every original row is kept, unchanged, first
    pd.testing.assert_frame_equal(X_res.iloc[: len(X)], X.reset_index(drop=True))
    assert (y_res.iloc[: len(y)].to_numpy() == y.to_numpy()).all()
    # categorical/string/bool values of new rows come from the data; label set preserved
    new = X_res.iloc[len(X) :]
    assert set(new["cat"]) <= set(X["cat"]) and set(new["text"]) <= set(X["text"])
    assert set(y_res) == set(y)
    # integers stay within their observed range
    assert new["count"].between(X["count"].min(), X["count"].max()).all()


def test_numpy_round_trip_and_seed():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 4))
    y = np.array([0, 1, 2] * 10)
    a = MetaAugmenter(n_augment=1, random_state=3)
    X1, y1 = a.fit_resample(X, y)
    X2, y2 = clone(a).fit_resample(X, y)
    X3, _ = MetaAugmenter(n_augment=1, random_state=4).fit_resample(X, y)
    assert (
        isinstance(X1, np.ndarray)
        and X1.dtype == X.dtype
        and 30 < X1.shape[0] <= 60
        and X1.shape[1] == 4
    )
    assert np.array_equal(X1[:30], X) and np.array_equal(y1[:30], y)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    # labels of augmented rows are their parents' labels
    assert np.array_equal(y1[30:], y[a.parents_[30:]])
    assert set(a.ops_[30:]) <= set(AugmentationPolicy().ops) - {"identity"}


@pytest.mark.slow
def test_same_output_in_another_process():
    code = (
        "import numpy as np;from autometa.augment import MetaAugmenter;"
        "X=np.arange(60.0).reshape(20,3);y=np.array([0,1]*10);"
        "print(MetaAugmenter(random_state=0).fit_resample(X,y)[0].sum().round(8))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    X = np.arange(60.0).reshape(20, 3)
    y = np.array([0, 1] * 10)
    assert float(out) == MetaAugmenter(random_state=0).fit_resample(X, y)[0].sum().round(8)


def test_hand_policy_checkpoint_and_n_augment_zero(tmp_path):
    X, y = _frame(20)
    Xr, _ = MetaAugmenter(policy={"gaussian_noise": 0.2}, n_augment=1, random_state=0).fit_resample(
        X, y
    )
    assert len(Xr) == 40  # noise always changes a row
    path = save_policy(AugmentationPolicy(n_augment=1), tmp_path / "p.pt")
    aug = MetaAugmenter(policy=str(path), random_state=0)
    Xr, _ = aug.fit_resample(X, y)
    assert 20 < len(Xr) <= 40 and len(aug.ops_) == len(Xr)
    Xr, yr = MetaAugmenter(n_augment=0).fit_resample(X, y)
    assert Xr is X and yr is y


def test_large_data_is_chunked():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(700, 3))
    y = rng.integers(0, 2, 700)
    Xr, yr = MetaAugmenter(n_augment=1, chunk_size=128, random_state=0).fit_resample(X, y)
    assert 700 < Xr.shape[0] <= 1400 and np.array_equal(Xr[:700], X)


def test_in_imblearn_pipeline():
    imblearn = pytest.importorskip("imblearn")
    from sklearn.linear_model import LogisticRegression

    X, y = _frame(60)
    X = X[["num", "count", "f32"]]
    pipe = imblearn.pipeline.make_pipeline(MetaAugmenter(random_state=0), LogisticRegression())
    pipe.fit(X, y)
    assert pipe.predict_proba(X).shape == (60, 2)
    assert pipe.score(X, y) > 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"policy": {"blur": 0.1}}, "Unknown augmentation op 'blur'"),
        ({"policy": {"affine": 0.1}}, "Unknown augmentation op 'affine' for tables"),
        ({"policy": {"smote": -0.2}}, "must be >= 0"),
        ({"policy": {"smote": float("inf")}}, "must be finite"),
        ({"policy": {}}, "at least one"),
        ({"policy": "/no/such/policy.pt"}, "No augmentation policy file"),
        ({"policy": 3}, "policy must be 'default'"),
        ({"n_augment": -1}, "'n_augment' parameter of MetaAugmenter must be an int in the range"),
        ({"chunk_size": 1}, "'chunk_size' parameter of MetaAugmenter must be an int in the range"),
        ({"random_state": -3}, "'random_state' parameter of MetaAugmenter must be"),
        ({"n_jobs": 0}, "n_jobs == 0 has no meaning"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    X, y = _frame(10)
    with pytest.raises(ValueError, match=match):
        MetaAugmenter(**kwargs).fit_resample(X, y)


def test_bad_data_raise():
    X = np.ones((4, 2))
    y = np.array([0, 1, 0, 1])
    aug = MetaAugmenter()
    with pytest.raises(ValueError, match=r"contains infinity in column\(s\) \['1'\]"):
        aug.fit_resample(np.array([[1.0, np.inf]] * 4), y)
    with pytest.raises(ValueError, match=r"contains infinity in column\(s\) \['b'\]"):
        aug.fit_resample(pd.DataFrame({"a": [1.0] * 4, "b": [np.inf] * 4}), y)
    with pytest.raises(ValueError, match="y contains missing values"):
        aug.fit_resample(X, np.array([0, 1, None, 1], dtype=object))
    with pytest.raises(ValueError, match=r"needs at least two classes in y; got one class \('a'\)"):
        aug.fit_resample(X, np.array(["a"] * 4))
    with pytest.raises(ValueError, match="2-dimensional"):
        aug.fit_resample(np.ones(4), y)
    with pytest.raises(ValueError, match="4 rows but y has 3"):
        aug.fit_resample(X, y[:3])
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        aug.fit_resample(np.ones((0, 2)), np.array([]))
    with pytest.raises(ValueError, match="Unknown label type"):
        aug.fit_resample(X, np.array([0.1, 0.2, 0.3, 0.4]))


def _parent_rows(X_res: pd.DataFrame, X: pd.DataFrame, parents: np.ndarray) -> pd.DataFrame:
    return X.reset_index(drop=True).iloc[parents].reset_index(drop=True)


def test_no_added_row_is_an_exact_copy_of_its_parent():
    X, y = _frame(60)
    aug = MetaAugmenter(random_state=0)
    X_res, _ = aug.fit_resample(X, y)
    new = X_res.iloc[len(X) :].reset_index(drop=True)
    parents = _parent_rows(X_res, X, aug.parents_[len(X) :])
    # a copy up to float noise (e.g. a quantile round trip of an identity draw) counts as a copy
    num = ["num", "count", "f32"]
    close = np.isclose(
        new[num].to_numpy(float), parents[num].to_numpy(float), rtol=1e-6, atol=1e-9
    ).all(axis=1)
    rest = [c for c in X.columns if c not in num]
    equal = (
        (new[rest].eq(parents[rest]) | (new[rest].isna() & parents[rest].isna()))
        .all(axis=1)
        .to_numpy()
    )
    assert not (close & equal).any()
    assert "identity" not in set(aug.ops_)
    # without the filter the shipped policy draws mostly identity: the rows it adds are real changes
    assert len(new) > 0


def test_numeric_nan_is_kept_missing_and_augmented_around():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=40),
            "b": rng.normal(size=40),
            "n": pd.array(rng.integers(0, 9, 40), dtype="Int64"),
        }
    )
    X.loc[::4, "a"] = np.nan
    X.loc[1::5, "n"] = pd.NA
    X["empty"] = np.nan
    y = np.array([0, 1] * 20)
    aug = MetaAugmenter(policy={"gaussian_noise": 0.3, "mixup": 0.3}, n_augment=2, random_state=0)
    X_res, y_res = aug.fit_resample(X, y)
    parents = aug.parents_[len(X) :]
    new = X_res.iloc[len(X) :].reset_index(drop=True)
    # a cell missing in the parent stays missing; an observed one stays observed (and finite)
    np.testing.assert_array_equal(new["a"].isna().to_numpy(), X["a"].isna().to_numpy()[parents])
    np.testing.assert_array_equal(new["n"].isna().to_numpy(), X["n"].isna().to_numpy()[parents])
    assert np.isfinite(new["a"].dropna()).all() and new["empty"].isna().all()
    assert X_res.dtypes.to_dict() == X.dtypes.to_dict()
    # observed cells were augmented, not copied
    assert (new["b"].to_numpy() != X["b"].to_numpy()[parents]).mean() > 0.5


def test_random_state_instance_and_none():
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.array([0, 1] * 10)
    a, _ = MetaAugmenter(
        policy={"gaussian_noise": 0.2}, random_state=np.random.RandomState(5)
    ).fit_resample(X, y)
    b, _ = MetaAugmenter(
        policy={"gaussian_noise": 0.2}, random_state=np.random.RandomState(5)
    ).fit_resample(X, y)
    np.testing.assert_array_equal(a, b)
    c, _ = MetaAugmenter(policy={"gaussian_noise": 0.2}).fit_resample(X, y)
    assert c.shape == a.shape
