"""AutoMetaRegressor: real tables, the target transform, the spread, errors that name the problem."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from autometa import AutoMetaRegressor
from autometa.estimators._regressor import REGRESSOR_PORTFOLIO, TargetTransform
from autometa.estimators._shipped import load_shipped
from autometa.meta import InContextRegressionLearner


def _shipped_blend() -> dict | None:
    return load_shipped("regressor_portfolio") if REGRESSOR_PORTFOLIO.is_file() else None


def tiny_learner() -> InContextRegressionLearner:
    torch.manual_seed(0)
    return InContextRegressionLearner(d_max=16, width=16, depth=1, n_bins=8).eval()


@pytest.fixture
def mixed() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 80
    signal = rng.normal(size=n)
    X = pd.DataFrame({
        "num": signal + 0.1 * rng.normal(size=n),
        "cat": pd.Categorical(rng.choice(["red", "green", "blue"], size=n)),
        "flag": rng.random(n) > 0.5,
        "text": np.where(signal > 0, "high", "low").astype(object),
    })  # fmt: skip
    X.loc[[3, 7], "num"] = np.nan
    X.loc[[5], "text"] = None
    return X, 3.0 * signal + 10 + 0.3 * rng.normal(size=n)


def test_fits_a_mixed_frame_and_predicts_in_y_units(mixed):
    X, y = mixed
    reg = AutoMetaRegressor(in_context_learner=None, random_state=0).fit(X[:60], y[:60])
    pred = reg.predict(X[60:])
    assert pred.shape == (20,) and np.all(np.isfinite(pred))
    assert np.corrcoef(pred, y[60:])[0, 1] > 0.8
    scaled = AutoMetaRegressor(in_context_learner=None, random_state=0).fit(X[:60], 1000 * y[:60])
    # scale-equivariant up to the trees' tie-breaks between equal-gain splits on rounded targets
    assert np.max(np.abs(scaled.predict(X[60:]) / 1000 - pred)) < 0.01 * np.std(y)
    assert list(reg.feature_names_in_) == ["num", "cat", "flag", "text"]
    assert abs(sum(reg.weights_.values()) - 1) < 1e-9 and "icl" not in reg.members_


def test_icl_member_plugs_in_and_gives_the_spread(mixed):
    X, y = mixed
    shipped = _shipped_blend()
    auto = AutoMetaRegressor(in_context_learner=tiny_learner(), random_state=0).fit(X[:60], y[:60])
    assert auto.spread_ == (shipped["spread"] if shipped is not None else "icl")
    for spread in ("icl", "oob"):
        reg = AutoMetaRegressor(
            in_context_learner=tiny_learner(), spread=spread, random_state=0
        ).fit(X[:60], y[:60])
        assert "icl" in reg.members_ and reg.spread_ == spread
        q = reg.predict_quantiles(X[60:], [0.9, 0.1, 0.5])
        assert np.all(q[:, 1] <= q[:, 2]) and np.all(q[:, 2] <= q[:, 0])
        mean, std = reg.predict(X[60:], return_std=True)
        assert np.all(std > 0) and mean.shape == std.shape == (20,)
        if spread == "oob":  # one Gaussian scale for every row (in transformed units)
            widths = q[:, 0] - q[:, 1]
            assert np.allclose(widths, widths[0])
    no_icl = AutoMetaRegressor(in_context_learner=None, spread="icl", random_state=0).fit(
        X[:60], y[:60]
    )
    assert no_icl.spread_ == "oob"
    with pytest.raises(ValueError, match="need their learners"):
        AutoMetaRegressor(members=["icl"], in_context_learner=None).fit(X, y)


def test_log_transform_is_chosen_for_skewed_positive_targets_and_inverted():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 2))
    y = np.exp(1.5 * x[:, 0] + 0.2 * rng.normal(size=300))
    assert TargetTransform("auto").fit(y).log_
    assert not TargetTransform("auto").fit(np.log(y)).log_
    t = TargetTransform("log").fit(y)
    assert np.allclose(t.inverse(t.transform(y)), y)
    reg = AutoMetaRegressor(in_context_learner=None, random_state=0).fit(x[:200], y[:200])
    assert reg.target_transform_.log_
    med = reg.predict_quantiles(x[200:], [0.5])[:, 0]
    mean = reg.predict(x[200:])
    assert np.all(mean >= med * 0.999)  # a right-skewed predictive distribution: mean above median
    with pytest.raises(ValueError, match="positive"):
        AutoMetaRegressor(target_transform="log").fit(x[:10], np.linspace(-1, 1, 10))


def test_intervals_are_roughly_calibrated():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(700, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=700)
    reg = AutoMetaRegressor(in_context_learner=None, random_state=0).fit(X[:200], y[:200])
    lo, hi = reg.predict_quantiles(X[200:], [0.1, 0.9]).T
    cover = np.mean((y[200:] >= lo) & (y[200:] <= hi))
    assert 0.65 <= cover <= 0.95, cover


def test_deterministic_pickle_and_threads(mixed):
    X, y = mixed
    a = AutoMetaRegressor(in_context_learner=tiny_learner(), random_state=3).fit(X, y)
    b = AutoMetaRegressor(in_context_learner=tiny_learner(), random_state=3, n_jobs=2).fit(X, y)
    assert np.allclose(a.predict(X), b.predict(X), atol=1e-6)
    again = pickle.loads(pickle.dumps(a))
    assert np.array_equal(
        again.predict_quantiles(X, [0.2, 0.8]), a.predict_quantiles(X, [0.2, 0.8])
    )


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.array(["a", "b"] * 20, dtype=object), "numeric"),
        (np.r_[np.nan, np.ones(39)], "missing or infinite"),
        (np.r_[np.inf, np.ones(39)], "missing or infinite"),
        (np.ones(39), "inconsistent"),
    ],
)
def test_bad_targets_are_explained(y, match):
    X = pd.DataFrame({"a": np.arange(40.0)})
    with pytest.raises(ValueError, match=match):
        AutoMetaRegressor(in_context_learner=None).fit(X, y)


def test_bad_columns_are_named(mixed):
    X, y = mixed
    reg = AutoMetaRegressor(in_context_learner=None, members=["ridge"]).fit(X, y)
    with pytest.raises(ValueError, match="num"):
        reg.predict(X.drop(columns=["num"]))
    bad = X.copy()
    bad["num"] = "oops"
    with pytest.raises(ValueError, match="num"):
        reg.predict(bad)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        reg.predict_quantiles(X, [0.0, 0.5])
    with pytest.raises(ValueError, match="members"):
        AutoMetaRegressor(members=["xgboost"]).fit(X, y)


def test_blend_uses_the_shipped_prior_and_the_task_evidence(mixed):
    shipped = _shipped_blend()
    if shipped is None or "prior" not in shipped:
        pytest.skip("no shipped prior")
    X, y = mixed
    members = sorted(m for m in shipped["members"] if m != "icl")
    prior_only = AutoMetaRegressor(
        in_context_learner=None, members=members, blend="prior", random_state=0
    ).fit(X, y)
    expected = shipped["prior"].prior(prior_only.meta_features_, members)
    assert prior_only.weights_ == pytest.approx(expected) and prior_only.evidence_share_ == 0.0
    # the prior reads the task: other meta-features, other weights
    other = prior_only.meta_features_.copy()
    other[-3:] = [-0.5, -0.5, 0.9]  # a task where only the linear landmarker does well
    assert shipped["prior"].prior(other, members) != pytest.approx(expected, abs=1e-3)
    both = AutoMetaRegressor(in_context_learner=None, members=members, random_state=0).fit(X, y)
    assert both.evidence_share_ == pytest.approx(len(y) / (len(y) + shipped["n0"]))
    assert both.prior_weights_ == pytest.approx(expected)
    assert set(both.oof_predictions_) == set(members)
    uni = AutoMetaRegressor(in_context_learner=None, members=members, blend="uniform").fit(X, y)
    assert list(uni.weights_.values()) == pytest.approx([1 / len(members)] * len(members))


def test_in_context_member_reads_categories_ranked_by_their_mean_target():
    rng = np.random.default_rng(1)
    level = rng.choice(["b", "c", "a"], size=90)
    y = pd.Series(level).map({"a": 3.0, "b": -3.0, "c": 0.0}).to_numpy() + 0.1 * rng.normal(size=90)
    X = pd.DataFrame({"level": level, "noise": rng.normal(size=90)})
    reg = AutoMetaRegressor(members=["icl"], in_context_learner=tiny_learner(), random_state=0).fit(
        X, y
    )
    rows = reg.icl_rows(pd.DataFrame({"level": ["b", "c", "a"], "noise": [0.0, 0.0, 0.0]}))
    col = int(np.flatnonzero(reg.members_["icl"].encoder_.selected_features_ == 0)[0])
    assert rows[0, col] < rows[1, col] < rows[2, col]  # b < c < a, as their targets
    no_icl = AutoMetaRegressor(in_context_learner=None, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="no in-context member"):
        no_icl.icl_rows(X)


def test_several_targets_get_a_clear_error_naming_the_columns_and_the_way_out(mixed):
    X, y = mixed
    Y = pd.DataFrame({"price": y, "demand": -y})
    for target, match in ((Y, "'price', 'demand'"), (Y.to_numpy(), r"shape \(80, 2\)")):
        with pytest.raises(ValueError, match=match) as err:
            AutoMetaRegressor(in_context_learner=None).fit(X, target)
        assert "MultiOutputRegressor" in str(err.value)
    from sklearn.multioutput import MultiOutputRegressor

    both = MultiOutputRegressor(AutoMetaRegressor(in_context_learner=None, random_state=0)).fit(
        X, Y
    )
    assert both.predict(X[:5]).shape == (5, 2)


def test_maml_member_adapts_to_the_training_rows(mixed):
    from autometa.meta import MAMLRegression

    X, y = mixed
    torch.manual_seed(0)
    learner = MAMLRegression(
        net={"kind": "mlp", "d_max": 8, "c_max": 1, "hidden": [16]}, inner_steps=20, inner_lr=0.2
    )
    reg = AutoMetaRegressor(members=["maml"], maml_learner=learner, random_state=0).fit(
        X[:60], y[:60]
    )
    assert list(reg.members_) == ["maml"] and reg.spread_ == "members"
    fitted = reg.predict(X[:60])
    assert (
        np.corrcoef(fitted, y[:60])[0, 1] > 0.5
    )  # 20 steps on the rows move the random init to them
    assert (
        "maml"
        not in AutoMetaRegressor(maml_learner=None, in_context_learner=None).fit(X, y).members_
    )


def test_auto_passes_are_the_learners_own(mixed):
    """``n_ensemble="auto"`` (the regressor's default) reads the shipped v2 learner in one pass and
    a v1 learner in four; an explicit number wins; the out-of-fold variant takes one."""
    X, y = mixed
    reg = AutoMetaRegressor(members=["icl"], random_state=0).fit(X, y)
    assert reg.get_params()["n_ensemble"] == "auto"
    shipped = load_shipped("regressor_in_context")
    assert shipped.inference_passes == 1 and reg._passes(shipped) == 1
    v1 = InContextRegressionLearner(d_max=8)
    assert not hasattr(v1, "inference_passes") and reg._passes(v1) == 4
    assert AutoMetaRegressor(n_ensemble=3)._passes(shipped) == 3
    assert AutoMetaRegressor(n_ensemble=3)._passes(shipped, light=True) == 1
    assert reg.members_["icl"].n_members == 1  # what the fitted member reads
