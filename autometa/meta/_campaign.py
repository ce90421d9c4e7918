"""A meta-training campaign that outlives one machine: the in-context learner's long CPU run.

:class:`InContextCampaign` drives one :class:`~autometa.meta.MetaTrainer` in chunks of
``chunk_steps`` outer steps on an :class:`~autometa.tasks.InContextPrior`. After every chunk it

* scores the learner on held-out dev tables (mean ROC-AUC at 32/128/512 training rows on data
  sets the learner never trains on, the classifier's ``PORTFOLIO_TRAIN`` group), and appends
  ``(step, cpu_hours, wall_hours, auc...)`` to ``curve.json`` (and to MLflow);
* writes the trainer's full checkpoint ``last.pt`` (exact resume on this machine) and a compact
  ``resume.pt`` (fp16 weights, bf16 Adam moments, the RNG states and the step: about a third of
  ``last.pt``; small enough to commit, so the next machine continues the same run).

Resuming from ``last.pt`` equals an uninterrupted run bit for bit (CPU, fixed thread count);
resuming from ``resume.pt`` continues the same task stream with the weights and moments
rounded to 16 bits. ``CPU-hours`` are the process CPU time spent in training and evaluation,
plus that of the task worker process when there is one (``task_workers=1``), summed over
every session of the campaign.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autometa._provenance import learner_facts, sync_hash, write_card
from autometa.meta._base import LEARNERS, ensure_registered
from autometa.meta._checkpoint import (
    COMPACT_FILE,
    LAST_FILE,
    load_checkpoint,
    resume_file,
    save_meta_learner,
)
from autometa.meta._held_out import (
    EVAL_DATASETS,
    EVAL_SIZES,
    REGRESSION_EVAL_SIZES,
    held_out_auc,
    held_out_r2,
)
from autometa.meta._in_context import InContextLearner
from autometa.meta._in_context_regression import InContextRegressionLearner
from autometa.meta._in_context_tta import InContextTTA
from autometa.meta._task_stream import check_task_workers
from autometa.meta._trainer import MetaTrainer
from autometa.meta._trainer_config import CheckpointConfig, OptimizerConfig, ScheduleConfig
from autometa.tasks import InContextPrior, InContextPriorV2, InContextRegressionPrior
from autometa.tasks.roles import IN_CONTEXT_TRAIN, REGRESSOR_VALIDATION
from autometa.tracking import start_run

__all__ = [
    "CAMPAIGN_PRESETS",
    "InContextCampaign",
    "cooldown_directory",
    "held_out_auc",
    "held_out_r2",
]

_COOLDOWN_SUFFIX = "-cooldown"

#: task sizes of the v2 campaigns on the CPU (the per-cell cost grows with rows x context rows x columns)
V2_TASK_SIZES: dict[str, Any] = {"n_support_range": (4, 256), "n_query": 64, "max_features": 24}

#: synthetic function kinds of ``--preset in-context-regression-v2-linear``: linear in half the tasks
LINEAR_HEAVY_KINDS: tuple[str, ...] = ("mlp", "scm", "tree", "smooth", *("linear",) * 4)

#: campaign settings of ``autometa meta-train --preset NAME`` (callables so that nothing loads at import)
CAMPAIGN_PRESETS: dict[str, Any] = {
    "in-context": lambda: {"task": "classification"},
    "in-context-regression": lambda: {"task": "regression"},
    # the v1 regression recipe reading the encoder's z-score columns beside rank-Gauss, on a
    # prior whose inputs are skewed or bounded in half the synthetic tasks
    # (docs/results/linear_probe.py: rank-Gauss alone gives away what a linear target needs)
    "in-context-regression-spacing": lambda: {
        "task": "regression",
        "learner_config": {"spacing": True},
        "prior_config": {"skewed_prob": 0.5},
    },
    # v2: per-cell learner, Muon + AdamW at 1e-3, EMA of the weights; smaller tasks (the per-cell
    # cost grows with rows x context rows x columns); IN_CONTEXT_TRAIN holds none of the content
    # audit's leaks (roles.CONTENT_LEAKS)
    "in-context-v2": lambda: _v2_recipe(
        "classification",
        prior_config={**V2_TASK_SIZES, "datasets": list(IN_CONTEXT_TRAIN)},
    ),
    # the regression learner on the v2 backbone (same recipe, and the classification v2's task
    # sizes: with the regression prior's defaults, up to 608 rows x 64 columns of cell tokens, a
    # step cost about 5x as much and a first 200-step chunk did not finish in 25 CPU-minutes)
    "in-context-regression-v2": lambda: _v2_recipe(
        "regression",
        prior_config=dict(V2_TASK_SIZES),
    ),
    # the same with half the synthetic tasks linear (a kind named four times of eight, instead of
    # one of five): the linear probe (docs/results/linear_probe.py) finds the regression learners
    # below RidgeCV on plain linear tasks; run as a branch of the v2 campaign, e.g. a cool-down
    # (--checkpoint-dir campaigns/in-context-regression-v2 --cooldown-steps N --cooldown-dir ...)
    "in-context-regression-v2-linear": lambda: _v2_recipe(
        "regression",
        prior_config={**V2_TASK_SIZES, "kinds": list(LINEAR_HEAVY_KINDS)},
    ),
    # the regression v2 recipe with a ridge read-in: each row's target token adds an embedding
    # of a closed-form ridge fit's prediction (InContextRegressionV2(ridge_readin=True)); grown
    # from the v2 campaign's state (--grow-from campaigns/in-context-regression-v2), so it
    # compares with that campaign continued at equal CPU time
    "in-context-regression-v2-ridge": lambda: _v2_recipe(
        "regression",
        learner_config={**V2_LEARNER, "ridge_readin": True},
        prior_config=dict(V2_TASK_SIZES),
    ),
    # the classification v2 recipe with a ridge read-in (InContextV2(ridge_readin=True)): grown
    # from the v2 campaign's state (--grow-from campaigns/in-context-v2)
    "in-context-v2-ridge": lambda: _v2_recipe(
        "classification",
        learner_config={**V2_LEARNER, "ridge_readin": True},
        prior_config={**V2_TASK_SIZES, "datasets": list(IN_CONTEXT_TRAIN)},
    ),
    # both read-ins plus the ridge expert (ridge_expert=True: a product of the learner's
    # distribution and one centred on the ridge prediction, gated by the row's features); grown
    # from the read-in branches (--grow-from campaigns/in-context-(regression-)v2-ridge)
    "in-context-regression-v2-expert": lambda: _v2_recipe(
        "regression",
        learner_config={**V2_LEARNER, "ridge_readin": True, "ridge_expert": True},
        prior_config=dict(V2_TASK_SIZES),
    ),
    "in-context-v2-expert": lambda: _v2_recipe(
        "classification",
        learner_config={**V2_LEARNER, "ridge_readin": True, "ridge_expert": True},
        prior_config={**V2_TASK_SIZES, "datasets": list(IN_CONTEXT_TRAIN)},
    ),
    # the same recipe at GPU scale: a larger model and batch, tasks up to 1,024 rows, bf16 on CUDA
    # (device="auto"); one run of minutes writes its checkpoint and curve like any campaign
    "in-context-v2-gpu": lambda: _v2_recipe(
        "classification",
        learner_config={"width": 192, "depth": 6, "heads": 6, "mlp_ratio": 2, "thinking_rows": 24},
        prior_config={
            "n_support_range": (4, 1024),
            "n_query": 128,
            "max_features": 48,
            "datasets": list(IN_CONTEXT_TRAIN),
        },
        meta_batch_size=32,
        ema_decay=0.99,
        chunk_steps=250,
    ),
}


#: the v2 learner's size on the CPU
V2_LEARNER: dict[str, Any] = {
    "width": 96,
    "depth": 3,
    "heads": 4,
    "mlp_ratio": 2,
    "thinking_rows": 16,
}


def _v2_recipe(task: str, **changes: Any) -> dict[str, Any]:
    """The v2 campaign recipe for ``task`` ("classification" or "regression"), with ``changes``."""
    algo = "in-context-v2" if task == "classification" else "in-context-regression-v2"
    return {
        "task": task,
        "algo": algo,
        "learner_config": dict(V2_LEARNER),
        "optimizer": "muon",
        "lr": 1e-3,
        "warmup_steps": 100,
        "grad_clip": 2.0,
        "ema_decay": 0.995,
        "chunk_steps": 200,
        **changes,
    }


class InContextCampaign:
    """Meta-train the in-context learner in resumable chunks, recording its learning curve.

    Parameters
    ----------
    directory : path-like
        Holds ``last.pt``, ``resume.pt``, ``curve.json`` and ``learning_curve.png``.
    learner_config : dict, optional
        :class:`~autometa.meta.InContextLearner` arguments (default: its defaults).
    prior_config : dict, optional
        :class:`~autometa.tasks.InContextPrior` arguments; ``"kind": "v2"`` draws from
        :class:`~autometa.tasks.InContextPriorV2` instead.
    meta_batch_size, lr, warmup_steps, grad_clip, weight_decay, seed
        Passed to :class:`~autometa.meta.MetaTrainer` (AdamW).
    chunk_steps : int, default=500
        Steps between evaluations and checkpoints.
    eval_seeds : sequence of int, optional
        Seeds of the held-out evaluation samples (default ``(0,)``; five for regression).
    eval_datasets, eval_sizes : sequences, optional
        Held-out tables and training-sample sizes of the evaluation (default
        :data:`EVAL_DATASETS`, :data:`EVAL_SIZES`).
    tracking : bool, default=True
        Log the curve to MLflow (experiment ``autometa-campaign``).
    tracking_uri : str, optional
    cooldown : (int, int), optional
        ``(start, end)`` steps of a learning-rate cool-down (linear to 0 at ``end``); made by
        :meth:`cooldown_branch`, which copies a constant-rate campaign into a sibling directory
        so that the constant-rate run itself can still be continued.
    device : str or torch.device, default="auto"
        Where the trainer runs (``"auto"``: CUDA when present, with bf16/fp16 mixed precision
        there; ``"cpu"``). The learning curve is always scored on a CPU copy of the learner.
        Only CPU runs resume bit for bit; on a GPU, kernels and mixed precision make a resumed
        run close to, not equal to, an uninterrupted one.
    algo : str, optional
        The registered learner to train instead of the task's default
        (``"in-context-v2"``: :class:`~autometa.meta.InContextV2`).
    optimizer : {"adamw", "muon"}, default="adamw"
        ``"muon"``: Muon on the learner's block matrices, AdamW on the rest.
    ema_decay : float, optional
        Score and ship an exponential moving average of the weights
        (:mod:`torch.optim.swa_utils`) instead of the raw weights.
    task_workers : {0, 1}, default=0
        1: the tasks are drawn in a worker process ahead of the training step (the same stream
        bit for bit, so it may change between sessions); its CPU time counts in ``cpu_hours``.
    task : {"classification", "regression"}, default="classification"
        Which learner the campaign trains: :class:`~autometa.meta.InContextLearner` on an
        :class:`~autometa.tasks.InContextPrior` scored by held-out ROC-AUC, or
        :class:`~autometa.meta.InContextRegressionLearner` on an
        :class:`~autometa.tasks.InContextRegressionPrior` scored by held-out R² and 80%-interval
        coverage (:func:`held_out_r2`; default held-out tables
        :data:`autometa.tasks.roles.REGRESSOR_VALIDATION`, sizes 32 and 128).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        task: str = "classification",
        learner_config: dict[str, Any] | None = None,
        prior_config: dict[str, Any] | None = None,
        meta_batch_size: int = 8,
        lr: float = 5e-4,
        warmup_steps: int = 500,
        grad_clip: float = 1.0,
        weight_decay: float = 0.01,
        seed: int = 0,
        chunk_steps: int = 500,
        eval_seeds: Sequence[int] | None = None,
        eval_datasets: Sequence[str] | None = None,
        eval_sizes: Sequence[int] | None = None,
        tracking: bool = True,
        tracking_uri: str | None = None,
        cooldown: tuple[int, int] | None = None,
        device: str | torch.device = "auto",
        algo: str | None = None,
        optimizer: str = "adamw",
        ema_decay: float | None = None,
        task_workers: int = 0,
    ) -> None:
        if task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression'; got {task!r}.")
        self.task = task
        if eval_datasets is None:
            if task == "regression":
                eval_datasets = REGRESSOR_VALIDATION
            else:
                eval_datasets = EVAL_DATASETS
        if eval_sizes is None:
            eval_sizes = REGRESSION_EVAL_SIZES if task == "regression" else EVAL_SIZES
        self.directory = Path(directory)
        self.learner_config = dict(learner_config or {})
        self.prior_config = dict(prior_config or {})
        self.meta_batch_size = int(meta_batch_size)
        self.lr = float(lr)
        self.warmup_steps = int(warmup_steps)
        self.grad_clip = float(grad_clip)
        self.weight_decay = float(weight_decay)
        self.seed = int(seed)
        self.chunk_steps = int(chunk_steps)
        if eval_seeds is None:  # the regression tables are small: more seeds for a steadier curve
            eval_seeds = (0, 1, 2, 3, 4) if task == "regression" else (0,)
        self.eval_seeds = tuple(int(s) for s in eval_seeds)
        self.eval_datasets = tuple(eval_datasets)
        self.eval_sizes = tuple(int(n) for n in eval_sizes)
        self.tracking = bool(tracking)
        self.tracking_uri = tracking_uri
        self.cooldown = None if cooldown is None else (int(cooldown[0]), int(cooldown[1]))
        self.device = device
        self.algo = algo
        self.optimizer = optimizer
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.task_workers = check_task_workers(task_workers)
        self.branched_from: str | None = None
        self.grown_at: int | None = None  # the step a grown branch (grow_from) started at
        self.devices: list[
            str
        ] = []  # every device the campaign has trained on, in order of first use
        if self.curve_path.is_file():  # a cool-down branch keeps its window and origin
            meta = json.loads(self.curve_path.read_text())
            stored = meta.get("cooldown")
            if self.cooldown is None and stored is not None:
                self.cooldown = (int(stored[0]), int(stored[1]))
            self.branched_from = meta.get("branched_from")
            self.grown_at = meta.get("grown_at")
            self.devices = list(meta.get("devices") or [])
        if self.chunk_steps < 1:
            raise ValueError(f"chunk_steps must be a positive int; got {chunk_steps!r}.")

    # ------------------------------------------------------------------ pieces
    def build_trainer(self) -> Any:
        """The learner, prior and trainer of this campaign (fresh weights)."""

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # the initial weights depend on the seed only
            learner = self.learner_class(**self.learner_config)
        prior = self.build_prior(learner)
        trainer = MetaTrainer(
            learner,
            prior,
            meta_batch_size=self.meta_batch_size,
            seed=self.seed,
            device=self.device,
            progress=False,
            optimizer=OptimizerConfig(
                self.optimizer,
                lr=self.lr,
                weight_decay=self.weight_decay,
                grad_clip=self.grad_clip,
                ema_decay=self.ema_decay,
            ),  # fmt: skip
            schedule=ScheduleConfig(warmup_steps=self.warmup_steps, decay_window=self.cooldown),
            checkpoints=CheckpointConfig(self.directory, every=self.chunk_steps, compact=True),
            tracking=False,
        )
        trainer.task_workers = self.task_workers
        return trainer

    @property
    def learner_class(self) -> type:
        if self.algo is not None:
            ensure_registered(self.algo)
            if self.algo not in LEARNERS:
                raise ValueError(
                    f"Unknown learner {self.algo!r}; choose one of {sorted(LEARNERS)}."
                )
            return LEARNERS[self.algo]
        return InContextRegressionLearner if self.task == "regression" else InContextLearner

    def build_prior(self, learner: Any) -> InContextPrior:
        """The campaign's task prior for ``learner``'s widths."""
        if self.task == "regression":
            spacing = getattr(
                learner, "spacing", False
            )  # the learner's config says how it reads rows
            return InContextRegressionPrior(
                d_max=learner.d_max, spacing=spacing, **self.prior_config
            )
        config = dict(self.prior_config)
        kind = config.pop("kind", "v1")  # "v2": autometa.tasks.InContextPriorV2
        if kind not in ("v1", "v2"):
            raise ValueError(f"prior_config kind must be 'v1' or 'v2'; got {kind!r}.")
        prior_class = InContextPriorV2 if kind == "v2" else InContextPrior
        return prior_class(d_max=learner.d_max, c_max=learner.c_max, **config)

    def evaluate(self, learner: Any) -> dict[str, float]:
        """The learning curve's held-out scores of ``learner`` (AUC, or R² and coverage), on the CPU."""
        if any(p.device.type != "cpu" for p in learner.parameters()):
            learner = copy.deepcopy(learner).to("cpu")
        if self.task == "regression":
            return held_out_r2(learner, self.eval_datasets, self.eval_sizes, seeds=self.eval_seeds)
        return held_out_auc(learner, self.eval_datasets, self.eval_sizes, seeds=self.eval_seeds)

    @property
    def origin(self) -> Path:
        """The constant-rate campaign a cool-down branch came from (this campaign's own folder otherwise)."""
        if self.branched_from:
            return Path(self.branched_from)
        if self.cooldown is not None and self.directory.name.endswith(
            _COOLDOWN_SUFFIX
        ):  # branches from before
            return self.directory.with_name(self.directory.name.removesuffix(_COOLDOWN_SUFFIX))
        return self.directory

    @property
    def curve_path(self) -> Path:
        return self.directory / "curve.json"

    def curve(self) -> list[dict[str, float]]:
        """The learning curve so far (one entry per evaluation)."""
        if not self.curve_path.is_file():
            return []
        return json.loads(self.curve_path.read_text())["curve"]

    def snapshot(self, timeout: float = 900.0) -> tuple[Any, list[dict[str, float]]]:
        """The learner of ``last.pt`` and the curve up to its step, consistent with each other.

        A running campaign writes ``last.pt`` before it has evaluated that step; this waits
        (up to ``timeout`` seconds) until the curve's last entry is the checkpoint's step.
        """

        deadline = time.monotonic() + timeout
        while True:
            payload = load_checkpoint(self.directory / LAST_FILE)
            curve = self.curve()
            step = int(payload["training"]["step"])
            if curve and int(curve[-1]["step"]) == step:
                learner = self.learner_class(**json.loads(payload["config"]))
                averaged = payload["training"].get("averaged")
                if averaged is not None:  # the scored weights are the moving average
                    state = {
                        k[len("module.") :]: v
                        for k, v in averaged.items()
                        if k.startswith("module.")
                    }
                    learner.load_state_dict(state)
                else:
                    learner.load_state_dict(payload["state_dict"])
                return learner.eval(), curve
            if time.monotonic() > deadline:
                raise ValueError(
                    f"{self.directory}: {LAST_FILE} is at step {step} but the curve ends at "
                    f"{curve[-1]['step'] if curve else 'nothing'}; run the campaign to its next evaluation first."
                )
            time.sleep(5.0)

    def _recipe(self) -> dict[str, Any]:
        """What the campaign trains with, as its ``curve.json`` records it."""
        return {
            "task": self.task,
            "algo": self.algo,
            "optimizer": self.optimizer,
            "ema_decay": self.ema_decay,
            "learner_config": self.learner_config,
            "prior_config": self.prior_config,
            "trainer": {
                "meta_batch_size": self.meta_batch_size, "lr": self.lr, "warmup_steps": self.warmup_steps,
                "grad_clip": self.grad_clip, "weight_decay": self.weight_decay, "seed": self.seed,
            },
        }  # fmt: skip

    def _write_curve(self, curve: list[dict[str, float]]) -> None:
        meta = {
            **self._recipe(),
            "eval_datasets": list(self.eval_datasets),
            "cooldown": list(self.cooldown) if self.cooldown is not None else None,
            "branched_from": self.branched_from,
            **({"grown_at": self.grown_at} if self.grown_at is not None else {}),
            "devices": self.devices,
            "curve": curve,
        }
        tmp = self.curve_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, self.curve_path)

    def cooldown_branch(
        self, steps: int, directory: str | os.PathLike[str] | None = None
    ) -> InContextCampaign:
        """A copy of this campaign that decays the learning rate linearly to 0 over ``steps`` steps.

        The branch starts from this campaign's committed state (``resume.pt`` and its curve) in
        ``directory`` (default: this directory's name plus ``-cooldown``); this campaign is left
        as it is, so its constant-rate phase can go on and be cooled down again later. Calling
        this again for an existing branch returns that branch (its window is kept), so a killed
        cool-down resumes.
        """
        target = Path(directory) if directory is not None else cooldown_directory(self.directory)
        kwargs = {
            "task": self.task, "learner_config": self.learner_config, "prior_config": self.prior_config,
            "meta_batch_size": self.meta_batch_size, "lr": self.lr, "warmup_steps": self.warmup_steps,
            "grad_clip": self.grad_clip, "weight_decay": self.weight_decay, "seed": self.seed,
            "chunk_steps": self.chunk_steps, "eval_seeds": self.eval_seeds, "eval_datasets": self.eval_datasets,
            "eval_sizes": self.eval_sizes, "tracking": self.tracking, "tracking_uri": self.tracking_uri,
            "device": self.device, "algo": self.algo, "optimizer": self.optimizer, "ema_decay": self.ema_decay,
            "task_workers": self.task_workers,
        }  # fmt: skip
        if (target / "curve.json").is_file():
            branch = InContextCampaign(target, **kwargs)
            if branch.cooldown is None:
                raise ValueError(
                    f"{target} holds a campaign without a cool-down; pick another directory."
                )
            return branch
        if isinstance(steps, bool) or int(steps) < 1:
            raise ValueError(f"the cool-down needs a positive number of steps; got {steps!r}.")
        start, curve = self._copy_state(target, "cool down")
        branch = InContextCampaign(target, cooldown=(start, start + int(steps)), **kwargs)
        branch.branched_from = str(self.directory)
        branch.devices = list(self.devices)
        branch._write_curve(curve)
        return branch

    def _copy_state(self, target: Path, what: str) -> tuple[int, list[dict[str, float]]]:
        """Copy this campaign's committed state (``resume.pt``) into ``target``; its step and curve."""
        curve, compact = self.curve(), self.directory / COMPACT_FILE
        if not curve or not compact.is_file():
            raise ValueError(
                f"{self.directory} has no campaign state (resume.pt and curve.json) to {what}."
            )
        start = int(load_checkpoint(compact)["training"]["step"])
        if start != int(curve[-1]["step"]):
            raise ValueError(
                f"{compact} is at step {start} but the curve ends at {curve[-1]['step']}; let the campaign reach "
                "its next evaluation first."
            )
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(compact, target / COMPACT_FILE)
        return start, curve

    def grow_from(self, origin: str | os.PathLike[str]) -> InContextCampaign:
        """Start this campaign from ``origin``'s committed state, its learner grown by new parameters.

        This campaign's recipe must be ``origin``'s except for the learner's configuration,
        which may add parameters (``ridge_readin``, say): they start at their initial values and
        with no optimizer state, and everything else continues ``origin``'s run (weights,
        moments, moving average, step, task stream, CPU-hours of the curve). So the branch and
        ``origin`` continued at constant rate compare at equal CPU time. ``origin`` is left as
        it is. A campaign that already holds a curve just continues (calling this again is
        harmless).

        Returns
        -------
        InContextCampaign
            This campaign.
        """
        if self.curve_path.is_file():
            return self
        source = Path(origin)
        path = source / "curve.json"
        if not path.is_file():
            raise ValueError(f"{source} holds no campaign (curve.json) to grow from.")
        stored = json.loads(path.read_text())
        mine = json.loads(json.dumps(self._recipe()))
        theirs = {k: stored.get(k) for k in mine}
        differ = sorted(k for k in mine if k != "learner_config" and mine[k] != theirs[k])
        if differ:
            raise ValueError(
                f"{source} was trained with another recipe ({', '.join(differ)} differ); a grown "
                "branch changes only the learner's configuration."
            )
        base = InContextCampaign(source, task=self.task, tracking=False)
        start, curve = base._copy_state(self.directory, "grow")
        self.branched_from = str(source)
        self.grown_at = start
        self.devices = list(base.devices)
        self._write_curve(curve)
        return self

    # ------------------------------------------------------------------ the loop
    def run(
        self,
        *,
        hours: float | None = None,
        steps: int | None = None,
        cpu_hours: float | None = None,
        log: Any = None,
    ) -> list[dict[str, float]]:
        """Train until ``steps`` total steps, ``hours`` more wall-clock hours or a curve past
        ``cpu_hours`` CPU-hours in all, whichever comes first.

        ``cpu_hours`` stops after the first evaluation beyond that total, so a comparison at
        that budget has the curve on both sides of it.

        Continues from ``last.pt`` (exact) or else ``resume.pt`` (compact) when present.

        Returns
        -------
        list of dict
            The whole learning curve.
        """
        if self.cooldown is not None:  # a cool-down ends at its window's end
            steps = self.cooldown[1] if steps is None else min(int(steps), self.cooldown[1])
        if hours is None and steps is None and cpu_hours is None:
            raise ValueError(
                "Give steps= (total outer steps), hours= (wall-clock budget of this session) "
                "or cpu_hours= (total CPU-hours of the curve)."
            )
        log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.directory.mkdir(parents=True, exist_ok=True)
        trainer = self.build_trainer()
        resume = resume_file(self.directory)
        if resume is not None and resume.name == COMPACT_FILE:
            log(
                f"campaign: continuing from the compact state {resume} (16-bit weights and moments)"
            )
        curve = self.curve()
        if cpu_hours is not None and curve and curve[-1]["cpu_hours"] > float(cpu_hours):
            log(f"campaign: the curve is already past {cpu_hours} CPU-hours; nothing to do")
            return curve
        cpu_base = curve[-1]["cpu_hours"] if curve else 0.0
        wall_base = curve[-1]["wall_hours"] if curve else 0.0
        deadline = None if hours is None else time.monotonic() + float(hours) * 3600.0
        cpu0, wall0 = time.process_time(), time.monotonic()
        done = (
            trainer.load_state(resume, grow=self.grown_at is not None) if resume is not None else 0
        )
        name = "in-context" if self.task == "classification" else "in-context-regression"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with start_run(
                experiment="autometa-campaign",
                run_name=name,
                params={
                    "learner": self.learner_config,
                    "prior": self.prior_config,
                    "resumed_from_step": done,
                },
                tags={"autometa.campaign": name},
                tracking_uri=self.tracking_uri,
                enabled=self.tracking,
            ) as run:

                def on_checkpoint(trainer: MetaTrainer) -> bool:
                    """After each chunk: score, extend the curve, log; stop when the budget is spent."""
                    if str(trainer.device) not in self.devices:
                        self.devices.append(str(trainer.device))
                    hist = [
                        h for h in trainer.history[-self.chunk_steps :] if "meta_train/loss" in h
                    ]
                    entry: dict[str, float] = {
                        "step": int(trainer.step),
                        "train_loss": float(np.mean([h["meta_train/loss"] for h in hist]))
                        if hist
                        else math.nan,
                    }
                    entry.update(
                        self.evaluate(
                            trainer.averaged if trainer.averaged is not None else trainer.learner
                        )
                    )
                    cpu_s = time.process_time() - cpu0 + trainer.worker_cpu_seconds
                    entry["cpu_hours"] = cpu_base + cpu_s / 3600.0
                    entry["wall_hours"] = wall_base + (time.monotonic() - wall0) / 3600.0
                    curve.append(entry)
                    self._write_curve(curve)
                    run.log_metrics(
                        {k: v for k, v in entry.items() if k != "step"}, step=int(entry["step"])
                    )
                    log(
                        "campaign: "
                        + ", ".join(
                            f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in entry.items()
                        )
                    )
                    if cpu_hours is not None and entry["cpu_hours"] > float(cpu_hours):
                        return True
                    return deadline is not None and time.monotonic() >= deadline

                if steps is None or done < int(steps):
                    trainer.fit(None if steps is None else int(steps), on_checkpoint=on_checkpoint)
                run.log_dict({"curve": curve}, "curve.json")
        return curve


def cooldown_directory(directory: str | os.PathLike[str]) -> Path:
    """Where :meth:`InContextCampaign.cooldown_branch` puts a branch by default: ``<directory>-cooldown``."""
    directory = Path(directory)
    return directory.with_name(directory.name + _COOLDOWN_SUFFIX)


def _optimizer_text(campaign: InContextCampaign) -> str:
    """How the campaign's outer optimizer ran, for the model card (without the schedule's end)."""
    name = {
        "adamw": "AdamW",
        "muon": "Muon on the blocks' weight matrices with AdamW on the rest (one rate, match_rms_adamw)",
    }.get(campaign.optimizer, campaign.optimizer)
    text = (
        f"{name} lr={campaign.lr} weight_decay={campaign.weight_decay} warmup={campaign.warmup_steps} "
        f"grad_clip={campaign.grad_clip}"
    )
    if campaign.ema_decay is not None:
        text += f"; shipped weights: exponential moving average, decay {campaign.ema_decay}"
    return text


def export_in_context(
    campaign: InContextCampaign,
    checkpoint: str | os.PathLike[str],
    card: str | os.PathLike[str],
    *,
    command: str,
    machine: str,
    references: dict[str, dict[str, float]] | None = None,
    learner: Any = None,
    curve: list[dict[str, float]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Ship the campaign's current learner: a checkpoint plus its model card.

    The card lists every data source (the synthetic generator families and each dev table the
    prior mixes in), the held-out tables of the learning curve, the compute spent (steps,
    CPU-hours, wall-hours, the machine), the command, the whole learning curve and, when
    given, peers' AUC on the same held-out splits.
    """

    if learner is None:
        learner, curve = campaign.snapshot()
    else:
        curve = campaign.curve() if curve is None else curve
    prior = campaign.build_prior(getattr(learner, "base", learner))
    path = save_meta_learner(
        learner,
        checkpoint,
        metadata={"campaign_step": int(curve[-1]["step"]), "source": "in-context campaign"},
    )
    facts = {
        **learner_facts(learner),
        "data": {
            "synthetic": {
                "generator": f"autometa.tasks.{type(prior.synthetic_for(prior.n_support_range[0])).__name__}",
                "kinds": list(prior.synthetic_for(prior.n_support_range[0]).kinds),
                **{
                    k: list(v) if isinstance(v, tuple) else v
                    for k, v in prior.synthetic_options.items()
                },
            },
            "dev_tables": list(prior.datasets),
            "dev_table_share": prior.dataset_weight,
            "n_support_range": list(prior.n_support_range),
            "n_query": prior.n_query,
            "held_out_for_the_learning_curve": list(campaign.eval_datasets),
            "reserved_data_sets_used": [],
            **_origin_prior(campaign),
        },  # fmt: skip
        "training": {
            "steps": int(curve[-1]["step"]),
            "meta_batch_size": campaign.meta_batch_size,
            "optimizer": _optimizer_text(campaign)
            + (
                f"; constant rate to step {campaign.cooldown[0]}, then linear decay to 0 at step {campaign.cooldown[1]}"
                if campaign.cooldown is not None
                else "; constant rate"
            ),
            "seed": campaign.seed,
            "cpu_hours": round(float(curve[-1]["cpu_hours"]), 3),
            "wall_hours": round(float(curve[-1]["wall_hours"]), 3),
            "machine": machine,
            "command": command,
        },
        "learning_curve": [
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in entry.items()}
            for entry in curve
        ],
        "peers_on_the_same_splits": references or {},
        **(extra or {}),
    }
    written = write_card(card, path, facts)
    sync_hash(path)  # another card naming the file (model_card.json) must not go stale
    return written


def _origin_prior(campaign: InContextCampaign) -> dict[str, Any]:
    """A branch trained on another prior than its origin: ``{"before_the_branch": ...}`` naming the
    origin, the step the branch started from, and the origin's prior settings; else nothing."""
    if not campaign.branched_from or campaign.cooldown is None:
        return {}
    path = Path(campaign.branched_from) / "curve.json"
    if not path.is_file():
        return {}
    stored = json.loads(path.read_text()).get("prior_config") or {}
    if stored == json.loads(json.dumps(campaign.prior_config)):
        return {}
    return {
        "before_the_branch": {
            "campaign": str(campaign.branched_from),
            "steps": int(campaign.cooldown[0]),
            "prior_config": stored,
            "note": "the steps up to the branch drew tasks with these prior settings; the "
            "synthetic settings above are the branch's",
        }
    }


def plot_curve(
    curve: list[dict[str, float]],
    references: dict[str, dict[str, float]] | None,
    path: str | os.PathLike[str],
    metric: str = "auc",
) -> Path:
    """Held-out ``metric`` ("auc" or "r2") against CPU-hours, one line per training size, peers dashed."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    hours = [c["cpu_hours"] for c in curve]
    prefix = f"{metric}@"
    keys = sorted(
        {k for c in curve for k in c if k.startswith(prefix)}, key=lambda k: int(k[len(prefix) :])
    )
    colors = dict(zip(keys, ("tab:blue", "tab:orange", "tab:green", "tab:red"), strict=False))
    for k in keys:
        size = k[len(prefix) :]
        ax.plot(
            hours,
            [c.get(k, math.nan) for c in curve],
            color=colors[k],
            label=f"in-context, n={size}",
        )
        for peer, style in zip(sorted(references or {}), ("--", ":"), strict=False):
            if k in references[peer]:
                ax.axhline(references[peer][k], color=colors[k], linestyle=style, linewidth=1,
                           label=f"{peer}, n={size}")  # fmt: skip
    ax.set_xlabel("CPU-hours of meta-training (one core)")
    ax.set_ylabel(("mean ROC-AUC" if metric == "auc" else "mean R²") + ", held-out dev tables")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)


def train_tta(
    learner: Any,
    directory: str | os.PathLike[str],
    *,
    steps: int = 300,
    inner_steps: int = 3,
    seed: int = 0,
    prior_config: dict[str, Any] | None = None,
    datasets: Sequence[str] = EVAL_DATASETS,
    sizes: Sequence[int] = EVAL_SIZES,
) -> tuple[Any, dict[str, dict[str, float]]]:
    """Meta-train test-time Meta-LSTM steps on ``learner``'s head and measure what they add.

    Returns the trained :class:`~autometa.meta.InContextTTA` and the held-out AUC of the
    in-context learner alone, with untrained steps and with the meta-trained steps, on the
    campaign's held-out splits (same splits, same ensemble).
    """

    learner = learner.eval()
    tta = InContextTTA.from_learner(learner, steps=inner_steps)
    scores = {
        "in_context": held_out_auc(learner, datasets, sizes),
        "untrained_steps": held_out_auc(tta, datasets, sizes),
    }
    prior = InContextPrior(d_max=learner.d_max, c_max=learner.c_max, **(prior_config or {}))
    MetaTrainer(
        tta, prior, meta_batch_size=8, seed=seed, device="cpu", progress=False, tracking=False,
        optimizer=OptimizerConfig("adamw", lr=1e-3, grad_clip=1.0), checkpoints=CheckpointConfig(directory, every=100),
    ).fit(int(steps), resume=True)  # fmt: skip
    scores["meta_trained_steps"] = held_out_auc(tta.eval(), datasets, sizes)
    return tta, scores
