"""AutoMetaRegressor: a scikit-learn regressor with a meta-learned in-context member and a calibrated spread.

See :class:`AutoMetaRegressor` and ``docs/regressor.md``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d

from autometa._threads import limit_threads
from autometa.estimators._base import LEARNER_SOURCE, AutoMetaEstimator, MemberSpec
from autometa.estimators._bounds import TARGET_MARGIN, InputBounds, TargetBounds
from autometa.estimators._combiner import squared_error
from autometa.estimators._context import FitContext
from autometa.estimators._in_context_regression_member import InContextRegressionMember
from autometa.estimators._maml_regression_member import MAMLRegressionMember
from autometa.estimators._members import ClassicalMember
from autometa.estimators._portfolio import Portfolio
from autometa.estimators._regression_members import REGRESSION_MEMBERS
from autometa.estimators._regression_meta import regression_landmarkers, regression_meta_features
from autometa.estimators._shipped import load_shipped, shipped_path
from autometa.estimators._table import TargetOrder

__all__ = [
    "DEFAULT_REGRESSOR_MEMBERS",
    "REGRESSOR_PORTFOLIO",
    "AutoMetaRegressor",
    "TargetTransform",
]

#: the shipped meta-learned blend weights and spread calibration
REGRESSOR_PORTFOLIO = shipped_path("regressor_portfolio")
#: every member a user may allow; the meta-learned ones are left out when their shipped checkpoint is missing
_MEMBERS: dict[str, MemberSpec] = {
    "icl": MemberSpec("in_context_learner", "regressor_in_context", optional=True),
    "maml": MemberSpec("maml_learner", "regressor_maml", optional=True),
    **{name: MemberSpec() for name in sorted(REGRESSION_MEMBERS)},
}
#: ``members="auto"``: the meta-learned members (when their checkpoints ship) and every classical family
DEFAULT_REGRESSOR_MEMBERS = tuple(_MEMBERS)
#: quantile levels of the grid on which means and standard deviations in the user's units are integrated
_GRID = (np.arange(200) + 0.5) / 200
#: spread scales when no shipped blend calibrated them
_UNCALIBRATED = {"spread": "oob", "spread_scale": {"icl": 1.0, "oob": 1.0}}


class TargetTransform:
    """The per-task target transform: optional log, then standardization (both invertible).

    Parameters
    ----------
    kind : {"auto", "none", "log", "standardize"}
        ``"auto"`` takes the log when every target is positive and the log clearly reduces
        the skewness (skewness above 1 and at least halved); ``"none"`` and ``"standardize"``
        both standardize only (members always see a standardized target); ``"log"`` requires
        positive targets.
    """

    def __init__(self, kind: str = "auto") -> None:
        self.kind = kind

    def fit(self, y: np.ndarray) -> TargetTransform:
        positive = bool(np.all(y > 0))
        if self.kind == "log" and not positive:
            bad = y[y <= 0][:3].tolist()
            raise ValueError(
                f"target_transform='log' needs positive targets; y holds {bad}. Use 'auto' or 'none'."
            )
        self.log_ = self.kind == "log"
        # a (nearly) constant target has no skew: scipy would warn of catastrophic cancellation
        spread = float(np.max(np.abs(y - y.mean()))) if len(y) else 0.0
        if (
            self.kind == "auto"
            and positive
            and len(y) >= 8
            and spread > 1e-6 * abs(float(y.mean()))
        ):
            skew, log_skew = stats.skew(y), stats.skew(np.log(y))
            self.log_ = bool(skew > 1.0 and abs(log_skew) <= skew / 2)
        t = np.log(y) if self.log_ else y
        self.center_ = float(t.mean())
        sd = float(t.std())
        # a constant target: a tiny scale, so that the members' noise around 0 (standardized units)
        # does not come back as spread in the units of y
        self.scale_ = sd if np.isfinite(sd) and sd > 1e-12 else max(1e-12, 1e-9 * abs(self.center_))
        return self

    def transform(self, y: np.ndarray) -> np.ndarray:
        return ((np.log(y) if self.log_ else y) - self.center_) / self.scale_

    def inverse(self, z: np.ndarray) -> np.ndarray:
        t = np.asarray(z) * self.scale_ + self.center_
        return np.exp(np.clip(t, -700, 700)) if self.log_ else t

    @property
    def name(self) -> str:
        return "log+standardize" if self.log_ else "standardize"


class AutoMetaRegressor(RegressorMixin, AutoMetaEstimator):
    """Small-data regressor: a meta-trained in-context learner blended with classical members.

    ``fit`` transforms the target (log for positive, right-skewed targets; then standardized),
    fits the members on the transformed target and blends their predictions with weights
    meta-learned across dev tasks (``regressor_portfolio.json``):

    * ``"icl"``: the in-context regression learner (``regressor_in_context.pt``), a transformer
      meta-trained on a prior of synthetic regression functions and dev tables that reads the
      training rows with their targets and returns, for every new row, a full predictive
      distribution in one forward pass (nothing is fitted per task); an ensemble of
      ``n_ensemble`` feature placements (one for the shipped learner). Left out when no
      checkpoint ships.
    * ``"maml"``: a 2x64 MLP whose initialization was meta-learned by MAML on the same task
      prior (``regressor_maml.pt``), adapted to the training rows by 5 gradient steps.
      Left out when no checkpoint ships.
    * classical members: ``"rf"`` (random forest), ``"et"`` (extra trees), ``"gbm"``
      (histogram gradient boosting with small-data settings), ``"ridge"`` (ridge with
      efficient leave-one-out choice of the penalty), ``"knn"`` (distance-weighted k-NN),
      ``"svr"`` (RBF support vector regression).

    The blend's weights start from a meta-learned prior (a softmax over the members of a linear
    function of the task's meta-features and landmarkers, :mod:`._regression_meta`) and move
    toward greedy ensemble selection on the members' 3-fold out-of-fold predictions, the task's
    evidence weighing ``n / (n + n0)`` with ``n0`` meta-learned (:mod:`._combiner`).

    Predictions are bounded: the linear, distance and kernel members read inputs clipped to
    the training range, and every member's prediction (so the blend and the quantiles too)
    stays within the training targets' range widened by a margin (``target_margin`` in
    ``regressor_portfolio.json``, 0.25 of the range on each side in transformed units, chosen
    on validation tasks); ``predict`` warns once per call when rows lie more than one
    training range outside a column's range. ``extrapolate=True`` lifts both limits.

    The spread (``predict(X, return_std=True)``, :meth:`predict_quantiles`) is by default a
    Gaussian per row, ``sqrt((a * oof_std_)**2 + (b * disagreement)**2)``: the blend's
    out-of-fold residual scale and the members' weighted disagreement on the row, with
    ``a``, ``b`` meta-learned on validation tasks by the 80% interval score
    (:meth:`predict_z_std`). ``spread="icl"`` uses the in-context member's predictive
    distribution re-centred on the blend's mean, ``spread="oob"`` one Gaussian scale for every
    row (the random forest's out-of-bag residuals). Quantiles are mapped back through the
    target transform (exact, as it is monotone); means and standard deviations in the user's
    units are integrated over the predictive distribution (so a log-transformed target's mean
    is a mean, not a median).

    Parameters
    ----------
    members : "auto" or list of str, default="auto"
        Families allowed into the blend (``"auto"``: all of ``icl, maml, et, gbm, knn, rf, ridge, svr``).
    in_context_learner : str, path-like, learner or None, default="default"
        The ``"icl"`` member's learner: ``"default"`` (shipped ``regressor_in_context.pt``), a
        checkpoint path or MLflow URI, an :class:`~autometa.meta.InContextRegressionLearner`,
        or None (leave the member out).
    maml_learner : str, path-like, learner or None, default="default"
        The ``"maml"`` member's learner: ``"default"`` (shipped ``regressor_maml.pt``), a
        checkpoint path or MLflow URI, a :class:`~autometa.meta.MAMLRegression`, or None.
    target_transform : {"auto", "none", "log", "standardize"}, default="auto"
        See :class:`TargetTransform`.
    blend : {"learned", "prior", "evidence", "uniform"}, default="learned"
        ``"learned"``: the meta-learned prior moved by the task's evidence; ``"prior"``: the
        prior alone; ``"evidence"``: greedy selection on out-of-fold predictions from equal
        weights; ``"uniform"``: equal weights (the last three are ablations).
        ``"portfolio"`` is the deprecated name of ``"learned"`` (since 0.1, removed in 0.2;
        a ``FutureWarning``).
    spread : {"auto", "members", "icl", "oob"}, default="auto"
        Where the predictive spread comes from: ``"auto"`` is the shipped blend's choice
        (``"members"``); ``"members"`` the per-row Gaussian above; ``"icl"`` the in-context
        member's predictive distribution (``"oob"`` without an in-context member); ``"oob"`` a
        Gaussian with the random forest's out-of-bag residual scale, the same for every row.
    extrapolate : bool, default=False
        Lift the bounds on inputs and predictions (and the warning).
    n_ensemble : int or "auto", default="auto"
        Feature placements (forward passes) of the in-context member. ``"auto"``: the learner's
        own ``inference_passes``: 1 for the shipped per-cell learner (v2), whose single pass
        scored as well as four on the validation tables (``docs/regressor.md``; predict cost
        is linear in the passes), 4 for a row-token (v1) learner.
    max_samples : int, default=10000
        Larger training sets are randomly subsampled (with a warning).
    random_state : int, RandomState instance or None, default=None
    n_jobs : int or None, default=None
        Threads for ``fit`` and ``predict`` (``None``: 1; ``-1``: all CPUs); the caller's thread
        settings are restored afterwards.
    verbose : int, default=0

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray, only when ``X`` had string column names
    members_ : dict of str to object
    weights_ : dict of str to float
    target_transform_ : TargetTransform
    spread_ : {"members", "icl", "oob"}
        Where the predictive spread comes from.
    spread_scale_ : float
    spread_model_ : dict
        ``a`` and ``b`` of the ``"members"`` spread.
    oof_std_ : float
        The blend's out-of-fold residual scale on the training rows (transformed units).
    prior_weights_, evidence_share_, oof_predictions_
        The combiner's prior weights, the evidence's share ``n / (n + n0)`` and each member's
        out-of-fold predictions on the training rows (transformed units).
    meta_features_ : ndarray
        The task's meta-features the prior read.
    target_bounds_ : TargetBounds or None
        The range predictions stay in (transformed units; None with ``extrapolate=True``).
    oob_std_ : float
        The random forest's out-of-bag residual scale (transformed units): the Gaussian
        spread when ``spread_ == "oob"``.
    target_order_ : TargetOrder
        The order of categorical levels by mean target, which the meta-learned members read.
    table_spec_ : TableSpec
    informative_columns_ : ndarray of int
        Positions of the columns the members read (all-missing columns are left out).

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from autometa import AutoMetaRegressor
    >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
    >>> reg = AutoMetaRegressor(random_state=0).fit(X[:64], y[:64])
    >>> q = reg.predict_quantiles(X[64:66], [0.1, 0.5, 0.9])
    >>> bool((q[:, 0] <= q[:, 1]).all() and (q[:, 1] <= q[:, 2]).all())
    True
    """

    _MEMBERS = _MEMBERS
    _DEFAULT_MEMBERS = DEFAULT_REGRESSOR_MEMBERS
    _BLEND = "regressor_portfolio"
    _SUBSAMPLE = "random"

    _parameter_constraints: ClassVar[dict] = {
        **AutoMetaEstimator._parameter_constraints,
        "in_context_learner": LEARNER_SOURCE,
        "maml_learner": LEARNER_SOURCE,
        "target_transform": [StrOptions({"auto", "none", "log", "standardize"})],
        "blend": [
            StrOptions(
                {"learned", "prior", "evidence", "uniform", "portfolio"}, deprecated={"portfolio"}
            )
        ],
        "spread": [StrOptions({"auto", "members", "icl", "oob"})],
        "extrapolate": ["boolean"],
    }

    def __init__(
        self,
        *,
        members: str | list[str] = "auto",
        in_context_learner: Any = "default",
        maml_learner: Any = "default",
        target_transform: str = "auto",
        blend: str = "learned",
        spread: str = "auto",
        extrapolate: bool = False,
        n_ensemble: int | str = "auto",
        max_samples: int = 10_000,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.members = members
        self.in_context_learner = in_context_learner
        self.maml_learner = maml_learner
        self.target_transform = target_transform
        self.blend = blend
        self.spread = spread
        self.extrapolate = extrapolate
        self.n_ensemble = n_ensemble
        self.max_samples = max_samples
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------ fit (see AutoMetaEstimator)
    def _blend_choice(self) -> str:
        if self.blend != "portfolio":
            return self.blend
        warnings.warn(
            "blend='portfolio' was renamed blend='learned' in 0.1 and will be removed in 0.2; pass blend='learned'.",
            FutureWarning,
            stacklevel=5,
        )
        return "learned"

    def _check_target(self, y: Any, n_rows: int) -> np.ndarray:
        return _check_target(y, n_rows)

    def _subsample(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.sort(rng.choice(len(y), self.max_samples, replace=False))

    def _prepare(self, context: FitContext, y: np.ndarray, seed: int) -> np.ndarray:
        self.target_transform_ = TargetTransform(self.target_transform).fit(y)
        z = self.target_transform_.transform(y)
        # the meta-learned members read categorical levels in the order of their mean target
        self.target_order_ = TargetOrder().fit(context.frame, z, context.table_spec.categorical)
        context.target_order = self.target_order_
        tree, linear, spec = context.matrix("tree"), context.matrix("linear"), context.table_spec
        missing = float(np.isnan(tree).mean()) if tree.size else 0.0
        landmarks = regression_landmarkers(tree, linear, z, seed=seed % (2**31))
        self.meta_features_ = regression_meta_features(
            context.n_rows, spec.n_columns, len(spec.categorical), missing, z, landmarks
        )
        self.input_bounds_ = InputBounds().fit(linear)
        self.raw_bounds_ = InputBounds().fit(tree[:, : len(spec.numeric)])
        shipped = load_shipped(self._BLEND) if shipped_path(self._BLEND).is_file() else {}
        margin = float(shipped.get("target_margin", TARGET_MARGIN))
        self.target_bounds_ = None if self.extrapolate else TargetBounds(margin).fit(z)
        return z

    def _no_member_left(self, context: FitContext) -> str:
        return (
            "No member is left: the meta-learned members need their learners (in_context_learner / "
            "maml_learner), but none is available (None, or no shipped checkpoint). Allow a classical member too."
        )

    @staticmethod
    def _blend_members(shipped: dict[str, Any]) -> Collection[str]:
        return shipped["weights"]

    def _weights(
        self, members: list[str], context: FitContext, learned: dict[str, Any] | None
    ) -> dict[str, float]:
        """The prior: the meta-feature portfolio's weights (a constant vector for an older file)."""
        model = learned.get("prior") if learned is not None else None
        if isinstance(model, Portfolio):
            return model.prior(self.meta_features_, members)
        weights = {m: float(learned["weights"][m]) if learned is not None else 1.0 for m in members}
        total = sum(weights.values())
        return {m: w / total for m, w in weights.items()}

    def _make_member(self, name: str, learner: Any, light: bool = False) -> Any:
        if name == "icl":
            return InContextRegressionMember(learner, n_members=self._passes(learner, light))
        if name == "maml":
            return MAMLRegressionMember(learner)
        return ClassicalMember(REGRESSION_MEMBERS[name], light=light)

    # ------------------------------------------------------------------ the combiner's hooks
    _LOSS = staticmethod(squared_error)

    def _shipped_n0(self, shipped: dict[str, Any] | None) -> float:
        n0 = None if shipped is None else shipped.get("n0")
        return math.inf if n0 is None else float(n0)

    def _cross_fit_wanted(self, n_members: int, target: np.ndarray) -> bool:
        # always: the spread reads the blend's out-of-fold residuals
        return len(target) >= 6

    def _oof_shortcut(self, name: str, member: Any, target: np.ndarray) -> np.ndarray | None:
        oob = (
            getattr(getattr(member, "estimator_", None), "oob_prediction_", None)
            if name == "rf"
            else None
        )
        return (
            np.asarray(oob, dtype=np.float64)
            if oob is not None and np.isfinite(oob).all()
            else None
        )

    def _fold_rows(self, rows: FitContext, fitted_on: FitContext) -> FitContext:
        if not self.extrapolate:
            rows._matrices["linear"] = (
                InputBounds().fit(fitted_on.matrix("linear")).clip(rows.matrix("linear"))
            )
        return rows

    def _output(self, prediction: np.ndarray) -> np.ndarray:
        bounds = getattr(self, "target_bounds_", None)
        return prediction if bounds is None else bounds.clip(prediction)

    def _finish(
        self, context: FitContext, target: np.ndarray, seed: int, shipped: dict[str, Any] | None
    ) -> None:
        calibration = _UNCALIBRATED if shipped is None else {
            "spread": shipped.get("spread", "icl"), "spread_scale": shipped["spread_scale"]}  # fmt: skip
        chosen = calibration["spread"] if self.spread == "auto" else self.spread
        if (chosen == "icl" and "icl" not in self.members_) or (
            chosen == "members" and not self.oof_predictions_
        ):
            chosen = "oob"
        self.spread_ = chosen
        self.spread_scale_ = float(calibration["spread_scale"].get(self.spread_, 1.0))
        self.spread_model_ = dict((shipped or {}).get("spread_model", {"a": 1.0, "b": 1.0}))
        self.oob_std_ = _oob_std(self.members_, context, target, seed)
        if self.oof_predictions_:
            blend = sum(w * self.oof_predictions_[m] for m, w in self.weights_.items())
            self.oof_std_ = float(np.sqrt(np.mean((target - blend) ** 2)))
        else:
            self.oof_std_ = self.oob_std_

    # ------------------------------------------------------------------ predict
    def icl_rows(self, X: Any) -> np.ndarray:
        """The in-context member's input for rows ``X``: encoded rows ``(n, d_max)``.

        Raises
        ------
        ValueError
            When the blend has no in-context member.
        """
        check_is_fitted(self)
        if "icl" not in self.members_:
            raise ValueError(
                "This AutoMetaRegressor has no in-context member ('icl' is not in members_)."
            )
        return self.members_["icl"].encode(self._rows(X))

    def _rows(self, X: Any) -> FitContext:
        """The rows to predict; warns once when some lie far outside the training range, and clips
        the linear, distance and kernel members' inputs into it (unless ``extrapolate``)."""
        context = super()._rows(X)
        if self.extrapolate:
            return context
        spec = context.table_spec
        names = [str(context.frame.columns[j]) for j in spec.numeric]
        message = self.raw_bounds_.describe(context.matrix("tree")[:, : len(names)], names)
        if message:
            low, high = self.target_transform_.inverse(
                np.array([self.target_bounds_.low_, self.target_bounds_.high_])
            )
            warnings.warn(
                f"{message} The linear, distance and kernel members read them clipped to the training range, "
                f"and every prediction stays within [{low:.6g}, {high:.6g}] (the training targets' range "
                f"widened by {self.target_bounds_.margin:g} of its width; extrapolate=True lifts both limits). "
                "Check these rows for data-entry errors.",
                UserWarning,
                stacklevel=3,
            )
        context._matrices["linear"] = self.input_bounds_.clip(context.matrix("linear"))
        return context

    def predict_z_std(self, preds: dict[str, np.ndarray], mean: np.ndarray) -> np.ndarray:
        """The Gaussian spread of each row in transformed units (``spread_`` "members" or "oob").

        ``"members"``: ``sqrt((a * oof_std_)**2 + (b * disagreement)**2)``, ``disagreement`` being
        the weighted standard deviation of the members' predictions ``preds`` around the blend
        ``mean``; ``"oob"``: the random forest's out-of-bag scale times ``spread_scale_``.
        """
        if self.spread_ == "members":
            spread = sum(w * (preds[m] - mean) ** 2 for m, w in self.weights_.items())
            a, b = float(self.spread_model_["a"]), float(self.spread_model_["b"])
            return np.sqrt((a * self.oof_std_) ** 2 + b**2 * spread)
        return np.full(len(mean), self.oob_std_ * self.spread_scale_)

    def _z_quantiles(self, context: FitContext, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Blend mean and quantiles ``(n, len(q))`` in transformed units (within the target bounds)."""
        preds = {
            name: self._output(member.predict(context)) for name, member in self.members_.items()
        }
        mean = sum(w * preds[m] for m, w in self.weights_.items())
        if self.spread_ == "icl":
            probs, borders = self.members_["icl"].predict_distribution(context)
            import torch

            from autometa.functional._bar import bar_mean, bar_quantiles

            p, b = torch.from_numpy(probs), torch.from_numpy(borders)
            centre = bar_mean(p, b).numpy()
            qs = bar_quantiles(p, b, torch.from_numpy(q)).numpy()
            offsets = (qs - centre[:, None]) * self.spread_scale_
        else:
            offsets = stats.norm.ppf(q)[None, :] * self.predict_z_std(preds, mean)[:, None]
        return mean, self._output(mean[:, None] + offsets)

    def predict(
        self, X: Any, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predictive mean (and standard deviation) of each row, in the units of ``y``.

        Parameters
        ----------
        X : array-like or DataFrame
        return_std : bool, default=False
            Also return the predictive standard deviation.
        """
        context = self._rows(X)
        with limit_threads(self.n_jobs):
            t = self.target_transform_
            if not t.log_ and not return_std:
                return t.inverse(self._predict_blend(context))
            mean_z, grid = self._z_quantiles(context, _GRID)
            values = t.inverse(grid)
            mean = values.mean(axis=1) if t.log_ else t.inverse(mean_z)
            if not return_std:
                return mean
            return mean, values.std(axis=1)

    def predict_quantiles(self, X: Any, q: Any) -> np.ndarray:
        """Predictive quantiles of each row at levels ``q`` (each in (0, 1)), in the units of ``y``.

        Returns
        -------
        ndarray of shape (n_samples, len(q)), non-decreasing along the levels.
        """
        check_is_fitted(self)
        q = np.atleast_1d(np.asarray(q, dtype=np.float64))
        if q.ndim != 1 or not np.all((q > 0) & (q < 1)):
            raise ValueError(
                f"q must hold quantile levels strictly between 0 and 1; got {q.tolist()}."
            )
        order = np.argsort(q)
        context = self._rows(X)
        with limit_threads(self.n_jobs):
            _, zq = self._z_quantiles(context, q[order])
        out = np.empty_like(zq)
        out[:, order] = np.maximum.accumulate(self.target_transform_.inverse(zq), axis=1)
        return out


def _oob_std(fitted: dict[str, Any], context: FitContext, z: np.ndarray, seed: int) -> float:
    """The random forest's out-of-bag residual scale (a forest is fitted for it when the blend has none)."""
    rf = fitted.get("rf")
    if rf is None or rf.oob_residual_std(z) is None:
        rf = ClassicalMember(REGRESSION_MEMBERS["rf"]).fit(context, z, seed)
    std = rf.oob_residual_std(z)
    return float(std) if std is not None and np.isfinite(std) and std > 0 else 1.0


def _check_target(y: Any, n_rows: int) -> np.ndarray:
    """``y`` as finite float64 with errors that say what is wrong and where."""
    several = ("AutoMetaRegressor predicts one target; for several, wrap it in "
               "sklearn.multioutput.MultiOutputRegressor (one model per target column).")  # fmt: skip
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(
                f"y must be one column of targets; got a DataFrame with columns {list(y.columns)}. {several}"
            )
        y = y.iloc[:, 0]
    raw = y.to_numpy() if isinstance(y, pd.Series) else np.asarray(y)
    if raw.ndim > 2 or (raw.ndim == 2 and raw.shape[1] != 1):
        raise ValueError(
            f"y must be one column of targets; got an array of shape {raw.shape}. {several}"
        )
    raw = column_or_1d(raw, warn=True)
    if len(raw) != n_rows:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: X has {n_rows} rows, y has {len(raw)}."
        )
    if raw.dtype.kind not in "fiub":
        numeric = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce")
        bad = pd.Series(raw, dtype=object)[numeric.isna() & pd.Series(raw, dtype=object).notna()]
        if len(bad):
            raise ValueError(
                f"y must be numeric for a regressor; got values like {bad.iloc[:3].tolist()}. "
                "For class labels use AutoMetaClassifier."
            )
        raw = numeric.to_numpy()
    y = raw.astype(np.float64)
    bad_rows = np.flatnonzero(~np.isfinite(y))
    if len(bad_rows):
        raise ValueError(
            f"y contains {len(bad_rows)} missing or infinite target(s), e.g. at row(s) {bad_rows[:5].tolist()}; "
            "drop those rows first."
        )
    if n_rows < 2:
        raise ValueError(
            f"{n_rows} sample(s) to train on: a regressor needs at least 2 training rows."
        )
    return y
