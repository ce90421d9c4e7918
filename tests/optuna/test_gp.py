"""The NumPy GP, rank transforms and expected improvement."""

from __future__ import annotations

import numpy as np

from autometa.optuna._gp import GP, expected_improvement, gaussianize, kendall_tau, matern52


def test_matern52_is_a_unit_variance_kernel() -> None:
    x = np.random.default_rng(0).random((20, 3))
    k = matern52(x, x, 0.5)
    np.testing.assert_allclose(np.diag(k), 1.0)
    np.testing.assert_allclose(k, k.T)
    assert np.all(np.linalg.eigvalsh(k + 1e-9 * np.eye(20)) > 0)
    assert matern52(x[:1], x[:1] + 10.0, 0.5)[0, 0] < 1e-6


def test_gaussianize_is_rank_based_with_tied_scores() -> None:
    z = gaussianize(np.array([10.0, -3.0, 1e9, 10.0]))
    assert z[1] < z[0] == z[3] < z[2]
    np.testing.assert_allclose(
        gaussianize(np.array([1.0, 2.0, 3.0])), -gaussianize(np.array([3.0, 2.0, 1.0]))
    )


def test_kendall_tau() -> None:
    a = np.arange(6.0)
    assert (
        kendall_tau(a, a) == 1.0 and kendall_tau(a, -a) == -1.0 and kendall_tau(a[:1], a[:1]) == 0.0
    )


def test_gp_interpolates_and_is_uncertain_away_from_data() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((15, 2))
    y = np.sin(4 * x[:, 0]) + x[:, 1]
    gp = GP(lengthscale=0.4, noise=1e-6).fit(x, y)
    mean, std = gp.predict(x)
    np.testing.assert_allclose(mean, y, atol=1e-3)
    _, far = gp.predict(np.array([[5.0, 5.0]]))
    assert far[0] > 10 * std.max()
    # A length scale near the data's gets a higher marginal likelihood than an absurd one.
    assert (
        gp.log_marginal_likelihood()
        > GP(lengthscale=0.005, noise=1e-6).fit(x, y).log_marginal_likelihood()
    )


def test_expected_improvement_prefers_low_mean_and_high_std() -> None:
    ei = expected_improvement(np.array([0.0, 1.0, 1.0]), np.array([0.1, 0.1, 2.0]), best=0.5)
    assert ei[0] > ei[1] and ei[2] > ei[1] and np.all(ei >= 0)
