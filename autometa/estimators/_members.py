"""The classical members of both estimators' blends (the regressor's recipes: :mod:`._regression_members`).

Each member is a small recipe: which design matrix it reads (``"tree"`` or ``"linear"``, see
:class:`~autometa.estimators._table.TableSpec`) and a factory that builds a scikit-learn
estimator with settings that behave at 32 rows as well as at 10,000 (for example gradient
boosting with small leaves, k-NN with ``k`` capped by the class sizes). Members always return
probabilities for *every* class of the task, in class-index order, even when a bootstrap or
a tiny class made an inner estimator miss one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from autometa.estimators._context import FitContext

__all__ = ["CLASSICAL_MEMBERS", "ClassicalMember", "MemberRecipe", "full_proba"]


def full_proba(estimator: object, X: np.ndarray, n_classes: int) -> np.ndarray:
    """``estimator.predict_proba(X)`` scattered into ``n_classes`` columns (missing classes get 0)."""
    p = estimator.predict_proba(X)  # type: ignore[attr-defined]
    classes = np.asarray(estimator.classes_, dtype=np.int64)  # type: ignore[attr-defined]
    out = np.zeros((X.shape[0], n_classes))
    out[:, classes] = p
    return out


def _rf(n: int, n_classes: int, seed: int):
    from sklearn.ensemble import RandomForestClassifier

    # fewer trees once rows are plentiful: the forest dominates fit time there, and its variance
    # is already averaged with the extra trees and four other members
    return RandomForestClassifier(
        n_estimators=100 if n <= 256 else 64, max_features="sqrt", n_jobs=1, random_state=seed
    )


def _et(n: int, n_classes: int, seed: int):
    from sklearn.ensemble import ExtraTreesClassifier

    return ExtraTreesClassifier(n_estimators=100, max_features="sqrt", n_jobs=1, random_state=seed)


def _lr(n: int, n_classes: int, seed: int):
    from sklearn.linear_model import LogisticRegression

    # stronger regularization when rows are scarce
    c = 0.1 if n < 64 else (0.3 if n < 256 else 1.0)
    return LogisticRegression(C=c, max_iter=300, random_state=seed)


def _knn(n: int, n_classes: int, seed: int):
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(
        n_neighbors=int(np.clip(round(np.sqrt(n)), 3, 15)), weights="distance"
    )


def _gbm(n: int, n_classes: int, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    # HistGradientBoosting's defaults (min_samples_leaf=20) cannot split at 32 rows.
    return HistGradientBoostingClassifier(
        learning_rate=0.1,
        max_iter=60,
        max_leaf_nodes=15,
        min_samples_leaf=max(3, min(20, n // 25)),
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )


@dataclass(frozen=True)
class MemberRecipe:
    """How to build one classical member.

    Attributes
    ----------
    name : str
    matrix : {"tree", "linear"}
        Which design matrix the member reads.
    factory : callable
        ``factory(n_rows, n_classes, seed) -> estimator``.
    regression : bool, default=False
        A regressor (fitted on the transformed target; :meth:`ClassicalMember.predict`) rather
        than a classifier (:meth:`ClassicalMember.predict_proba`).
    """

    name: str
    matrix: str
    factory: Callable[[int, int, int], object]
    regression: bool = False


CLASSICAL_MEMBERS: dict[str, MemberRecipe] = {
    "et": MemberRecipe("et", "tree", _et),
    "gbm": MemberRecipe("gbm", "tree", _gbm),
    "knn": MemberRecipe("knn", "linear", _knn),
    "lr": MemberRecipe("lr", "linear", _lr),
    "rf": MemberRecipe("rf", "tree", _rf),
}


#: members whose estimator takes ``n_jobs`` (LogisticRegression's is deprecated and ignored)
_THREADED = frozenset({"et", "knn", "rf"})
#: trees of the light forests fitted for out-of-fold predictions
LIGHT_TREES = 32


class ClassicalMember:
    """A classical member: its recipe and, once fitted, the scikit-learn estimator.

    Parameters
    ----------
    recipe : MemberRecipe
    light : bool, default=False
        Forests with :data:`LIGHT_TREES` trees: the variant fitted for out-of-fold predictions,
        which only rank members.
    """

    def __init__(self, recipe: MemberRecipe, light: bool = False) -> None:
        self.recipe = recipe
        self.name = recipe.name
        self.light = light

    def fit(self, context: FitContext, y: np.ndarray, seed: int) -> ClassicalMember:
        """Fit on ``context``'s ``recipe.matrix`` design matrix and targets ``y`` (class indices,
        or the transformed target of a regression recipe). Forests and k-NN get
        ``context.n_jobs`` threads (the other members' threads come from the OpenMP/BLAS limit
        set by the caller); a table whose columns are all constant gets a prior/mean predictor."""
        X = context.matrix(self.recipe.matrix)
        self.constant_X_ = X.shape[1] == 0
        if self.constant_X_:
            from sklearn.dummy import DummyClassifier, DummyRegressor

            est = DummyRegressor() if self.recipe.regression else DummyClassifier(strategy="prior")
            X = np.zeros((X.shape[0], 1))
        else:
            est = self.recipe.factory(X.shape[0], context.n_classes, seed)
            if self.name in _THREADED:
                est.set_params(n_jobs=context.n_jobs)  # type: ignore[attr-defined]
            if self.light and self.name in ("et", "rf"):
                est.set_params(n_estimators=LIGHT_TREES)  # type: ignore[attr-defined]
            if self.name == "knn":
                est.set_params(n_neighbors=int(min(est.get_params()["n_neighbors"], X.shape[0])))  # type: ignore[attr-defined]
        est.fit(X, y)  # type: ignore[attr-defined]
        self.estimator_ = est
        self.n_classes_ = context.n_classes
        return self

    def _X(self, context: FitContext) -> np.ndarray:
        X = context.matrix(self.recipe.matrix)
        return np.zeros((X.shape[0], 1)) if self.constant_X_ else X

    def predict_proba(self, context: FitContext) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` of a classification member, in class-index order."""
        return full_proba(self.estimator_, self._X(context), self.n_classes_)

    def predict(self, context: FitContext) -> np.ndarray:
        """Predictions ``(n,)`` of a regression member, in the transformed target's units."""
        return np.asarray(self.estimator_.predict(self._X(context)), dtype=np.float64)  # type: ignore[attr-defined]

    def oob_residual_std(self, y: np.ndarray) -> float | None:
        """Standard deviation of the out-of-bag residuals (a forest fitted with ``oob_score``), else None."""
        oob = getattr(self.estimator_, "oob_prediction_", None)
        if oob is None:
            return None
        ok = np.isfinite(oob)
        return float(np.sqrt(np.mean((oob[ok] - y[ok]) ** 2))) if ok.sum() >= 2 else None
