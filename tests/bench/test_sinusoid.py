"""``autometa.bench.sinusoid``: the task sampler, the masked loss, and MAML beating a random init."""

from __future__ import annotations

import argparse
import math

import pytest
import torch

from autometa.bench.sinusoid import compute, masked_mse, sample_sinusoids


def test_sample_sinusoids_shapes_and_range() -> None:
    g = torch.Generator().manual_seed(0)
    support, query = sample_sinusoids(g, n_tasks=7, k=5, n_query=11)
    assert support.x.shape == (7, 5, 1) and support.y.shape == (7, 5)
    assert query.x.shape == (7, 11, 1) and query.y.shape == (7, 11)
    assert bool(support.row_mask.all()) and bool(query.row_mask.all())
    for part in (support, query):
        assert float(part.x.abs().max()) <= 5.0  # x ~ U[-5, 5]
        assert float(part.y.abs().max()) <= 5.0  # |A sin(.)| <= A <= 5


def test_sample_sinusoids_is_one_sine_per_task() -> None:
    # support and query points of one task lie on the same curve A sin(x - phi): fit (A, phi)
    # on the support, predict the query exactly
    g = torch.Generator().manual_seed(1)
    support, query = sample_sinusoids(g, n_tasks=3, k=10, n_query=20)
    for t in range(3):
        xs, ys = support.x[t, :, 0].double(), support.y[t].double()
        # y = a sin x + b cos x with a = A cos phi, b = -A sin phi: linear least squares
        design = torch.stack([torch.sin(xs), torch.cos(xs)], 1)
        coef = torch.linalg.lstsq(design, ys[:, None]).solution[:, 0]
        xq = query.x[t, :, 0].double()
        pred = coef[0] * torch.sin(xq) + coef[1] * torch.cos(xq)
        assert torch.allclose(pred, query.y[t].double(), atol=1e-4)


def test_sample_sinusoids_same_generator_seed_same_tasks() -> None:
    a = sample_sinusoids(torch.Generator().manual_seed(3), 4, 5, 5)
    b = sample_sinusoids(torch.Generator().manual_seed(3), 4, 5, 5)
    c = sample_sinusoids(torch.Generator().manual_seed(4), 4, 5, 5)
    assert torch.equal(a[0].y, b[0].y) and torch.equal(a[1].x, b[1].x)
    assert not torch.equal(a[0].y, c[0].y)


def test_masked_mse_ignores_padding_rows() -> None:
    pred = torch.tensor([1.0, 2.0, 100.0])
    y = torch.tensor([0.0, 0.0, 0.0])
    mask = torch.tensor([True, True, False])
    assert float(masked_mse(pred, y, mask, None)) == pytest.approx((1.0 + 4.0) / 2)
    assert (
        float(masked_mse(pred, y, torch.zeros(3, dtype=torch.bool), None)) == 0.0
    )  # no row: no NaN


def _args(**kw) -> argparse.Namespace:
    base = dict(
        steps=150,
        meta_batch=10,
        shots=[5],
        test_tasks=100,
        methods=["maml", "random-init"],
        inner_lr=0.01,
        outer_lr=1e-2,
        seed=0,
        threads=1,
        quick=False,
    )
    base.update(kw)
    return argparse.Namespace(**base)


def test_meta_trained_maml_beats_the_untrained_net_on_the_same_test_tasks() -> None:
    res = compute(_args())
    rows = {r["method"]: r for r in res.rows}
    assert set(rows) == {"maml", "random-init"}
    for r in rows.values():
        assert (
            math.isfinite(r["mse_1_step"]) and math.isfinite(r["mse_10_steps"]) and r["ci95_10"] > 0
        )
    # the same net and seed, untrained ("random-init"), adapted by the same rule on the same tasks
    assert rows["maml"]["mse_10_steps"] < 0.8 * rows["random-init"]["mse_10_steps"]
    assert res.summary["mse@10 maml K=5"] == rows["maml"]["mse_10_steps"]


def test_compute_is_deterministic_for_a_seed() -> None:
    a = compute(_args(steps=5, test_tasks=20, methods=["metasgd"]))
    b = compute(_args(steps=5, test_tasks=20, methods=["metasgd"]))
    assert a.rows[0]["mse_10_steps"] == b.rows[0]["mse_10_steps"]
