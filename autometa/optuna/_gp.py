"""A tiny NumPy Gaussian process (Matern-5/2) with expected improvement.

Small on purpose: at most a few hundred points, isotropic length scale, closed-form fits.
Everything is a minimization problem on standardized targets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, cholesky
from scipy.special import ndtr, ndtri

__all__ = ["GP", "expected_improvement", "gaussianize", "gp_window", "kendall_tau", "matern52"]

_SQRT5 = math.sqrt(5.0)


def matern52(a: np.ndarray, b: np.ndarray, lengthscale: float) -> np.ndarray:
    """Matern-5/2 kernel matrix between rows of ``a`` and ``b`` (unit signal variance)."""
    sq = (
        np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2.0 * (a @ b.T)
    )
    r = np.sqrt(np.maximum(sq, 0.0)) / lengthscale
    return (1.0 + _SQRT5 * r + (5.0 / 3.0) * r * r) * np.exp(-_SQRT5 * r)


def gaussianize(y: np.ndarray) -> np.ndarray:
    """Rank-based normal scores (a copula transform): robust to outliers and scale."""
    y = np.asarray(y, dtype=float)
    n = y.shape[0]
    if n == 0:
        return y.copy()
    order = np.argsort(np.argsort(y, kind="stable"), kind="stable")
    # Average ranks of ties so equal values get equal scores.
    ranks = order.astype(float)
    _, inv, counts = np.unique(y, return_inverse=True, return_counts=True)
    if counts.max() > 1:
        sums = np.bincount(inv, weights=ranks)
        ranks = sums[inv] / counts[inv]
    return ndtri((ranks + 0.5) / n)


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-a between two vectors (0 when undefined)."""
    n = a.shape[0]
    if n < 2:
        return 0.0
    da = np.sign(a[:, None] - a[None, :])
    db = np.sign(b[:, None] - b[None, :])
    return float(np.sum(np.triu(da * db, 1)) / (n * (n - 1) / 2))


def gp_window(z: np.ndarray, max_points: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the points a GP is fitted to once there are more than ``max_points``.

    The best half (lowest ``z``) and a random sample of the rest, so that the fit costs at most
    ``O(max_points ** 3)`` however long the study runs, while the region around the incumbent
    stays fully resolved. Returns all indices (in order) when ``z`` is short enough.
    """
    n = z.shape[0]
    if n <= max_points:
        return np.arange(n)
    order = np.argsort(z, kind="stable")
    n_top = max_points // 2
    rest = rng.choice(order[n_top:], size=max_points - n_top, replace=False)
    return np.sort(np.concatenate([order[:n_top], rest]))


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """Expected improvement below ``best`` (minimization)."""
    std = np.maximum(std, 1e-9)
    z = (best - mean) / std
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return (best - mean) * ndtr(z) + std * pdf


@dataclass
class GP:
    """Zero-mean GP on standardized targets.

    Parameters
    ----------
    lengthscale : float
        Isotropic length scale in feature units.
    noise : float
        Observation noise variance relative to a unit signal variance.
    """

    lengthscale: float = 0.3
    noise: float = 1e-3

    def fit(self, x: np.ndarray, y: np.ndarray) -> GP:
        """Fit to features ``x`` ``[n, f]`` and targets ``y`` ``[n]`` (standardized inside)."""
        self.x_ = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        self.y_mean_ = float(y.mean()) if y.size else 0.0
        self.y_std_ = float(y.std()) if y.size > 1 and y.std() > 1e-12 else 1.0
        yz = (y - self.y_mean_) / self.y_std_
        k = matern52(self.x_, self.x_, self.lengthscale)
        k[np.diag_indices_from(k)] += self.noise + 1e-8
        self.chol_ = cholesky(k, lower=True, check_finite=False)
        self.alpha_ = cho_solve((self.chol_, True), yz, check_finite=False)
        self.yz_ = yz
        self.k_inv_: np.ndarray | None = None  # computed on the first std prediction
        return self

    def log_marginal_likelihood(self) -> float:
        """Log marginal likelihood of the standardized targets (per point)."""
        n = self.yz_.shape[0]
        if n == 0:
            return 0.0
        lml = (
            -0.5 * float(self.yz_ @ self.alpha_)
            - float(np.sum(np.log(np.diag(self.chol_))))
            - 0.5 * n * math.log(2 * math.pi)
        )
        return lml / n

    def predict(self, x: np.ndarray, return_std: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation, in the original target units."""
        ks = matern52(np.asarray(x, dtype=float), self.x_, self.lengthscale)
        mean = ks @ self.alpha_
        if not return_std:
            return mean * self.y_std_ + self.y_mean_, np.zeros_like(mean)
        if self.k_inv_ is None:
            self.k_inv_ = cho_solve((self.chol_, True), np.eye(self.x_.shape[0]), check_finite=False)
        var = np.maximum(1.0 - np.sum((ks @ self.k_inv_) * ks, axis=1), 1e-12)
        return mean * self.y_std_ + self.y_mean_, np.sqrt(var) * self.y_std_
