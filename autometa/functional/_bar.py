"""A "bar" distribution: a piecewise-uniform predictive density over a standardized target.

The in-context regression learner predicts, for every query row, logits over ``n_bins``
fixed bins of the standardized target ``z`` (as TabPFN's regression head does). The density
is uniform inside each bin, so the negative log-likelihood, the mean, the variance and any
quantile are closed-form. The bin borders are quantiles of a Student-t distribution with 3
degrees of freedom (dense near zero, wide in the tails); targets beyond the outer borders
count in the outermost bins.

All functions are pure and batched over leading axes.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats
from torch import Tensor

__all__ = ["bar_borders", "bar_mean", "bar_nll", "bar_quantiles", "bar_variance"]


def bar_borders(n_bins: int, df: float = 3.0, tail: float = 0.002) -> Tensor:
    """``n_bins + 1`` increasing borders: Student-t quantiles at ``linspace(tail, 1 - tail)``.

    Parameters
    ----------
    n_bins : int
        At least 2.
    df : float, default=3.0
    tail : float, default=0.002
        Probability (under the Student-t) beyond each outer border.
    """
    if int(n_bins) < 2:
        raise ValueError(f"n_bins must be at least 2; got {n_bins!r}.")
    p = np.linspace(tail, 1.0 - tail, int(n_bins) + 1)
    return torch.tensor(stats.t.ppf(p, df), dtype=torch.float32)


def _bin_index(z: Tensor, borders: Tensor) -> Tensor:
    inner = borders[1:-1].contiguous()
    return torch.bucketize(z.contiguous(), inner).clamp(0, borders.numel() - 2)


def bar_nll(logits: Tensor, z: Tensor, borders: Tensor) -> Tensor:
    """Negative log-density of ``z`` under the bar distributions given by ``logits``.

    Parameters
    ----------
    logits : Tensor (..., n_bins)
    z : Tensor (...)
        Standardized targets; values outside the borders count in the outer bins (their
        density is that bin's).
    borders : Tensor (n_bins + 1,)

    Returns
    -------
    Tensor (...)
    """
    idx = _bin_index(z, borders)
    widths = (borders[1:] - borders[:-1]).to(logits.dtype)
    logp = torch.log_softmax(logits, dim=-1).gather(-1, idx.unsqueeze(-1)).squeeze(-1)
    return -(logp - torch.log(widths[idx]))


def bar_mean(probs: Tensor, borders: Tensor) -> Tensor:
    """Mean of bar distributions ``probs (..., n_bins)`` (bin centers weighted by probability)."""
    centers = (borders[1:] + borders[:-1]) / 2
    return (probs * centers.to(probs.dtype)).sum(-1)


def bar_variance(probs: Tensor, borders: Tensor) -> Tensor:
    """Variance of bar distributions (including the spread inside each bin)."""
    centers = ((borders[1:] + borders[:-1]) / 2).to(probs.dtype)
    widths = (borders[1:] - borders[:-1]).to(probs.dtype)
    second = (probs * (centers**2 + widths**2 / 12.0)).sum(-1)
    return (second - bar_mean(probs, borders) ** 2).clamp_min(0.0)


def bar_quantiles(probs: Tensor, borders: Tensor, q: Tensor) -> Tensor:
    """Quantiles of bar distributions: ``(..., n_bins)`` probabilities, levels ``q (k,)`` -> ``(..., k)``.

    Exact for the piecewise-uniform density: the level's bin is found on the cumulative
    probabilities and the quantile interpolated linearly inside it.
    """
    probs = probs / probs.sum(-1, keepdim=True)
    cdf = torch.cumsum(probs, dim=-1)  # (..., B): cdf at each bin's right border
    lead = cdf.shape[:-1]
    qq = q.to(probs.dtype).expand(*lead, q.numel()).contiguous()
    idx = torch.searchsorted(cdf.contiguous(), qq).clamp(0, cdf.shape[-1] - 1)
    right = cdf.gather(-1, idx)
    p_bin = probs.gather(-1, idx)
    left = right - p_bin
    frac = ((qq - left) / p_bin.clamp_min(1e-12)).clamp(0.0, 1.0)
    b = borders.to(probs.dtype)
    return b[idx] + frac * (b[idx + 1] - b[idx])
