"""MAML for regression: a one-output net whose initialization is meta-learned for squared error.

:class:`MAMLRegression` (``algo="maml-regression"``) is :class:`~autometa.meta.MAML` with the
inner and outer losses replaced by the masked squared error on the task's (standardized) float
targets (:func:`~autometa.functional._losses.masked_squared_error`); the base net has one
output (``c_max=1``). It trains on regression tasks (:class:`~autometa.tasks.RegressionPrior`,
:class:`~autometa.tasks.InContextRegressionPrior`) with the same :class:`MetaTrainer`,
checkpoints and inner loop as every other learner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from autometa.functional._adapt import adapt, batched_forward, support_from_batch
from autometa.functional._losses import masked_squared_error
from autometa.meta._base import register_learner
from autometa.meta._maml import MAML
from autometa.tasks._task import TaskBatch

__all__ = ["MAMLRegression"]


@register_learner("maml-regression")
class MAMLRegression(MAML):
    """Model-Agnostic Meta-Learning for regression (Finn et al. 2017, section 5.1).

    Parameters
    ----------
    net : dict
        Base net config with one output, e.g. ``{"kind": "mlp", "d_max": 32, "c_max": 1,
        "hidden": [64, 64]}``.
    inner_steps, inner_lr, first_order
        As for :class:`~autometa.meta.MAML`.
    """

    def __init__(self, net: Mapping[str, Any], inner_steps: int = 5, inner_lr: float = 0.1,
                 first_order: bool = False) -> None:  # fmt: skip
        super().__init__(net, inner_steps=inner_steps, inner_lr=inner_lr, first_order=first_order)
        if self.c_max != 1:
            raise ValueError(
                f"maml-regression needs a one-output net (c_max=1); got c_max={self.c_max}."
            )

    def adapt(
        self, batch: TaskBatch, steps: int | None = None, inference: bool = False
    ) -> dict[str, Tensor]:
        """Fast parameters after ``steps`` (default ``inner_steps``) squared-error steps on the support rows."""
        self._check_batch(batch)
        return adapt(
            self.net,
            self.init_params(),
            support_from_batch(batch),
            steps=self.inner_steps if steps is None else int(steps),
            update_rule=self.update_rule(),
            first_order=self.first_order,
            params_to_adapt=self.params_to_adapt(),
            loss_fn=masked_squared_error,
            inference=inference,
        )

    def predict(self, fast: Mapping[str, Tensor], x: Tensor, batch: TaskBatch) -> Tensor:
        """Predicted (standardized) targets ``[T, n]`` of the adapted nets on rows ``x: [T, n, D]``."""
        return batched_forward(self.net, fast, x, batch.feature_mask)[..., 0]

    def _query_mse(self, batch: TaskBatch) -> Tensor:
        pred = self.predict(self.adapt(batch), batch.x_query, batch)
        return torch.vmap(masked_squared_error)(
            pred, batch.y_query, batch.query_mask, batch.class_mask
        )

    def meta_loss(self, batch: TaskBatch) -> tuple[Tensor, dict[str, float]]:
        """Query mean squared error after adaptation, averaged over tasks."""
        loss = self._query_mse(batch).mean()
        return loss, {"loss": float(loss.detach()), "rmse": float(loss.detach().sqrt())}

    @torch.no_grad()
    def evaluate(self, batch: TaskBatch) -> dict[str, float]:
        """Query loss after adaptation (gradients inside adaptation still flow)."""
        with torch.enable_grad():
            loss = self._query_mse(batch).mean()
        return {"loss": float(loss), "rmse": float(loss.sqrt())}
