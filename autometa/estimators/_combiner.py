"""Combining members: the meta-learned prior weights, moved by the task's own evidence.

Both estimators blend several members. Their *prior* weights come from what was learned on
other tasks (a meta-learned :class:`~autometa.estimators._portfolio.Portfolio`); the task's
own *evidence* is each member's out-of-fold prediction on the training rows. The combination
is greedy ensemble selection (Caruana et al., 2004, "Ensemble selection from libraries of
models") started from the prior::

    ensemble_0 = prior                                    (a pseudo-ensemble of mass  m = rounds * n0 / n)
    round t:    add the member whose inclusion gives the lowest out-of-fold loss of
                (m * prior + counts + e_member) / (m + t)
    weights   = (m * prior + counts) / (m + rounds)

so the evidence's share is ``n / (n + n0)`` (:func:`evidence_share`): with few rows the
out-of-fold scores are noise and the prior decides; with many the evidence does. ``n0``
itself is meta-learned (chosen on validation tasks, see ``train_regressor`` /
``train_default``): ``n0 = 0`` is plain ensemble selection ("evidence only"), ``n0 = inf``
the prior alone.

Everything here is a pure function of arrays: members and estimators stay apart from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

__all__ = [
    "evidence_share",
    "fold_ids",
    "greedy_selection",
    "log_loss",
    "oof_predictions",
    "squared_error",
]

#: a loss of a blended prediction against the targets (lower is better)
Loss = Callable[[np.ndarray, np.ndarray], float]


def fold_ids(n: int, k: int, seed: int, y: np.ndarray | None = None) -> np.ndarray:
    """Fold index (0..k-1) of each of ``n`` rows; stratified by ``y`` when labels are given.

    ``k`` is capped by ``n`` (and, when stratifying, nothing else: a class smaller than ``k``
    simply misses some folds).
    """
    k = int(max(2, min(k, n)))
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=np.int64)
    if y is None:
        out[rng.permutation(n)] = np.arange(n) % k
        return out
    start = 0
    order = rng.permutation(n)
    for c in np.unique(y):
        rows = order[np.asarray(y)[order] == c]
        out[rows] = (np.arange(len(rows)) + start) % k
        start += len(rows)
    return out


def oof_predictions(
    fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray], folds: np.ndarray
) -> np.ndarray:
    """Out-of-fold predictions: ``fit_predict(train_rows, test_rows)`` for each fold, reassembled.

    Parameters
    ----------
    fit_predict : callable
        Fits a fresh member on the boolean mask ``train_rows`` and returns its predictions for
        ``test_rows`` (shape ``(test_rows.sum(), ...)``).
    folds : ndarray of int
        :func:`fold_ids`' output.

    Returns
    -------
    ndarray of shape (len(folds), ...)
    """
    out: np.ndarray | None = None
    for f in np.unique(folds):
        test = folds == f
        p = np.asarray(fit_predict(~test, test), dtype=np.float64)
        if out is None:
            out = np.zeros((len(folds), *p.shape[1:]))
        out[test] = p
    assert out is not None
    return out


def squared_error(pred: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error."""
    return float(np.mean((pred - y) ** 2))


def log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-probability of the true class index ``y`` (probabilities floored at 1e-6)."""
    p = proba[np.arange(len(y)), np.asarray(y, dtype=np.int64)]
    return float(-np.mean(np.log(np.clip(p, 1e-6, None))))


def evidence_share(n: int, n0: float) -> float:
    """Share of the task's evidence in the weights: ``n / (n + n0)`` (``n0 = inf``: 0)."""
    if math.isinf(n0):
        return 0.0
    return float(n / (n + max(n0, 0.0))) if n + n0 > 0 else 1.0


def greedy_selection(
    oof: Mapping[str, np.ndarray],
    y: np.ndarray,
    loss: Loss,
    *,
    prior: Mapping[str, float] | None = None,
    n0: float = 0.0,
    rounds: int = 20,
) -> dict[str, float]:
    """Greedy ensemble selection with replacement, started from the ``prior`` (module docstring).

    Parameters
    ----------
    oof : mapping of member name to ndarray
        Each member's out-of-fold predictions on the training rows (same shape for all:
        ``(n,)`` for regression, ``(n, K)`` probabilities for classification).
    y : ndarray
        The training targets (or class indices) the ``loss`` compares with.
    loss : callable
        ``loss(blended_prediction, y)``, e.g. :func:`squared_error` or :func:`log_loss`.
    prior : mapping of member name to weight, optional
        The meta-learned weights (renormalized over the members of ``oof``). None: uniform.
    n0 : float, default=0
        Rows at which prior and evidence weigh equally (``inf``: the prior alone, no selection).
    rounds : int, default=20
        Selection rounds (the evidence's resolution is ``1 / rounds``).

    Returns
    -------
    dict of member name to weight (non-negative, summing to one, members in ``oof``'s order).
    """
    names = list(oof)
    if not names:
        raise ValueError("greedy_selection needs at least one member's out-of-fold predictions.")
    n = len(y)
    p0 = np.array([max(float((prior or {}).get(m, 0.0 if prior else 1.0)), 0.0) for m in names])
    p0 = p0 / p0.sum() if p0.sum() > 0 else np.full(len(names), 1.0 / len(names))
    share = evidence_share(n, n0)
    if share <= 0.0 or len(names) == 1:
        return dict(zip(names, p0.tolist(), strict=True))
    mass = rounds * (1.0 - share) / share  # the prior's pseudo-count: n0 / n * rounds
    P = np.stack([np.asarray(oof[m], dtype=np.float64) for m in names])  # (m, n, ...)
    base = mass * np.tensordot(p0, P, axes=1)  # the prior's (unnormalized) contribution
    counts = np.zeros(len(names))
    current = base.copy()
    for t in range(1, rounds + 1):
        scores = [loss((current + P[i]) / (mass + t), y) for i in range(len(names))]
        best = int(np.argmin(scores))  # ties: the first member, deterministic
        counts[best] += 1
        current = current + P[best]
    w = (mass * p0 + counts) / (mass + rounds)
    return dict(zip(names, (w / w.sum()).tolist(), strict=True))
