"""ridge_fit / ridge_predict: batched closed-form ridge with leave-one-out penalty choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from autometa.functional import RIDGE_PENALTIES, ridge_fit, ridge_predict


def _tasks(seed: int = 0):
    rng = np.random.default_rng(seed)
    T, S, D = 3, 30, 8
    x = torch.from_numpy(rng.normal(size=(T, S, D))).float()
    y = torch.from_numpy(rng.normal(size=(T, S))).float()
    y[0] += 3.0 * x[0, :, 0] - x[0, :, 1]  # a strong linear signal: a small penalty wins
    rows = torch.ones(T, S, dtype=torch.bool)
    rows[1, 22:] = False
    cols = torch.ones(T, D, dtype=torch.bool)
    cols[2, 5:] = False
    return x, y, rows, cols


def test_matches_sklearn_ridge_and_its_leave_one_out_predictions():
    x, y, rows, cols = _tasks()
    fit, loo = ridge_fit(x, y, rows, cols)
    rng = np.random.default_rng(1)
    for t in range(x.shape[0]):
        n, d = int(rows[t].sum()), int(cols[t].sum())
        X, Y = x[t, :n, :d].double().numpy(), y[t, :n].double().numpy()
        alpha = min(RIDGE_PENALTIES, key=lambda a: abs(a - float(fit.penalty[t])))
        assert float(fit.penalty[t]) == pytest.approx(alpha)
        expected = [
            Ridge(alpha=alpha).fit(np.delete(X, i, 0), np.delete(Y, i)).predict(X[i : i + 1])[0]
            for i in range(n)
        ]
        np.testing.assert_allclose(loo[t, :n].numpy(), expected, atol=1e-4)
        assert not loo[t, n:].any()  # padded rows stay 0
        q = rng.normal(size=(5, x.shape[2])).astype(np.float32)
        got = ridge_predict(
            type(fit)(*(f[t : t + 1] for f in fit)), torch.from_numpy(q)[None], cols[t : t + 1]
        )
        want = Ridge(alpha=alpha).fit(X, Y).predict(q[:, :d].astype(np.float64))
        np.testing.assert_allclose(got[0].numpy(), want, atol=1e-4)


def test_the_penalty_is_the_one_with_the_least_leave_one_out_error():
    x, y, rows, cols = _tasks()
    fit, _ = ridge_fit(x, y, rows, cols)
    n = int(rows[0].sum())
    X, Y = x[0, :n].double().numpy(), y[0, :n].double().numpy()

    def press(alpha):
        return sum(
            (
                Y[i]
                - Ridge(alpha=alpha)
                .fit(np.delete(X, i, 0), np.delete(Y, i))
                .predict(X[i : i + 1])[0]
            )
            ** 2
            for i in range(n)
        )

    assert float(fit.penalty[0]) == pytest.approx(min(RIDGE_PENALTIES, key=press))
    assert float(fit.penalty[0]) < 10.0  # the signal is strong and linear


def test_garbage_in_padding_is_never_read():
    x, y, rows, cols = _tasks()
    fit, loo = ridge_fit(x, y, rows, cols)
    noisy_x, noisy_y = x.clone(), y.clone()
    noisy_x[~rows] = 50.0
    noisy_y[~rows] = -7.0
    noisy_x[2, :, 5:] = 99.0
    fit2, loo2 = ridge_fit(noisy_x, noisy_y, rows, cols)
    torch.testing.assert_close(loo2, loo)
    q = torch.randn(3, 4, x.shape[2])
    q2 = q.clone()
    q2[2, :, 5:] = 99.0
    torch.testing.assert_close(ridge_predict(fit2, q2, cols), ridge_predict(fit, q, cols))


@pytest.mark.parametrize("n_rows", [1, 2])
def test_one_or_two_rows_give_finite_predictions(n_rows):
    x = torch.randn(1, n_rows, 4)
    y = torch.randn(1, n_rows)
    fit, loo = ridge_fit(
        x, y, torch.ones(1, n_rows, dtype=torch.bool), torch.ones(1, 4, dtype=torch.bool)
    )
    assert torch.isfinite(loo).all() and torch.isfinite(fit.coef).all()
    assert torch.isfinite(
        ridge_predict(fit, torch.randn(1, 3, 4), torch.ones(1, 4, dtype=torch.bool))
    ).all()


def test_several_outputs_are_fitted_each_as_alone_at_the_shared_penalty():
    x, y, rows, cols = _tasks()
    y2 = torch.stack([y, -2.0 * y + 1.0], dim=-1)  # two outputs: the second a scaled copy
    fit, loo = ridge_fit(x, y2, rows, cols, penalties=(3.0,))
    one, loo1 = ridge_fit(x, y, rows, cols, penalties=(3.0,))
    torch.testing.assert_close(loo[..., 0], loo1)
    torch.testing.assert_close(loo[..., 1], (-2.0 * loo1 + 1.0) * rows, atol=1e-5, rtol=1e-5)
    q = torch.randn(3, 4, x.shape[2])
    torch.testing.assert_close(ridge_predict(fit, q, cols)[..., 0], ridge_predict(one, q, cols))


def test_loo_rmse_is_the_root_mean_squared_leave_one_out_error():
    x, y, rows, cols = _tasks()
    fit, loo = ridge_fit(x, y, rows, cols)
    for t in range(x.shape[0]):
        n = int(rows[t].sum())
        expected = float(((y[t, :n] - loo[t, :n]) ** 2).mean().sqrt())
        assert float(fit.loo_rmse[t]) == pytest.approx(expected, rel=1e-4)
    assert float(fit.loo_rmse[0]) < float(fit.loo_rmse[1])  # the linear task is the one fitted well
