"""Meta-learners that adapt on policy-augmented support sets, and policy-only meta-training.

:class:`AugmentedLearner` wraps any registered meta-learner: ``adapt`` augments each
task's support set with the policy and then adapts the base learner on it, so the usual
``meta_loss`` (query loss after adaptation) becomes the bilevel objective of the policy. Its
parameters are the base learner's plus the policy's, so :class:`~autometa.meta.MetaTrainer`
trains both jointly (``autometa meta-train --augment learned``). :func:`train_policy`
freezes the base learner and trains only the policy.

Soft labels. Gradient-based learners built on :func:`autometa.functional.adapt`
(MAML, Meta-SGD, ANIL, ... anything exposing ``net``, ``init_params()``, ``update_rule()``,
``params_to_adapt()``, ``inner_steps`` and ``first_order``) adapt on the soft labels of
cross-class mixup with :func:`soft_cross_entropy`. Other learners see a
:class:`~autometa.tasks.TaskBatch` with hard labels (each row's dominant class, which is its
parent's class because the cross-class interpolation weight is at most 0.5).

Where the policy's gradient comes from. The policy changes the support rows; its gradient
is the derivative of the query loss through the adapted learner with respect to those rows.
Second-order learners (``maml``, ``metasgd``, ``anil``, ``meta-lstm`` with
``second_order=True``), hypernetworks (their set encoder reads the support rows) and metric
learners (prototypes are functions of the support rows) pass it on. First-order ones
(``fomaml``, ``reptile``, ``meta-lstm`` by default, any ``first_order=True``) detach the inner
gradients, so a policy in front of them gets no gradient at all and would silently stay at
its initialization: wrapping one with a trainable policy raises a ``ValueError`` (in
:meth:`AugmentedLearner.from_learner`, in ``meta_loss`` and in :func:`train_policy`). Train
the policy with a second-order learner and reuse it, or freeze it
(``policy.requires_grad_(False)``) for a fixed augmentation.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from autometa.augment._policy import (
    DEFAULT_IMAGE_OPS,
    AugmentationPolicy,
    AugmentedSupport,
    _PolicyBase,
    build_policy,
)
from autometa.functional._adapt import Support, adapt
from autometa.functional._losses import mask_logits
from autometa.meta._base import (
    MetaLearner,
    build_learner,
    register_learner,
)
from autometa.tasks._task import TaskBatch

__all__ = ["AugmentedLearner", "check_policy_trainable", "soft_cross_entropy", "train_policy"]


def soft_cross_entropy(logits: Tensor, y: Tensor, row_mask: Tensor, class_mask: Tensor) -> Tensor:
    """Mean cross-entropy with soft targets over the real rows of one task.

    Parameters
    ----------
    logits : Tensor (n, C)
    y : Tensor (n, C), soft targets (rows sum to 1), or (n,) int64 class indices
    row_mask : Tensor (n,), bool (or float row weights)
    class_mask : Tensor (C,), bool
    """
    logp = torch.log_softmax(mask_logits(logits, class_mask), dim=-1)
    if y.ndim == logits.ndim - 1:
        y = torch.nn.functional.one_hot(y.long(), logits.shape[-1]).to(logits.dtype)
    y = torch.where(class_mask, y, torch.zeros_like(y))
    nll = -(y * logp).sum(-1)
    w = row_mask.to(logits.dtype)
    return (nll * w).sum() / w.sum().clamp_min(1.0)


def _is_functional_gradient_learner(learner: MetaLearner) -> bool:
    return all(
        hasattr(learner, a)
        for a in (
            "net",
            "init_params",
            "update_rule",
            "params_to_adapt",
            "inner_steps",
            "first_order",
        )
    )


def check_policy_trainable(base: MetaLearner, policy: _PolicyBase) -> None:
    """Raise if ``policy`` has trainable parameters that ``base`` can never give a gradient.

    A first-order gradient learner (``first_order=True``: FOMAML, Reptile, the Meta-LSTM
    without ``second_order``) detaches the inner gradients, so the adapted weights do not
    depend on the support rows and the policy that made them receives no gradient.

    Raises
    ------
    ValueError
        Naming the learner and the ways out.
    """
    trainable = any(p.requires_grad for p in policy.parameters())
    if trainable and _is_functional_gradient_learner(base) and bool(base.first_order):
        raise ValueError(
            f"The base learner {base.algo!r} is first-order (it detaches the inner gradients), so a learned "
            "augmentation policy in front of it gets no gradient and would stay at its initialization. "
            "Use a second-order learner (maml, metasgd, anil, meta-lstm with second_order=True, hypernet, "
            "a metric learner), train the policy with train_policy() on a second-order learner and reuse it, "
            "or freeze the policy (policy.requires_grad_(False)) for a fixed augmentation."
        )


@register_learner("augmented")
class AugmentedLearner(MetaLearner):
    """A meta-learner that adapts on support sets augmented by a (learnable) policy.

    Parameters
    ----------
    base : dict or MetaLearner
        The wrapped learner, or its config ``{"algo": "maml", "config": {...}}``.
    policy : dict or AugmentationPolicy, optional
        The policy or its config; default: a fresh :class:`AugmentationPolicy` (image ops
        when the base net is a conv-4).
    seed : int, default=0
        Seed of the generator that draws ops, magnitudes and partners.

    Examples
    --------
    >>> from autometa.augment import AugmentedLearner
    >>> from autometa.meta import build_learner
    >>> maml = build_learner("maml", net={"kind": "mlp", "d_max": 4, "c_max": 2, "hidden": [8]}, inner_steps=1)
    >>> learner = AugmentedLearner.from_learner(maml)
    >>> learner.get_config()["base"]["algo"]
    'maml'
    """

    def __init__(
        self,
        base: Mapping[str, Any] | MetaLearner,
        policy: Mapping[str, Any] | _PolicyBase | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(base, MetaLearner):
            self.base = base
        elif isinstance(base, Mapping) and "algo" in base:
            self.base = build_learner(base["algo"], **dict(base.get("config", {})))
        else:
            raise ValueError(
                "base must be a MetaLearner or a config {'algo': 'maml', 'config': {...}}; "
                f"got {type(base).__name__}."
            )
        if isinstance(self.base, AugmentedLearner):
            raise ValueError(
                "The base learner is already an AugmentedLearner; wrap the inner learner instead."
            )
        if policy is None:
            policy = _default_policy_for(self.base)
        elif isinstance(policy, Mapping):
            policy = build_policy(policy)
        elif not isinstance(policy, _PolicyBase):
            raise ValueError(
                f"policy must be an AugmentationPolicy or a policy config dict; got {type(policy).__name__}."
            )
        self.policy = policy
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int; got {seed!r}.")
        self.seed = int(seed)
        self._generator: torch.Generator | None = None

    @classmethod
    def from_learner(
        cls, learner: MetaLearner, policy: _PolicyBase | None = None, seed: int = 0
    ) -> AugmentedLearner:
        """Wrap ``learner`` for meta-training (a fresh default policy unless ``policy`` is given).

        Raises
        ------
        ValueError
            If the policy is trainable and ``learner`` is first-order (see
            :func:`check_policy_trainable`).
        """
        wrapped = cls(learner, policy, seed=seed)
        check_policy_trainable(wrapped.base, wrapped.policy)
        return wrapped

    def get_config(self) -> dict[str, Any]:
        return {
            "base": {"algo": self.base.algo, "config": self.base.get_config()},
            "policy": self.policy.get_config(),
            "seed": self.seed,
        }

    def generator(self, device: torch.device) -> torch.Generator:
        """The generator of augmentation randomness (created lazily on ``device``)."""
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device).manual_seed(self.seed)
        return self._generator

    def reseed(self, seed: int | None = None) -> None:
        """Restart the augmentation random stream (from ``seed``, default the configured seed)."""
        if seed is not None:
            self.seed = int(seed)
        self._generator = None

    def augment(
        self, batch: TaskBatch, generator: torch.Generator | None = None
    ) -> AugmentedSupport:
        """The policy-augmented support sets of ``batch``.

        ``generator`` replaces the learner's own random stream (e.g. a per-``fit`` seeded one,
        so that results do not depend on how often the learner was used before).
        """
        gen = generator if generator is not None else self.generator(batch.x_support.device)
        return self.policy.augment_batch(batch, generator=gen)

    def adapt(
        self,
        batch: TaskBatch,
        *,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        inference: bool = False,
    ) -> Any:
        """Augment the support sets, then adapt the base learner on them.

        Parameters
        ----------
        batch : TaskBatch
        steps : int, optional
            Inner steps (functional gradient base learners only; default: the base's own).
        generator : torch.Generator, optional
            Augmentation randomness (default: the learner's own stream).
        inference : bool, default=False
            ``fit`` time: no graph for a meta-gradient (functional gradient base learners run
            :func:`autometa.functional.adapt` with ``inference=True``; others adapt as usual).
        """
        if inference:
            with torch.no_grad():
                aug = self.augment(batch, generator)
        else:
            aug = self.augment(batch, generator)
        base = self.base
        if _is_functional_gradient_learner(base):
            if hasattr(base, "_check_batch"):
                base._check_batch(batch)
            c_max = int(getattr(base, "c_max", batch.class_mask.shape[-1]))
            cm, y = batch.class_mask, aug.y
            if cm.shape[-1] < c_max:
                pad = c_max - cm.shape[-1]
                cm = torch.cat([cm, cm.new_zeros(*cm.shape[:-1], pad)], -1)
                y = torch.cat([y, y.new_zeros(*y.shape[:-1], pad)], -1)
            return adapt(
                base.net,
                base.init_params(),
                Support(aug.x, y, aug.row_mask, aug.feature_mask, cm),
                steps=int(base.inner_steps if steps is None else steps),
                update_rule=base.update_rule(),
                first_order=bool(base.first_order),
                params_to_adapt=base.params_to_adapt(),
                loss_fn=soft_cross_entropy,
                inference=inference,
            )
        augmented = dataclasses.replace(
            batch, x_support=aug.x, y_support=aug.hard_labels, support_mask=aug.row_mask
        )
        return self.base.adapt(augmented)

    def predict(self, fast: Any, x: Tensor, batch: TaskBatch) -> Tensor:
        return self.base.predict(fast, x, batch)

    def meta_loss(self, batch: TaskBatch) -> tuple[Tensor, dict[str, float]]:
        if torch.is_grad_enabled():
            check_policy_trainable(self.base, self.policy)
        loss, metrics = super().meta_loss(batch)
        if isinstance(self.policy, AugmentationPolicy):
            for op, d in self.policy.describe().items():
                metrics[f"policy/p_{op}"] = d["probability"]
                metrics[f"policy/m_{op}"] = d["magnitude"]
        return loss, metrics


def _default_policy_for(learner: MetaLearner) -> AugmentationPolicy:
    net = getattr(learner, "net", None)
    shape = getattr(net, "image_shape", None)
    if shape is not None:
        return AugmentationPolicy(ops=DEFAULT_IMAGE_OPS, image_shape=shape)
    return AugmentationPolicy()


def train_policy(
    learner: MetaLearner,
    sample_batch: Callable[[np.random.Generator], TaskBatch],
    *,
    policy: _PolicyBase | None = None,
    steps: int = 1000,
    lr: float = 0.01,
    seed: int = 0,
    time_budget_s: float | None = None,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> AugmentationPolicy:
    """Meta-train a policy alone for a fixed (frozen) meta-learner.

    Each step draws a task batch, augments its support sets with the policy, adapts the
    frozen learner on them and takes an Adam step on the policy to lower the query loss.

    Parameters
    ----------
    learner : MetaLearner
        The fixed base learner (its parameters are not changed; ``requires_grad`` is
        restored afterwards).
    sample_batch : callable
        ``sample_batch(rng) -> TaskBatch``, e.g. a pool's tasks collated.
    policy : AugmentationPolicy, optional
        Starting policy (default: a fresh one).
    steps : int, default=1000
    lr : float, default=0.01
        Adam step size of the policy.
    seed : int, default=0
        Seeds the task stream and the augmentation randomness.
    time_budget_s : float, optional
        Stop early after this many seconds.
    callback : callable, optional
        ``callback(step, metrics)`` after every step.

    Returns
    -------
    AugmentationPolicy
        The trained policy (the same object as ``policy`` when given).
    """
    wrapped = AugmentedLearner(learner, policy, seed=seed)
    params = [p for p in wrapped.policy.parameters() if p.requires_grad]
    if not params:
        raise ValueError(
            "The policy has no trainable parameters (a fixed or uniform policy cannot be trained)."
        )
    check_policy_trainable(wrapped.base, wrapped.policy)
    saved = [(p, p.requires_grad) for p in learner.parameters()]
    for p, _ in saved:
        p.requires_grad_(False)
    opt = torch.optim.Adam(params, lr=lr)
    rng = np.random.default_rng(seed)
    start = time.monotonic()
    try:
        for step in range(int(steps)):
            batch = sample_batch(rng)
            loss, metrics = wrapped.meta_loss(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if callback is not None:
                callback(step, metrics)
            if time_budget_s is not None and time.monotonic() - start > time_budget_s:
                break
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)
    return wrapped.policy
