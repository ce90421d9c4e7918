"""Candidate points for MetaSampler's acquisition: space filling, fresh random, local moves."""

from __future__ import annotations

import numpy as np

from autometa.optuna._space import NormalizedSpace

__all__ = ["local_and_random_candidates"]

_LOCAL_SCALES = (0.03, 0.1, 0.25)  # perturbation widths in unit coordinates
_N_TOP = 5  # perturb around this many best observations
_N_COORD = 8  # one-coordinate moves per parameter (from the best observations)


def local_and_random_candidates(
    space: NormalizedSpace,
    obs_x: np.ndarray,
    z: np.ndarray,
    n_fresh: int,
    n_local: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Per-proposal candidates (internal values ``[n_fresh + n_local, dim]``).

    ``n_fresh`` uniform points in the normalized space, then ``n_local`` Gaussian perturbations
    (widths 0.03, 0.1 or 0.25 in unit coordinates) of the 5 observations with the lowest ``z``,
    then ``8 * dim`` one-coordinate moves: one of those observations (the best one half of the
    time) with a single parameter redrawn uniformly. The one-coordinate moves let the
    acquisition see "the incumbent with another depth" for an integer or categorical parameter
    whose other values no joint perturbation reaches. The fixed space-filling candidates of a
    space are cached by the sampler and added there.
    """
    fresh = space.internal_from_unit(rng.random((n_fresh, space.dim)))
    top = obs_x[np.argsort(z, kind="stable")[:_N_TOP]]
    top_u = space.unit_from_internal(top)
    scales = rng.choice(list(_LOCAL_SCALES), size=(n_local, 1))
    local_u = top_u[rng.integers(0, len(top_u), n_local)] + scales * rng.standard_normal(
        (n_local, space.dim)
    )
    n_coord = _N_COORD * space.dim
    origin = np.where(rng.random(n_coord) < 0.5, 0, rng.integers(0, len(top_u), n_coord))
    coord_u = top_u[origin].copy()
    coord_u[np.arange(n_coord), np.arange(n_coord) % space.dim] = rng.random(n_coord)
    return np.concatenate(
        [fresh, space.internal_from_unit(local_u), space.internal_from_unit(coord_u)], axis=0
    )
