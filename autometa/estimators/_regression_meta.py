"""Meta-features of a regression task: what AutoMetaRegressor's meta-learned prior reads.

The regression twin of :func:`~autometa.estimators._portfolio.meta_features`: size, width,
categorical and missing shares, the (transformed) target's skewness, and three *landmarkers*
(3-fold cross-validated R² of a depth-2 tree, 1-nearest-neighbour and ridge regression, on at
most :data:`~autometa.estimators._portfolio.LANDMARK_ROWS` rows): whether the task rewards
axis-aligned splits, local similarity or a linear fit. A
:class:`~autometa.estimators._portfolio.Portfolio` (``kind="regressor"``) maps them to prior
weights over the members (``regressor_portfolio.json``, learned by
``python -m autometa.estimators.train_regressor``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from autometa.estimators._portfolio import LANDMARK_ROWS

__all__ = ["REGRESSION_META_FEATURES", "regression_landmarkers", "regression_meta_features"]

REGRESSION_META_FEATURES: tuple[str, ...] = (
    "log_rows",
    "log_columns",
    "categorical_share",
    "missing_share",
    "log_rows_per_column",
    "target_skew",
    "landmark_tree",
    "landmark_1nn",
    "landmark_ridge",
)


def regression_landmarkers(
    tree_matrix: np.ndarray, linear_matrix: np.ndarray, z: np.ndarray, seed: int = 0
) -> np.ndarray:
    """3-fold R² (clipped to [-1, 1]) of a depth-2 tree, 1-NN and ridge; shape (3,)."""
    from sklearn.linear_model import Ridge
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(z))[:LANDMARK_ROWS]
    z = np.asarray(z, dtype=np.float64)[rows]
    if len(z) < 6 or np.var(z) < 1e-12:
        return np.zeros(3)
    fold = np.arange(len(z)) % 3
    out = []
    for probe, x in (
        (DecisionTreeRegressor(max_depth=2, random_state=seed), tree_matrix[rows]),
        (KNeighborsRegressor(n_neighbors=1), linear_matrix[rows]),
        (Ridge(alpha=1.0), linear_matrix[rows]),
    ):
        if x.shape[1] == 0:
            out.append(0.0)
            continue
        pred = np.empty(len(z))
        for k in range(3):
            test = fold == k
            pred[test] = probe.fit(x[~test], z[~test]).predict(x[test])
        out.append(float(np.clip(1.0 - np.mean((pred - z) ** 2) / np.var(z), -1.0, 1.0)))
    return np.array(out)


def regression_meta_features(
    n_rows: int,
    n_columns: int,
    n_categorical: int,
    missing_share: float,
    z: np.ndarray,
    landmarks: np.ndarray | None,
) -> np.ndarray:
    """:data:`REGRESSION_META_FEATURES` as a float vector (``landmarks`` None: NaN, read as average)."""
    d = max(n_columns, 1)
    skew = float(stats.skew(z)) if len(z) > 2 and np.std(z) > 1e-12 else 0.0
    return np.array(
        [
            math.log(max(n_rows, 1)),
            math.log(d),
            n_categorical / d,
            float(missing_share),
            math.log(max(n_rows, 1) / d),
            float(np.clip(skew, -5.0, 5.0)),
            *(np.full(3, np.nan) if landmarks is None else np.asarray(landmarks, dtype=float)),
        ]
    )
