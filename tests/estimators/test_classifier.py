"""AutoMetaClassifier behaviour: real inputs, determinism, persistence, limits and bad input."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification

from autometa.estimators import DEFAULT_CHECKPOINT, AutoMetaClassifier

FAST = {"members": ["neural", "lr", "knn"], "n_ensemble": 2, "blend": "uniform"}


def test_dataframe_mixed_columns_nan_and_string_labels(mixed_frame):
    X, y = mixed_frame
    clf = AutoMetaClassifier(random_state=0, **FAST).fit(X, y)
    assert list(clf.classes_) == ["no", "yes"]
    assert list(clf.feature_names_in_) == list(X.columns)
    assert clf.n_features_in_ == 5
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    pred = clf.predict(X)
    assert set(pred) <= {"no", "yes"}
    assert (pred == y).mean() > 0.75  # the label is a noisy function of two columns
    assert (
        set(clf.weights_) <= {"neural", "lr", "knn"} and abs(sum(clf.weights_.values()) - 1) < 1e-9
    )


def test_opt_in_neural_members_use_the_shipped_neural_members(mixed_frame):
    X, y = mixed_frame
    clf = AutoMetaClassifier(
        members=["neural", "hypernet"], blend="uniform", random_state=0, n_ensemble=2
    ).fit(X, y)
    for name in ("neural", "hypernet"):
        assert name in clf.members_ and clf.weights_[name] > 0
    # the Meta-LSTM member ships without a policy (it was never trained: a first-order learner
    # gives it no gradient); the hypernet member carries its meta-learned policy
    assert clf.members_["neural"].learner.algo == "meta-lstm"
    hyper = clf.members_["hypernet"].learner
    assert hyper.algo == "augmented" and hyper.base.algo == "hypernet-maml"
    assert hyper.base.inner_rule == "meta-lstm"


def test_augment_false_adapts_on_the_real_rows_only(mixed_frame):
    X, y = mixed_frame
    kw = {
        "members": ["hypernet"],
        "n_ensemble": 2,
        "random_state": 0,
    }  # the member whose checkpoint has a policy
    a = AutoMetaClassifier(**kw).fit(X, y).predict_proba(X)
    b = AutoMetaClassifier(augment=False, **kw).fit(X, y).predict_proba(X)
    assert not np.allclose(a, b)
    np.testing.assert_allclose(b.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    "labels", [np.array([True, False]), np.array([3, 7]), np.array(["b", "a"], dtype=object)]
)
def test_label_types_round_trip(labels):
    X, y01 = make_classification(40, 4, random_state=1)
    y = labels[y01]
    clf = AutoMetaClassifier(random_state=0, **FAST).fit(X, y)
    pred = clf.predict(X)
    assert pred.dtype == np.asarray(y).dtype or set(pred) <= set(y)
    assert set(pred) <= set(y)


def test_multiclass_more_than_c_max_skips_the_neural_member(monkeypatch):
    from autometa.estimators import _base

    monkeypatch.setattr(
        _base, "_NOTED", set()
    )  # the note naming the limit is shown once per process
    X, y = make_classification(
        120, 8, n_informative=6, n_redundant=0, n_classes=12, n_clusters_per_class=1, random_state=0
    )
    with pytest.warns(UserWarning, match="'neural' member handles at most 10 classes"):
        clf = AutoMetaClassifier(random_state=0, **FAST).fit(X, y)
    assert "neural" not in clf.weights_
    assert clf.predict_proba(X).shape == (120, 12)
    with (
        pytest.warns(UserWarning, match="'hypernet' member"),
        pytest.raises(ValueError, match="allow a classical member"),
    ):
        AutoMetaClassifier(members=["neural", "hypernet"], blend="uniform").fit(X, y)


def test_more_columns_than_d_max():
    X, y = make_classification(40, 45, n_informative=5, random_state=0)
    clf = AutoMetaClassifier(random_state=0, **FAST).fit(X, y)
    assert clf.members_["neural"].encoder_.selected_features_.size == 32
    assert clf.predict_proba(X).shape == (40, 2)


def test_large_inputs_are_subsampled_with_a_warning():
    X, y = make_classification(90, 3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.warns(UserWarning, match="max_samples=60"):
        clf = AutoMetaClassifier(max_samples=60, random_state=0, **FAST).fit(X, y)
    assert clf.predict(X).shape == (90,)


@pytest.mark.slow
def test_deterministic_in_process_and_in_a_fresh_process(tmp_path, mixed_frame):
    X, y = mixed_frame
    X.to_pickle(tmp_path / "X.pkl")
    np.save(tmp_path / "y.npy", y)
    a = AutoMetaClassifier(random_state=3, **FAST).fit(X, y).predict_proba(X)
    b = AutoMetaClassifier(random_state=3, **FAST).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    script = textwrap.dedent(
        f"""
        import numpy as np, pandas as pd
        from autometa.estimators import AutoMetaClassifier
        X = pd.read_pickle({str(tmp_path / "X.pkl")!r}); y = np.load({str(tmp_path / "y.npy")!r})
        p = AutoMetaClassifier(random_state=3, **{FAST!r}).fit(X, y).predict_proba(X)
        np.save({str(tmp_path / "p.npy")!r}, p)
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-W", "ignore", "-c", script], check=True, timeout=300, env=env)
    np.testing.assert_array_equal(a, np.load(tmp_path / "p.npy"))


def test_pickle_and_clone(mixed_frame):
    X, y = mixed_frame
    clf = AutoMetaClassifier(random_state=0, **FAST).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), again.predict_proba(X))
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params()
    assert not hasattr(fresh, "classes_")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda X, y: (X.assign(num=np.where(X.index == 0, np.inf, X["num"])), y), "infinity"),
        (lambda X, y: (X.iloc[:0], y[:0]), "0 sample"),
        (lambda X, y: (X, np.full(len(y), "yes")), "one class"),
        (lambda X, y: (X, y[:-1]), "inconsistent numbers of samples"),
    ],
)
def test_bad_fit_input_messages(mixed_frame, make, match):
    X, y = make(*mixed_frame)
    with pytest.raises(ValueError, match=match):
        AutoMetaClassifier(random_state=0, **FAST).fit(X, y)


def test_bad_predict_input_messages(mixed_frame):
    X, y = mixed_frame
    clf = AutoMetaClassifier(random_state=0, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="Feature names seen at fit time, yet now missing"):
        clf.predict(X.iloc[:, :4])
    Xn = np.nan_to_num(X[["num", "int"]].to_numpy(float))
    clf2 = AutoMetaClassifier(random_state=0, **FAST).fit(Xn, y)
    with pytest.raises(
        ValueError, match="X has 3 features, but AutoMetaClassifier is expecting 2 features"
    ):
        clf2.predict(np.zeros((2, 3)))
    bad = Xn[:3].copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        clf2.predict(bad)
    with pytest.raises(ValueError, match="infinity"):
        clf.predict(X.assign(num=np.inf))


def test_bad_parameters():
    X, y = make_classification(30, 3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.raises(ValueError, match="members"):
        AutoMetaClassifier(members=["neural", "xgboost"]).fit(X, y)
    with pytest.raises(ValueError, match="n_ensemble"):
        AutoMetaClassifier(n_ensemble=0).fit(X, y)
    with pytest.raises(ValueError, match="blend"):
        AutoMetaClassifier(blend="vote").fit(X, y)


def test_corrupt_and_mismatched_checkpoints(tmp_path):
    X, y = make_classification(30, 3, n_informative=2, n_redundant=0, random_state=0)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(DEFAULT_CHECKPOINT.read_bytes()[:500])
    with pytest.raises(ValueError, match="truncated, corrupt"):
        AutoMetaClassifier(meta_learner=bad, members=["neural"]).fit(X, y)
    from autometa.meta import MAML, save_meta_learner

    conv = MAML(net={"kind": "conv4", "image_shape": [1, 8, 8], "c_max": 5, "channels": 4})
    save_meta_learner(conv, tmp_path / "conv.pt")
    with pytest.raises(ValueError, match="cannot drive"):
        AutoMetaClassifier(meta_learner=tmp_path / "conv.pt", members=["neural"]).fit(X, y)
    with pytest.raises(FileNotFoundError):
        AutoMetaClassifier(meta_learner=tmp_path / "missing.pt", members=["neural"]).fit(X, y)


def test_uniform_combination_weights_are_equal(mixed_frame):
    X, y = mixed_frame
    clf = AutoMetaClassifier(random_state=0, **FAST).fit(X, y)  # FAST holds blend="uniform"
    assert clf.weights_ == pytest.approx({"neural": 1 / 3, "lr": 1 / 3, "knn": 1 / 3})


def test_adapt_steps_changes_the_neural_member(mixed_frame):
    X, y = mixed_frame
    kw = {"members": ["neural"], "n_ensemble": 2, "random_state": 0}
    a = AutoMetaClassifier(adapt_steps=1, **kw).fit(X, y).predict_proba(X)
    b = AutoMetaClassifier(adapt_steps=10, **kw).fit(X, y).predict_proba(X)
    assert not np.allclose(a, b)


def test_numpy_object_array_with_strings():
    X = np.array([["a", 1.0], ["b", 2.0], ["a", np.nan], ["c", 4.0]] * 8, dtype=object)
    y = np.array([0, 1, 0, 1] * 8)
    clf = AutoMetaClassifier(random_state=0, **FAST).fit(X, y)
    assert not hasattr(clf, "feature_names_in_")
    assert clf.predict(X).shape == (32,)
    assert isinstance(pd.DataFrame(X).iloc[0, 0], str)


@pytest.mark.parametrize("algo", ["meta-lstm", "hypernet-maml", "anil"])
def test_other_tabular_meta_learners_drive_the_neural_member(tmp_path, algo):
    from autometa.meta import build_learner, save_meta_learner

    learner = build_learner(algo, net={"kind": "mlp", "d_max": 8, "c_max": 3, "hidden": [16]})
    save_meta_learner(learner, tmp_path / f"{algo}.pt")
    X, y = make_classification(40, 4, n_informative=2, n_redundant=0, random_state=0)
    clf = AutoMetaClassifier(
        meta_learner=tmp_path / f"{algo}.pt", members=["neural"], n_ensemble=2, random_state=0
    )
    proba = clf.fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
