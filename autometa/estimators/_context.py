"""The rows every member of a blend reads, built once per ``fit`` (and once per ``predict``).

A :class:`FitContext` holds the user's table (its informative columns, as a DataFrame), the
:class:`~autometa.estimators._table.TableSpec` fitted on the training rows, and what the task
says about itself (its number of classes; for regression, the order of categorical levels by
mean target). The design matrices are computed from it on first use and then kept, so every
member that reads the ``"tree"`` or ``"linear"`` matrix reads the same one. Every member
implements ``fit(context, y, seed)`` and ``predict(context)`` (or ``predict_proba``); a
subset of the rows (a fold) comes from :meth:`FitContext.take`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from autometa.estimators._table import TableSpec, TargetOrder
from autometa.tasks import TabularEncoder

__all__ = ["FitContext"]


@dataclass
class FitContext:
    """One table as the members see it.

    Parameters
    ----------
    frame : DataFrame
        The rows, with the training table's informative columns.
    spec : TableSpec or None
        Fitted on the training rows; ``None`` fits one on ``frame`` when a design matrix is
        first asked for (a context built by hand: ``FitContext(frame)``).
    n_classes : int, default=0
        Classes of the task (0 for regression).
    target_order : TargetOrder or None
        Regression only: categorical levels ranked by their mean target, which the
        meta-learned members read (:attr:`ordered`).
    n_jobs : int, default=1
        Threads a member may use.
    device : str, default="cpu"
        Where a member that adapts a net does it.
    """

    frame: pd.DataFrame
    spec: TableSpec | None = None
    n_classes: int = 0
    target_order: TargetOrder | None = None
    n_jobs: int = 1
    device: Any = "cpu"
    _matrices: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def take(self, rows: np.ndarray) -> FitContext:
        """The same task over some of its rows (positions ``rows``), e.g. one fold of a cross-fit.

        The spec, classes and level order stay those fitted on all the rows; design matrices
        already computed are sliced rather than computed again (they are row-wise, so the
        slice is what computing them would give).
        """
        rows = np.asarray(rows)
        frame = self.frame.iloc[rows].reset_index(drop=True)
        sub = FitContext(
            frame, self.table_spec, self.n_classes, self.target_order, self.n_jobs, self.device
        )
        sub._matrices = {kind: matrix[rows] for kind, matrix in self._matrices.items()}
        return sub

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @cached_property
    def table_spec(self) -> TableSpec:
        """The fitted :class:`TableSpec` (fitted on :attr:`frame` when none was given)."""
        return self.spec if self.spec is not None else TableSpec().fit(self.frame)

    def matrix(self, kind: str) -> np.ndarray:
        """The ``"tree"`` or ``"linear"`` design matrix of :attr:`frame` (computed once)."""
        if kind not in self._matrices:
            spec = self.table_spec
            if kind == "tree":
                self._matrices[kind] = spec.tree_matrix(self.frame)
            elif kind == "linear":
                self._matrices[kind] = spec.linear_matrix(self.frame)
            else:
                raise ValueError(f"kind must be 'tree' or 'linear'; got {kind!r}.")
        return self._matrices[kind]

    @cached_property
    def ordered(self) -> pd.DataFrame:
        """:attr:`frame` with categorical levels replaced by their rank by mean target (when
        a ``target_order`` was fitted; otherwise the frame itself)."""
        return self.frame if self.target_order is None else self.target_order.transform(self.frame)


class EncodedRowsMember:
    """Part of a regression member that reads :attr:`FitContext.ordered` through its own encoder.

    The meta-learned regression members read the table as the
    :class:`~autometa.tasks.TabularEncoder` of their learner's ``d_max`` encodes it (the
    encoder every meta-training task was built with); the member fits that encoder in ``fit``
    and owns it (``encoder_``).
    """

    learner: Any

    def _fit_encoder(self, context: FitContext) -> tuple[np.ndarray, np.ndarray]:
        """Fit ``encoder_`` on the training rows; their encoding ``(n, d_max)`` and feature mask."""
        self.encoder_ = TabularEncoder(
            d_max=self.learner.d_max, c_max=2, spacing=getattr(self.learner, "spacing", False)
        ).fit(context.ordered)
        return self.encoder_.transform(context.ordered)

    def encode(self, rows: FitContext | np.ndarray) -> np.ndarray:
        """Encoded rows ``(n, d_max)`` of a context (rows already encoded pass through)."""
        if isinstance(rows, FitContext):
            rows = self.encoder_.transform(rows.ordered)[0]
        return np.ascontiguousarray(np.asarray(rows, dtype=np.float32))
