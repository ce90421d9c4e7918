"""Task *views*: a random placement of the encoded columns in the ``d_max``-wide input.

The classifier's neural members are meta-trained on views (:class:`ViewPool`) and adapt on
views at ``fit`` time (:func:`random_view`, :func:`place`), so the two see the same
distribution of column positions.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

__all__ = ["ViewPool", "place", "random_slots", "random_view"]


def random_slots(d_max: int, rng: np.random.Generator) -> np.ndarray:
    """A random placement: encoded column ``j`` goes to input position ``slots[j]``."""
    return rng.permutation(d_max)


def random_view(
    d_max: int, n_classes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random placement of the ``d_max`` encoded columns and a random class relabeling.

    Returns
    -------
    slots : ndarray (d_max,)
        Encoded column ``j`` goes to input position ``slots[j]``.
    label_perm : ndarray (n_classes,)
        Class ``c`` becomes output ``label_perm[c]``.
    """
    return random_slots(d_max, rng), rng.permutation(n_classes)


def place(x: np.ndarray, mask: np.ndarray, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move encoded columns ``x[:, j]`` (and the mask) to positions ``slots[j]``."""
    out = np.zeros_like(x)
    out[..., slots] = x
    m = np.zeros_like(mask)
    m[slots] = mask
    return out, m


class ViewPool:
    """Wrap a pool: put each task's encoded columns at random input positions.

    Parameters
    ----------
    pool : TaskPool
        Any pool; its tasks' class labels are already permuted by the pool.
    """

    def __init__(self, pool: Any) -> None:
        self.pool, self.d_max, self.c_max = pool, pool.d_max, pool.c_max
        self.name = f"view({pool.name})"

    def sample(self, rng: np.random.Generator) -> Any:
        """A task of the wrapped pool with its columns (and feature mask) moved."""
        import torch

        task = self.pool.sample(rng)
        slots = torch.from_numpy(random_slots(self.d_max, rng))

        def moved(x: torch.Tensor) -> torch.Tensor:
            out = torch.zeros_like(x)
            out[..., slots] = x
            return out

        return replace(
            task,
            x_support=moved(task.x_support),
            x_query=moved(task.x_query),
            feature_mask=moved(task.feature_mask),
        )
