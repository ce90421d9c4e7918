"""The one ROC-AUC of the project: the mean one-vs-rest AUC over the classes a test set holds.

Every benchmark, the in-context campaign's learning curve and the portfolio's scoring call
:func:`mean_ovr_auc`, so an AUC in one table means the same as in another.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mean_ovr_auc"]


def mean_ovr_auc(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean one-vs-rest ROC-AUC of ``proba`` (``[n, k]``) for class indices ``y`` (``[n]``).

    Each class ``c`` that has both positive and negative rows in ``y`` contributes the ROC-AUC
    of ``proba[:, c]`` for ``y == c``; classes absent from ``y`` (or the only class present)
    are skipped. For two classes this is the usual binary AUC; for more, with every class
    present and rows that sum to one, it equals scikit-learn's ``multi_class="ovr",
    average="macro"``. NaN probabilities count as ``1 / k``.

    Returns
    -------
    float
        NaN when no class has both positive and negative rows.
    """
    from sklearn.metrics import (
        roc_auc_score,  # deferred: importing autometa does not import sklearn
    )

    y = np.asarray(y)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or len(y) != len(proba):
        raise ValueError(
            f"proba must be [n, k] with one row per label; got {proba.shape} for {len(y)} labels."
        )
    proba = np.nan_to_num(proba, nan=1.0 / proba.shape[1])
    aucs = [
        roc_auc_score(y == c, proba[:, c])
        for c in range(proba.shape[1])
        if 0 < np.sum(y == c) < len(y)
    ]
    return float(np.mean(aucs)) if aucs else float("nan")
