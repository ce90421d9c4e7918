"""The grouped settings of :class:`~autometa.meta.MetaTrainer`: five small frozen dataclasses.

``MetaTrainer(learner, pool, optimizer=..., schedule=..., checkpoints=..., tracking=...,
validation=...)`` takes one object per concern instead of two dozen flat keywords:

* :class:`OptimizerConfig`: which outer optimizer, its learning rate, weight decay, clipping;
* :class:`ScheduleConfig`: the learning rate over the run (warm-up, cosine, cool-down window);
* :class:`CheckpointConfig`: where ``last.pt``/``best.pt`` go, how often, and whether a compact
  ``resume.pt`` (16-bit weights and moments, small enough to commit) is written beside them;
* :class:`TrackingConfig`: MLflow experiment, run name, store, logging cadence, model logging;
* :class:`ValidationConfig`: the meta-validation pool, cadence, task count, early stopping.

Each validates its own values when built. :func:`split_legacy` maps the flat keywords of
earlier releases onto the groups (they still work, with a :class:`DeprecationWarning`).
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from autometa.meta._schedule import OPTIMIZERS, SCHEDULES

__all__ = [
    "CheckpointConfig",
    "OptimizerConfig",
    "ScheduleConfig",
    "TrackingConfig",
    "ValidationConfig",
    "split_legacy",
]


def _positive_int(name: str, value: Any, allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")


@dataclass(frozen=True)
class OptimizerConfig:
    """The outer optimizer.

    Parameters
    ----------
    name : str
        One of :data:`autometa.meta._schedule.OPTIMIZERS` (``"adam"``, ``"adamw"``, ``"sgd"``...).
    lr : float
        Outer (meta) learning rate (the peak of the schedule).
    weight_decay : float
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    ema_decay : float, optional
        Also keep an exponential moving average of the weights
        (:class:`torch.optim.swa_utils.AveragedModel`, updated after every step, saved in
        checkpoints and restored on resume): ``MetaTrainer.averaged`` is the learner to score
        and ship.
    """

    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float | None = None
    ema_decay: float | None = None

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.name!r} is not supported; use one of {OPTIMIZERS}.")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive finite number; got {self.lr!r}.")
        if self.grad_clip is not None and not (self.grad_clip > 0):
            raise ValueError(f"grad_clip must be positive or None; got {self.grad_clip!r}.")
        if self.ema_decay is not None and not (
            isinstance(self.ema_decay, float) and 0.0 < self.ema_decay < 1.0
        ):
            raise ValueError(
                f"ema_decay must be a float in (0, 1), e.g. 0.99; got {self.ema_decay!r}."
            )


@dataclass(frozen=True)
class ScheduleConfig:
    """The outer learning rate over the run (see :func:`autometa.meta._schedule.lr_at`).

    Parameters
    ----------
    kind : {"constant", "cosine"}
        Constant, or cosine decay to 0 over the ``steps`` of :meth:`MetaTrainer.fit` (resume
        with the same ``steps`` to continue the same curve).
    warmup_steps : int
        Linear warm-up from ``lr / warmup_steps`` to ``lr`` over the first steps.
    decay_window : (int, int), optional
        ``(start, end)``: from step ``start`` the rate falls linearly to 0 at step ``end`` (a
        cool-down, e.g. of a long constant-rate campaign).
    """

    kind: str = "constant"
    warmup_steps: int = 0
    decay_window: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"lr_schedule={self.kind!r} is not supported; use one of {SCHEDULES}.")
        w = self.warmup_steps
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 0:
            raise ValueError(f"warmup_steps must be a non-negative integer; got {w!r}.")
        if self.decay_window is not None:
            window = tuple(self.decay_window)
            if (
                len(window) != 2
                or not all(isinstance(s, (int, np.integer)) for s in window)
                or not 0 <= window[0] < window[1]
            ):
                raise ValueError(
                    f"decay_window must be (start, end) steps with 0 <= start < end; got {self.decay_window!r}."
                )
            object.__setattr__(self, "decay_window", (int(window[0]), int(window[1])))


@dataclass(frozen=True)
class CheckpointConfig:
    """Where and how often the trainer writes checkpoints.

    Parameters
    ----------
    directory : path-like, optional
        Folder of ``last.pt``, ``best.pt`` and ``learning_curve.png``. Without it nothing is
        written and runs cannot be resumed.
    every : int
        Steps between checkpoints (one is also written at the end).
    compact : bool
        Also write ``resume.pt`` next to each ``last.pt``: fp16 weights, bf16 optimizer moments
        and the last 200 history entries (see :func:`autometa.meta._checkpoint.compact_payload`).
        ``fit(resume=True)`` continues from it when ``last.pt`` is missing (a fresh machine).
    """

    directory: str | os.PathLike[str] | None = None
    every: int = 100
    compact: bool = False

    def __post_init__(self) -> None:
        _positive_int("checkpoint_every", self.every)
        if self.directory is not None:
            object.__setattr__(self, "directory", Path(self.directory))


@dataclass(frozen=True)
class TrackingConfig:
    """MLflow logging of a run (see :func:`autometa.tracking.start_run`); only rank 0 logs.

    Parameters
    ----------
    enabled : bool
        Log parameters, metrics, checkpoints and the learning curve.
    experiment, run_name : str
        MLflow experiment and run names (default run name: ``<algo>-<pool>``).
    uri : str, optional
        Tracking URI (default :func:`autometa.tracking.default_tracking_uri`).
    log_every : int
        Steps between metric logs (the in-memory history has every step).
    log_model : bool
        At the end, log the learner (best checkpoint when there is one) as an MLflow model.
    registered_model_name : str, optional
        Also register that model under this name (implies ``log_model``).
    """

    enabled: bool = True
    experiment: str = "autometa-meta-train"
    run_name: str | None = None
    uri: str | None = None
    log_every: int = 10
    log_model: bool = False
    registered_model_name: str | None = None

    def __post_init__(self) -> None:
        _positive_int("log_every", self.log_every)


@dataclass(frozen=True)
class ValidationConfig:
    """Meta-validation on fixed held-out tasks, and early stopping.

    Parameters
    ----------
    pool : TaskPool, optional
        Held-out pool; ``tasks`` tasks are drawn from it once, from a stream of the trainer's
        seed of their own, so every evaluation scores the same tasks. None: no validation.
    every : int
        Steps between meta-validations (at multiples of it, so that a run stopped and
        continued evaluates where an uninterrupted run does).
    tasks : int
        Number of fixed validation tasks.
    patience : int, optional
        Stop after this many meta-validations without a lower loss. Needs ``pool``.
    """

    pool: Any = None
    every: int = 100
    tasks: int = 64
    patience: int | None = None

    def __post_init__(self) -> None:
        _positive_int("eval_every", self.every)
        _positive_int("val_tasks", self.tasks)
        _positive_int("patience", self.patience, allow_none=True)
        if self.patience is not None and self.pool is None:
            raise ValueError(
                "patience (early stopping) needs a val_pool to measure meta-validation loss."
            )
        if self.pool is not None and not callable(getattr(self.pool, "sample", None)):
            raise TypeError(
                f"val_pool must be a TaskPool with sample(rng); got {type(self.pool).__name__}."
            )


#: flat keyword of earlier releases -> (group, field)
_LEGACY: dict[str, tuple[str, str]] = {
    "lr": ("optimizer", "lr"),
    "weight_decay": ("optimizer", "weight_decay"),
    "grad_clip": ("optimizer", "grad_clip"),
    "ema_decay": ("optimizer", "ema_decay"),
    "lr_schedule": ("schedule", "kind"),
    "warmup_steps": ("schedule", "warmup_steps"),
    "decay_window": ("schedule", "decay_window"),
    "checkpoint_dir": ("checkpoints", "directory"),
    "checkpoint_every": ("checkpoints", "every"),
    "experiment": ("tracking", "experiment"),
    "run_name": ("tracking", "run_name"),
    "tracking_uri": ("tracking", "uri"),
    "log_every": ("tracking", "log_every"),
    "log_model": ("tracking", "log_model"),
    "registered_model_name": ("tracking", "registered_model_name"),
    "val_pool": ("validation", "pool"),
    "eval_every": ("validation", "every"),
    "val_tasks": ("validation", "tasks"),
    "patience": ("validation", "patience"),
}
_GROUPS = {
    "optimizer": OptimizerConfig,
    "schedule": ScheduleConfig,
    "checkpoints": CheckpointConfig,
    "tracking": TrackingConfig,
    "validation": ValidationConfig,
}


def split_legacy(groups: dict[str, Any], legacy: dict[str, Any]) -> dict[str, Any]:
    """Fold flat keywords of earlier releases (``lr=``, ``checkpoint_dir=``...) into the groups.

    ``groups`` maps each group name to what the caller passed (a config, None, or a shorthand:
    an optimizer name, a tracking bool, a checkpoint folder, a validation pool); the result
    maps each to a config object.

    Raises
    ------
    TypeError
        For a keyword that is neither a group nor a known flat keyword.
    """
    unknown = sorted(set(legacy) - set(_LEGACY))
    if unknown:
        raise TypeError(f"MetaTrainer() got unexpected keyword argument(s) {unknown}.")
    out: dict[str, Any] = {}
    for name, cls in _GROUPS.items():
        value = groups.get(name)
        if value is None:
            value = cls()
        elif not isinstance(value, cls):
            shorthand = {
                "optimizer": "name",
                "tracking": "enabled",
                "checkpoints": "directory",
                "validation": "pool",
            }
            value = cls(**{shorthand[name]: value}) if name in shorthand else value
        out[name] = value
    if legacy:
        warnings.warn(
            f"MetaTrainer keywords {sorted(legacy)} are deprecated; pass the grouped settings instead "
            "(optimizer=OptimizerConfig(...), schedule=ScheduleConfig(...), checkpoints=CheckpointConfig(...), "
            "tracking=TrackingConfig(...), validation=ValidationConfig(...)).",
            DeprecationWarning,
            stacklevel=3,
        )
        per_group: dict[str, dict[str, Any]] = {}
        for key, value in legacy.items():
            group, field = _LEGACY[key]
            per_group.setdefault(group, {})[field] = value
        for group, changes in per_group.items():
            out[group] = replace(out[group], **changes)
    for name, cls in _GROUPS.items():
        if not isinstance(out[name], cls):
            raise TypeError(f"{name} must be a {cls.__name__}; got {type(out[name]).__name__}.")
    return out
