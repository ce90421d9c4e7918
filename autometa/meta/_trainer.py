"""The one outer loop every meta-learner shares.

:class:`MetaTrainer` samples batches of tasks from a :class:`~autometa.tasks.TaskPool` with a
NumPy generator it owns, calls ``learner.meta_loss(batch)``, and steps an optimizer on
``learner.parameters()``. Around that loop it provides what a long run needs:

* ``device="auto"`` (CUDA when present), mixed precision on CUDA (bf16, or fp16 with a
  gradient scaler);
* data parallelism under ``torchrun``: every rank draws the same global batch from the
  shared-seed generator, takes its shard, and the gradients are all-reduced with weights so
  that the update equals the one-process update on the whole batch;
* meta-validation on fixed held-out tasks, early stopping, ``best.pt`` and ``last.pt`` (and,
  as an option of the checkpoint module, a compact ``resume.pt`` small enough to commit);
* atomic checkpoints holding everything needed to continue a killed run exactly (learner,
  optimizer, scaler, step, history, NumPy/Python/torch RNG states, and the state of any
  ``torch.Generator`` a learner's modules keep, such as an augmentation stream);
* MLflow logging through :mod:`autometa.tracking` and a tqdm progress bar.

Its settings come in five small groups (:mod:`~autometa.meta._trainer_config`: optimizer,
schedule, checkpoints, tracking, validation). ``fit(steps, on_checkpoint=hook)`` calls ``hook``
after every checkpoint it writes; a long campaign is a configuration plus such a hook
(:mod:`~autometa.meta._campaign`) and reads the run through the public ``step``, ``history``
and ``device``.

The trainer keeps the loop and its bookkeeping; its collaborators each do one job:
:mod:`~autometa.meta._dist` (DDP sharding and all-reduce), :mod:`~autometa.meta._schedule`
(optimizer, learning-rate schedule, mixed precision), :mod:`~autometa.meta._run_state` (the
checkpointable training state and RNG streams), :mod:`~autometa.meta._plots` (the learning
curve) and :mod:`~autometa.meta._progress` (the progress bar).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from autometa._heap import HeapGuard
from autometa._utils import resolve_device
from autometa.meta import _dist, _run_state
from autometa.meta._checkpoint import (
    BEST_FILE,
    COMPACT_FILE,
    CURVE_FILE,
    LAST_FILE,
    atomic_torch_save,
    checkpoint_lock,
    compact_payload,
    expand_payload,
    learner_dims,
    load_checkpoint,
    load_meta_learner,
    make_payload,
    resume_file,
    to_json,
)
from autometa.meta._mlflow_model import log_meta_learner
from autometa.meta._plots import learning_curve_figure
from autometa.meta._progress import progress_bar
from autometa.meta._schedule import AMP_CHOICES, autocast, lr_at, make_optimizer, resolve_amp
from autometa.meta._task_stream import TaskPrefetcher, check_task_workers, draw_batch
from autometa.meta._trainer_config import (
    CheckpointConfig,
    OptimizerConfig,
    ScheduleConfig,
    TrackingConfig,
    ValidationConfig,
    split_legacy,
)
from autometa.tasks._task import TaskBatch, collate_tasks
from autometa.tracking import TrackingWarning, start_run

if TYPE_CHECKING:  # pragma: no cover
    from autometa.meta._base import MetaLearner
    from autometa.tasks._task import TaskPool

__all__ = ["MetaTrainer", "TrainResult"]

# the validation tasks come from their own stream of the seed, never the training stream
_VAL_SPAWN_KEY = (0x7A1,)
#: a validation's cost per meta-batch of validation tasks, in training-step times, until measured
#: (MAML on a 2-core CPU: 0.15 on KEEL validation tasks, 0.5 on synthetic ones)
_VAL_PRIOR = 0.3


@dataclass
class TrainResult:
    """What :meth:`MetaTrainer.fit` returns.

    Attributes
    ----------
    learner : MetaLearner
        The trained learner (its weights after the last step, not the best ones; load
        ``best_checkpoint`` for those).
    history : list of dict
        One entry per outer step: ``{"step": k, "meta_train/loss": ..., ...}``; steps with a
        meta-validation also hold ``meta_val/loss`` and ``meta_val/accuracy``.
    steps : int
        Outer steps completed in total (including steps before a resume).
    best_step, best_val_loss : int or None, float or None
        Step and value of the lowest meta-validation loss (None without a validation pool).
    stopped_early : bool
        True when ``patience`` evaluations passed without improvement.
    last_checkpoint, best_checkpoint, learning_curve : pathlib.Path or None
        Files written under ``checkpoint_dir``.
    run_id : str or None
        The MLflow run, when tracking was on and worked.
    resumed_from : int or None
        The step the run was resumed from.
    model_uri : str or None
        Where the learner was logged as an MLflow model (``log_model=True``): the registry
        URI ``models:/<name>/<version>`` when registered, else ``runs:/<run_id>/model``.
    """

    learner: MetaLearner
    history: list[dict[str, float]]
    steps: int
    best_step: int | None = None
    best_val_loss: float | None = None
    stopped_early: bool = False
    last_checkpoint: Path | None = None
    best_checkpoint: Path | None = None
    learning_curve: Path | None = None
    run_id: str | None = None
    resumed_from: int | None = None
    model_uri: str | None = None

    def metric(self, name: str) -> list[tuple[int, float]]:
        """``[(step, value), ...]`` of one metric, e.g. ``"meta_val/loss"``."""
        return [(int(h["step"]), float(h[name])) for h in self.history if name in h]


def _pool_spec(pool: Any) -> str | None:
    if pool is None:
        return None
    spec = getattr(pool, "spec", None)
    if isinstance(spec, str):
        return spec
    return str(getattr(pool, "name", type(pool).__name__))


class MetaTrainer:
    """Meta-train a :class:`~autometa.meta.MetaLearner` on a task pool.

    Parameters
    ----------
    learner : MetaLearner
        Anything with ``meta_loss(batch) -> (loss, metrics)``, ``evaluate(batch)``,
        ``parameters()``, ``get_config()`` and a registered ``algo``.
    pool : TaskPool
        Source of meta-training tasks (``pool.sample(rng) -> Task``, ``pool.c_max``).
    meta_batch_size : int
        Tasks per outer step (the global batch; split across ranks under ``torchrun``).
    device : str or torch.device
        ``"auto"`` picks CUDA when available (the ``LOCAL_RANK`` GPU under torchrun), else CPU.
        The resolved device is the :attr:`device` property.
    amp : {"auto", "bf16", "fp16", "off"} or bool
        Mixed precision, CUDA only. ``"auto"`` uses bf16 where the GPU supports it, else fp16
        with a gradient scaler; on CPU it means off. ``True`` equals ``"auto"``.
    seed : int
        Seeds the task stream (a :class:`numpy.random.Generator` the trainer owns), the
        validation tasks and, at the start of a fresh run, torch's generator.
    progress : bool
        Show a tqdm bar (loss, tasks/s) on rank 0 when stderr is a terminal; otherwise (a
        log file, CI) print a plain progress line with the time left every 30 s.
    optimizer : OptimizerConfig or str
        The outer optimizer (a name is short for ``OptimizerConfig(name)``; ``"muon"``: Muon on
        the learner's ``matrix_parameters()``, AdamW on the rest, see
        :class:`~autometa.meta._schedule.MuonAdamW`), and the optional moving average of the
        weights (``ema_decay``: :attr:`averaged` is the learner to score and ship).
    schedule : ScheduleConfig, optional
        The learning rate over the run (default: constant, no warm-up).
    checkpoints : CheckpointConfig or path-like, optional
        Where and how often to checkpoint (a folder is short for ``CheckpointConfig(folder)``);
        without a folder nothing is written and runs cannot be resumed.
    tracking : TrackingConfig or bool
        MLflow logging (a bool is short for ``TrackingConfig(enabled=...)``).
    validation : ValidationConfig or TaskPool, optional
        Meta-validation and early stopping (a pool is short for ``ValidationConfig(pool)``).
    **legacy
        The flat keywords of earlier releases (``lr``, ``weight_decay``, ``grad_clip``,
        ``lr_schedule``, ``warmup_steps``, ``decay_window``, ``checkpoint_dir``,
        ``checkpoint_every``, ``experiment``, ``run_name``, ``tracking_uri``, ``log_every``,
        ``log_model``, ``registered_model_name``, ``val_pool``, ``eval_every``, ``val_tasks``,
        ``patience``, ``ema_decay``): still accepted, folded into the groups, with a :class:`DeprecationWarning`.

    Attributes
    ----------
    step : int
        Outer steps completed (including those before a resume).
    history : list of dict
        One entry per outer step (see :class:`TrainResult`).
    device : torch.device
        Where the learner trains.
    task_workers : {0, 1}
        Set before :meth:`fit` (default 0; not a constructor argument, which keeps the grouped
        settings to twelve). 1: draw the task batches in a worker process ahead of the
        training step (:mod:`~autometa.meta._task_stream`), so the training process does not
        wait for them.
        The stream, and the generator state a checkpoint stores, are the same as with 0 (bit
        for bit), so it may change between a run and its resume. The worker's CPU time is
        :attr:`worker_cpu_seconds`.

    Examples
    --------
    >>> from autometa.meta import MAML, MetaTrainer                          # doctest: +SKIP
    >>> from autometa.tasks import make_pool                                 # doctest: +SKIP
    >>> pool = make_pool("synthetic", d_max=16, c_max=5, split="train")      # doctest: +SKIP
    >>> val = make_pool("synthetic", d_max=16, c_max=5, split="val")         # doctest: +SKIP
    >>> learner = MAML(net={"kind": "mlp", "d_max": 16, "c_max": 5, "hidden": [64, 64]})  # doctest: +SKIP
    >>> trainer = MetaTrainer(learner, pool, validation=ValidationConfig(val), checkpoints="runs/maml")  # doctest: +SKIP
    >>> result = trainer.fit(1000)                                                  # doctest: +SKIP
    >>> result = MetaTrainer(learner, pool, validation=ValidationConfig(val), checkpoints="runs/maml",
    ...                      optimizer=OptimizerConfig("adamw", lr=5e-4)).fit(2000, resume=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        learner: MetaLearner,
        pool: TaskPool,
        *,
        meta_batch_size: int = 16,
        device: str | torch.device = "auto",
        amp: str | bool | None = "auto",
        seed: int = 0,
        progress: bool = True,
        optimizer: OptimizerConfig | str = "adam",
        schedule: ScheduleConfig | None = None,
        checkpoints: CheckpointConfig | str | os.PathLike[str] | None = None,
        tracking: TrackingConfig | bool = True,
        validation: ValidationConfig | TaskPool | None = None,
        **legacy: Any,
    ) -> None:
        groups = split_legacy(
            {"optimizer": optimizer, "schedule": schedule, "checkpoints": checkpoints, "tracking": tracking,
             "validation": validation},
            legacy,
        )  # fmt: skip
        self.learner = learner
        self.pool = pool
        self.meta_batch_size = meta_batch_size
        self.amp = amp
        self.seed = seed
        self.task_workers = 0
        self.progress = progress
        self.optimizer: OptimizerConfig = groups["optimizer"]
        self.schedule: ScheduleConfig = groups["schedule"]
        self.checkpoints: CheckpointConfig = groups["checkpoints"]
        self.tracking: TrackingConfig = groups["tracking"]
        self.validation: ValidationConfig = groups["validation"]
        self._device_request = device
        self._averaged: Any = None
        self._validate()
        # run state (what a checkpoint stores)
        self._step = 0
        self._rng = np.random.default_rng(self.seed)
        self._history: list[dict[str, float]] = []
        self._best_val: float | None = None
        self._best_step: int | None = None
        self._bad_evals = 0
        self._stopped_early = False
        self._resumed_from: int | None = None
        self._run_ref: tuple[str | None, str | None] = (None, None)
        self._previous_run: tuple[str | None, str | None] = (None, None)
        self._horizon = 0  # the `steps` of the current fit (the cosine schedule's length)
        self._stored_horizon = 0
        # built lazily in fit()
        self._opt: torch.optim.Optimizer | None = None
        self._scaler: Any = None
        self._device: torch.device | None = None
        self._amp_dtype: torch.dtype | None = None
        self._val_cache: list[TaskBatch] | None = None
        self._rank, self._world = 0, 1
        self._prefetcher: TaskPrefetcher | None = None
        self._worker_cpu = 0.0
        self._heap = HeapGuard()  # a CPU run's fragmented heap is trimmed past a limit

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        mbs = self.meta_batch_size
        if isinstance(mbs, bool) or not isinstance(mbs, (int, np.integer)) or mbs < 1:
            raise ValueError(f"meta_batch_size must be a positive integer; got {mbs!r}.")
        if self.amp not in (*AMP_CHOICES, True, False, None):
            raise ValueError(
                f"amp={self.amp!r} is not understood; use one of {AMP_CHOICES} or a bool."
            )
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, (int, np.integer))
            or self.seed < 0
        ):
            raise ValueError(f"seed must be a non-negative int; got {self.seed!r}.")
        for attr in ("meta_loss", "parameters", "get_config", "state_dict"):
            if not callable(getattr(self.learner, attr, None)):
                raise TypeError(
                    f"learner must be an autometa MetaLearner (missing {attr}()); got {type(self.learner).__name__}."
                )
        if not callable(getattr(self.pool, "sample", None)):
            raise TypeError(
                f"pool must be a TaskPool with sample(rng); got {type(self.pool).__name__}."
            )
        _, c_learner = learner_dims(self.learner)
        c_pool = getattr(self.pool, "c_max", None)
        if c_learner is not None and c_pool is not None and int(c_pool) > int(c_learner):
            raise ValueError(
                f"The pool yields tasks with up to c_max={c_pool} classes but the learner's net has "
                f"only c_max={c_learner} outputs; build the learner with c_max >= {c_pool}."
            )
        d_learner, _ = learner_dims(self.learner)
        d_pool = getattr(self.pool, "d_max", None)
        if d_learner is not None and d_pool is not None and int(d_pool) != int(d_learner):
            raise ValueError(
                f"The pool yields tasks of width d_max={d_pool} but the learner expects d_max={d_learner}."
            )

    @property
    def c_max(self) -> int:
        _, c = learner_dims(self.learner)
        return int(c if c is not None else self.pool.c_max)

    def config(self) -> dict[str, Any]:
        """The trainer's settings (stored in checkpoints and logged as MLflow parameters)."""
        opt, sched, val = self.optimizer, self.schedule, self.validation
        return {
            "meta_batch_size": int(self.meta_batch_size),
            "lr": float(opt.lr),
            "optimizer": opt.name,
            "amp": self.amp if isinstance(self.amp, (str, type(None))) else bool(self.amp),
            "seed": int(self.seed),
            "checkpoint_every": int(self.checkpoints.every),
            "eval_every": int(val.every),
            "val_tasks": int(val.tasks),
            "patience": val.patience,
            "grad_clip": opt.grad_clip,
            "lr_schedule": sched.kind,
            "warmup_steps": int(sched.warmup_steps),
            "decay_window": list(sched.decay_window) if sched.decay_window is not None else None,
            "weight_decay": float(opt.weight_decay),
            **({"ema_decay": float(opt.ema_decay)} if opt.ema_decay is not None else {}),
            "pool": _pool_spec(self.pool),
            "val_pool": _pool_spec(val.pool),
        }

    # ------------------------------------------------------------------ public run state
    @property
    def step(self) -> int:
        """Outer steps completed so far (including those before a resume)."""
        return self._step

    @property
    def history(self) -> list[dict[str, float]]:
        """One entry per completed outer step (a copy; see :class:`TrainResult`)."""
        return list(self._history)

    @property
    def device(self) -> torch.device:
        """The device the learner trains on (the ``device`` argument resolved)."""
        if self._device is not None:
            return self._device
        return resolve_device(self._device_request)

    # ------------------------------------------------------------------ setup
    def _setup(self) -> None:
        self._device = resolve_device(self._device_request)
        self._rank, self._world = _dist.init_distributed(self._device)
        if self._world > self.meta_batch_size:
            raise ValueError(
                f"meta_batch_size={self.meta_batch_size} is smaller than the number of processes "
                f"({self._world}); every rank needs at least one task per step."
            )
        self._amp_dtype = resolve_amp(self.amp, self._device)
        self.learner.to(self._device)
        if self._opt is None:
            self._opt = self._make_optimizer(self.learner)
        if self.optimizer.ema_decay is not None and self._averaged is None:
            self._averaged = AveragedModel(
                self.learner,
                multi_avg_fn=get_ema_multi_avg_fn(float(self.optimizer.ema_decay)),
                use_buffers=True,
            )
        if self._scaler is None and self._amp_dtype is torch.float16:
            self._scaler = torch.amp.GradScaler("cuda")
        if self._world > 1:
            _dist.broadcast_parameters(self.learner)  # identical starting weights on every rank

    def _make_optimizer(self, learner: Any) -> Any:
        """The outer optimizer of this trainer's settings over ``learner``'s trainable parameters."""
        params = [p for p in learner.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"{type(learner).__name__} has no trainable parameters.")
        opt = self.optimizer
        matrices = getattr(learner, "matrix_parameters", None)
        return make_optimizer(
            opt.name, params, lr=opt.lr, weight_decay=opt.weight_decay,
            matrices=matrices() if matrices is not None else None,
        )  # fmt: skip

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        return autocast(self._amp_dtype)

    def _shard(self, n: int) -> tuple[int, int]:
        """Tasks ``[lo, hi)`` of a global batch of ``n`` handled by this rank."""
        return _dist.shard(n, self._rank, self._world)

    # ------------------------------------------------------------------ one step
    def _sample_batch(self) -> TaskBatch:
        if self._prefetcher is not None:
            return self._prefetcher.next()
        return draw_batch(self.pool, self._rng, self.meta_batch_size, self.c_max)

    @contextlib.contextmanager
    def _task_stream(self) -> Any:
        """While ``fit`` runs, draw the batches in a worker process ahead of the step (``task_workers=1``)."""
        if check_task_workers(self.task_workers) == 0:
            yield
            return
        with TaskPrefetcher(self.pool, self._rng, self.meta_batch_size, self.c_max) as prefetcher:
            self._prefetcher = prefetcher
            try:
                yield
            finally:
                self._prefetcher = None
                self._worker_cpu += prefetcher.cpu_seconds

    @property
    def worker_cpu_seconds(self) -> float:
        """CPU seconds the task worker process spent on the batches this trainer has taken so far.

        0 with ``task_workers=0``. A run's CPU time is the training process's
        ``time.process_time()`` plus this.
        """
        live = self._prefetcher.cpu_seconds if self._prefetcher is not None else 0.0
        return self._worker_cpu + live

    def _all_reduce_sum(self, values: list[torch.Tensor]) -> None:
        _dist.all_reduce_sum(values, self._world)

    def _agree(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank (one all-reduce under torchrun)."""
        if self._world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64)
        t = t.to(self._device) if self._device is not None and self._device.type == "cuda" else t
        self._all_reduce_sum([t])
        return float(t) > 0

    def lr_at(self, step: int) -> float:
        """Outer learning rate of the update that follows ``step`` completed steps."""
        return lr_at(
            step,
            lr=self.optimizer.lr,
            schedule=self.schedule.kind,
            warmup_steps=self.schedule.warmup_steps,
            horizon=self._horizon,
            decay_window=self.schedule.decay_window,
        )

    def _raise_non_finite(self, value: float, ranks: int = 1) -> None:
        where = f" on {ranks} of {self._world} ranks" if self._world > 1 else ""
        raise FloatingPointError(
            f"The meta-loss became {value}{where} at step {self._step + 1}; lower lr, set grad_clip, "
            "or (with amp) use amp='bf16' or 'off'. Resume from the last checkpoint after the change."
        )

    def _train_step(self, batch: TaskBatch) -> dict[str, float]:
        assert self._opt is not None
        lo, hi = self._shard(batch.n_tasks)
        weight = (hi - lo) / batch.n_tasks
        shard = (batch.slice(lo, hi) if self._world > 1 else batch).to(
            self._device, non_blocking=True
        )
        self.learner.train()
        for group in self._opt.param_groups:
            group["lr"] = self.lr_at(self._step)
        self._opt.zero_grad(set_to_none=True)
        with self._autocast():
            loss, metrics = self.learner.meta_loss(shard)
        loss = loss.float()
        finite = bool(torch.isfinite(loss.detach()))
        if self._world == 1 and not finite:
            self._raise_non_finite(float(loss.detach()))
        if self._world > 1:
            loss = loss * weight  # sum over ranks of weight * grad = gradient of the global mean
        (self._scaler.scale(loss) if self._scaler is not None else loss).backward()
        params = [p for g in self._opt.param_groups for p in g["params"]]
        if self._world > 1:
            grads = []
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                grads.append(p.grad)
            # one collective: the gradients plus a count of ranks whose loss was not finite, so
            # that every rank stops together instead of leaving the others waiting
            bad = torch.tensor(
                [0.0 if finite else 1.0], device=grads[0].device, dtype=grads[0].dtype
            )
            self._all_reduce_sum([*grads, bad])
            if float(bad) > 0:
                self._raise_non_finite(float("nan"), ranks=int(round(float(bad))))
        if self._scaler is not None:
            self._scaler.unscale_(self._opt)
        out: dict[str, float] = {}
        if self.optimizer.grad_clip is not None:
            out["grad_norm"] = float(
                torch.nn.utils.clip_grad_norm_(params, self.optimizer.grad_clip)
            )
        if self._scaler is not None:
            self._scaler.step(self._opt)
            self._scaler.update()
        else:
            self._opt.step()
        if self._averaged is not None:
            self._averaged.update_parameters(self.learner)
        keys = sorted(k for k, v in metrics.items() if isinstance(v, (int, float)))
        vals = torch.tensor(
            [float(metrics[k]) * (weight if self._world > 1 else 1.0) for k in keys],
            dtype=torch.float64,
        )
        if self._world > 1:
            vals = vals.to(self._device) if self._device.type == "cuda" else vals
            self._all_reduce_sum([vals])
            vals = vals.cpu()
        out.update({k: float(v) for k, v in zip(keys, vals.tolist(), strict=True)})
        return out

    # ------------------------------------------------------------------ validation
    def _val_batches(self) -> list[TaskBatch]:
        if self._val_cache is None:
            pool = self.validation.pool
            assert pool is not None
            rng = np.random.default_rng(
                np.random.SeedSequence(int(self.seed), spawn_key=_VAL_SPAWN_KEY)
            )
            tasks = [pool.sample(rng) for _ in range(self.validation.tasks)]
            size = self.meta_batch_size
            self._val_cache = [
                collate_tasks(tasks[i : i + size], c_max=self.c_max)
                for i in range(0, len(tasks), size)
            ]
        return self._val_cache

    def validate(self) -> dict[str, float]:
        """Mean query loss/accuracy on the fixed validation tasks (``meta_val/*`` metrics)."""
        if self.validation.pool is None:
            raise ValueError(
                "validate() needs a validation pool (validation=ValidationConfig(pool))."
            )
        if self._device is None:
            self._setup()
        was_training = self.learner.training
        self.learner.eval()
        sums: dict[str, float] = {}
        try:
            for batch in self._val_batches():
                lo, hi = self._shard(batch.n_tasks)
                if hi <= lo:
                    continue
                shard = (batch.slice(lo, hi) if self._world > 1 else batch).to(self._device)
                with self._autocast():
                    m = self.learner.evaluate(shard)
                for k, v in m.items():
                    sums[k] = sums.get(k, 0.0) + float(v) * (hi - lo)
        finally:
            self.learner.train(was_training)
        keys = ["accuracy", "loss"] + sorted(set(sums) - {"accuracy", "loss"})
        vals = torch.tensor([sums.get(k, 0.0) for k in keys], dtype=torch.float64)
        if self._world > 1:
            vals = vals.to(self._device) if self._device.type == "cuda" else vals
            self._all_reduce_sum([vals])
            vals = vals.cpu()
        return {
            f"meta_val/{k}": v / self.validation.tasks
            for k, v in zip(keys, vals.tolist(), strict=True)
        }

    # ------------------------------------------------------------------ checkpoints
    def _training_state(self) -> dict[str, Any]:
        assert self._opt is not None
        return _run_state.training_state(
            step=self._step,
            optimizer=self._opt,
            scaler=self._scaler,
            history=self._history,
            best_val=self._best_val,
            best_step=self._best_step,
            bad_evals=self._bad_evals,
            stopped_early=self._stopped_early,
            rng=self._rng,
            module=self.learner,
            trainer_config=self.config(),
            world_size=self._world,
            horizon=self._horizon,
        )

    @property
    def averaged(self) -> MetaLearner | None:
        """The exponential moving average of the learner's weights (``ema_decay``), or None."""
        return None if self._averaged is None else self._averaged.module

    def _save(self, path: Path, kind: str) -> Path:
        metadata = {"kind": kind, "step": int(self._step), "trainer": self.config()}
        if self._run_ref[0]:  # so that a resumed run can close and link this one
            metadata.update(mlflow_run_id=self._run_ref[0], mlflow_tracking_uri=self._run_ref[1])
        if self._best_val is not None:
            metadata.update(best_val_loss=self._best_val, best_step=self._best_step)
        training = self._training_state()
        if self._averaged is not None:
            training["averaged"] = self._averaged.state_dict()
        payload = make_payload(self.learner, metadata=metadata, training=training)
        written = atomic_torch_save(payload, path)
        if kind == "last" and self.checkpoints.compact:
            atomic_torch_save(compact_payload(payload), path.with_name(COMPACT_FILE))
        return written

    def _resolve_resume(self, resume: bool | str | os.PathLike[str]) -> Path | None:
        if resume is False or resume is None:
            return None
        if resume is True:
            folder = self.checkpoints.directory
            if folder is None:
                raise ValueError(
                    f"resume=True needs checkpoint_dir (checkpoints=CheckpointConfig(folder)), or pass resume='path/to/{LAST_FILE}'."
                )
            return resume_file(folder)
        path = Path(resume)
        if path.is_dir():
            path = resume_file(path) or path / LAST_FILE
        if not path.is_file():
            raise FileNotFoundError(f"Cannot resume: no checkpoint at {path}.")
        return path

    def load_state(self, path: str | os.PathLike[str], *, grow: bool = False) -> int:
        """Restore learner, optimizer, RNGs and history from a training checkpoint; return its step.

        A compact file (``resume.pt``, see :class:`~autometa.meta._trainer_config.CheckpointConfig`)
        is expanded to float32 first. ``grow=True`` also accepts a checkpoint of a learner
        configured with fewer parameters (:func:`~autometa.meta._run_state.grow_payload`): the
        learner's extra parameters keep their initial values and start with no optimizer state.
        """
        payload = load_checkpoint(path, map_location="cpu")
        if Path(path).name == COMPACT_FILE:
            payload = expand_payload(payload)
        if self._device is None:
            self._setup()
        own_config = json.loads(to_json(self.learner.get_config(), "learner config"))
        if grow and json.loads(payload.get("config") or "null") != own_config:
            old = type(self.learner)(**json.loads(payload["config"]))
            payload = _run_state.grow_payload(
                payload, path, self.learner, self._opt, old, self._make_optimizer(old)
            )
        diff = _run_state.check_resumable(payload, path, self.learner, self.config())
        if diff:
            warnings.warn(
                f"Resuming with trainer settings that differ from the checkpoint's (stored, now): {diff}; "
                "the continued run will not equal an uninterrupted one.",
                RuntimeWarning,
                stacklevel=3,
            )
        training = payload["training"]
        assert self._opt is not None
        self.learner.load_state_dict(payload["state_dict"])
        self._opt.load_state_dict(training["optimizer"])
        if self._averaged is not None:
            if training.get("averaged") is None:
                raise ValueError(f"{path} holds no averaged weights; resume it without ema_decay.")
            self._averaged.load_state_dict(training["averaged"])
        if self._scaler is not None and training.get("scaler"):
            self._scaler.load_state_dict(training["scaler"])
        self._step = int(training["step"])
        self._history = json.loads(training["history"])
        self._best_val = training["best_val"]
        self._best_step = training["best_step"]
        self._bad_evals = int(training["bad_evals"])
        self._stopped_early = bool(training.get("stopped_early", False))
        self._stored_horizon = int(training.get("horizon", 0))
        _run_state.restore_rngs(training, self._rng)
        _run_state.restore_module_generators(
            self.learner, training.get("module_generators") or {}, self._device
        )
        self._resumed_from = self._step
        meta = json.loads(payload.get("metadata") or "{}")
        self._previous_run = (meta.get("mlflow_run_id"), meta.get("mlflow_tracking_uri"))
        return self._step

    # ------------------------------------------------------------------ plots
    def _plot(self, path: Path | None) -> Any:
        title = f"{self.learner.algo} on {_pool_spec(self.pool)}"
        return learning_curve_figure(
            self._history, best_step=self._best_step, title=title, path=path
        )

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        steps: int | None,
        *,
        resume: bool | str | os.PathLike[str] = False,
        on_checkpoint: Callable[[MetaTrainer], bool | None] | None = None,
    ) -> TrainResult:
        """Run outer steps until ``steps`` steps have been completed in total.

        Parameters
        ----------
        steps : int or None
            Total number of outer steps of the run (a resumed run continues up to it). None:
            until ``on_checkpoint`` stops the run (not with a cosine schedule, which needs
            the run's length).
        resume : bool or path-like
            ``True``: continue from the checkpoint folder's ``last.pt`` when it exists, else
            from its compact ``resume.pt`` (start fresh when neither exists). A path (file or
            checkpoint folder): continue from it. Continuing from ``last.pt`` equals an
            uninterrupted run (bitwise on CPU with a fixed thread count).
        on_checkpoint : callable, optional
            ``on_checkpoint(trainer)`` runs on rank 0 after every ``last.pt`` the trainer
            writes (every ``checkpoints.every`` steps and at the end), with :attr:`step`,
            :attr:`history` and :attr:`device` current; a true return value ends the run there
            (the stop is not stored in the checkpoint: a resumed run goes on). Without a
            checkpoint folder it runs at the same steps.

        Returns
        -------
        TrainResult
        """
        if steps is None:
            if on_checkpoint is None or self.schedule.kind == "cosine":
                raise ValueError(
                    "steps=None (run until on_checkpoint stops) needs on_checkpoint and a non-cosine schedule."
                )
        elif isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"steps must be a positive integer; got {steps!r}.")
        self._setup()
        ckpt_dir = self.checkpoints.directory
        resume_path = self._resolve_resume(resume)
        self._horizon = int(steps) if steps is not None else 0
        if resume_path is not None:
            self.load_state(resume_path)
            if self.schedule.kind == "cosine" and self._stored_horizon not in (0, self._horizon):
                warnings.warn(
                    f"The checkpoint's cosine schedule spans {self._stored_horizon} steps, this fit "
                    f"{self._horizon}: the learning-rate curve changes from here on.",
                    RuntimeWarning,
                    stacklevel=2,
                )
        elif self._step == 0:
            torch.manual_seed(int(self.seed))
        is_main = self._rank == 0
        if ckpt_dir is not None and is_main:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
        last_path = ckpt_dir / LAST_FILE if ckpt_dir is not None else None
        best_path = ckpt_dir / BEST_FILE if ckpt_dir is not None else None

        params = {
            "algo": self.learner.algo,
            "learner": self.learner.get_config(),
            "trainer": self.config(),
            "steps": int(steps) if steps is not None else None,
            "world_size": self._world,
            "device": str(self._device),
        }
        tags = {"autometa.algo": self.learner.algo}
        if resume_path is not None:
            tags["autometa.resumed_from"] = f"{resume_path}@{self._step}"
        track = self.tracking
        run_name = track.run_name or f"{self.learner.algo}-{_pool_spec(self.pool)}"
        lock = (
            checkpoint_lock(ckpt_dir)
            if ckpt_dir is not None and is_main
            else contextlib.nullcontext()
        )
        with (
            lock,
            start_run(
                experiment=track.experiment,
                run_name=run_name,
                params=params,
                tags=tags,
                tracking_uri=track.uri,
                enabled=bool(track.enabled) and is_main,
            ) as run,
        ):
            self._run_ref = (run.run_id, run.tracking_uri)
            if self._previous_run[0] and self._previous_run[1] == run.tracking_uri:
                # holding this folder's lock proves the process that wrote its last.pt is gone
                ours = (
                    ckpt_dir is not None
                    and resume_path is not None
                    and resume_path.parent.resolve() == ckpt_dir.resolve()
                )
                run.supersede(self._previous_run[0], mark_killed=ours)
            val_probe_s = None
            val = self.validation
            if val.pool is not None and (
                steps is None or steps // val.every > self._step // val.every
            ):
                self._val_batches()  # the fixed validation tasks: built before the loop, not inside its first validation
                val_probe_s = (
                    self._time_validation()
                    if self.progress and is_main and self._world == 1
                    else None
                )
            with self._progress_bar(steps, val_probe_s) as bar, self._task_stream():
                self._loop(steps, run, bar, last_path, best_path, is_main, on_checkpoint)
            curve = None
            if is_main and (ckpt_dir is not None or run.enabled):
                curve = ckpt_dir / CURVE_FILE if ckpt_dir is not None else None
                fig = self._plot(curve)
                run.log_figure(fig, CURVE_FILE)
                for p in (last_path, best_path):
                    if p is not None and p.is_file():
                        run.log_artifact(p, artifact_path="checkpoints")
            result = TrainResult(
                learner=self.learner,
                history=list(self._history),
                steps=self._step,
                best_step=self._best_step,
                best_val_loss=self._best_val,
                stopped_early=self._stopped_early,
                last_checkpoint=last_path
                if last_path is not None and last_path.is_file()
                else None,
                best_checkpoint=best_path
                if best_path is not None and best_path.is_file()
                else None,
                learning_curve=curve,
                run_id=run.run_id,
                resumed_from=self._resumed_from,
            )
            if self._best_val is not None:
                run.log_metrics(
                    {"best/meta_val_loss": self._best_val, "best/step": float(self._best_step or 0)}
                )
            if is_main and run.enabled and (track.log_model or track.registered_model_name):
                result.model_uri = self._log_model(run, result.best_checkpoint)
        self.result_ = result
        return result

    def _log_model(self, run: Any, best: Path | None) -> str | None:
        try:
            learner = load_meta_learner(best) if best is not None else self.learner
            info = log_meta_learner(
                learner,
                "model",
                registered_model_name=self.tracking.registered_model_name,
                run_id=run.run_id,
                tracking_uri=run.tracking_uri,
                metadata={
                    "step": self._best_step if best is not None else self._step,
                    "trainer": self.config(),
                },
            )
        except Exception as exc:  # noqa: BLE001 - tracking never kills a finished run
            warnings.warn(
                f"Logging the meta-learner as an MLflow model failed ({exc}).",
                TrackingWarning,
                stacklevel=3,
            )
            return None
        return info.registered_model_uri or info.model_uri

    def _time_validation(self) -> float:
        """Seconds a validation will take, from one validation batch (the progress line's time left).

        Runs ``learner.evaluate`` on the first batch of the fixed validation tasks under a forked
        torch RNG, with the learner's own generators put back afterwards, so that training draws
        exactly what it would without the probe.
        """
        batches = self._val_batches()
        was_training = self.learner.training
        generators = _run_state.module_generator_states(self.learner)
        self.learner.eval()
        t0 = time.perf_counter()
        try:
            with torch.random.fork_rng(devices=[]), torch.no_grad(), self._autocast():
                self.learner.evaluate(batches[0].to(self._device))
        finally:
            self.learner.train(was_training)
            _run_state.restore_module_generators(self.learner, generators, self._device)
        return (time.perf_counter() - t0) * len(batches)

    def _progress_bar(
        self, steps: int | None, val_probe_s: float | None = None
    ) -> contextlib.AbstractContextManager[Any]:
        enabled = bool(self.progress) and self._rank == 0 and steps is not None
        events: list[
            dict[str, Any]
        ] = []  # ProgressLines.schedule(**event): what the time left counts
        val = self.validation
        if val.pool is not None:
            # a validation adapts on val.tasks tasks without the outer backward; its cost is timed on one
            # batch before the loop (else a prior in step-times), then measured at each validation
            events.append({"kind": "validation", "every": val.every, "prior_s": val_probe_s,
                           "prior_steps": _VAL_PRIOR * val.tasks / self.meta_batch_size})  # fmt: skip
        if self.checkpoints.directory is not None:
            events.append({"kind": "checkpoint", "every": self.checkpoints.every, "at_end": True})
        return progress_bar(
            enabled, steps or 0, self._step, f"meta-train {self.learner.algo}", events
        )

    def _loop(
        self,
        steps: int | None,
        run: Any,
        bar: Any,
        last_path: Path | None,
        best_path: Path | None,
        is_main: bool,
        on_checkpoint: Callable[[MetaTrainer], bool | None] | None,
    ) -> None:
        pending: dict[str, float] = {}
        val, log_every, every = self.validation, self.tracking.log_every, self.checkpoints.every
        record = getattr(
            bar, "record", None
        )  # ProgressLines: the time left counts validations/checkpoints
        stop = False
        while (steps is None or self._step < steps) and not self._stopped_early and not stop:
            t0 = time.perf_counter()
            batch = self._sample_batch()
            metrics = self._train_step(batch)
            self._step += 1
            if self._device is not None and self._device.type == "cpu":
                self._heap()
            elapsed = time.perf_counter() - t0
            entry: dict[str, float] = {"step": self._step}
            entry.update({f"meta_train/{k}": v for k, v in metrics.items()})
            tasks_per_s = self.meta_batch_size / max(elapsed, 1e-9)
            if val.pool is not None and self._step % val.every == 0:
                t_val = time.perf_counter()
                scores = self.validate()
                entry.update(scores)
                if self._best_val is None or scores["meta_val/loss"] < self._best_val:
                    self._best_val, self._best_step, self._bad_evals = (
                        scores["meta_val/loss"],
                        self._step,
                        0,
                    )
                    if best_path is not None and is_main:
                        self._save(best_path, "best")
                else:
                    self._bad_evals += 1
                    if val.patience is not None and self._bad_evals >= val.patience:
                        self._stopped_early = True
                if record is not None:
                    record("validation", time.perf_counter() - t_val)
            self._history.append(entry)
            pending = {
                **entry,
                "meta_train/tasks_per_s": tasks_per_s,
                "meta_train/lr": self.lr_at(self._step - 1),
            }
            pending.pop("step")
            if is_main and (self._step % log_every == 0 or "meta_val/loss" in entry):
                run.log_metrics(pending, step=self._step)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    loss=f"{entry.get('meta_train/loss', float('nan')):.4f}",
                    tasks_s=f"{tasks_per_s:.1f}",
                )
            if self._step % every == 0 or self._step == steps or self._stopped_early:
                if last_path is not None and is_main:
                    t_save = time.perf_counter()
                    self._save(last_path, "last")
                    if record is not None:
                        record("checkpoint", time.perf_counter() - t_save)
                if on_checkpoint is not None:
                    stop = self._agree(bool(on_checkpoint(self)) if is_main else False)
        if is_main and pending and self._step % log_every != 0:
            run.log_metrics(pending, step=self._step)
