"""The in-context member inside AutoMetaClassifier: default, opt-out, limits, determinism, pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from autometa import AutoMetaClassifier
from autometa.estimators import _base
from autometa.estimators._classifier import DEFAULT_MEMBERS


def table(n: int = 60, classes: int = 2, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], n)}
    )
    X.loc[rng.random(n) < 0.1, "a"] = np.nan
    y = np.array([f"k{i}" for i in (np.arange(n) % classes)])
    return X, y


def test_icl_is_a_default_member_and_neural_ones_are_opt_in():
    assert (
        "icl" in DEFAULT_MEMBERS
        and "neural" not in DEFAULT_MEMBERS
        and "hypernet" not in DEFAULT_MEMBERS
    )
    X, y = table()
    clf = AutoMetaClassifier(random_state=0).fit(X, y)
    assert set(clf.members_) <= set(DEFAULT_MEMBERS)
    assert clf.weights_.get("icl", 0.0) > 0.0


def test_icl_alone_predicts_the_users_labels_deterministically():
    X, y = table(classes=3)
    a = AutoMetaClassifier(members=["icl"], random_state=0).fit(X, y)
    b = AutoMetaClassifier(members=["icl"], random_state=0).fit(X, y)
    pa, pb = a.predict_proba(X), b.predict_proba(X)
    assert np.array_equal(pa, pb)
    np.testing.assert_allclose(pa.sum(1), 1.0)
    assert set(a.predict(X)) <= set(y)
    again = pickle.loads(pickle.dumps(a))
    assert np.array_equal(again.predict_proba(X), pa)


def test_more_classes_than_one_pass_are_served_up_to_the_limit(monkeypatch):
    X, y = table(n=120, classes=12)  # 12 > c_max=10: output codes
    clf = AutoMetaClassifier(members=["icl", "lr"], random_state=0).fit(X, y)
    assert set(clf.members_) == {"icl", "lr"}
    assert np.allclose(clf.predict_proba(X).sum(1), 1.0)
    X, y = table(
        n=202, classes=101
    )  # above the member's limit of 100: it leaves, the classical member stays
    monkeypatch.setattr(
        _base, "_NOTED", set()
    )  # the note naming the limit is shown once per process
    with (
        pytest.warns(UserWarning, match="at most 100 classes; y has 101"),
        pytest.raises(ValueError, match="classical member"),
    ):
        AutoMetaClassifier(members=["icl"], random_state=0).fit(X, y)
    assert set(AutoMetaClassifier(members=["icl", "lr"], random_state=0).fit(X, y).members_) == {
        "lr"
    }


def test_a_checkpoint_of_another_learner_is_refused(tmp_path):
    from autometa.estimators._classifier import DEFAULT_CHECKPOINT

    X, y = table()
    with pytest.raises(ValueError, match="not an InContextLearner"):
        AutoMetaClassifier(members=["icl"], in_context_learner=DEFAULT_CHECKPOINT).fit(X, y)
    with pytest.raises(FileNotFoundError, match="No checkpoint at"):
        AutoMetaClassifier(members=["icl"], in_context_learner=tmp_path / "nope.pt").fit(X, y)


def test_predict_scales_with_query_rows_not_support():
    """Query rows are classified independently: a row's probabilities do not depend on its batch."""
    X, y = table(n=80)
    clf = AutoMetaClassifier(members=["icl"], random_state=0).fit(X, y)
    whole = clf.predict_proba(X)
    np.testing.assert_allclose(clf.predict_proba(X.iloc[:5]), whole[:5], atol=1e-6)


def test_members_outside_the_learned_portfolio_are_not_silently_dropped():
    X, y = table()
    with pytest.warns(UserWarning, match="outside it"):
        clf = AutoMetaClassifier(members=["neural", "rf"], random_state=0).fit(X, y)
    assert set(clf.weights_) == {"neural", "rf"}


def test_adapt_steps_zero_turns_test_time_adaptation_off(tmp_path):
    import torch

    from autometa.meta import InContextLearner, InContextTTA, save_meta_learner

    torch.manual_seed(0)
    base = InContextLearner(d_max=8, c_max=4, width=16, depth=1)
    tta = InContextTTA.from_learner(
        base, steps=2
    )  # head init = the base's head, as before meta-training
    base_path = save_meta_learner(base, tmp_path / "base.pt")
    tta_path = save_meta_learner(tta, tmp_path / "tta.pt")
    X, y = table()
    plain = (
        AutoMetaClassifier(members=["icl"], in_context_learner=base_path, random_state=0)
        .fit(X, y)
        .predict_proba(X)
    )
    off = AutoMetaClassifier(
        members=["icl"], in_context_learner=tta_path, adapt_steps=0, random_state=0
    )
    on = AutoMetaClassifier(members=["icl"], in_context_learner=tta_path, random_state=0)
    p_off, p_on = off.fit(X, y).predict_proba(X), on.fit(X, y).predict_proba(X)
    np.testing.assert_allclose(p_off, plain, atol=1e-6)  # no steps: the in-context learner alone
    assert not np.allclose(p_on, plain, atol=1e-4)  # two Meta-LSTM steps move the head
    assert off.members_["icl"].learner.steps == 0 and on.members_["icl"].learner.steps == 2


def test_more_than_ten_classes_by_output_codes_on_a_dev_table():
    """KEEL letter (26 classes, dev): the in-context member alone serves it, far above chance."""
    from sklearn.metrics import roc_auc_score

    from autometa import AutoMetaClassifier
    from autometa.tasks.datasets import load_dev_table

    X, y = load_dev_table("keel/letter")
    rows = np.random.default_rng(0).permutation(len(y))
    train, test = rows[:390], rows[390:790]
    clf = AutoMetaClassifier(members=["icl"], random_state=0).fit(X.iloc[train], y[train])
    assert len(clf.classes_) == 26 and clf.weights_ == {"icl": 1.0}
    proba = clf.predict_proba(X.iloc[test])
    keep = np.isin(y[test], clf.classes_)
    assert roc_auc_score(y[test][keep], proba[keep], multi_class="ovr", labels=clf.classes_) > 0.9
