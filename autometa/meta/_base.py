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
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from autometa.functional._losses import mask_logits, masked_accuracy, masked_cross_entropy
from autometa.tasks._task import TaskBatch

__all__ = [
    "BUILTIN_LEARNERS",
    "LEARNERS",
    "MetaLearner",
    "build_learner",
    "learner_dims",
    "predict_proba",
    "register_learner",
]

#: every registered learner class by ``algo`` name (filled by :func:`register_learner` when
#: the defining module is imported)
LEARNERS: dict[str, type[MetaLearner]] = {}

#: the learners of :mod:`autometa.meta`: ``algo -> defining module``, so that a name is resolved
#: by importing one module (never the package); learners of other packages (``augmented``) are
#: found through the module a checkpoint records
BUILTIN_LEARNERS: dict[str, str] = {
    "anil": "autometa.meta._maml",
    "fomaml": "autometa.meta._maml",
    "hypernet": "autometa.meta._hypernet",
    "hypernet-maml": "autometa.meta._hypernet",
    "in-context": "autometa.meta._in_context",
    "in-context-regression": "autometa.meta._in_context_regression",
    "in-context-regression-v2": "autometa.meta._in_context_v2",
    "in-context-tta": "autometa.meta._in_context_tta",
    "in-context-v2": "autometa.meta._in_context_v2",
    "maml": "autometa.meta._maml",
    "maml-regression": "autometa.meta._maml_regression",
    "matching": "autometa.meta._metric",
    "meta-lstm": "autometa.meta._meta_lstm",
    "metasgd": "autometa.meta._maml",
    "protonet": "autometa.meta._metric",
    "relation": "autometa.meta._metric",
    "reptile": "autometa.meta._maml",
    "siamese": "autometa.meta._metric",
}


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

    A built-in name is looked up in :data:`BUILTIN_LEARNERS`; otherwise ``module`` is the
    defining module recorded in a checkpoint (``type(learner).__module__``). Only modules of
    the ``autometa`` package are imported automatically: a checkpoint must not be able to run
    arbitrary code on load; for your own learners, import their module first.
    """
    if algo in LEARNERS:
        return
    if algo in BUILTIN_LEARNERS:
        importlib.import_module(BUILTIN_LEARNERS[algo])
    elif module and module.split(".", 1)[0] == "autometa":
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
        known = sorted({*BUILTIN_LEARNERS, *LEARNERS})
        raise ValueError(f"Unknown meta-learning algorithm {algo!r}; choose one of {known}.")
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

    def attributes(self, *names: str) -> dict[str, Any]:
        """``{name: self.name}`` for ``names``: a ``get_config`` of arguments stored as they came."""
        return {name: getattr(self, name) for name in names}

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
    losses = torch.vmap(masked_cross_entropy)(
        logits, batch.y_query, batch.query_mask, batch.class_mask
    )
    accs = torch.vmap(masked_accuracy)(
        logits.detach(), batch.y_query, batch.query_mask, batch.class_mask
    )
    return losses.mean(), accs.mean()


def masked_predict(logits: Tensor, batch: TaskBatch) -> Tensor:
    """Apply each task's class mask to batched logits ``[T, n, C]``.

    Logits wider than the batch's class axis (a learner built for more classes) are cut to it.
    """
    if logits.shape[-1] != batch.c_max:
        logits = logits[..., : batch.c_max]
    return torch.vmap(mask_logits)(logits, batch.class_mask)


def learner_dims(learner: MetaLearner) -> tuple[int | None, int | None]:
    """``(d_max, c_max)`` of a learner, read from its (possibly nested) config or attributes.

    The config is searched breadth-first for a mapping with ``c_max`` (a base-net config such
    as ``{"kind": "mlp", "d_max": 32, "c_max": 10}``, also inside wrappers such as
    ``{"base": {"config": {"net": ...}}}``).
    """
    queue: list[Any] = [learner.get_config()]
    while queue:
        node = queue.pop(0)
        if isinstance(node, Mapping):
            if "c_max" in node:
                d = node.get("d_max")
                if d is None and "image_shape" in node:
                    c, h, w = node["image_shape"]
                    d = int(c) * int(h) * int(w)
                return (int(d) if d is not None else None, int(node["c_max"]))
            queue.extend(v for v in node.values() if isinstance(v, Mapping))
    d, c = getattr(learner, "d_max", None), getattr(learner, "c_max", None)
    return (int(d) if d is not None else None, int(c) if c is not None else None)


def predict_proba(learner: MetaLearner, model_input: Mapping[str, Any]) -> Any:
    """Adapt ``learner`` to ``model_input``'s support set; class probabilities of its queries.

    What a logged meta-learner model's ``predict`` answers: ``model_input`` holds
    ``x_support`` ``[n, d]``, ``y_support`` ``[n]`` (ints in ``range(n_classes)``) and
    ``x_query`` ``[m, d]`` with ``d <= d_max``; the result is an ``[m, n_classes]`` array.
    """
    d, c = learner_dims(learner)
    d_max, c_max = int(d), int(c)
    xs = np.asarray(model_input["x_support"], dtype=np.float32)
    ys = np.asarray(model_input["y_support"]).astype(np.int64)
    xq = np.asarray(model_input["x_query"], dtype=np.float32)
    d = xs.shape[1]
    if d > d_max or xq.shape[1] != d:
        raise ValueError(
            f"x_support and x_query need the same width <= d_max={d_max}; got {d}, {xq.shape[1]}."
        )
    n_classes = int(ys.max()) + 1
    batch = TaskBatch.for_inference(
        torch.from_numpy(xs),
        torch.from_numpy(ys),
        torch.from_numpy(xq),
        n_classes=n_classes,
        d_max=d_max,
        c_max=c_max,
    )
    with torch.enable_grad():
        fast = learner.adapt(batch)
    with torch.no_grad():
        logits = learner.predict(fast, batch.x_query, batch)[0, :, :n_classes]
    return torch.softmax(logits.float(), dim=-1).numpy()
