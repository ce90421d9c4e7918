"""A tiny NumPy Gaussian process (Matern-5/2) with expected improvement.

Small on purpose: at most a few hundred points, closed-form fits. The length scale is one number
(isotropic) or one per feature (automatic relevance determination, fitted by :func:`fit_ard`).
Everything is a minimization problem on standardized targets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky
from scipy.optimize import minimize
from scipy.special import ndtr, ndtri

__all__ = [
    "GP",
    "expected_improvement",
    "fit_ard",
    "gaussianize",
    "gp_window",
    "kendall_tau",
    "matern52",
]

_SQRT5 = math.sqrt(5.0)


def matern52(a: np.ndarray, b: np.ndarray, lengthscale: float | np.ndarray) -> np.ndarray:
    """Matern-5/2 kernel matrix between rows of ``a`` and ``b`` (unit signal variance).

    ``lengthscale`` is a number, or one length scale per feature (column).
    """
    if np.ndim(lengthscale):
        ls = np.asarray(lengthscale, dtype=float)
        a, b, lengthscale = a / ls, b / ls, 1.0
    sq = np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2.0 * (a @ b.T)
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
    lengthscale : float or ndarray
        Isotropic length scale in feature units, or one per feature.
    noise : float
        Observation noise variance relative to a unit signal variance.
    """

    lengthscale: float | np.ndarray = 0.3
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
            self.k_inv_ = cho_solve(
                (self.chol_, True), np.eye(self.x_.shape[0]), check_finite=False
            )
        var = np.maximum(1.0 - np.sum((ks @ self.k_inv_) * ks, axis=1), 1e-12)
        return mean * self.y_std_ + self.y_mean_, np.sqrt(var) * self.y_std_


def fit_ard(
    x: np.ndarray,
    y: np.ndarray,
    groups: Sequence[slice],
    lengthscale: float,
    noise: float,
    *,
    init: np.ndarray | None = None,
    prior_sd: float = 1.5,
    noise_prior_sd: float = 1.4,
    bounds: tuple[float, float] = (0.02, 20.0),
    noise_bounds: tuple[float, float] = (1e-6, 1.0),
    maxiter: int = 30,
) -> tuple[GP, np.ndarray, float]:
    """A GP with one length scale per parameter and a fitted noise level (MAP by L-BFGS-B).

    Maximizes the log marginal likelihood of the standardized targets plus log-normal priors
    centred on ``lengthscale`` (every parameter) and ``noise``, with an analytic gradient.
    A parameter's features (a categorical one-hot block) share one length scale. Parameters the
    targets do not depend on get long length scales, so the GP does not spend its resolution on
    them (an isotropic length scale has to be short everywhere to follow the most sensitive one).

    Parameters
    ----------
    x : ndarray ``[n, f]``
        Features.
    y : ndarray ``[n]``
        Targets (standardized inside, as in :meth:`GP.fit`).
    groups : sequence of slice
        The feature columns of each parameter.
    lengthscale, noise : float
        Prior centres (the meta-learned values), also the start when ``init`` is None.
    init : ndarray, optional
        Start ``[log length scales..., log noise]`` (e.g. the previous trial's solution).
    prior_sd, noise_prior_sd : float
        Widths of the log-normal priors.
    bounds, noise_bounds : tuple of float
        Box constraints on the length scales and the noise.
    maxiter : int
        L-BFGS-B iterations.

    Returns
    -------
    gp : GP
        Fitted, with a per-feature ``lengthscale`` array.
    theta : ndarray
        The solution ``[log length scales..., log noise]``, to warm-start the next fit.
    score : float
        Log marginal likelihood plus log prior density at the solution (normalized priors, so
        fits under different priors can be compared).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n, n_par = x.shape[0], len(groups)
    std = y.std() if n > 1 and y.std() > 1e-12 else 1.0
    yz = (y - y.mean()) / std
    diff2 = [np.sum((x[:, None, g] - x[None, :, g]) ** 2, axis=2) for g in groups]  # per parameter
    mu = np.array([math.log(lengthscale)] * n_par + [math.log(noise)])
    sd = np.array([prior_sd] * n_par + [noise_prior_sd])
    eye = np.eye(n)

    def neg(theta: np.ndarray) -> tuple[float, np.ndarray]:
        inv_l2 = np.exp(-2.0 * theta[:n_par])
        scaled = [d * w for d, w in zip(diff2, inv_l2, strict=True)]
        r = np.sqrt(np.maximum(sum(scaled), 0.0))
        e = np.exp(-_SQRT5 * r)
        k = (1.0 + _SQRT5 * r + (5.0 / 3.0) * r * r) * e
        nz = math.exp(theta[-1])
        try:
            chol = cholesky(k + (nz + 1e-8) * eye, lower=True, check_finite=False)
        except LinAlgError:
            return 1e10, np.zeros_like(theta)
        alpha = cho_solve((chol, True), yz, check_finite=False)
        k_inv = cho_solve((chol, True), eye, check_finite=False)
        lml = (
            -0.5 * float(yz @ alpha)
            - float(np.sum(np.log(np.diag(chol))))
            - 0.5 * n * math.log(2 * math.pi)
        )
        w = np.outer(alpha, alpha) - k_inv
        common = (5.0 / 3.0) * (1.0 + _SQRT5 * r) * e  # dk/dlog(l_p) = common * scaled_p
        grad = np.array(
            [0.5 * float(np.sum(w * common * sp)) for sp in scaled]
            + [0.5 * nz * float(np.trace(w))]
        )
        z = (theta - mu) / sd
        return -(lml - 0.5 * float(z @ z)), -(grad - z / sd)

    lo = [math.log(bounds[0])] * n_par + [math.log(noise_bounds[0])]
    hi = [math.log(bounds[1])] * n_par + [math.log(noise_bounds[1])]
    start = (
        mu.copy()
        if init is None or len(init) != n_par + 1
        else np.clip(np.asarray(init, float), lo, hi)
    )
    res = minimize(
        neg,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(lo, hi, strict=True)),
        options={"maxiter": maxiter},
    )
    start_value = neg(start)[0]
    ok = np.all(np.isfinite(res.x)) and res.fun < start_value + 1e-9
    theta, value = (res.x, float(res.fun)) if ok else (start, start_value)
    ls = np.empty(x.shape[1])
    for g, t in zip(groups, theta[:n_par], strict=True):
        ls[g] = math.exp(t)
    score = -value - float(np.sum(np.log(sd))) - 0.5 * len(sd) * math.log(2 * math.pi)
    return GP(ls, math.exp(theta[-1])).fit(x, y), theta, score
