"""Closed-form ridge regression per task, its penalty chosen by leave-one-out error.

:func:`ridge_fit` solves ridge regression for every task of a batch at once (one SVD per
task), picks each task's penalty from a grid by the exact leave-one-out error (the hat
matrix's diagonal), and returns the fit together with every support row's leave-one-out
prediction; :func:`ridge_predict` applies the fit to other rows. The regression learners
read these predictions as an input (``ridge_readin``): a support row gets its leave-one-out
prediction, so that it is distributed like a query row's.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["RIDGE_PENALTIES", "RidgeFit", "ridge_fit", "ridge_predict"]

#: the penalty grid of :func:`ridge_fit` (the columns it reads are roughly unit-variance)
RIDGE_PENALTIES: tuple[float, ...] = (0.1, 1.0, 3.0, 10.0, 30.0, 100.0, 1000.0)


class RidgeFit(NamedTuple):
    """Per-task ridge fits: ``prediction = (x - x_mean) @ coef + y_mean``.

    Attributes
    ----------
    coef : Tensor (T, D) or (T, D, K)
    x_mean : Tensor (T, D)
    y_mean : Tensor (T,) or (T, K)
    penalty : Tensor (T,)
        The chosen penalty of each task.
    loo_rmse : Tensor (T,) or (T, K)
        The root mean squared leave-one-out error at that penalty (how far a prediction
        typically is from the target).
    """

    coef: Tensor
    x_mean: Tensor
    y_mean: Tensor
    penalty: Tensor
    loo_rmse: Tensor


@torch.no_grad()
def ridge_fit(
    x: Tensor,
    y: Tensor,
    row_mask: Tensor,
    feature_mask: Tensor,
    penalties: tuple[float, ...] = RIDGE_PENALTIES,
) -> tuple[RidgeFit, Tensor]:
    """Ridge regression of ``y`` on ``x`` for each task, with an intercept.

    Parameters
    ----------
    x : Tensor (T, S, D)
        Support rows; padded rows and columns are ignored.
    y : Tensor (T, S) or (T, S, K)
        Targets (float); with ``K`` outputs (a one-hot label, say) each is fitted, sharing the
        penalty, which minimizes their summed leave-one-out error.
    row_mask : Tensor (T, S), bool
        True for real rows.
    feature_mask : Tensor (T, D), bool
        True for real columns.
    penalties : tuple of float
        The grid each task's penalty is chosen from by leave-one-out squared error.

    Returns
    -------
    fit : RidgeFit
    loo : Tensor (T, S) or (T, S, K)
        Each support row's leave-one-out prediction under its task's chosen penalty (0 on
        padded rows).
    """
    dtype = torch.float64  # the SVD and the leverages in double precision: exact and stable
    single = y.ndim == 2
    w = row_mask.to(dtype)
    xd = x.to(dtype) * feature_mask.to(dtype)[:, None, :]
    yd = (y[..., None] if single else y).to(dtype) * w[..., None]  # (T, S, K)
    n = w.sum(1).clamp(min=1.0)
    x_mean = (xd * w[..., None]).sum(1) / n[:, None]
    y_mean = yd.sum(1) / n[:, None]  # (T, K)
    xc = (xd - x_mean[:, None, :]) * w[..., None]
    yc = (yd - y_mean[:, None, :]) * w[..., None]
    u, s, vh = torch.linalg.svd(xc, full_matrices=False)  # (T, S, k), (T, k), (T, k, D)
    uty = torch.einsum("tsk,tso->tko", u, yc)  # (T, k, K)
    lam = torch.tensor(penalties, dtype=dtype, device=x.device)  # (P,)
    shrink = s[:, None, :] ** 2 / (s[:, None, :] ** 2 + lam[None, :, None])  # (T, P, k)
    fitted = torch.einsum("tsk,tpk,tko->tpso", u, shrink, uty)  # (T, P, S, K)
    leverage = torch.einsum("tsk,tpk->tps", u**2, shrink)  # (T, P, S)
    # each row's own intercept share (1 / n) counts toward its leverage too
    leverage = (leverage + w[:, None, :] / n[:, None, None]).clamp(max=1.0 - 1e-6)
    residual = (yc[:, None] - fitted) / (1.0 - leverage[..., None])  # leave-one-out residuals
    press = ((residual**2) * w[:, None, :, None]).sum((-1, -2))  # (T, P)
    best = press.argmin(1)  # (T,)
    rows = torch.arange(x.shape[0], device=x.device)
    loo = (yd - residual[rows, best] * w[..., None]) * w[..., None]
    scale = s / (s**2 + lam[best][:, None])  # (T, k)
    coef = torch.einsum("tkd,tk,tko->tdo", vh, scale, uty)  # (T, D, K)
    rmse = (((residual[rows, best] ** 2) * w[..., None]).sum(1) / n[:, None]).sqrt()  # (T, K)
    if single:
        coef, y_mean, loo, rmse = coef[..., 0], y_mean[..., 0], loo[..., 0], rmse[..., 0]
    fit = RidgeFit(*(t.to(x.dtype) for t in (coef, x_mean, y_mean, lam[best], rmse)))
    return fit, loo.to(x.dtype)


def ridge_predict(fit: RidgeFit, x: Tensor, feature_mask: Tensor) -> Tensor:
    """Predictions ``(T, n)`` (or ``(T, n, K)``) of :func:`ridge_fit`'s fits for rows ``x`` (T, n, D)."""
    xm = (x * feature_mask.to(x.dtype)[:, None, :]) - fit.x_mean[:, None, :]
    if fit.coef.ndim == 3:
        return torch.einsum("tnd,tdo->tno", xm, fit.coef) + fit.y_mean[:, None, :]
    return torch.einsum("tnd,td->tn", xm, fit.coef) + fit.y_mean[:, None]
