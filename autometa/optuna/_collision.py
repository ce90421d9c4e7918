"""Name-collision objectives: studies that reuse the archive's parameter names for other things.

The shipped meta-knowledge archives HPOBench MLP tasks whose parameters are called ``alpha``,
``batch_size``, ``depth``, ``learning_rate_init`` and ``width``. Users reuse these names for
other models with other optima and other ranges. Each objective here does that: same names,
different landscape (optimum elsewhere, wider or narrower ranges, other interactions). They
are a held-out check of :class:`~autometa.optuna.MetaSampler`'s trust in its archive
(``autometa bench sampler --collision``) and are never used to tune the sampler; the families
it is tuned on live in :mod:`autometa.optuna._families`.

Every objective is a minimization with optimum value 0. With ``pruned=True`` it reports a
learning curve (10 steps, converging to the final value) and asks the trial whether to prune.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna

from autometa.optuna._pool import suggest_hpobench

__all__ = ["COLLISIONS", "HELD_OUT_COLLISIONS", "CollisionObjective", "collision_objective"]

_CURVE_STEPS = 10


def _lg(v: float) -> float:
    return math.log10(v)


@dataclass(frozen=True)
class CollisionObjective:
    """A smooth test objective whose parameter names collide with the shipped archive.

    Attributes
    ----------
    name : str
        Short name.
    suggest : callable
        ``suggest(trial) -> params`` (define-by-run).
    loss : callable
        ``loss(params) -> float``, minimum 0.
    """

    name: str
    suggest: Callable[[optuna.Trial], dict[str, Any]]
    loss: Callable[[dict[str, Any]], float]

    def objective(self, pruned: bool = False) -> Callable[[optuna.Trial], float]:
        """The function for ``study.optimize``; with ``pruned`` it reports a learning curve."""

        def run(trial: optuna.Trial) -> float:
            params = self.suggest(trial)
            final = self.loss(params)
            if not pruned:
                return final
            # Slow starters: the curve's early excess depends on the configuration, so early
            # steps rank configurations only roughly, as real learning curves do.
            excess = 0.5 + 0.5 * math.tanh(final - 0.5)
            for step in range(1, _CURVE_STEPS + 1):
                value = final + excess * math.exp(-0.45 * step)
                trial.report(value, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return final

        return run


def _lr_width(t: optuna.Trial) -> dict[str, Any]:
    return {
        "lr": t.suggest_float("lr", 1e-5, 1.0, log=True),
        "width": t.suggest_int("width", 16, 1024, log=True),
    }


def _lr_width_loss(p: dict[str, Any]) -> float:
    # A wide optimum in lr (0.05) and a narrow model (24 units); the archive prefers ~256 units.
    return 0.1 * (
        (_lg(p["lr"]) - _lg(0.05)) ** 2 + 0.5 * (math.log2(p["width"]) - math.log2(24)) ** 2
    )


def _depth_alpha_batch(t: optuna.Trial) -> dict[str, Any]:
    return {
        "depth": t.suggest_int("depth", 1, 8),
        "alpha": t.suggest_float("alpha", 1e-6, 100.0, log=True),
        "batch_size": t.suggest_int("batch_size", 2, 4096, log=True),
    }


def _depth_alpha_batch_loss(p: dict[str, Any]) -> float:
    # Deep (6, outside the archive's 1-3), strongly regularized (alpha 10), large batches.
    return (
        0.05 * (p["depth"] - 6) ** 2
        + 0.05 * (_lg(p["alpha"]) - 1.0) ** 2
        + 0.02 * (math.log2(p["batch_size"]) - 11.0) ** 2
    )


def _lri_width_depth(t: optuna.Trial) -> dict[str, Any]:
    return {
        "learning_rate_init": t.suggest_float("learning_rate_init", 1e-4, 1.0, log=True),
        "width": t.suggest_int("width", 4, 512, log=True),
        "depth": t.suggest_int("depth", 1, 10),
    }


def _lri_width_depth_loss(p: dict[str, Any]) -> float:
    # The smooth three-parameter log-scaled objective with an integer parameter.
    return (
        0.2 * (_lg(p["learning_rate_init"]) - _lg(0.3)) ** 2
        + 0.05 * (math.log2(p["width"]) - 3.0) ** 2
        + 0.03 * (p["depth"] - 7) ** 2
    )


def _batch_lr_ridge(t: optuna.Trial) -> dict[str, Any]:
    return {
        "batch_size": t.suggest_int("batch_size", 16, 4096, log=True),
        "learning_rate_init": t.suggest_float("learning_rate_init", 1e-5, 1.0, log=True),
    }


def _batch_lr_ridge_loss(p: dict[str, Any]) -> float:
    # A diagonal ridge: the best learning rate grows with the batch size (linear scaling rule).
    lb = math.log2(p["batch_size"])
    ridge = _lg(p["learning_rate_init"]) - (-4.0 + 0.3 * (lb - 4.0))
    return 0.3 * ridge**2 + 0.01 * (lb - 10.0) ** 2


def _mlp5_loss(p: dict[str, Any]) -> float:
    # The archive's own five names and ranges (suggest_hpobench), the optimum in a corner the
    # archive dislikes.
    return (
        0.03 * (_lg(p["alpha"]) + 0.5) ** 2
        + 0.02 * (math.log2(p["batch_size"]) - 7.5) ** 2
        + 0.05 * (p["depth"] - 1) ** 2
        + 0.05 * (_lg(p["learning_rate_init"]) + 0.7) ** 2
        + 0.02 * (math.log2(p["width"]) - 4.5) ** 2
    )


COLLISIONS: dict[str, CollisionObjective] = {
    o.name: o
    for o in (
        CollisionObjective("lr_width", _lr_width, _lr_width_loss),
        CollisionObjective("depth_alpha_batch", _depth_alpha_batch, _depth_alpha_batch_loss),
        CollisionObjective("lri_width_depth", _lri_width_depth, _lri_width_depth_loss),
        CollisionObjective("batch_lr_ridge", _batch_lr_ridge, _batch_lr_ridge_loss),
        CollisionObjective("mlp5", suggest_hpobench, _mlp5_loss),
    )
}


def _four(t: optuna.Trial) -> dict[str, Any]:
    return {
        "alpha": t.suggest_float("alpha", 1e-4, 10.0, log=True),
        "width": t.suggest_int("width", 8, 2048, log=True),
        "batch_size": t.suggest_int("batch_size", 1, 64),  # linear, unlike the archive's
        "learning_rate_init": t.suggest_float("learning_rate_init", 1e-3, 10.0, log=True),
    }


def _four_loss(p: dict[str, Any]) -> float:
    la, ll = _lg(p["alpha"]) + 3.0, _lg(p["learning_rate_init"]) - 0.3
    return (
        0.1 * ll**2
        + 0.05 * la**2
        + 0.05 * la * ll
        + 0.02 * (math.log2(p["width"]) - 10.5) ** 2
        + 0.01 * (p["batch_size"] - 3) ** 2
    )


def _depth_width_act(t: optuna.Trial) -> dict[str, Any]:
    return {
        "depth": t.suggest_int("depth", 2, 20),
        "width": t.suggest_int("width", 32, 4096, log=True),
        "activation": t.suggest_categorical("activation", ["relu", "tanh", "gelu"]),
    }


def _depth_width_act_loss(p: dict[str, Any]) -> float:
    act = {"relu": 0.3, "tanh": 0.0, "gelu": 0.15}[p["activation"]]
    return act + 0.004 * (p["depth"] - 15) ** 2 + 0.05 * (math.log2(p["width"]) - 6.0) ** 2


def _alpha_lr_linear(t: optuna.Trial) -> dict[str, Any]:
    return {
        "alpha": t.suggest_float("alpha", 0.0, 1.0),  # linear, unlike the archive's log alpha
        "learning_rate_init": t.suggest_float("learning_rate_init", 1e-6, 1e-2, log=True),
        "width": t.suggest_int("width", 1, 128),  # linear
    }


def _alpha_lr_linear_loss(p: dict[str, Any]) -> float:
    # Strong regularization, a tiny learning rate and a wide layer on a linear width scale.
    return (
        0.5 * (p["alpha"] - 0.8) ** 2
        + 0.1 * (_lg(p["learning_rate_init"]) + 5.5) ** 2
        + 0.5 * ((p["width"] - 100) / 128.0) ** 2
    )


def _momentum(t: optuna.Trial) -> dict[str, Any]:
    return {
        "batch_size": t.suggest_int("batch_size", 1, 512, log=True),
        "depth": t.suggest_int("depth", 1, 6),
        "momentum": t.suggest_float("momentum", 0.5, 0.99),
        "learning_rate_init": t.suggest_float("learning_rate_init", 1e-4, 1.0, log=True),
    }


def _momentum_loss(p: dict[str, Any]) -> float:
    # The effective step lr / (1 - momentum) matters (a curved ridge), small batches, depth 5.
    eff = _lg(p["learning_rate_init"] / (1.0 - p["momentum"]))
    return (
        0.1 * (eff + 1.0) ** 2
        + 0.03 * (math.log2(p["batch_size"]) - 1.0) ** 2
        + 0.04 * (p["depth"] - 5) ** 2
        + 0.5 * (p["momentum"] - 0.9) ** 2
    )


# Held-out checks, never used to tune the sampler. The first two were written after the first
# round of issue-26 changes was final and run once then; the last two were written before the
# second round (archive picks only on evidence, the stratified space-filling design) and run
# once after it.
HELD_OUT_COLLISIONS: dict[str, CollisionObjective] = {
    o.name: o
    for o in (
        CollisionObjective("four_mixed_scales", _four, _four_loss),
        CollisionObjective("depth_width_activation", _depth_width_act, _depth_width_act_loss),
        CollisionObjective("alpha_lr_linear", _alpha_lr_linear, _alpha_lr_linear_loss),
        CollisionObjective("momentum_batch_depth", _momentum, _momentum_loss),
    )
}


def collision_objective(name: str) -> CollisionObjective:
    """The objective called ``name`` (a key of :data:`COLLISIONS` or :data:`HELD_OUT_COLLISIONS`)."""
    known = {**COLLISIONS, **HELD_OUT_COLLISIONS}
    if name not in known:
        raise ValueError(f"unknown collision objective {name!r}; choose from {', '.join(known)}.")
    return known[name]
