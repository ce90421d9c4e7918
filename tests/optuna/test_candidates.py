"""Per-proposal candidates and the kriging-believer pick."""

from __future__ import annotations

import numpy as np
from optuna.distributions import FloatDistribution, IntDistribution

from autometa.optuna._believer import pick_with_believer
from autometa.optuna._candidates import local_and_random_candidates
from autometa.optuna._gp import GP
from autometa.optuna._space import NormalizedSpace


def test_candidates_are_valid_seeded_and_partly_local() -> None:
    space = NormalizedSpace({"x": FloatDistribution(0, 1), "k": IntDistribution(1, 50)})
    obs = space.internal_from_unit(np.random.default_rng(0).random((20, 2)))
    z = np.arange(20.0)
    a = local_and_random_candidates(space, obs, z, 30, 40, np.random.default_rng(1))
    b = local_and_random_candidates(space, obs, z, 30, 40, np.random.default_rng(1))
    assert a.shape == (70 + 8 * 2, 2) and np.array_equal(a, b)
    assert space.names == ["k", "x"]
    assert np.all(a[:, 0] == np.round(a[:, 0])) and np.all((a[:, 1] >= 0) & (a[:, 1] <= 1))
    # Local moves stay near the 5 best observations more often than fresh points do.
    best = space.unit_from_internal(obs[:5])

    def dist(pts):
        return np.min(
            np.linalg.norm(space.unit_from_internal(pts)[:, None] - best[None], axis=2), axis=1
        )

    assert np.median(dist(a[30:70])) < np.median(dist(a[:30]))
    # One-coordinate moves: a best observation with exactly one parameter redrawn.
    coord = space.unit_from_internal(a[70:])
    best_u = space.unit_from_internal(obs[:5])
    same = np.isclose(coord[:, None, :], best_u[None, :, :], atol=1e-6).sum(axis=2).max(axis=1)
    assert np.all(same >= 1)


def test_believer_reserves_the_best_pick_for_a_pending_trial() -> None:
    x = np.array([[0.0], [1.0]])
    resid = np.array([1.0, 1.0])
    gp = GP(0.3, 1e-6).fit(x, resid)
    feats = np.linspace(0, 1, 21)[:, None]
    base = np.zeros(21)
    first = pick_with_believer(gp, x, resid, feats, base, 1.0, np.ones(21, bool), pending=0)
    second = pick_with_believer(gp, x, resid, feats, base, 1.0, np.ones(21, bool), pending=1)
    assert first != second
