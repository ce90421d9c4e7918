"""Normalized search spaces: Optuna distributions <-> unit coordinates and GP features.

Every parameter gets one *unit coordinate* in ``[0, 1]``: numerical parameters are mapped
linearly (or logarithmically, for ``log=True``) from ``[low, high]``; a categorical parameter with
``n`` choices maps choice ``i`` to ``(i + 0.5) / n``. The GP works on *features*: the unit
coordinate of a numerical parameter, and a scaled one-hot block for a categorical one (two
different choices are at distance 1, whatever the number of choices).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

__all__ = ["NormalizedSpace"]

_SQRT_HALF = math.sqrt(0.5)


def _transform(dist: FloatDistribution | IntDistribution) -> tuple[float, float]:
    lo, hi = float(dist.low), float(dist.high)
    if dist.log:
        return math.log(lo), math.log(hi)
    return lo, hi


class NormalizedSpace:
    """An ordered search space with vectorized encoders.

    Parameters
    ----------
    distributions : mapping of str to BaseDistribution
        The search space; parameters are ordered by name so that the encoding does not depend
        on the order in which an objective suggests them.
    """

    def __init__(self, distributions: Mapping[str, BaseDistribution]) -> None:
        self.names: list[str] = sorted(distributions)
        self.distributions: dict[str, BaseDistribution] = {n: distributions[n] for n in self.names}
        self._feature_slices: list[slice] = []
        start = 0
        for name in self.names:
            dist = self.distributions[name]
            width = len(dist.choices) if isinstance(dist, CategoricalDistribution) else 1
            self._feature_slices.append(slice(start, start + width))
            start += width
        self.n_features = start

    @property
    def dim(self) -> int:
        """Number of parameters."""
        return len(self.names)

    @property
    def feature_slices(self) -> list[slice]:
        """The GP feature columns of each parameter (a categorical one's one-hot block)."""
        return list(self._feature_slices)

    @property
    def signature(self) -> tuple[tuple[str, str], ...]:
        """A hashable description of the space (used as a cache key)."""
        return tuple((n, repr(self.distributions[n])) for n in self.names)

    # -- values <-> internal representation ------------------------------------------------
    def internal_from_params(self, params: Mapping[str, Any]) -> np.ndarray | None:
        """Optuna internal representation of one configuration, or ``None`` if it does not fit.

        A value fits when the parameter is present, and the value lies inside the
        distribution's range (numerical) or is one of its choices (categorical).
        """
        out = np.empty(self.dim)
        for j, name in enumerate(self.names):
            if name not in params:
                return None
            dist = self.distributions[name]
            value = params[name]
            try:
                if isinstance(dist, CategoricalDistribution):
                    if value not in dist.choices:
                        return None
                    out[j] = float(dist.choices.index(value))
                else:
                    v = float(value)
                    if not (math.isfinite(v) and dist.low <= v <= dist.high):
                        return None
                    out[j] = v
            except (TypeError, ValueError):
                return None
        return out

    def params_from_internal(self, internal: np.ndarray) -> dict[str, Any]:
        """External (user-facing) parameter values with plain Python types."""
        params: dict[str, Any] = {}
        for j, name in enumerate(self.names):
            dist = self.distributions[name]
            v = float(internal[j])
            if isinstance(dist, CategoricalDistribution):
                params[name] = dist.choices[int(round(v))]
            elif isinstance(dist, IntDistribution):
                params[name] = int(round(v))
            else:
                params[name] = float(v)
        return params

    # -- unit coordinates --------------------------------------------------------------------
    def unit_from_internal(self, internal: np.ndarray) -> np.ndarray:
        """Map internal values ``[n, dim]`` to unit coordinates ``[n, dim]``."""
        internal = np.atleast_2d(np.asarray(internal, dtype=float))
        out = np.empty_like(internal)
        for j, name in enumerate(self.names):
            dist = self.distributions[name]
            col = internal[:, j]
            if isinstance(dist, CategoricalDistribution):
                out[:, j] = (col + 0.5) / len(dist.choices)
                continue
            lo, hi = _transform(dist)
            t = np.log(col) if dist.log else col
            out[:, j] = 0.5 if hi <= lo else (t - lo) / (hi - lo)
        return np.clip(out, 0.0, 1.0)

    def internal_from_unit(self, unit: np.ndarray) -> np.ndarray:
        """Map unit coordinates to valid internal values (rounded to steps and integers)."""
        unit = np.clip(np.atleast_2d(np.asarray(unit, dtype=float)), 0.0, 1.0)
        out = np.empty_like(unit)
        for j, name in enumerate(self.names):
            dist = self.distributions[name]
            u = unit[:, j]
            if isinstance(dist, CategoricalDistribution):
                n = len(dist.choices)
                out[:, j] = np.minimum(np.floor(u * n), n - 1)
                continue
            lo, hi = _transform(dist)
            if isinstance(dist, IntDistribution):
                # Widen by half a step so that the end points get their fair share.
                step = dist.step
                if dist.log:
                    # log=True implies low >= 1, so low - 0.5 > 0.
                    lo_w, hi_w = math.log(dist.low - 0.5), math.log(dist.high + 0.5)
                    v = np.exp(lo_w + u * (hi_w - lo_w))
                    v = np.round(v)
                else:
                    lo_w, hi_w = dist.low - 0.5 * step, dist.high + 0.5 * step
                    v = lo_w + u * (hi_w - lo_w)
                    v = dist.low + np.round((v - dist.low) / step) * step
                out[:, j] = np.clip(v, dist.low, dist.high)
                continue
            v = np.exp(lo + u * (hi - lo)) if dist.log else lo + u * (hi - lo)
            if dist.step is not None:
                v = dist.low + np.round((v - dist.low) / dist.step) * dist.step
            out[:, j] = np.clip(v, dist.low, dist.high)
        return out

    # -- GP features -----------------------------------------------------------------------
    def features_from_internal(self, internal: np.ndarray) -> np.ndarray:
        """GP features ``[n, n_features]``: unit coordinates and scaled one-hot blocks."""
        internal = np.atleast_2d(np.asarray(internal, dtype=float))
        unit = self.unit_from_internal(internal)
        feats = np.zeros((internal.shape[0], self.n_features))
        for j, name in enumerate(self.names):
            dist = self.distributions[name]
            sl = self._feature_slices[j]
            if isinstance(dist, CategoricalDistribution):
                idx = np.clip(np.round(internal[:, j]).astype(int), 0, len(dist.choices) - 1)
                feats[np.arange(internal.shape[0]), sl.start + idx] = _SQRT_HALF
            else:
                feats[:, sl.start] = unit[:, j]
        return feats

    def subspace(self, names: Sequence[str]) -> NormalizedSpace:
        """The space restricted to ``names``."""
        return NormalizedSpace({n: self.distributions[n] for n in names})
