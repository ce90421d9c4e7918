"""The outer optimizer, its learning-rate schedule and mixed precision for the meta-trainer."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from typing import Any

import torch

__all__ = [
    "AMP_CHOICES",
    "MuonAdamW",
    "OPTIMIZERS",
    "SCHEDULES",
    "autocast",
    "lr_at",
    "make_optimizer",
    "resolve_amp",
]

OPTIMIZERS = ("adam", "adamw", "sgd", "muon")
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


class MuonAdamW:
    """Muon on a learner's block matrices and AdamW on everything else, as one optimizer.

    :class:`torch.optim.Muon` orthogonalizes each update of a 2-D weight matrix (Newton-Schulz
    iterations); with ``adjust_lr_fn="match_rms_adamw"`` its step sizes match AdamW's, so both
    parts share one learning rate and schedule. Embeddings, norms, biases and the head stay with
    AdamW, as Muon's authors advise.

    It offers what :class:`~autometa.meta.MetaTrainer` uses of an optimizer: ``param_groups``
    (the Muon groups, then the AdamW groups; setting ``group["lr"]`` sets it for the step),
    ``zero_grad``, ``step`` and a ``state_dict`` in :class:`torch.optim.Optimizer`'s layout
    (states and groups of both parts, numbered Muon first), so checkpoints and compact resume
    files treat it like any optimizer.

    Parameters
    ----------
    matrices : list of Parameter
        2-D weights updated by Muon.
    others : list of Parameter
        Everything else (AdamW).
    lr, weight_decay : float
    """

    def __init__(
        self,
        matrices: list[torch.nn.Parameter],
        others: list[torch.nn.Parameter],
        *,
        lr: float,
        weight_decay: float,
    ) -> None:
        if not matrices or any(p.ndim != 2 for p in matrices):
            raise ValueError("Muon needs at least one parameter and only 2-D weight matrices.")
        self.muon = torch.optim.Muon(
            matrices, lr=lr, weight_decay=weight_decay, adjust_lr_fn="match_rms_adamw"
        )
        self.adamw = torch.optim.AdamW(others, lr=lr, weight_decay=weight_decay) if others else None
        self._parts = [o for o in (self.muon, self.adamw) if o is not None]

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [g for o in self._parts for g in o.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for o in self._parts:
            o.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for o in self._parts:
            o.step()

    def state_dict(self) -> dict[str, Any]:
        state: dict[int, Any] = {}
        groups: list[dict[str, Any]] = []
        offset = 0
        for o in self._parts:
            sd = o.state_dict()
            state.update({offset + int(i): st for i, st in sd["state"].items()})
            for g in sd["param_groups"]:
                groups.append({**g, "params": [offset + int(i) for i in g["params"]]})
            offset += sum(len(g["params"]) for g in o.param_groups)
        return {
            "state": state,
            "param_groups": groups,
            "parts": [len(o.param_groups) for o in self._parts],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        parts = state_dict.get("parts")
        if parts != [len(o.param_groups) for o in self._parts]:
            raise ValueError(
                "This optimizer state is not a Muon + AdamW state of the same learner."
            )
        offset, g0 = 0, 0
        for o, n_groups in zip(self._parts, parts, strict=True):
            groups = state_dict["param_groups"][g0 : g0 + n_groups]
            n = sum(len(g["params"]) for g in groups)
            o.load_state_dict({
                "state": {int(i) - offset: st for i, st in state_dict["state"].items() if offset <= int(i) < offset + n},
                "param_groups": [{**g, "params": [int(i) - offset for i in g["params"]]} for g in groups],
            })  # fmt: skip
            offset, g0 = offset + n, g0 + n_groups


def make_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter],
    *,
    lr: float,
    weight_decay: float,
    matrices: Iterable[torch.nn.Parameter] | None = None,
) -> Any:
    """``"adam"``, ``"adamw"``, ``"sgd"`` (momentum 0.9) or ``"muon"`` over ``params``.

    ``"muon"`` (:class:`MuonAdamW`) updates ``matrices`` (a learner's ``matrix_parameters()``;
    by default every 2-D parameter) with Muon and the rest of ``params`` with AdamW.
    """
    params = list(params)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "muon":
        mats = [p for p in params if p.ndim == 2] if matrices is None else list(matrices)
        ids = {id(p) for p in mats}
        return MuonAdamW(
            mats, [p for p in params if id(p) not in ids], lr=lr, weight_decay=weight_decay
        )
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
            raise ValueError(
                f"amp={mode!r} needs a CUDA device; on {device.type} use amp='off' or 'auto'."
            )
        mode = "off"
    elif mode == "auto":
        mode = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(str(mode))


def autocast(dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    """CUDA autocast to ``dtype``, or a no-op context for full precision."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)
