"""The one small interface every meta-learner shares, and the learner registry.

A meta-learner is an ``nn.Module`` whose parameters are *all* its meta-parameters (the
initialization, learned step sizes, LSTM weights, hypernetwork, embedding net...). It has
three verbs:

``adapt(batch) -> fast``
    Per-task adaptation on the support sets of a :class:`~autometa.tasks.TaskBatch`
    (``[T, S, D]``). ``fast`` is any pytree batched on the task axis (fast weights for
    MAML-type learners, prototypes for ProtoNet, ...). Gradients flow from ``fast`` to the
    meta-parameters as the algorithm prescribes (second order, first order, none).
``predict(fast, x, batch) -> logits``
    Logits ``[T, n, c_max]`` for rows ``x: [T, n, D]``; classes a task lacks are masked.
``meta_loss(batch) -> (loss, metrics)``
    The scalar the outer loop minimizes plus float metrics for logging. The default is the
    query cross-entropy after adaptation; Reptile overrides it with a pseudo-loss whose
    gradient is the Reptile direction.

The :class:`~autometa.meta.MetaTrainer` only ever calls ``meta_loss`` and ``parameters()``,
which is what lets every algorithm share one trainer, one checkpoint format and one CLI.
"""

from __future__ import annotations

import abc
import importlib
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from autometa.functional._losses import mask_logits, masked_accuracy, masked_cross_entropy
from autometa.tasks._task import TaskBatch

__all__ = ["MetaLearner", "LEARNERS", "register_learner", "build_learner"]

LEARNERS: dict[str, type[MetaLearner]] = {}


def register_learner(name: str):
    """Class decorator: make a learner selectable as ``--algo name`` and loadable from checkpoints."""

    def deco(cls: type[MetaLearner]) -> type[MetaLearner]:
        if name in LEARNERS and LEARNERS[name] is not cls:
            raise ValueError(f"A meta-learner named {name!r} is already registered.")
        cls.algo = name
        LEARNERS[name] = cls
        return cls

    return deco


def ensure_registered(algo: str, module: str | None = None) -> None:
    """Make sure ``algo`` is registered, importing the module that defines it if needed.

    ``module`` is the defining module recorded in a checkpoint (``type(learner).__module__``).
    Only modules of the ``autometa`` package are imported automatically: a checkpoint must not
    be able to run arbitrary code on load; for your own learners, import their module first.
    """

    import autometa.meta  # noqa: F401  (registers the learners of autometa.meta)

    if algo not in LEARNERS and module and module.split(".", 1)[0] == "autometa":
        importlib.import_module(module)


def build_learner(algo: str, **config: Any) -> MetaLearner:
    """Instantiate a registered learner by name.

    Raises
    ------
    ValueError
        For an unknown algorithm name (the message lists the known ones).
    """
    ensure_registered(algo)
    if algo not in LEARNERS:
        raise ValueError(f"Unknown meta-learning algorithm {algo!r}; choose one of {sorted(LEARNERS)}.")
    return LEARNERS[algo](**config)


class MetaLearner(nn.Module, abc.ABC):
    """Base class of all meta-learners (see the module docstring for the contract)."""

    algo: ClassVar[str] = "abstract"

    @abc.abstractmethod
    def adapt(self, batch: TaskBatch) -> Any:
        """Adapt to each task's support set; return the batched fast state."""

    @abc.abstractmethod
    def predict(self, fast: Any, x: Tensor, batch: TaskBatch) -> Tensor:
        """Masked logits ``[T, n, c_max]`` for ``x: [T, n, D]`` given the fast state."""

    @abc.abstractmethod
    def get_config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this learner with ``build_learner(self.algo, **config)``."""

    def meta_loss(self, batch: TaskBatch) -> tuple[Tensor, dict[str, float]]:
        """Query cross-entropy after adaptation, averaged over tasks."""
        fast = self.adapt(batch)
        logits = self.predict(fast, batch.x_query, batch)
        loss, acc = query_loss_and_accuracy(logits, batch)
        return loss, {"loss": float(loss.detach()), "accuracy": float(acc)}

    @torch.no_grad()
    def evaluate(self, batch: TaskBatch) -> dict[str, float]:
        """Query loss and accuracy after adaptation (gradients inside adaptation still flow)."""
        with torch.enable_grad():
            fast = self.adapt(batch)
        logits = self.predict(fast, batch.x_query, batch)
        loss, acc = query_loss_and_accuracy(logits, batch)
        return {"loss": float(loss), "accuracy": float(acc)}


def query_loss_and_accuracy(logits: Tensor, batch: TaskBatch) -> tuple[Tensor, Tensor]:
    """Mean over tasks of the masked query cross-entropy and accuracy."""
    losses = torch.vmap(masked_cross_entropy)(logits, batch.y_query, batch.query_mask, batch.class_mask)
    accs = torch.vmap(masked_accuracy)(logits.detach(), batch.y_query, batch.query_mask, batch.class_mask)
    return losses.mean(), accs.mean()


def masked_predict(logits: Tensor, batch: TaskBatch) -> Tensor:
    """Apply each task's class mask to batched logits ``[T, n, C]``."""
    return torch.vmap(mask_logits)(logits, batch.class_mask)
