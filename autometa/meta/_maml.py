"""Gradient-based meta-learners: MAML, FOMAML, Meta-SGD, ANIL and Reptile.

All five share one inner loop, :func:`autometa.functional.adapt`, vectorized over the
tasks of a batch with :func:`torch.func.vmap`; they differ only in the update rule, in
which parameters adapt, and in how the meta-gradient is formed:

========  ==========================================  ====================================
algo      inner loop                                  meta-gradient
========  ==========================================  ====================================
maml      SGD, scalar step size, all parameters       exact, through the unrolled loop
fomaml    same                                        inner gradients detached (first order)
metasgd   SGD with a learned step size per entry      exact (init and step sizes learned)
anil      SGD on the head only (body frozen)          exact (Raghu et al. 2020)
reptile   SGD, all parameters, no graph               Reptile direction via a pseudo-loss
========  ==========================================  ====================================

The meta-parameters are the module's ``nn.Parameter`` s: the base net built from the
``net`` config (the learned initialization) plus, for Meta-SGD, the step sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from autometa.functional._adapt import (
    SGD,
    MetaSGDRule,
    UpdateRule,
    adapt,
    batched_forward,
    support_from_batch,
)
from autometa.functional._losses import mask_logits
from autometa.functional._nets import build_net
from autometa.meta._base import (
    MetaLearner,
    query_loss_and_accuracy,
    register_learner,
)
from autometa.tasks._task import TaskBatch

__all__ = [
    "ANIL",
    "FOMAML",
    "MAML",
    "AdaptedTask",
    "GradientLearner",
    "MetaSGD",
    "Reptile",
    "build_base_net",
]


def build_base_net(net: Mapping[str, Any]) -> nn.Module:
    """Build a base net from its config dict, turning bad configs into clear ``ValueError`` s.

    Accepts everything :func:`autometa.functional.build_net` accepts; a ``conv4`` config may
    also carry ``d_max``, which must equal ``C * H * W`` of its ``image_shape``.
    """
    if not isinstance(net, Mapping):
        raise ValueError(
            "net must be a config dict such as {'kind': 'mlp', 'd_max': 32, 'c_max': 10, 'hidden': [64, 64]}; "
            f"got {type(net).__name__}."
        )
    config = dict(net)
    if config.get("kind") == "conv4" and "d_max" in config:
        d_max = config.pop("d_max")
        shape = config.get("image_shape")
        if shape is None or len(shape) != 3:
            raise ValueError(f"A conv4 net needs image_shape=[C, H, W]; got {shape!r}.")
        expected = int(np.prod([int(s) for s in shape]))
        if int(d_max) != expected:
            raise ValueError(
                f"conv4 net: d_max={d_max} does not match image_shape={list(shape)} "
                f"(C*H*W = {expected}); inputs are flattened images, so set d_max={expected} or fix image_shape."
            )
    try:
        return build_net(config)
    except TypeError as exc:  # unexpected or missing keyword arguments
        raise ValueError(f"Invalid base net config {dict(net)!r}: {exc}.") from exc


def check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int (at least one inner step); got {value!r}.")
    return int(value)


def check_positive_float(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not value > 0
    ):
        raise ValueError(f"{name} must be a float > 0; got {value!r}.")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    return float(value)


@dataclass
class AdaptedTask:
    """A base net adapted to one task by :meth:`GradientLearner.adapt_task`.

    Attributes
    ----------
    params : dict of str to Tensor
        Fast parameters, batched with a leading task axis of length 1.
    feature_mask : Tensor (d_max,), bool
    n_classes : int
    """

    params: dict[str, Tensor]
    feature_mask: Tensor
    n_classes: int


class GradientLearner(MetaLearner):
    """Shared machinery of the learners that adapt a base net by gradient steps.

    Subclasses choose the update rule (:meth:`update_rule`), which parameters adapt
    (:meth:`params_to_adapt`) and whether inner gradients are detached.

    Parameters
    ----------
    net : dict
        Base net config, e.g. ``{"kind": "mlp", "d_max": 32, "c_max": 10, "hidden": [64, 64]}``.
    inner_steps : int, default=5
        Gradient steps on each task's support set (during meta-training and by default at
        test time).
    inner_lr : float, default=0.4
        Inner step size (the initial value of the learned step sizes for Meta-SGD).
    first_order : bool, default=False
        Detach the inner gradients (FOMAML approximation).
    """

    def __init__(
        self,
        net: Mapping[str, Any],
        inner_steps: int = 5,
        inner_lr: float = 0.4,
        first_order: bool = False,
    ) -> None:
        super().__init__()
        self.inner_steps = check_positive_int("inner_steps", inner_steps)
        self.inner_lr = check_positive_float("inner_lr", inner_lr)
        if not isinstance(first_order, (bool, np.bool_)):
            raise ValueError(f"first_order must be a bool; got {first_order!r}.")
        self.first_order = bool(first_order)
        self.net_config = dict(net) if isinstance(net, Mapping) else net
        self.net = build_base_net(net)
        self.d_max = int(self.net.d_max)
        self.c_max = int(self.net.c_max)
        self.check_net()

    # --- the parts subclasses change -------------------------------------------------
    def check_net(self) -> None:
        """Raise ``ValueError`` if the base net cannot serve this learner (any net can here)."""

    def update_rule(self) -> UpdateRule:
        """The inner-loop step (plain SGD with ``inner_lr`` here)."""
        return SGD(self.inner_lr)

    def params_to_adapt(self) -> list[str] | None:
        """Names of the base-net parameters the inner loop updates (``None``: all)."""
        return None

    def init_params(self) -> dict[str, Tensor]:
        """The learned initialization: the base net's parameters by name."""
        return dict(self.net.named_parameters())

    # --- the MetaLearner verbs -------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {
            "net": dict(self.net_config),
            **self.attributes("inner_steps", "inner_lr", "first_order"),
        }

    def _check_batch(self, batch: TaskBatch) -> None:
        d, c = batch.x_support.shape[-1], batch.class_mask.shape[-1]
        if d != self.d_max:
            raise ValueError(
                f"The batch has feature width {d} but the base net expects d_max={self.d_max}."
            )
        if c > self.c_max:
            raise ValueError(
                f"The batch has c_max={c} classes but the base net has only c_max={self.c_max} outputs."
            )

    def _class_mask(self, batch: TaskBatch) -> Tensor:
        cm = batch.class_mask
        if cm.shape[-1] < self.c_max:
            pad = torch.zeros(
                *cm.shape[:-1], self.c_max - cm.shape[-1], dtype=torch.bool, device=cm.device
            )
            cm = torch.cat([cm, pad], dim=-1)
        return cm

    def adapt(
        self, batch: TaskBatch, steps: int | None = None, inference: bool = False
    ) -> dict[str, Tensor]:
        """Fast parameters ``{name: [T, ...]}`` after ``steps`` (default ``inner_steps``) inner steps.

        ``inference=True`` adapts without the meta-gradient graph (``fit`` time; see
        :func:`autometa.functional.adapt`): same steps, detached result.
        """
        self._check_batch(batch)
        support = support_from_batch(batch)._replace(class_mask=self._class_mask(batch))
        return adapt(
            self.net,
            self.init_params(),
            support,
            steps=self.inner_steps if steps is None else int(steps),
            update_rule=self.update_rule(),
            first_order=self.first_order,
            params_to_adapt=self.params_to_adapt(),
            inference=inference,
        )

    def predict(self, fast: Mapping[str, Tensor], x: Tensor, batch: TaskBatch) -> Tensor:
        """Masked logits ``[T, n, c_max]`` of the adapted nets on rows ``x: [T, n, D]``."""
        logits = batched_forward(self.net, fast, x, batch.feature_mask)
        return vmap(mask_logits)(logits, self._class_mask(batch))

    # --- one task at a time (used by the scikit-learn estimator) ---------------------
    def adapt_task(
        self,
        x: Tensor,
        y: Tensor,
        feature_mask: Tensor | None = None,
        n_classes: int | None = None,
        steps: int | None = None,
    ) -> AdaptedTask:
        """Adapt to one task given as tensors ``x: [n, d_max]`` and labels ``y: [n]``.

        Parameters
        ----------
        x : Tensor (n, d_max)
        y : Tensor (n,), int64 in ``range(n_classes)``
        feature_mask : Tensor (d_max,), bool, optional
            Default: all columns real.
        n_classes : int, optional
            Default: ``y.max() + 1``.
        steps : int, optional
            Inner steps (default ``inner_steps``); more steps often help at test time.
        """
        dev = next(self.parameters()).device
        x = torch.as_tensor(x, dtype=torch.float32, device=dev)
        y = torch.as_tensor(y, dtype=torch.long, device=dev)
        if x.ndim != 2 or x.shape[1] != self.d_max:
            raise ValueError(f"x must have shape (n, d_max={self.d_max}); got {tuple(x.shape)}.")
        if y.shape != (x.shape[0],):
            raise ValueError(f"y must have shape ({x.shape[0]},); got {tuple(y.shape)}.")
        if x.shape[0] == 0:
            raise ValueError("adapt_task needs at least one support row.")
        fm = (
            torch.ones(self.d_max, dtype=torch.bool, device=dev)
            if feature_mask is None
            else torch.as_tensor(feature_mask, dtype=torch.bool, device=dev)
        )
        k = int(y.max()) + 1 if n_classes is None else int(n_classes)
        if not 1 <= k <= self.c_max or int(y.min()) < 0 or int(y.max()) >= k:
            raise ValueError(
                f"Labels must lie in range(n_classes) with n_classes <= c_max={self.c_max}; got n_classes={k}."
            )
        batch = TaskBatch.for_inference(x, y, n_classes=k, c_max=self.c_max, feature_mask=fm)
        # torch.func.grad computes the inner gradients even under no_grad, while the outer
        # graph (only needed for meta-training) is not recorded: cheaper, same numbers
        with torch.no_grad():
            fast = self.adapt(batch, steps=steps)
        return AdaptedTask({name: p.detach() for name, p in fast.items()}, fm, k)

    @torch.no_grad()
    def predict_task(self, adapted: AdaptedTask, x: Tensor) -> Tensor:
        """Logits ``[n, n_classes]`` of an adapted net on rows ``x: [n, d_max]``."""
        dev = adapted.feature_mask.device
        x = torch.as_tensor(x, dtype=torch.float32, device=dev)
        if x.ndim != 2 or x.shape[1] != self.d_max:
            raise ValueError(f"x must have shape (n, d_max={self.d_max}); got {tuple(x.shape)}.")
        logits = batched_forward(self.net, adapted.params, x[None], adapted.feature_mask[None])[0]
        return logits[:, : adapted.n_classes]


@register_learner("maml")
class MAML(GradientLearner):
    """Model-Agnostic Meta-Learning (Finn et al. 2017), second order by default.

    Examples
    --------
    >>> from autometa.meta import MAML
    >>> learner = MAML(net={"kind": "mlp", "d_max": 8, "c_max": 3, "hidden": [16]}, inner_steps=2)
    >>> sorted(learner.get_config())
    ['first_order', 'inner_lr', 'inner_steps', 'net']
    """


class _FirstOrderLearner(GradientLearner):
    """A learner that is first order by construction (``first_order`` is not a parameter)."""

    def __init__(self, net: Mapping[str, Any], inner_steps: int = 5, inner_lr: float = 0.4) -> None:
        super().__init__(net, inner_steps=inner_steps, inner_lr=inner_lr, first_order=True)

    def get_config(self) -> dict[str, Any]:
        return {"net": dict(self.net_config), **self.attributes("inner_steps", "inner_lr")}


@register_learner("fomaml")
class FOMAML(_FirstOrderLearner):
    """First-order MAML: the inner gradients are treated as constants (detached).

    The meta-gradient is then the query-loss gradient at the fast weights, which costs one
    backward pass instead of a backward through the whole unrolled inner loop.
    """


def _mangle(name: str) -> str:
    return name.replace(".", "__")


@register_learner("metasgd")
class MetaSGD(GradientLearner):
    """Meta-SGD (Li et al. 2017): MAML plus a learned step size for every parameter entry.

    The step sizes start at ``inner_lr`` and are meta-parameters (``log``-free, as in the
    paper, so they may become negative). ``lrs`` holds one tensor per base-net parameter.
    """

    def __init__(
        self,
        net: Mapping[str, Any],
        inner_steps: int = 1,
        inner_lr: float = 0.4,
        first_order: bool = False,
    ) -> None:
        super().__init__(net, inner_steps=inner_steps, inner_lr=inner_lr, first_order=first_order)
        self.lrs = nn.ParameterDict(
            {
                _mangle(k): nn.Parameter(torch.full_like(p, self.inner_lr))
                for k, p in self.net.named_parameters()
            }
        )

    def update_rule(self) -> UpdateRule:
        return MetaSGDRule({k: self.lrs[_mangle(k)] for k, _ in self.net.named_parameters()})


@register_learner("anil")
class ANIL(GradientLearner):
    """Almost No Inner Loop (Raghu et al. 2020): only the head adapts; the body is meta-learned.

    The base net must have a ``head`` submodule (``MaskedMLP`` and ``Conv4`` do).
    """

    def check_net(self) -> None:
        head = getattr(self.net, "head", None)
        if not isinstance(head, nn.Module) or not any(True for _ in head.parameters()):
            raise ValueError(
                f"ANIL adapts only the head, but the base net {type(self.net).__name__} has no `head` "
                "submodule with parameters; use a net kind that has one (e.g. 'mlp' or 'conv4') or MAML."
            )

    def params_to_adapt(self) -> list[str]:
        return [k for k, _ in self.net.named_parameters() if k.startswith("head.")]

    def adapt(
        self, batch: TaskBatch, steps: int | None = None, inference: bool = False
    ) -> dict[str, Tensor]:
        """Head-only adaptation on body features computed once per task.

        Equal to ``adapt(net, ..., params_to_adapt=head)`` (tested), but the body runs once
        instead of at every inner step, and the second-order backward only unrolls the head.
        ``inference=True`` runs that generic form without a graph.
        """
        if inference:
            return super().adapt(batch, steps, inference=True)
        self._check_batch(batch)
        support = support_from_batch(batch)._replace(class_mask=self._class_mask(batch))
        feats = vmap(self.net.features)(support.x, support.feature_mask)
        head = self.net.head

        def head_forward(p: Mapping[str, Tensor], h: Tensor, fm: Tensor) -> Tensor:
            return functional_call(head, dict(p), (h,))

        head_params = dict(head.named_parameters())
        fast_head = adapt(
            head_forward,
            head_params,
            support._replace(x=feats),
            steps=self.inner_steps if steps is None else int(steps),
            update_rule=self.update_rule(),
            first_order=self.first_order,
        )
        n_tasks = batch.x_support.shape[0]
        fast = {k: v.unsqueeze(0).expand(n_tasks, *v.shape) for k, v in self.init_params().items()}
        fast.update({f"head.{k}": v for k, v in fast_head.items()})
        return fast


@register_learner("reptile")
class Reptile(_FirstOrderLearner):
    """Reptile (Nichol et al. 2018), trained through the same ``meta_loss`` interface.

    The inner loop runs plain SGD on each support set without building a graph. The
    returned loss is the pseudo-loss

    .. math:: \\tfrac{1}{T}\\sum_t \\tfrac12 \\lVert \\theta - \\operatorname{sg}(\\phi_t) \\rVert^2

    whose gradient is :math:`\\theta - \\bar\\phi`, the negative Reptile direction, so any
    optimizer stepping on it performs the Reptile update: plain SGD with learning rate
    :math:`\\epsilon` gives exactly :math:`\\theta \\leftarrow \\theta + \\epsilon(\\bar\\phi - \\theta)`
    (Adam, as in the Reptile paper's few-shot runs, rescales it per coordinate). The
    metrics report the query loss and accuracy after adaptation, like the other learners.
    """

    def meta_loss(self, batch: TaskBatch) -> tuple[Tensor, dict[str, float]]:
        init = self.init_params()
        with torch.no_grad():
            fast = self.adapt(batch)
            logits = self.predict(fast, batch.x_query, batch)
            query_loss, acc = query_loss_and_accuracy(logits, batch)
        pseudo = sum(
            0.5 * (p.unsqueeze(0) - fast[k]).pow(2).flatten(1).sum(1) for k, p in init.items()
        )
        pseudo = pseudo.mean()
        return pseudo, {
            "loss": float(query_loss),
            "accuracy": float(acc),
            "reptile_distance": float(pseudo.detach()),
        }
