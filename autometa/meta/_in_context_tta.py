"""Test-time adaptation of the in-context learner by the Meta-LSTM learned optimizer.

:class:`InContextTTA` (``algo="in-context-tta"``) composes two meta-learners of this package:
a (frozen) :class:`~autometa.meta.InContextLearner` reads the support set as usual, and then
the output head is adapted to the task for a few steps by the coordinate-wise Meta-LSTM
optimizer (Ravi & Larochelle 2017, :class:`~autometa.meta.MetaLSTMRule`) through the one inner
loop :func:`autometa.functional.adapt`:

* the head's **initialization** is MAML-style meta-learned (it starts as the in-context
  learner's own head, so zero steps reproduce the in-context learner exactly);
* the inner loss is a **2-fold cross-fitted** cross-entropy on the support rows: the support
  rows are split into two folds (alternate rows), each fold is encoded by attending only to
  the other fold's rows and labels, so the loss of a row is computed without its own label
  anywhere in its context (a held-out signal, not a memorized one);
* the outer loss is the query cross-entropy after the steps; second-order meta-gradients flow
  through the steps into the head initialization and the LSTM (cheap: only the head adapts).

Only the head initialization and the LSTM are meta-trained; the in-context weights stay as
shipped. With one support row there is nothing to hold out and the head is not adapted.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from autometa.functional._adapt import Support, adapt
from autometa.meta._base import MetaLearner, masked_predict, register_learner
from autometa.meta._in_context import InContextLearner, InContextState
from autometa.meta._meta_lstm import MetaLSTMRule
from autometa.tasks._task import TaskBatch

__all__ = ["InContextTTA"]


class _TTAState(NamedTuple):
    context: InContextState
    head: dict[str, Tensor]  # weight (T, C, W), bias (T, C)


def _head(params: dict[str, Tensor], h: Tensor, feature_mask: Tensor) -> Tensor:
    return h @ params["weight"].T + params["bias"]


@register_learner("in-context-tta")
class InContextTTA(MetaLearner):
    """An in-context learner whose head the Meta-LSTM adapts on the support set (see module docstring).

    Parameters
    ----------
    base : dict
        The :class:`InContextLearner` config (its weights come from ``load_state_dict`` or
        :meth:`from_learner`).
    steps : int, default=3
        Meta-LSTM steps on the head.
    hidden_size, init_lr : passed to :class:`~autometa.meta.MetaLSTMRule`.
    """

    def __init__(
        self, base: dict[str, Any], steps: int = 3, hidden_size: int = 20, init_lr: float = 0.05
    ) -> None:
        super().__init__()
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be a non-negative int; got {steps!r}.")
        self.base = InContextLearner(**base)
        self.base.requires_grad_(False)
        self.steps = steps
        self.rule = MetaLSTMRule(hidden_size=hidden_size, init_lr=init_lr)
        self.head_weight = nn.Parameter(self.base.head.weight.detach().clone())
        self.head_bias = nn.Parameter(self.base.head.bias.detach().clone())

    @classmethod
    def from_learner(cls, learner: InContextLearner, **kwargs: Any) -> InContextTTA:
        """Wrap a trained in-context learner (copies its weights; the head starts as its head)."""
        tta = cls(learner.get_config(), **kwargs)
        tta.base.load_state_dict(learner.state_dict())
        with torch.no_grad():
            tta.head_weight.copy_(learner.head.weight)
            tta.head_bias.copy_(learner.head.bias)
        return tta

    @property
    def d_max(self) -> int:
        return self.base.d_max

    @property
    def c_max(self) -> int:
        return self.base.c_max

    def get_config(self) -> dict[str, Any]:
        return {"base": self.base.get_config(), "steps": self.steps, "hidden_size": self.rule.hidden_size,
                "init_lr": self.rule.init_lr}  # fmt: skip

    def train(self, mode: bool = True) -> InContextTTA:
        super().train(mode)
        self.base.eval()  # frozen: no slot shuffling, no dropout-like behaviour changes
        return self

    def adapt(self, batch: TaskBatch) -> _TTAState:
        """Support state of the base learner, then ``steps`` Meta-LSTM steps on the head."""
        steps = self.steps if batch.x_support.shape[1] > 1 else 0
        with torch.no_grad():
            context = self.base.adapt(batch)
            held_out = self._cross_fitted_features(batch) if steps else batch.x_support
        init = {"weight": self.head_weight, "bias": self.head_bias}
        support = Support(
            held_out, batch.y_support, batch.support_mask, batch.feature_mask, batch.class_mask
        )
        fast = adapt(_head, init, support, steps=steps, update_rule=self.rule)
        return _TTAState(context, fast)

    def _cross_fitted_features(self, batch: TaskBatch) -> Tensor:
        """Features ``[T, S, width]`` of the support rows, each fold encoded against the other fold."""
        fold = (torch.arange(batch.x_support.shape[1], device=batch.x_support.device) % 2 == 0)[
            None, :
        ]
        out = torch.zeros(
            *batch.x_support.shape[:2], self.base.width, device=batch.x_support.device
        )
        for rows in (fold, ~fold):
            context = self.base.adapt(replace(batch, support_mask=batch.support_mask & ~rows))
            feats = self.base.features(context, batch.x_support, batch)
            out = torch.where(rows[..., None], feats, out)
        return out

    def predict(self, fast: _TTAState, x: Tensor, batch: TaskBatch) -> Tensor:
        with torch.no_grad():
            h = self.base.features(fast.context, x, batch)
        logits = torch.vmap(_head)(fast.head, h, batch.feature_mask)
        return masked_predict(logits, batch)
