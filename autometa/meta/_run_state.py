"""The checkpointable state of a meta-training run, and how it is saved and restored.

A ``MetaTrainer`` checkpoint's ``"training"`` entry holds everything needed to continue a
killed run exactly: optimizer and gradient-scaler state, step, history, early-stopping
counters, the NumPy (task stream), Python and torch RNG states, and the state of every
``torch.Generator`` a learner's modules keep (an augmentation stream, for instance).
:func:`training_state` writes that entry; :func:`restore_rngs` and
:func:`restore_module_generators` put the random streams back.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from autometa.meta._checkpoint import to_json

__all__ = [
    "check_resumable",
    "grow_payload",
    "optimizer_names",
    "module_generator_states",
    "restore_module_generators",
    "restore_rngs",
    "training_state",
]


def training_state(
    *,
    step: int,
    optimizer: torch.optim.Optimizer,
    scaler: Any,
    history: list[dict[str, float]],
    best_val: float | None,
    best_step: int | None,
    bad_evals: int,
    stopped_early: bool,
    rng: np.random.Generator,
    module: torch.nn.Module,
    trainer_config: Mapping[str, Any],
    world_size: int,
    horizon: int,
) -> dict[str, Any]:
    """The ``"training"`` entry of a checkpoint (the current RNG states are read here)."""
    return {
        "step": int(step),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "history": json.dumps(history),
        "best_val": best_val,
        "best_step": best_step,
        "bad_evals": int(bad_evals),
        "stopped_early": bool(stopped_early),
        "numpy_rng": json.dumps(rng.bit_generator.state),
        "python_rng": json.dumps(random.getstate()),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "module_generators": module_generator_states(module),
        "trainer_config": json.dumps(dict(trainer_config), sort_keys=True),
        "world_size": int(world_size),
        "horizon": int(horizon),
    }


def restore_rngs(training: Mapping[str, Any], rng: np.random.Generator) -> None:
    """Set ``rng`` (the task stream) and Python's, torch's and CUDA's generators to a checkpoint's.

    CUDA states are restored only when the device count matches the writer's.
    """
    rng.bit_generator.state = json.loads(training["numpy_rng"])
    py_state = json.loads(training["python_rng"])
    random.setstate((py_state[0], tuple(py_state[1]), py_state[2]))
    torch.set_rng_state(training["torch_rng"])
    cuda_states = training.get("cuda_rng") or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)


def _module_generators(
    module: torch.nn.Module,
) -> Iterator[tuple[str, Any, str, torch.Generator | None]]:
    """``torch.Generator`` attributes of ``module``'s submodules (e.g. an augmentation stream)."""
    for mod_name, sub in module.named_modules():
        for attr, value in vars(sub).items():
            if isinstance(value, torch.Generator) or (value is None and attr.endswith("generator")):
                yield mod_name, sub, attr, value


def module_generator_states(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``{"<submodule>:<attribute>": state}`` of every created ``torch.Generator`` in ``module``."""
    return {
        f"{mod}:{attr}": gen.get_state()
        for mod, _, attr, gen in _module_generators(module)
        if gen is not None
    }


def restore_module_generators(
    module: torch.nn.Module, states: Mapping[str, torch.Tensor], device: torch.device | None
) -> None:
    """Put generator states back; a generator absent from ``states`` is reset to None (lazy)."""
    for mod, sub, attr, gen in list(_module_generators(module)):
        state = states.get(f"{mod}:{attr}")
        if state is None:
            setattr(sub, attr, None)  # not created yet when the checkpoint was written
            continue
        if gen is None:
            gen = torch.Generator(device=device)
            setattr(sub, attr, gen)
        gen.set_state(state)


def check_resumable(
    payload: Mapping[str, Any], path: Any, learner: Any, trainer_config: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """Check that ``payload`` can continue a run of ``learner``; return the trainer settings that differ.

    Returns ``{setting: (stored, now)}`` for every trainer setting (except
    ``checkpoint_every``) that differs from the checkpoint's.

    Raises
    ------
    ValueError
        If the checkpoint has no training state, or was written for another algorithm or
        another learner configuration.
    """
    training = payload.get("training")
    if training is None:
        raise ValueError(
            f"{path} holds a meta-learner but no training state (it was written by "
            "save_meta_learner); resume needs a MetaTrainer checkpoint such as last.pt."
        )
    if payload["algo"] != learner.algo:
        raise ValueError(
            f"{path} was written for algorithm {payload['algo']!r}, but this trainer's learner is "
            f"{learner.algo!r}; resume with the same learner."
        )
    stored_cfg = json.loads(payload["config"])
    own_cfg = json.loads(to_json(learner.get_config(), "learner config"))
    if stored_cfg != own_cfg:
        raise ValueError(
            f"{path} was written for a learner configured as {stored_cfg}, but this trainer's "
            f"learner is {own_cfg}; resume with the same configuration."
        )
    stored_trainer = json.loads(training["trainer_config"])
    return {
        k: (stored_trainer.get(k), v)
        for k, v in trainer_config.items()
        if k != "checkpoint_every" and stored_trainer.get(k) != v
    }


def optimizer_names(learner: Any, optimizer: Any) -> list[str]:
    """The names of ``learner``'s parameters in the order ``optimizer`` numbers them."""
    names = {id(p): n for n, p in learner.named_parameters()}
    return [names[id(p)] for g in optimizer.param_groups for p in g["params"]]


def grow_payload(
    payload: Mapping[str, Any],
    path: Any,
    learner: Any,
    optimizer: Any,
    old_learner: Any,
    old_optimizer: Any,
) -> dict[str, Any]:
    """``payload`` (a training checkpoint) made into a checkpoint of ``learner``, which has new parameters.

    ``learner`` must have every parameter and buffer the checkpoint's learner has, with the
    same shapes, and may have more (an input added to an architecture, say). Those keep
    ``learner``'s current values and start with an empty optimizer state; everything else
    (weights, optimizer moments, the moving average, step, RNG states, history) is the
    checkpoint's, so the grown run continues the old one with the new parameters added.

    Parameters
    ----------
    payload : mapping
        A full (expanded) training checkpoint.
    path : path-like
        Where it came from (for messages).
    learner : MetaLearner
        The learner to continue with (its configuration may add parameters).
    optimizer : optimizer
        ``learner``'s optimizer.
    old_learner, old_optimizer
        A learner of the checkpoint's configuration and the same kind of optimizer over it (its
        parameter order numbers the checkpoint's optimizer state).

    Returns
    -------
    dict
        The payload for ``learner`` (its ``config`` is ``learner``'s).

    Raises
    ------
    ValueError
        If the checkpoint holds a parameter ``learner`` lacks or one of another shape, or was
        written for another algorithm.
    """
    training = payload.get("training")
    if training is None or payload["algo"] != learner.algo:
        check_resumable(payload, path, learner, {})  # raises the usual, clear error
    old_sd = payload["state_dict"]
    own = learner.state_dict()
    missing = sorted(k for k in old_sd if k not in own)
    reshaped = sorted(
        k for k in old_sd if k in own and tuple(old_sd[k].shape) != tuple(own[k].shape)
    )
    if missing or reshaped:
        raise ValueError(
            f"{path} cannot be grown into this learner: it lacks {missing or 'nothing'} and has other "
            f"shapes for {reshaped or 'nothing'}; a grown learner may only add parameters."
        )
    added = [k for k in own if k not in old_sd]
    state_dict = {k: (old_sd[k] if k in old_sd else own[k].detach().cpu().clone()) for k in own}
    # the optimizer: each old parameter keeps its state under its new number
    stored = training["optimizer"]
    old_names = optimizer_names(old_learner, old_optimizer)
    new_names = optimizer_names(learner, optimizer)
    index = {n: i for i, n in enumerate(old_names)}
    state = {
        j: stored["state"][index[n]]
        for j, n in enumerate(new_names)
        if n in index and index[n] in stored["state"]
    }
    fresh_groups = optimizer.state_dict()["param_groups"]
    if len(fresh_groups) != len(stored["param_groups"]):
        raise ValueError(f"{path}: the optimizer has another number of parameter groups.")
    groups = [
        {**old, "params": new["params"]}
        for old, new in zip(stored["param_groups"], fresh_groups, strict=True)
    ]
    grown_optimizer = {**stored, "state": state, "param_groups": groups}
    grown_training = {**training, "optimizer": grown_optimizer}
    averaged = training.get("averaged")
    if averaged is not None:
        grown_training["averaged"] = {
            **averaged,
            **{f"module.{k}": state_dict[k] for k in added},
        }
    return {
        **payload,
        "state_dict": state_dict,
        "config": to_json(learner.get_config(), "learner config"),
        "training": grown_training,
    }
