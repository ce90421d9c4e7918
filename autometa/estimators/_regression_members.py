"""The classical members of :class:`~autometa.estimators.AutoMetaRegressor`.

Each member is a :class:`~autometa.estimators._members.MemberRecipe` (which design matrix of
:class:`~autometa.estimators._table.TableSpec` it reads, and a factory whose settings behave
at 32 rows as well as at 10,000). Members are fitted on the *transformed* target (standardized,
after a log for skewed positive targets), so their hyperparameters need no per-task scale.
"""

from __future__ import annotations

import numpy as np

from autometa.estimators._members import MemberRecipe

__all__ = ["REGRESSION_MEMBERS", "RegressionMember"]


def _rf(n: int, _: int, seed: int):
    from sklearn.ensemble import RandomForestRegressor

    # out-of-bag predictions give the fallback spread (see AutoMetaRegressor)
    return RandomForestRegressor(n_estimators=100 if n <= 256 else 64, max_features=0.5, oob_score=n >= 8,
                                 n_jobs=1, random_state=seed)  # fmt: skip


def _et(n: int, _: int, seed: int):
    from sklearn.ensemble import ExtraTreesRegressor

    return ExtraTreesRegressor(n_estimators=100, max_features=0.7, n_jobs=1, random_state=seed)


def _gbm(n: int, _: int, seed: int):
    from sklearn.ensemble import HistGradientBoostingRegressor

    # HistGradientBoosting's defaults (min_samples_leaf=20) cannot split at 32 rows.
    return HistGradientBoostingRegressor(
        learning_rate=0.1, max_iter=60, max_leaf_nodes=15, min_samples_leaf=max(3, min(20, n // 25)),
        l2_regularization=1.0, early_stopping=False, random_state=seed,
    )  # fmt: skip


def _ridge(n: int, _: int, seed: int):
    from sklearn.linear_model import RidgeCV

    return RidgeCV(alphas=np.logspace(-2, 3, 11))


def _knn(n: int, _: int, seed: int):
    from sklearn.neighbors import KNeighborsRegressor

    return KNeighborsRegressor(n_neighbors=int(np.clip(round(np.sqrt(n)), 3, 15)), weights="distance")


def _svr(n: int, _: int, seed: int):
    from sklearn.svm import SVR

    return SVR(C=1.0, epsilon=0.1, gamma="scale")


REGRESSION_MEMBERS: dict[str, MemberRecipe] = {
    "et": MemberRecipe("et", "tree", _et),
    "gbm": MemberRecipe("gbm", "tree", _gbm),
    "knn": MemberRecipe("knn", "linear", _knn),
    "rf": MemberRecipe("rf", "tree", _rf),
    "ridge": MemberRecipe("ridge", "linear", _ridge),
    "svr": MemberRecipe("svr", "linear", _svr),
}
_THREADED = frozenset({"et", "knn", "rf"})


class RegressionMember:
    """A fitted classical regression member (its recipe and the fitted scikit-learn estimator)."""

    def __init__(self, recipe: MemberRecipe) -> None:
        self.recipe = recipe
        self.name = recipe.name
        self.estimator_: object | None = None

    def fit(self, matrices: dict[str, np.ndarray], z: np.ndarray, seed: int, *, n_jobs: int = 1) -> RegressionMember:
        """Fit on ``matrices[recipe.matrix]`` and the transformed target ``z``."""
        X = matrices[self.recipe.matrix]
        self._constant_X = X.shape[1] == 0
        if self._constant_X:  # only constant columns: predict the mean
            from sklearn.dummy import DummyRegressor

            est = DummyRegressor()
            X = np.zeros((X.shape[0], 1))
        else:
            est = self.recipe.factory(X.shape[0], 0, seed)
            if self.name in _THREADED:
                est.set_params(n_jobs=n_jobs)
            if self.name == "knn":
                est.set_params(n_neighbors=int(min(est.get_params()["n_neighbors"], X.shape[0])))
        est.fit(X, z)
        self.estimator_ = est
        return self

    def predict(self, matrices: dict[str, np.ndarray]) -> np.ndarray:
        X = matrices[self.recipe.matrix]
        if self._constant_X:
            X = np.zeros((X.shape[0], 1))
        return np.asarray(self.estimator_.predict(X), dtype=np.float64)  # type: ignore[attr-defined]

    def oob_residual_std(self, z: np.ndarray) -> float | None:
        """Standard deviation of the out-of-bag residuals (random forest only), else None."""
        oob = getattr(self.estimator_, "oob_prediction_", None)
        if oob is None:
            return None
        ok = np.isfinite(oob)
        return float(np.sqrt(np.mean((oob[ok] - z[ok]) ** 2))) if ok.sum() >= 2 else None
