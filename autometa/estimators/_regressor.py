"""AutoMetaRegressor: a scikit-learn regressor with a meta-learned in-context member and a calibrated spread.

See :class:`AutoMetaRegressor` and ``docs/regressor.md``.
"""

from __future__ import annotations

import json
import warnings
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_random_state, column_or_1d

from autometa._threads import limit_threads
from autometa.estimators._in_context_regression_member import (
    InContextRegressionMember,
    load_in_context_regressor,
)
from autometa.estimators._maml_regression_member import MAMLRegressionMember, load_maml_regressor
from autometa.estimators._regression_members import REGRESSION_MEMBERS, RegressionMember
from autometa.estimators._table import TableSpec, TargetOrder, informative_columns, validate_frame
from autometa.tasks import TabularEncoder

__all__ = [
    "DEFAULT_REGRESSOR_MEMBERS",
    "REGRESSOR_PORTFOLIO",
    "AutoMetaRegressor",
    "TargetTransform",
    "load_regressor_portfolio",
]

#: the shipped meta-learned blend weights and spread calibration
REGRESSOR_PORTFOLIO = Path(__file__).resolve().parent.parent / "checkpoints" / "regressor_portfolio.json"
_ALL_MEMBERS = ("icl", "maml", *sorted(REGRESSION_MEMBERS))
#: ``members="auto"``: the meta-learned members (when their checkpoints ship) and every classical family
DEFAULT_REGRESSOR_MEMBERS = _ALL_MEMBERS
#: quantile levels of the grid on which means and standard deviations in the user's units are integrated
_GRID = (np.arange(200) + 0.5) / 200
#: the in-context member reads categorical columns as the rank of their levels' mean target
_ICL_TARGET_ORDER = True


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
        if self.kind == "auto" and positive and len(y) >= 8:
            skew, log_skew = stats.skew(y), stats.skew(np.log(y))
            self.log_ = bool(skew > 1.0 and abs(log_skew) <= skew / 2)
        t = np.log(y) if self.log_ else y
        self.center_ = float(t.mean())
        sd = float(t.std())
        self.scale_ = sd if np.isfinite(sd) and sd > 1e-12 else 1.0
        return self

    def transform(self, y: np.ndarray) -> np.ndarray:
        return ((np.log(y) if self.log_ else y) - self.center_) / self.scale_

    def inverse(self, z: np.ndarray) -> np.ndarray:
        t = np.asarray(z) * self.scale_ + self.center_
        return np.exp(np.clip(t, -700, 700)) if self.log_ else t

    @property
    def name(self) -> str:
        return "log+standardize" if self.log_ else "standardize"


class AutoMetaRegressor(RegressorMixin, BaseEstimator):
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
    in_context_learner : "default", None or a learner, default="default"
        The ``"icl"`` member's learner: ``"default"`` (shipped), None (leave the member out),
        a checkpoint path, or an :class:`~autometa.meta.InContextRegressionLearner`.
    maml_learner : "default", None or a learner, default="default"
        The ``"maml"`` member's learner: ``"default"`` (shipped ``regressor_maml.pt``), None
        (leave the member out), a checkpoint path, or a :class:`~autometa.meta.MAMLRegression`.
    target_transform : {"auto", "none", "log", "standardize"}, default="auto"
        See :class:`TargetTransform`.
    blend : {"portfolio", "uniform"}, default="portfolio"
        ``"portfolio"``: the meta-learned weights; ``"uniform"``: equal weights (an ablation).
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

    _parameter_constraints: dict = {
        "members": [StrOptions({"auto"}), list, tuple],
        "in_context_learner": "no_validation",
        "maml_learner": "no_validation",
        "target_transform": [StrOptions({"auto", "none", "log", "standardize"})],
        "blend": [StrOptions({"portfolio", "uniform"})],
        "spread": [StrOptions({"auto", "icl", "oob"})],
        "n_ensemble": [Interval(Integral, 1, None, closed="left")],
        "max_samples": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        members: str | list[str] = "auto",
        in_context_learner: Any = "default",
        maml_learner: Any = "default",
        target_transform: str = "auto",
        blend: str = "portfolio",
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any) -> AutoMetaRegressor:
        """Fit the members on ``(X, y)``.

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n_samples, n_features)
            Numeric, boolean, categorical or string columns; NaN marks missing values.
        y : array-like of shape (n_samples,)
            Numeric targets (finite).

        Returns
        -------
        self : AutoMetaRegressor
        """
        with limit_threads(self.n_jobs) as n_threads:
            return self._fit(X, y, n_threads)

    def _fit(self, X: Any, y: Any, n_threads: int) -> AutoMetaRegressor:
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        df = validate_frame(self, X, reset=True)
        y = _check_target(y, len(df))
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        rng = np.random.default_rng(seed)
        if len(df) > self.max_samples:
            warnings.warn(
                f"{len(df)} training rows exceed max_samples={self.max_samples}; fitting on a random subsample "
                f"of {self.max_samples} rows.",
                UserWarning,
                stacklevel=2,
            )
            keep = np.sort(rng.choice(len(df), self.max_samples, replace=False))
            df, y = df.iloc[keep].reset_index(drop=True), y[keep]
        self._informative = informative_columns(df)
        df = df.iloc[:, self._informative]
        transform = TargetTransform(self.target_transform).fit(y)
        z = transform.transform(y)
        members = self._allowed_members()
        learner = self._learner() if "icl" in members else None
        if learner is None:
            members = [m for m in members if m != "icl"]
        maml = self._maml() if "maml" in members else None
        if maml is None:
            members = [m for m in members if m != "maml"]
        if not members:
            raise ValueError(
                "No member is left: the meta-learned members need their learners (in_context_learner / "
                "maml_learner), but none is available (None, or no shipped checkpoint). Allow a classical member too."
            )
        portfolio = self._portfolio(members)
        weights = {m: float(portfolio["weights"][m]) for m in members}
        total = sum(weights.values())
        weights = {m: w / total for m, w in weights.items()}
        spec = TableSpec().fit(df)
        matrices = {"tree": spec.tree_matrix(df), "linear": spec.linear_matrix(df)}
        fitted: dict[str, Any] = {}
        # the meta-learned members read categorical levels in the order of their mean target
        self.icl_categories_ = TargetOrder().fit(df, z, spec.categorical) if _ICL_TARGET_ORDER else None
        ordered = self.icl_categories_.transform(df) if self.icl_categories_ is not None else df
        for name in sorted(weights):
            member_seed = int(rng.integers(np.iinfo(np.int32).max))
            if name == "icl":
                self.icl_encoder_ = TabularEncoder(d_max=learner.d_max, c_max=2).fit(ordered)
                xs, fm = self.icl_encoder_.transform(ordered)
                fitted[name] = InContextRegressionMember(
                    learner, n_members=self.n_ensemble, random_state=member_seed
                ).fit(xs, fm, z)
            elif name == "maml":
                self.maml_encoder_ = TabularEncoder(d_max=maml.d_max, c_max=2).fit(ordered)
                xs, fm = self.maml_encoder_.transform(ordered)
                fitted[name] = MAMLRegressionMember(maml).fit(xs, fm, z)
            else:
                fitted[name] = RegressionMember(REGRESSION_MEMBERS[name]).fit(matrices, z, member_seed, n_jobs=n_threads)
        chosen = portfolio["spread"] if self.spread == "auto" else self.spread
        self.spread_ = chosen if "icl" in fitted else "oob"
        self.spread_scale_ = float(portfolio["spread_scale"][self.spread_])
        self.oob_std_ = self._oob_std(fitted, matrices, z, seed)
        self.table_spec_ = spec
        self.members_ = fitted
        self.weights_ = weights
        self.target_transform_ = transform
        if self.verbose:
            print("[AutoMetaRegressor] weights: " + ", ".join(f"{k}={v:.3f}" for k, v in weights.items()))
        return self

    def _learner(self) -> Any:
        source = self.in_context_learner
        if source is None:
            return None
        if isinstance(source, (str, Path)):
            return load_in_context_regressor(source)
        return source  # a learner object

    def _maml(self) -> Any:
        source = self.maml_learner
        if source is None:
            return None
        if isinstance(source, (str, Path)):
            return load_maml_regressor(source)
        return source  # a learner object

    def _allowed_members(self) -> list[str]:
        if isinstance(self.members, str):
            return list(DEFAULT_REGRESSOR_MEMBERS)
        members = list(self.members)
        unknown = sorted(set(members) - set(_ALL_MEMBERS))
        if unknown or not members:
            raise ValueError(
                f"members must be 'auto' or a non-empty list drawn from {list(_ALL_MEMBERS)}; got {self.members!r}."
            )
        return sorted(set(members), key=_ALL_MEMBERS.index)

    def _portfolio(self, members: list[str]) -> dict[str, Any]:
        uniform = {"weights": dict.fromkeys(members, 1.0), "spread": "icl", "spread_scale": {"icl": 1.0, "oob": 1.0}}
        shipped = load_regressor_portfolio()
        if shipped is None:
            if self.blend == "portfolio":
                warnings.warn(f"The shipped blend {REGRESSOR_PORTFOLIO} is missing; combining members uniformly.",
                              UserWarning, stacklevel=3)  # fmt: skip
            return uniform
        scales = {"spread": shipped.get("spread", "icl"), "spread_scale": shipped["spread_scale"]}
        if self.blend == "uniform" or len(members) == 1:
            return {**uniform, **scales}
        outside = [m for m in members if m not in shipped["weights"]]
        if outside:
            warnings.warn(
                f"The shipped blend weighs {sorted(shipped['weights'])}; the members {outside} are outside it, so "
                "the members are combined uniformly. Pass blend='uniform' to silence this.",
                UserWarning,
                stacklevel=3,
            )
            return {**uniform, **scales}
        return {"weights": shipped["weights"], **scales}

    @staticmethod
    def _oob_std(fitted: dict[str, Any], matrices: dict[str, np.ndarray], z: np.ndarray, seed: int) -> float:
        rf = fitted.get("rf")
        if rf is None or rf.oob_residual_std(z) is None:
            rf = RegressionMember(REGRESSION_MEMBERS["rf"]).fit(matrices, z, seed)
        std = rf.oob_residual_std(z)
        return float(std) if std is not None and np.isfinite(std) and std > 0 else 1.0

    # ------------------------------------------------------------------ predict
    def _member_predictions(self, X: Any) -> tuple[np.ndarray, np.ndarray | None, Any]:
        """Blend mean (transformed units), the icl encoded rows (or None) and the icl member."""
        df = validate_frame(self, X, reset=False)
        df = df.iloc[:, self._informative]
        matrices = {"tree": self.table_spec_.tree_matrix(df), "linear": self.table_spec_.linear_matrix(df)}
        mean = np.zeros(len(df))
        xq = None
        for name, w in self.weights_.items():
            member = self.members_[name]
            if name == "icl":
                xq = self._icl_rows(df)
                mean += w * member.predict(xq)
            elif name == "maml":
                mean += w * member.predict(self._maml_rows(df))
            else:
                mean += w * member.predict(matrices)
        return mean, xq, self.members_.get("icl")

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
        return self._icl_rows(validate_frame(self, X, reset=False).iloc[:, self._informative])

    def _maml_rows(self, df: pd.DataFrame) -> np.ndarray:
        if self.icl_categories_ is not None:
            df = self.icl_categories_.transform(df)
        return self.maml_encoder_.transform(df)[0]

    def _icl_rows(self, df: pd.DataFrame) -> np.ndarray:
        if self.icl_categories_ is not None:
            df = self.icl_categories_.transform(df)
        return self.icl_encoder_.transform(df)[0]

    def member_predictions(self, X: Any) -> dict[str, np.ndarray]:
        """Each member's predictions for ``X`` in the transformed target units (see ``target_transform_``)."""
        check_is_fitted(self)
        df = validate_frame(self, X, reset=False).iloc[:, self._informative]
        matrices = {"tree": self.table_spec_.tree_matrix(df), "linear": self.table_spec_.linear_matrix(df)}
        out = {}
        with limit_threads(self.n_jobs):
            for name, member in self.members_.items():
                if name == "icl":
                    out[name] = member.predict(self._icl_rows(df))
                elif name == "maml":
                    out[name] = member.predict(self._maml_rows(df))
                else:
                    out[name] = member.predict(matrices)
        return out

    def _z_quantiles(self, X: Any, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Blend mean and quantiles ``(n, len(q))`` in transformed units."""
        mean, xq, icl = self._member_predictions(X)
        if self.spread_ == "icl":
            probs, borders = icl.predict_distribution(xq)
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
        check_is_fitted(self)
        with limit_threads(self.n_jobs):
            t = self.target_transform_
            if not t.log_ and not return_std:
                mean, _, _ = self._member_predictions(X)
                return t.inverse(mean)
            _, grid = self._z_quantiles(X, _GRID)
            values = t.inverse(grid)
            if t.log_:
                mean = values.mean(axis=1)
            else:
                mean = t.inverse(self._member_predictions(X)[0])
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
        with limit_threads(self.n_jobs):
            _, zq = self._z_quantiles(X, q[order])
        out = np.empty_like(zq)
        out[:, order] = np.maximum.accumulate(self.target_transform_.inverse(zq), axis=1)
        return out


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


_PORTFOLIO_CACHE: dict[float, dict[str, Any]] = {}


def load_regressor_portfolio(path: Path = REGRESSOR_PORTFOLIO) -> dict[str, Any] | None:
    """The shipped blend (``weights``, ``spread_scale``, ``info``), or None when the file is missing."""
    if not path.is_file():
        return None
    mtime = path.stat().st_mtime
    if mtime not in _PORTFOLIO_CACHE:
        _PORTFOLIO_CACHE.clear()
        _PORTFOLIO_CACHE[mtime] = json.loads(path.read_text())
    return _PORTFOLIO_CACHE[mtime]
