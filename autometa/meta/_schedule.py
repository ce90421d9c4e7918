"""The outer optimizer, its learning-rate schedule and mixed precision for the meta-trainer."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from typing import Any

import torch

__all__ = ["AMP_CHOICES", "OPTIMIZERS", "SCHEDULES", "autocast", "lr_at", "make_optimizer", "resolve_amp"]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")
AMP_CHOICES = ("auto", "bf16", "fp16", "off")


def lr_at(
    step: int,
    *,
    lr: float,
    schedule: str,
    warmup_steps: int,
    horizon: int,
    decay_window: tuple[int, int] | None = None,
) -> float:
    """Learning rate of the update that follows ``step`` completed steps.

    Linear warm-up from ``lr / warmup_steps`` to ``lr`` over the first ``warmup_steps``
    steps; then constant, or (``schedule="cosine"``) cosine decay to 0 at step ``horizon``.
    With ``decay_window=(start, end)`` the rate is further multiplied by a linear ramp from 1
    at step ``start`` to 0 at step ``end`` (the cool-down of a warmup-stable-decay schedule,
    which can branch off a long constant-rate run at any step).
    """
    factor = 1.0
    if warmup_steps and step < warmup_steps:
        factor = (step + 1) / warmup_steps
    elif schedule == "cosine" and horizon > warmup_steps:
        progress = min(1.0, (step - warmup_steps) / (horizon - warmup_steps))
        factor = 0.5 * (1.0 + math.cos(math.pi * progress))
    if decay_window is not None:
        start, end = decay_window
        if step >= start:
            factor *= max(0.0, (end - step) / (end - start))
    return float(lr) * factor


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], *, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """``"adam"``, ``"adamw"`` or ``"sgd"`` (momentum 0.9) over ``params``."""
    params = list(params)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ValueError(f"optimizer={name!r} is not supported; use one of {OPTIMIZERS}.")


def resolve_amp(amp: str | bool | None, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for an ``amp`` setting on ``device`` (None: full precision).

    ``True`` means ``"auto"``: bf16 where the GPU supports it, else fp16; off on CPU.

    Raises
    ------
    ValueError
        If ``"bf16"`` or ``"fp16"`` is asked for on a device that is not CUDA.
    """
    mode = "auto" if amp is True else ("off" if amp in (False, None) else amp)
    if device.type != "cuda":
        if mode in ("bf16", "fp16"):
            raise ValueError(f"amp={mode!r} needs a CUDA device; on {device.type} use amp='off' or 'auto'.")
        mode = "off"
    elif mode == "auto":
        mode = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(str(mode))


def autocast(dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    """CUDA autocast to ``dtype``, or a no-op context for full precision."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)
