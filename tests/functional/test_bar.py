"""The bar distribution: a proper density, exact quantiles, moments that match sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autometa.functional import bar_borders, bar_mean, bar_nll, bar_quantiles, bar_variance


def test_borders_increasing_and_symmetric():
    b = bar_borders(64)
    assert b.shape == (65,)
    assert torch.all(b[1:] > b[:-1])
    assert torch.allclose(b, -b.flip(0), atol=1e-5)
    with pytest.raises(ValueError, match="n_bins"):
        bar_borders(1)


def test_nll_is_a_normalized_density():
    b = bar_borders(16)
    logits = torch.randn(16, generator=torch.Generator().manual_seed(0))
    grid = torch.linspace(float(b[0]) + 1e-4, float(b[-1]) - 1e-4, 200_001)
    density = torch.exp(-bar_nll(logits.expand(grid.numel(), 16), grid, b))
    integral = torch.trapezoid(density, grid)
    assert abs(float(integral) - 1.0) < 2e-3


def test_moments_and_quantiles_match_samples():
    b = bar_borders(32).double()
    probs = torch.softmax(
        torch.randn(32, generator=torch.Generator().manual_seed(1), dtype=torch.float64), -1
    )
    rng = np.random.default_rng(0)
    bins = rng.choice(32, size=400_000, p=probs.numpy())
    lo, hi = b[:-1].numpy()[bins], b[1:].numpy()[bins]
    samples = lo + rng.random(bins.size) * (hi - lo)
    assert float(bar_mean(probs, b)) == pytest.approx(samples.mean(), abs=0.01)
    assert float(bar_variance(probs, b)) == pytest.approx(samples.var(), rel=0.01)
    q = torch.tensor([0.05, 0.1, 0.5, 0.9, 0.95], dtype=torch.float64)
    assert np.allclose(
        bar_quantiles(probs, b, q).numpy(), np.quantile(samples, q.numpy()), atol=0.02
    )


def test_quantiles_batched_and_monotone():
    b = bar_borders(8)
    probs = torch.softmax(torch.randn(5, 3, 8), -1)
    q = torch.linspace(0.01, 0.99, 11)
    out = bar_quantiles(probs, b, q)
    assert out.shape == (5, 3, 11)
    assert torch.all(out[..., 1:] >= out[..., :-1] - 1e-6)
