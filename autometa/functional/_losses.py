"""Masked losses for padded task batches (per task; vmap over the task axis)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["mask_logits", "masked_accuracy", "masked_cross_entropy", "masked_squared_error"]

_NEG = -1e9


def mask_logits(logits: Tensor, class_mask: Tensor) -> Tensor:
    """Set the logits of classes a task does not have to a large negative number.

    ``logits``: ``[n, C]``; ``class_mask``: ``[C]`` bool.
    """
    return torch.where(class_mask, logits, torch.full_like(logits, _NEG))


def masked_cross_entropy(logits: Tensor, y: Tensor, row_mask: Tensor, class_mask: Tensor) -> Tensor:
    """Mean cross-entropy over the real rows of one task.

    Parameters
    ----------
    logits : Tensor (n, C)
    y : Tensor (n,), int64
    row_mask : Tensor (n,), bool; False for padded rows
    class_mask : Tensor (C,), bool; False for classes the task does not have
    """
    logp = torch.log_softmax(mask_logits(logits, class_mask), dim=-1)
    nll = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1)
    w = row_mask.to(logits.dtype)
    return (nll * w).sum() / w.sum().clamp_min(1.0)


def masked_accuracy(logits: Tensor, y: Tensor, row_mask: Tensor, class_mask: Tensor) -> Tensor:
    """Accuracy over the real rows of one task."""
    pred = mask_logits(logits, class_mask).argmax(-1)
    w = row_mask.to(logits.dtype)
    return ((pred == y).to(logits.dtype) * w).sum() / w.sum().clamp_min(1.0)


def masked_squared_error(
    outputs: Tensor, y: Tensor, row_mask: Tensor, class_mask: Tensor
) -> Tensor:
    """Mean squared error over the real rows of one regression task.

    ``outputs``: ``[n, 1]`` (a one-output net) or ``[n]``; ``y``: ``[n]`` float targets;
    ``class_mask`` is ignored (the signature is the inner loop's loss signature).
    """
    pred = outputs[..., 0] if outputs.dim() == y.dim() + 1 else outputs
    w = row_mask.to(pred.dtype)
    return ((pred - y.to(pred.dtype)) ** 2 * w).sum() / w.sum().clamp_min(1.0)
