"""NormalizedSpace: Optuna distributions <-> unit coordinates and GP features."""

from __future__ import annotations

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from autometa.optuna._space import NormalizedSpace


def test_normalized_space_round_trip() -> None:
    space = NormalizedSpace(
        {
            "f": FloatDistribution(-2, 3),
            "l": FloatDistribution(1e-4, 1, log=True),
            "s": FloatDistribution(0, 1, step=0.25),
            "i": IntDistribution(1, 9, step=2),
            "il": IntDistribution(1, 100, log=True),
            "c": CategoricalDistribution(["x", 1, None]),
        }
    )
    rng = np.random.default_rng(0)
    internal = space.internal_from_unit(rng.random((200, space.dim)))
    for row in internal:
        params = space.params_from_internal(row)
        for name, dist in space.distributions.items():
            assert dist._contains(dist.to_internal_repr(params[name]))
        np.testing.assert_allclose(space.internal_from_params(params), row)
    assert space.internal_from_params({"f": 100.0}) is None
    feats = space.features_from_internal(internal)
    assert feats.shape == (200, space.n_features) and np.all((feats >= 0) & (feats <= 1))


def test_order_log_scale_and_categorical_distance() -> None:
    a = NormalizedSpace({"b": FloatDistribution(0, 1), "a": FloatDistribution(1e-4, 1, log=True)})
    assert a.names == ["a", "b"] and a.subspace(["b"]).names == ["b"]
    u = a.unit_from_internal(np.array([[1e-2, 0.5]]))
    np.testing.assert_allclose(u, [[0.5, 0.5]])
    c = NormalizedSpace({"c": CategoricalDistribution(["p", "q", "r", "s"])})
    f = c.features_from_internal(np.array([[0.0], [3.0]]))
    np.testing.assert_allclose(np.linalg.norm(f[0] - f[1]), 1.0)
