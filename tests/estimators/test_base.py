"""The shared estimator base: both estimators validate their shared parameters alike, the old
parameter names still work with a FutureWarning, and every shipped file loads one way."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.utils._param_validation import InvalidParameterError

from autometa.estimators import AutoMetaClassifier, AutoMetaRegressor
from autometa.estimators._base import AutoMetaEstimator
from autometa.estimators._shipped import SHIPPED, load_learner, load_shipped, shipped_path

#: each estimator with classical members only (fast) and data it fits
CASES = {
    "classifier": (AutoMetaClassifier, ["lr", "knn"]),
    "regressor": (AutoMetaRegressor, ["ridge", "knn"]),
}
SHARED = ("members", "blend", "n_ensemble", "max_samples", "random_state", "n_jobs", "verbose")


def _data(kind: str):
    X, y = make_classification(40, 4, n_informative=2, n_redundant=0, random_state=0)
    return (X, y) if kind == "classifier" else (X, X[:, 0] * 2.0 + y)


@pytest.fixture(params=sorted(CASES))
def case(request):
    cls, members = CASES[request.param]
    X, y = _data(request.param)
    return cls, members, X, y


def test_both_estimators_share_the_base_and_its_parameters():
    for cls, _ in CASES.values():
        assert issubclass(cls, AutoMetaEstimator)
        params = cls().get_params()
        assert set(SHARED) <= set(params)
        assert params["blend"] == "learned" and params["members"] == "auto"
        for name in SHARED:
            assert (
                cls._parameter_constraints[name] == AutoMetaEstimator._parameter_constraints[name]
                or name == "blend"
            )


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"blend": "vote"}, InvalidParameterError, "'blend' parameter"),
        ({"n_ensemble": 0}, InvalidParameterError, "'n_ensemble' parameter"),
        ({"n_ensemble": "many"}, InvalidParameterError, "'n_ensemble' parameter"),
        ({"max_samples": 1}, InvalidParameterError, "'max_samples' parameter"),
        ({"n_jobs": "two"}, InvalidParameterError, "'n_jobs' parameter"),
        ({"members": "all"}, InvalidParameterError, "'members' parameter"),
        ({"members": ["knn", "xgboost"]}, ValueError, "members must be 'auto' or a non-empty list"),
        ({"members": []}, ValueError, "members must be 'auto' or a non-empty list"),
        ({"in_context_learner": 3}, InvalidParameterError, "'in_context_learner' parameter"),
        ({"in_context_learner": object()}, InvalidParameterError, "'in_context_learner' parameter"),
    ],
)
def test_shared_parameters_validate_the_same_way(case, params, error, match):
    cls, _, X, y = case
    with pytest.raises(error, match=match):
        cls(**params).fit(X, y)


def test_learner_sources_are_loaded_and_checked_the_same_way(case, tmp_path):
    cls, members, X, y = case
    with pytest.raises(FileNotFoundError, match="No checkpoint at"):
        cls(members=["icl", *members], in_context_learner=tmp_path / "nope.pt").fit(X, y)
    # a learner of the other estimator's kind is refused with the kind it needed
    other = "regressor_in_context" if cls is AutoMetaClassifier else "classifier_in_context"
    with pytest.raises(ValueError, match="holds a .*, not an InContext"):
        cls(members=["icl", *members], in_context_learner=shipped_path(other)).fit(X, y)
    # None leaves the member out (and only it)
    fitted = cls(members=["icl", *members], in_context_learner=None, random_state=0).fit(X, y)
    assert set(fitted.members_) == set(members)
    with pytest.raises(ValueError, match="classical member"):
        cls(members=["icl"], in_context_learner=None).fit(X, y)


def test_uniform_blend_gives_equal_weights_and_members_are_fitted_in_name_order(case):
    cls, members, X, y = case
    est = cls(members=members, blend="uniform", random_state=0).fit(X, y)
    assert list(est.weights_) == [
        m for m in cls._MEMBERS if m in members
    ]  # the estimator's member order
    assert est.weights_ == pytest.approx(dict.fromkeys(members, 1 / len(members)))
    assert list(est.members_) == sorted(members)
    assert est.informative_columns_.tolist() == [0, 1, 2, 3]
    assert est.column_names_ == ["0", "1", "2", "3"]


def test_classifier_combination_is_deprecated_but_still_works():
    X, y = _data("classifier")
    old = AutoMetaClassifier(members=["lr", "knn", "rf"], combination="uniform", random_state=0)
    assert old.get_params()["combination"] == "uniform"
    assert clone(old).get_params() == old.get_params()
    with pytest.warns(FutureWarning, match="'combination' was renamed 'blend'"):
        old.fit(X, y)
    new = AutoMetaClassifier(members=["lr", "knn", "rf"], blend="uniform", random_state=0).fit(X, y)
    assert old.weights_ == new.weights_
    np.testing.assert_array_equal(old.predict_proba(X), new.predict_proba(X))
    with pytest.raises(InvalidParameterError, match="'combination' parameter"):
        AutoMetaClassifier(combination="vote").fit(X, y)


def test_regressor_blend_portfolio_is_deprecated_but_still_works():
    X, y = _data("regressor")
    members = sorted(
        m for m in load_shipped("regressor_portfolio")["weights"] if m not in ("icl", "maml")
    )[:3]
    old = AutoMetaRegressor(members=members, blend="portfolio", random_state=0)
    assert clone(old).get_params()["blend"] == "portfolio"
    with pytest.warns(FutureWarning, match="blend='portfolio' was renamed blend='learned'"):
        old.fit(X, y)
    new = AutoMetaRegressor(members=members, random_state=0).fit(X, y)
    assert (
        old.weights_ == new.weights_ and len(set(new.weights_.values())) > 1
    )  # learned, not uniform
    np.testing.assert_array_equal(old.predict(X), new.predict(X))


def test_the_current_names_do_not_warn(case):
    cls, members, X, y = case
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        cls(members=members, blend="uniform", random_state=0).fit(X, y)


# ---------------------------------------------------------------------------- load_shipped
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_file_loads_once(name):
    first = load_shipped(name)
    assert load_shipped(name) is first  # one cache for every kind
    assert load_learner("default", name) is first


def test_a_missing_shipped_file_names_itself_and_its_rebuild_command(monkeypatch):
    for name, entry in SHIPPED.items():
        monkeypatch.setitem(SHIPPED, name, dataclasses.replace(entry, file="missing-" + entry.file))
        with pytest.raises(
            FileNotFoundError, match=f"missing-{entry.file}.*rebuild it with `{entry.rebuild}`"
        ):
            load_shipped(name)
    with pytest.raises(KeyError, match="No shipped file is called 'nope'"):
        load_shipped("nope")


def test_missing_meta_learned_checkpoints_leave_the_regressor_member_out_but_fail_the_classifier(
    monkeypatch,
):
    for name in ("regressor_maml", "classifier_neural"):
        monkeypatch.setitem(SHIPPED, name, dataclasses.replace(SHIPPED[name], file="missing.pt"))
    X, y = _data("regressor")
    reg = AutoMetaRegressor(members=["maml", "ridge"], blend="uniform", random_state=0).fit(X, y)
    assert set(reg.members_) == {"ridge"}
    X, y = _data("classifier")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        AutoMetaClassifier(members=["neural", "lr"]).fit(X, y)


def test_a_context_subset_reads_what_a_context_of_those_rows_would(mixed_frame):
    from autometa.estimators._context import FitContext
    from autometa.estimators._table import TableSpec, TargetOrder

    X, _ = mixed_frame
    spec = TableSpec().fit(X)
    order = TargetOrder().fit(X, np.arange(len(X), dtype=float), spec.categorical)
    whole = FitContext(X, spec, target_order=order)
    whole.matrix("tree"), whole.matrix("linear")  # computed, so the subset slices them
    rows = np.array([5, 1, 30, 7])
    sub, fresh = (
        whole.take(rows),
        FitContext(X.iloc[rows].reset_index(drop=True), spec, target_order=order),
    )
    for kind in ("tree", "linear"):
        np.testing.assert_array_equal(sub.matrix(kind), fresh.matrix(kind))
    pd.testing.assert_frame_equal(sub.ordered, fresh.ordered)
    assert sub.n_rows == 4 and sub.table_spec is spec
