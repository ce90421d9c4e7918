"""Bounded predictions: inputs clipped to the training range, targets to a widened range.

A linear or kernel member extrapolates without limit: one data-entry error (a feature ten
times its training range) moves a ridge prediction by ten training ranges, and through a log
target transform by a factor of ``e**10``. Two guards, both fitted on the training rows:

:class:`InputBounds`
    The per-column range of a design matrix. :meth:`~InputBounds.clip` clips new rows into it
    (the linear, distance and kernel members read clipped rows: they then predict as for the
    nearest training extreme, as trees do); :meth:`~InputBounds.far_outside` finds rows that
    lie more than ``FAR`` training ranges outside, for a warning.
:class:`TargetBounds`
    The training targets' range widened by ``margin`` times its width on each side (in the
    units the members learn, i.e. after the target transform; for a log-transformed target
    the margin is multiplicative in the user's units). Every member's prediction and the blend
    are clipped into it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["FAR", "TARGET_MARGIN", "InputBounds", "TargetBounds"]

#: rows further than this many training ranges outside a column's range are "far outside"
FAR = 1.0
#: the documented margin: predictions stay within the training targets' range widened by this
#: share of its width on each side (transformed units; chosen on the validation tables)
TARGET_MARGIN = 0.25


class InputBounds:
    """Per-column minimum and maximum of a training matrix (NaN ignored)."""

    def fit(self, X: np.ndarray) -> InputBounds:
        X = np.asarray(X, dtype=np.float64)
        if X.shape[0] == 0 or X.shape[1] == 0:
            self.low_ = np.full(X.shape[1], -np.inf)
            self.high_ = np.full(X.shape[1], np.inf)
            return self
        with np.errstate(all="ignore"):
            lo, hi = (
                np.nanmin(np.where(np.isnan(X), np.inf, X), axis=0),
                np.nanmax(np.where(np.isnan(X), -np.inf, X), axis=0),
            )
        empty = lo > hi  # an all-NaN column: no bound
        self.low_ = np.where(empty, -np.inf, lo)
        self.high_ = np.where(empty, np.inf, hi)
        return self

    def clip(self, X: np.ndarray) -> np.ndarray:
        """``X`` clipped column-wise into the training range (NaN stays NaN)."""
        return np.clip(X, self.low_, self.high_)

    def far_outside(self, X: np.ndarray, far: float = FAR) -> np.ndarray:
        """Boolean ``(n_rows, n_columns)``: values more than ``far`` training ranges outside the range.

        Columns that were constant during training (zero range) never count: any other value
        would be "infinitely" far.
        """
        width = self.high_ - self.low_
        live = np.isfinite(width) & (width > 0)
        with np.errstate(invalid="ignore"):
            out = (X < self.low_ - far * width) | (X > self.high_ + far * width)
        return out & live & ~np.isnan(X)

    def describe(self, X: np.ndarray, names: Sequence[str], far: float = FAR) -> str | None:
        """One sentence naming the rows and the worst column far outside the range, or None."""
        mask = self.far_outside(X, far)
        if not mask.any():
            return None
        rows = np.flatnonzero(mask.any(axis=1))
        width = np.where(self.high_ > self.low_, self.high_ - self.low_, 1.0)
        excess = np.where(mask, np.maximum(self.low_ - X, X - self.high_) / width, 0.0)
        r, c = np.unravel_index(int(np.argmax(excess)), excess.shape)
        return (
            f"{len(rows)} row(s) of X (e.g. row {int(rows[0])}) hold values far outside the training range; "
            f"the furthest: column {names[c]!r} = {X[r, c]:.6g}, training range [{self.low_[c]:.6g}, "
            f"{self.high_[c]:.6g}]."
        )


class TargetBounds:
    """The training targets' range widened by ``margin`` of its width on each side."""

    def __init__(self, margin: float = TARGET_MARGIN) -> None:
        if not margin >= 0:
            raise ValueError(f"margin must be >= 0; got {margin!r}.")
        self.margin = float(margin)

    def fit(self, z: np.ndarray) -> TargetBounds:
        z = np.asarray(z, dtype=np.float64)
        lo, hi = float(np.min(z)), float(np.max(z))
        width = hi - lo if hi > lo else 1.0
        self.low_ = lo - self.margin * width
        self.high_ = hi + self.margin * width
        return self

    def clip(self, z: np.ndarray) -> np.ndarray:
        return np.clip(z, self.low_, self.high_)
