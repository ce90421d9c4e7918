"""AutoMetaRegressor: a scikit-learn regressor with a meta-learned in-context member and a calibrated spread.

See :class:`AutoMetaRegressor` and ``docs/regressor.md``.
"""

from __future__ import annotations

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
from autometa.estimators._context import FitContext
from autometa.estimators._in_context_regression_member import InContextRegressionMember
from autometa.estimators._maml_regression_member import MAMLRegressionMember
from autometa.estimators._members import ClassicalMember
from autometa.estimators._regression_members import REGRESSION_MEMBERS
from autometa.estimators._shipped import shipped_path
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
_UNCALIBRATED = {"spread": "icl", "spread_scale": {"icl": 1.0, "oob": 1.0}}


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
            raise ValueError(f"target_transform='log' needs positive targets; y holds {bad}. Use 'auto' or 'none'.")
        self.log_ = self.kind == "log"
        # a (nearly) constant target has no skew: scipy would warn of catastrophic cancellation
        spread = float(np.max(np.abs(y - y.mean()))) if len(y) else 0.0
        if self.kind == "auto" and positive and len(y) >= 8 and spread > 1e-6 * abs(float(y.mean())):
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
      ``n_ensemble`` feature placements. Left out when no checkpoint ships.
    * ``"maml"``: a 2x64 MLP whose initialization was meta-learned by MAML on the same task
      prior (``regressor_maml.pt``), adapted to the training rows by 5 gradient steps.
      Left out when no checkpoint ships.
    * classical members: ``"rf"`` (random forest), ``"et"`` (extra trees), ``"gbm"``
      (histogram gradient boosting with small-data settings), ``"ridge"`` (ridge with
      efficient leave-one-out choice of the penalty), ``"knn"`` (distance-weighted k-NN),
      ``"svr"`` (RBF support vector regression).

    The spread (``predict(X, return_std=True)``, :meth:`predict_quantiles`) is either the
    in-context member's predictive distribution re-centred on the blend's mean, or a Gaussian
    with the random forest's out-of-bag residual scale (always so without the in-context
    member). The shipped blend says which (``spread`` in ``regressor_portfolio.json``: the
    source whose calibrated 80% intervals scored best on meta-validation tables left out of
    the calibration), and either is multiplied by a meta-learned factor that made 80%
    intervals cover 80% of held-out targets on the meta-validation tasks. Quantiles are mapped back through the target transform (exact,
    as it is monotone); means and standard deviations in the user's units are integrated over
    the predictive distribution (so a log-transformed target's mean is a mean, not a median).

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
    blend : {"learned", "uniform"}, default="learned"
        ``"learned"``: the meta-learned weights; ``"uniform"``: equal weights (an ablation).
        ``"portfolio"`` is the deprecated name of ``"learned"`` (since 0.1, removed in 0.2;
        a ``FutureWarning``).
    spread : {"auto", "icl", "oob"}, default="auto"
        Where the predictive spread comes from: ``"auto"`` is the shipped blend's choice;
        ``"icl"`` the in-context member's predictive distribution (its width varies from row to
        row); ``"oob"`` a Gaussian with the random forest's out-of-bag residual scale. Without an
        in-context member it is always ``"oob"``.
    n_ensemble : int, default=4
        Feature placements of the in-context member.
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
    spread_ : {"icl", "oob"}
        Where the predictive spread comes from.
    spread_scale_ : float
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
        "blend": [StrOptions({"learned", "uniform", "portfolio"}, deprecated={"portfolio"})],
        "spread": [StrOptions({"auto", "icl", "oob"})],
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
        n_ensemble: int = 4,
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
        return z

    def _no_member_left(self, context: FitContext) -> str:
        return (
            "No member is left: the meta-learned members need their learners (in_context_learner / "
            "maml_learner), but none is available (None, or no shipped checkpoint). Allow a classical member too."
        )

    @staticmethod
    def _blend_members(shipped: dict[str, Any]) -> Collection[str]:
        return shipped["weights"]

    def _weights(self, members: list[str], context: FitContext, learned: dict[str, Any] | None) -> dict[str, float]:
        weights = {m: float(learned["weights"][m]) if learned is not None else 1.0 for m in members}
        total = sum(weights.values())
        return {m: w / total for m, w in weights.items()}

    def _make_member(self, name: str, learner: Any) -> Any:
        if name == "icl":
            return InContextRegressionMember(learner, n_members=self.n_ensemble)
        if name == "maml":
            return MAMLRegressionMember(learner)
        return ClassicalMember(REGRESSION_MEMBERS[name])

    def _finish(self, context: FitContext, target: np.ndarray, seed: int, shipped: dict[str, Any] | None) -> None:
        calibration = _UNCALIBRATED if shipped is None else {
            "spread": shipped.get("spread", "icl"), "spread_scale": shipped["spread_scale"]}  # fmt: skip
        chosen = calibration["spread"] if self.spread == "auto" else self.spread
        self.spread_ = chosen if "icl" in self.members_ else "oob"
        self.spread_scale_ = float(calibration["spread_scale"][self.spread_])
        self.oob_std_ = _oob_std(self.members_, context, target, seed)

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
            raise ValueError("This AutoMetaRegressor has no in-context member ('icl' is not in members_).")
        return self.members_["icl"].encode(self._rows(X))

    def _z_quantiles(self, context: FitContext, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Blend mean and quantiles ``(n, len(q))`` in transformed units."""
        mean = self._predict_blend(context)
        if self.spread_ == "icl":
            probs, borders = self.members_["icl"].predict_distribution(context)
            import torch

            from autometa.functional._bar import bar_mean, bar_quantiles

            p, b = torch.from_numpy(probs), torch.from_numpy(borders)
            centre = bar_mean(p, b).numpy()
            qs = bar_quantiles(p, b, torch.from_numpy(q)).numpy()
            offsets = (qs - centre[:, None]) * self.spread_scale_
        else:
            offsets = stats.norm.ppf(q)[None, :] * self.oob_std_ * self.spread_scale_ * np.ones((len(mean), 1))
        return mean, mean[:, None] + offsets

    def predict(self, X: Any, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
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
            _, grid = self._z_quantiles(context, _GRID)
            values = t.inverse(grid)
            if t.log_:
                mean = values.mean(axis=1)
            else:
                mean = t.inverse(self._predict_blend(context))
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
            raise ValueError(f"q must hold quantile levels strictly between 0 and 1; got {q.tolist()}.")
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
            raise ValueError(f"y must be one column of targets; got a DataFrame with columns {list(y.columns)}. {several}")
        y = y.iloc[:, 0]
    raw = y.to_numpy() if isinstance(y, pd.Series) else np.asarray(y)
    if raw.ndim > 2 or (raw.ndim == 2 and raw.shape[1] != 1):
        raise ValueError(f"y must be one column of targets; got an array of shape {raw.shape}. {several}")
    raw = column_or_1d(raw, warn=True)
    if len(raw) != n_rows:
        raise ValueError(f"X and y have inconsistent numbers of samples: X has {n_rows} rows, y has {len(raw)}.")
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
        raise ValueError(f"{n_rows} sample(s) to train on: a regressor needs at least 2 training rows.")
    return y
