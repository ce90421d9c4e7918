"""The classical members of :class:`~autometa.estimators.AutoMetaRegressor`.

Each member is a :class:`~autometa.estimators._members.MemberRecipe` (which design matrix of
:class:`~autometa.estimators._table.TableSpec` it reads, and a factory whose settings behave
at 32 rows as well as at 10,000), fitted as a :class:`~autometa.estimators._members.ClassicalMember`. Members are fitted on the *transformed* target (standardized,
after a log for skewed positive targets), so their hyperparameters need no per-task scale.
"""

from __future__ import annotations

import numpy as np

from autometa.estimators._members import MemberRecipe

__all__ = ["REGRESSION_MEMBERS"]


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

    return KNeighborsRegressor(
        n_neighbors=int(np.clip(round(np.sqrt(n)), 3, 15)), weights="distance"
    )


def _svr(n: int, _: int, seed: int):
    from sklearn.svm import SVR

    return SVR(C=1.0, epsilon=0.1, gamma="scale")


REGRESSION_MEMBERS: dict[str, MemberRecipe] = {
    name: MemberRecipe(name, matrix, factory, regression=True)
    for name, matrix, factory in (
        ("et", "tree", _et),
        ("gbm", "tree", _gbm),
        ("knn", "linear", _knn),
        ("rf", "tree", _rf),
        ("ridge", "linear", _ridge),
        ("svr", "linear", _svr),
    )
}
